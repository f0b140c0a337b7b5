"""Incentive plans as data: who is paid, on which resellers' revenue, at which rates and tiers.

A plan pays one payee: a reseller's rebate on its own revenue, or an account manager's
commission on the resellers they own. Rates are in basis points by product family; tiers
raise them once the month's measure (recognised revenue, or net seats added) reaches a
threshold; the payout currency is fixed, and revenue in another currency is converted at the
rate the plan states (``fx_rates``, with ``fx_source`` saying where it comes from).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.money import check_currency, exponent

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# Dunning stages in the order a debt goes through them (hub.schemas.events.billing).
STAGES: tuple[str, ...] = ("reminder", "first_notice", "final_notice", "credit_hold", "collections")
# The family of a product no plan names, and the rate key every family falls back to.
OTHER_FAMILY = "other"
ANY_FAMILY = "*"

PlanKind = Literal["rebate", "commission"]
TierBasis = Literal["revenue", "seat_growth"]
ClawbackStage = Literal["final_notice", "credit_hold", "collections"]


class Tier(BaseModel):
    """Rates from ``from_measure`` on: payout minor units of the month's recognised revenue
    (``revenue``) or net seats added in the month (``seat_growth``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[^|]+$")
    from_measure: int = Field(ge=0)
    rates_bps: dict[str, int] = Field(min_length=1, description="family (or '*') -> bps")

    @field_validator("rates_bps")
    @classmethod
    def _rates(cls, value: dict[str, int]) -> dict[str, int]:
        for family, bps in value.items():
            if not 0 <= bps <= 10_000:
                raise ValueError(f"rate of {family!r} must be 0..10000 basis points, got {bps}")
        return value

    def rate_for(self, family: str) -> int:
        return self.rates_bps.get(family, self.rates_bps.get(ANY_FAMILY, 0))


class Plan(BaseModel):
    """One payee's plan; ``effective_from``/``effective_to`` are months (YYYY-MM, inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    payee: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@-]+$")
    kind: PlanKind
    resellers: tuple[str, ...] = Field(min_length=1)
    currency: str
    fx_rates: dict[str, str] = Field(
        default_factory=dict, description="payout units per one unit of a revenue currency"
    )
    fx_source: str = Field(default="", description="where the stated rates come from")
    families: dict[str, str] = Field(default_factory=dict, description="product id -> family")
    effective_from: str = Field(pattern=PERIOD)
    effective_to: str | None = Field(default=None, pattern=PERIOD)
    tier_basis: TierBasis = "revenue"
    tiers: tuple[Tier, ...] = Field(min_length=1)
    cap_minor: int | None = Field(default=None, ge=0, description="most accrued in a month")
    clawback_stage: ClawbackStage = Field(
        default="credit_hold", description="dunning stage at which unpaid revenue is written off"
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("fx_rates")
    @classmethod
    def _fx(cls, value: dict[str, str]) -> dict[str, str]:
        for code, rate in value.items():
            check_currency(code)
            if not Decimal(rate).is_finite() or Decimal(rate) <= 0:
                raise ValueError(f"exchange rate of {code} must be a positive decimal, got {rate}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "rebate" and self.resellers != (self.payee,):
            raise ValueError("a rebate pays the reseller itself: resellers must be [payee]")
        if self.tiers[0].from_measure != 0:
            raise ValueError("the first tier must start at 0")
        starts = [t.from_measure for t in self.tiers]
        if starts != sorted(set(starts)):
            raise ValueError("tiers must start at increasing thresholds")
        if len({t.name for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier names must differ")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        if self.fx_rates and not self.fx_source:
            raise ValueError("stated exchange rates need fx_source (where they come from)")
        return self

    def effective(self, period: str) -> bool:
        return self.effective_from <= period and (
            self.effective_to is None or period <= self.effective_to
        )

    def family_of(self, product_id: str) -> str:
        return self.families.get(product_id, OTHER_FAMILY)

    def to_payout(self, amount_minor: int, currency: str) -> Decimal:
        """``amount_minor`` of ``currency`` in payout minor units, exactly (no rounding yet)."""
        if currency == self.currency:
            return Decimal(amount_minor)
        rate = self.fx_rates.get(currency)
        if rate is None:
            raise ValueError(f"plan {self.plan_id} states no exchange rate for {currency}")
        shift = exponent(self.currency) - exponent(currency)
        return Decimal(amount_minor) * Decimal(rate) * Decimal(10) ** shift

    def tier_index(self, measure: Decimal) -> int:
        """The tier a month's ``measure`` is in (below 0 counts as the first)."""
        index = 0
        for i, tier in enumerate(self.tiers):
            if measure >= tier.from_measure:
                index = i
        return index

    def writes_off_at(self, stage: str) -> bool:
        return stage in STAGES and STAGES.index(stage) >= STAGES.index(self.clawback_stage)


class PlanFile(BaseModel):
    """What ``hub incentives plans apply FILE`` reads: ``plans: [...]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plans: tuple[Plan, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [p.plan_id for p in self.plans]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"plan ids must be unique, repeated: {', '.join(dupes)}")
        return self
