"""GDAP (granular delegated admin privileges): which relationship lets the distributor open a
support request for a customer, and when the reseller and ops hear that one is expiring.

Names follow Microsoft Graph's ``delegatedAdminRelationship``: ``accessDetails.unifiedRoles``
(Entra role definition ids), ``duration`` (ISO 8601, ``P1D`` to ``P2Y``, i.e. at most 730
days), ``status`` and ``autoExtendDuration`` (``PT0S``/``P0D``: none, ``P180D``: six months).
A relationship holding Global Administrator cannot auto-extend.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_DURATION_DAYS = 730
AUTO_EXTEND_DAYS = 180
NOTICE_DAYS: tuple[int, ...] = (30, 7, 1)

# Entra built-in role template ids (roleDefinitionId in unifiedRoles).
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
SERVICE_SUPPORT_ADMINISTRATOR = "f023fd81-a637-4b56-95fd-791ac0226033"
HELPDESK_ADMINISTRATOR = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
DIRECTORY_READERS = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"

ROLE_NAMES: dict[str, str] = {
    GLOBAL_ADMINISTRATOR: "Global Administrator",
    SERVICE_SUPPORT_ADMINISTRATOR: "Service Support Administrator",
    HELPDESK_ADMINISTRATOR: "Helpdesk Administrator",
    DIRECTORY_READERS: "Directory Readers",
}
# Roles holding microsoft.office365.supportTickets/allEntities/allTasks: they may open a
# service request for the customer. Service Support Administrator is the least privileged
# (Microsoft's "GDAP least-privileged roles by task"); it is what a reseller is asked for.
SUPPORT_ROLES = frozenset(
    {SERVICE_SUPPORT_ADMINISTRATOR, HELPDESK_ADMINISTRATOR, GLOBAL_ADMINISTRATOR}
)
LEAST_SUPPORT_ROLE = SERVICE_SUPPORT_ADMINISTRATOR

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)D)?$")


class GdapStatus(StrEnum):
    """``delegatedAdminRelationshipStatus``."""

    CREATED = "created"
    APPROVAL_PENDING = "approvalPending"
    APPROVED = "approved"
    ACTIVATING = "activating"
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    TERMINATING = "terminating"
    TERMINATED = "terminated"


# Statuses under which the partner's access works (an expiring one still works until its end).
USABLE = frozenset({GdapStatus.ACTIVE, GdapStatus.EXPIRING})


def duration_days(duration: str) -> int:
    """Days of an ISO 8601 GDAP duration (``P730D``, ``P2Y`` = 730); raise if out of range."""
    match = _DURATION.fullmatch(duration)
    if match is None or duration == "P":
        raise ValueError(f"duration {duration!r} is not an ISO 8601 period such as P730D")
    years, days = (int(g) if g else 0 for g in match.groups())
    total = years * 365 + days
    if not 1 <= total <= MAX_DURATION_DAYS:
        raise ValueError(
            f"duration {duration!r} is {total} days; a GDAP relationship lasts 1 to "
            f"{MAX_DURATION_DAYS} days (P1D..P730D)"
        )
    return total


def auto_extend_days(value: str) -> int:
    """``autoExtendDuration``: ``PT0S``/``P0D`` (none) or ``P180D``; anything else is refused."""
    if value in ("PT0S", "P0D"):
        return 0
    if value == f"P{AUTO_EXTEND_DAYS}D":
        return AUTO_EXTEND_DAYS
    raise ValueError(f"autoExtendDuration {value!r} must be PT0S, P0D or P{AUTO_EXTEND_DAYS}D")


class GdapRelationship(BaseModel):
    """One delegated admin relationship of the distributor with a reseller's customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    relationship_id: str = Field(min_length=1, max_length=128)
    customer_id: str = Field(min_length=1, max_length=64)
    reseller_id: str
    display_name: str = Field(min_length=1, max_length=50)
    roles: tuple[str, ...] = Field(min_length=1, description="accessDetails.unifiedRoles")
    duration_days: int = Field(ge=1, le=MAX_DURATION_DAYS)
    status: GdapStatus
    auto_extend_days: int = Field(default=0, ge=0, le=AUTO_EXTEND_DAYS)
    activated_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None

    def with_roles(self, roles: Iterable[str]) -> GdapRelationship:
        return self.model_copy(update={"roles": tuple(dict.fromkeys(roles))})


