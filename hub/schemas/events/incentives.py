"""Sales incentive events: plans, the facts they accrue on, booked lines and statements."""

from __future__ import annotations

import json
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.incentives.plans import Plan
from hub.schemas.envelope import Event
from hub.schemas.types import Currency, DecimalText, Identifier, NonNegative, ResellerId

_PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class IncentivePlanSet(Event):
    """An incentive plan as finance applied it (``hub incentives plans apply``), keyed by plan
    id on a compacted topic: the latest record of a plan id is the plan. ``plan_json`` is the
    plan document (hub/domain/incentives/plans.py), checked when the event is built or read."""

    plan_id: Identifier
    payee: Identifier
    plan_json: str = Field(description="the plan as JSON, see hub.domain.incentives.plans.Plan")
    active: bool = Field(default=True, description="false retires the plan from this event on")

    @model_validator(mode="after")
    def _plan(self) -> Self:
        plan = self.plan()
        if (plan.plan_id, plan.payee) != (self.plan_id, self.payee):
            raise ValueError("plan_id and payee must match the plan document")
        return self

    def plan(self) -> Plan:
        return Plan.model_validate(json.loads(self.plan_json))


FactKind = Literal["revenue", "seats", "refund", "write_off"]


class IncentiveFactNoted(Event):
    """Incentives-internal: one billing fact for one plan, re-keyed by the plan's payee.

    ``revenue``: revenue recognised in ``period`` (``amount_minor`` of ``currency``);
    ``seats``: net seats added; ``refund``: a 7-day cancellation refunded ``amount_minor`` of a
    charge of ``charge_minor``; ``write_off``: the charge's invoice reached dunning ``stage``.
    """

    kind: FactKind
    plan_id: Identifier
    payee: Identifier
    source_id: Identifier = Field(description="the fact, once: a replay names the same source")
    charge_id: str = ""
    subscription_id: str = ""
    product_id: str = ""
    period: str = Field(pattern=_PERIOD, description="YYYY-MM the fact belongs to")
    amount_minor: int = 0
    currency: Currency | None = None
    charge_minor: int = 0
    seats: int = 0
    after_refund: bool = False
    stage: str | None = None


class IncentiveWriteOffContinued(Event):
    """Incentives-internal: a write-off goes on from where its last page stopped.

    The router sends it to itself on ``hub.incentives.inputs`` (keyed by reseller): the
    charges of the invoices a dunning stage names are handled a bounded page per message, so
    no message's work grows with the reseller's size.
    """

    reseller_id: ResellerId
    dunning_event_id: str = Field(description="event_id of the DunningStageReached")
    stage: str
    invoice_ids: tuple[str, ...] = Field(min_length=1)
    period: str = Field(pattern=_PERIOD, description="YYYY-MM the write-off is booked in")
    after: str = Field(default="", description="the last invoice|charge the previous page took")
    pages: int = Field(ge=1, description="pages of this write-off done so far")


class IncentiveStatementRequested(Event):
    """Asks for a payee's statement of a month (``hub incentives statement``)."""

    payee: Identifier
    period: str = Field(pattern=_PERIOD, description="YYYY-MM")
    requested_by: str = "finance"


LineKind = Literal["accrual", "reversal"]
Reason = Literal["recognised", "refund_7_day", "written_off", "revenue_adjusted"]


class IncentiveLineBooked(Event):
    """One line of a payee's incentives: an accrual on recognised revenue, or a reversal of
    one (a 7-day refund, revenue written off after dunning) naming the line it reverses."""

    line_id: Identifier
    plan_id: Identifier
    payee: Identifier
    period: str = Field(pattern=_PERIOD, description="the month it is booked in")
    kind: LineKind
    reason: Reason
    source_id: Identifier
    charge_id: Identifier
    subscription_id: Identifier
    family: str
    tier: str
    rate_bps: NonNegative
    revenue_minor: DecimalText = Field(description="revenue it is on, payout minor units, exact")
    amount_minor: int = Field(description="payout minor units; negative for a reversal")
    capped_minor: NonNegative = 0
    currency: Currency
    reverses: str | None = Field(default=None, description="line_id of the accrual reversed")


class ReasonAmount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    amount_minor: int


class PlanStatementPart(BaseModel):
    """One plan's month on a statement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_id: Identifier
    kind: str
    currency: Currency
    accrued_minor: int
    reversed_minor: int
    reversed_by_reason: tuple[ReasonAmount, ...] = ()
    capped_minor: int = 0
    payable_minor: int
    tier: str = Field(description="the tier the month ended in")
    measure: DecimalText = Field(description="the month's tier measure (revenue or seats)")
    tier_changes: tuple[str, ...] = Field(default=(), description="each tier change, explained")


class IncentiveStatementIssued(Event):
    """A payee's monthly incentive statement; a reseller's rebate also on its billing topic."""

    statement_id: Identifier
    payee: Identifier
    period: str = Field(pattern=_PERIOD, description="YYYY-MM")
    plans: tuple[PlanStatementPart, ...] = ()


EVENTS: tuple[type[Event], ...] = (
    IncentivePlanSet,
    IncentiveFactNoted,
    IncentiveStatementRequested,
    IncentiveLineBooked,
    IncentiveStatementIssued,
    IncentiveWriteOffContinued,
)
