"""Renewals settings (env prefix ``HUB_RENEWALS_``): notice lead times, the zone notices are
timed in, how often the scheduler looks for due work and how much one tick handles, and which
resellers must approve their renewals (the approval policy, per reseller)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain.renewals import RenewalPolicy


class RenewalsConfig(BaseSettings):
    """Read once by the worker; every field has a production default."""

    model_config = SettingsConfigDict(env_prefix="HUB_RENEWALS_", frozen=True, extra="ignore")

    # Days before the renewal each notice goes out, comma-separated ("30,7,1").
    lead_days: str = Field(default="30,7,1", pattern=r"^\d+(,\d+)*$")
    time_zone: str = "UTC"
    tick_s: float = Field(default=60.0, gt=0)
    page: int = Field(default=200, ge=1, le=10_000)
    # Resellers whose renewals need their approval, comma-separated ids ("*": every reseller);
    # without it by ``approval_deadline_days`` before the renewal, auto-renew is switched off.
    approval_resellers: str = Field(default="", pattern=r"^(\*|[^,\s]+(,[^,\s]+)*)?$")
    approval_deadline_days: int = Field(default=2, ge=1, le=60)

    def policy(self) -> RenewalPolicy:
        leads = tuple(int(part) for part in self.lead_days.split(","))
        return RenewalPolicy(
            lead_days=leads,
            time_zone=self.time_zone,
            approval_deadline_days=self.approval_deadline_days,
        )

    def policy_for(self, reseller_id: str) -> RenewalPolicy:
        """The policy of one reseller: ``policy()`` with its approval requirement."""
        return self.policy().model_copy(
            update={"approval_required": self.approval_required(reseller_id)}
        )

    def approval_required(self, reseller_id: str) -> bool:
        names = {part for part in self.approval_resellers.split(",") if part}
        return "*" in names or reseller_id in names