def check_request(roles: Sequence[str], duration: str, auto_extend: str) -> list[str]:
    """What is wrong with a relationship request (empty: nothing)."""
    out: list[str] = []
    if not roles:
        out.append("a GDAP relationship needs at least one role (accessDetails.unifiedRoles)")
    try:
        duration_days(duration)
    except ValueError as exc:
        out.append(str(exc))
    try:
        extend = auto_extend_days(auto_extend)
    except ValueError as exc:
        out.append(str(exc))
    else:
        if extend and GLOBAL_ADMINISTRATOR in roles:
            out.append(
                "a relationship holding Global Administrator cannot auto-extend; "
                "set autoExtendDuration to PT0S or drop the role"
            )
    return out


@dataclass(frozen=True)
class SupportAccess:
    """Whether a service request may be filed for a customer, and if not, what to approve."""

    allowed: bool
    relationship_id: str | None
    reason: str
    missing_role: str | None = None


def usable(rel: GdapRelationship, at: datetime) -> bool:
    if rel.status not in USABLE:
        return False
    return rel.end_at is None or at < rel.end_at


def support_access(
    relationships: Iterable[GdapRelationship], customer_id: str, at: datetime
) -> SupportAccess:
    """The GDAP check before filing a service request at Microsoft for ``customer_id``.

    Allowed when an active relationship (not past its end) holds a role with support-ticket
    rights. Otherwise the reason says what the reseller's customer must approve.
    """
    mine = [r for r in relationships if r.customer_id == customer_id]
    live = sorted((r for r in mine if usable(r, at)), key=lambda r: r.relationship_id)
    for rel in live:
        if SUPPORT_ROLES.intersection(rel.roles):
            return SupportAccess(
                True, rel.relationship_id, "active GDAP relationship with a support role"
            )
    role = ROLE_NAMES[LEAST_SUPPORT_ROLE]
    if live:
        rel = live[0]
        return SupportAccess(
            False,
            rel.relationship_id,
            f"GDAP relationship {rel.relationship_id} of customer {customer_id} is active but "
            f"grants no support role: have the customer approve {role} on it",
            LEAST_SUPPORT_ROLE,
        )
    return SupportAccess(
        False,
        None,
        f"customer {customer_id} has no active GDAP relationship: create one with {role} "
        "and have the customer's admin approve it",
        LEAST_SUPPORT_ROLE,
    )


def days_left(rel: GdapRelationship, at: datetime) -> int | None:
    """Whole days until the relationship ends (0 on its last day); None if it has no end yet."""
    if rel.end_at is None:
        return None
    return (rel.end_at - at) // timedelta(days=1)


def due_notices(
    rel: GdapRelationship,
    at: datetime,
    sent: Iterable[int] = (),
    thresholds: Sequence[int] = NOTICE_DAYS,
) -> list[int]:
    """The expiry notices due now (thresholds in days, largest first) that were not sent yet.

    A relationship that auto-extends does not expire, so it gets none; one that is no longer
    usable has nothing left to warn about. A sweep that ran late sends only the nearest
    threshold passed, not a burst of stale ones.
    """
    if rel.auto_extend_days or not usable(rel, at):
        return []
    left = days_left(rel, at)
    if left is None:
        return []
    done = set(sent)
    passed = [t for t in sorted(thresholds, reverse=True) if left <= t]
    if not passed:
        return []
    nearest = passed[-1]
    return [] if nearest in done or any(t < nearest for t in done) else [nearest]


def end_of(activated_at: datetime, days: int) -> datetime:
    """``endDateTime = activatedDateTime + duration``."""
    return activated_at + timedelta(days=days)
