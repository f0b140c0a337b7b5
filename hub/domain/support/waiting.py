"""Why a ticket waits: the reason its SLA warnings and breaches carry while something outside
the support desk holds it (today: an escalation held for a missing GDAP support role)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.relationships.gdap import ROLE_NAMES

GDAP_SUPPORT_ROLE = "gdap_support_role"


class WaitReason(BaseModel):
    """What a ticket waits for (a short code) and one line a person can act on."""

    model_config = ConfigDict(frozen=True)

    waiting_for: str = Field(min_length=1)
    text: str = Field(min_length=1)


def gdap_role_wait(customer_name: str, missing_role: str) -> WaitReason:
    """The escalation to Microsoft waits until ``customer_name`` approves ``missing_role``."""
    role = ROLE_NAMES.get(missing_role, missing_role) or "a GDAP support role"
    return WaitReason(
        waiting_for=GDAP_SUPPORT_ROLE,
        text=(
            f"Escalation to Microsoft waits for {customer_name} to approve {role} in the "
            "reseller's GDAP relationship"
        ),
    )
