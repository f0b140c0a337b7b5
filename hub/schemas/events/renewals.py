"""Events of the renewals flow: notices, scheduled next-term changes, renewals, price previews."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.domain.enums import BillingCycle, Term
from hub.domain.price_lists import Promotion
from hub.schemas.envelope import Event
from hub.schemas.types import (
    Currency,
    Identifier,
    NonNegative,
    Quantity,
    ResellerId,
    Text,
    UtcDatetime,
)


class NextTermChangeRequested(Event):
    """A reseller schedules changes for a subscription's next term (Partner Center's
    ``scheduledNextTermInstructions``); fields left out keep their current value."""

    reseller_id: ResellerId
    change_id: Identifier = Field(description="the reseller's id; a retry reuses it")
    customer_id: Identifier
    subscription_id: Identifier
    quantity: Quantity | None = None
    product_id: Identifier | None = None
    sku_id: Identifier | None = None
    availability_id: Identifier | None = None
    term: Term | None = None
    billing_cycle: BillingCycle | None = None
    custom_term_end_date: date | None = None
    requested_at: UtcDatetime


class NextTermChangeScheduled(Event):
    """The hub accepted and Partner Center holds the changes for the next term."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    quantity: Quantity
    term: Term
    billing_cycle: BillingCycle
    custom_term_end_date: date | None = None
    renews_at: UtcDatetime
    unit_price_minor: NonNegative = Field(description="per seat per billing period at renewal")
    currency: Currency


class NextTermChangeRejected(Event):
    """A scheduled change the hub or Partner Center refused; ``message`` says what to do."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    code: Identifier
    message: Text


class ScheduledChangesDeleted(Event):
    """A mid-term change deleted the changes scheduled for the next term (Microsoft's rule)."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    cause: Identifier = Field(description="the change kind that deleted them")
    message: Text


class RenewalNoticeIssued(Event):
    """What will renew, when and at what price, and what the reseller can still change."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    lead_days: Quantity
    renews_at: UtcDatetime
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    quantity: Quantity
    term: Term
    billing_cycle: BillingCycle
    scheduled_change: bool = Field(description="whether next-term changes are scheduled")
    currency: Currency
    unit_price_minor: NonNegative = Field(description="per seat per billing period at renewal")
    current_unit_price_minor: NonNegative
    unit_change_minor: int
    change_bps: int | None = Field(default=None, description="price change, basis points")
    term_value_minor: NonNegative = Field(description="the renewed term's commitment")
    promotion_id: Identifier | None = None
    changes_until: UtcDatetime = Field(description="scheduled changes are accepted until then")
    approve_by: UtcDatetime | None = Field(
        default=None, description="with an approval policy: auto-renew goes off if not approved"
    )


class SubscriptionRenewed(Event):
    """A subscription started its next term, with any scheduled changes applied."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    old_quantity: Quantity
    quantity: Quantity
    term: Term
    billing_cycle: BillingCycle
    term_start: UtcDatetime
    term_end: UtcDatetime
    unit_cost_minor: NonNegative
    unit_price_minor: NonNegative
    currency: Currency
    promotion_id: Identifier | None = None
    scheduled_change_applied: bool


class PromotionPublished(Event):
    """A Microsoft promotion (``PromotionId``) for purchases and renewals while it runs; the
    latest record per promotion id wins (a compacted topic)."""

    promotion: Promotion


class RenewalsDue(Event):
    """Internal tick: handle what falls due by ``now`` in one partition of the renewals state."""

    partition: NonNegative
    now: UtcDatetime


class RenewalApproved(Event):
    """A reseller approves the next renewal of a subscription of one of its customers (with an
    approval policy, a renewal nobody approved has auto-renew switched off before it)."""

    reseller_id: ResellerId
    approval_id: Identifier = Field(description="the reseller's id; a retry reuses it")
    customer_id: Identifier
    subscription_id: Identifier
    requested_at: UtcDatetime


class RenewalApprovalRecorded(Event):
    """The hub holds the reseller's approval of the renewal at ``renews_at``."""

    reseller_id: ResellerId
    approval_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    renews_at: UtcDatetime


class RenewalApprovalRejected(Event):
    """An approval the hub refused; ``message`` says what to do."""

    reseller_id: ResellerId
    approval_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    code: Identifier
    message: Text


class RenewalNotApproved(Event):
    """The approval deadline passed without an approval: auto-renew is being switched off, so
    the subscription expires at ``renews_at`` instead of renewing."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    renews_at: UtcDatetime
    approve_by: UtcDatetime
    message: Text


class AutoRenewSwitchOff(Event):
    """Hub-internal command to the orders lifecycle: turn auto-renew off at Partner Center and
    in its record (a renewal that needed approval and got none)."""

    reseller_id: ResellerId
    customer_id: Identifier
    subscription_id: Identifier
    renews_at: UtcDatetime
    reason: Text


MidTermKind = Literal["billing_frequency", "upgrade", "term"]


class MidTermChangeRequested(Event):
    """A reseller changes a subscription now, mid-term: its billing frequency (a new term at
    today's list price, promotion removed), a longer term (``term``, v2: a new term from the
    day of the change, billed ``billing_cycle`` or as now) or an upgrade to a higher SKU of its
    family (the term end kept). Each deletes the changes scheduled for the next term."""

    reseller_id: ResellerId
    change_id: Identifier = Field(description="the reseller's id; a retry reuses it")
    customer_id: Identifier
    subscription_id: Identifier
    kind: MidTermKind
    billing_cycle: BillingCycle | None = Field(
        default=None, description="for billing_frequency; for term, the new term's (optional)"
    )
    product_id: Identifier | None = Field(default=None, description="for upgrade")
    sku_id: Identifier | None = Field(default=None, description="for upgrade")
    availability_id: Identifier | None = Field(default=None, description="for upgrade")
    requested_at: UtcDatetime
    term: Term | None = Field(default=None, description="for term (v2): the longer term")
    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")

    @model_validator(mode="after")
    def _arguments_fit_kind(self) -> Self:
        if self.kind == "billing_frequency" and self.billing_cycle is None:
            raise ValueError("billing_cycle is required when kind is 'billing_frequency'")
        if self.kind == "term" and self.term is None:
            raise ValueError("term is required when kind is 'term'")
        if self.kind == "upgrade" and None in (self.product_id, self.sku_id, self.availability_id):
            raise ValueError("product_id, sku_id and availability_id are required for 'upgrade'")
        return self


class MidTermChargeLine(BaseModel):
    """One line a mid-term change bills (negative: the credit for the rest of the period)."""

    model_config = ConfigDict(frozen=True)

    charge_type: Identifier
    catalog_item_id: Identifier
    quantity: Quantity
    unit_price_minor: int = Field(description="per seat per billing period; negative: credit")
    charge_start: date
    charge_end: date
    amount_minor: int


class MidTermChangeApplied(Event):
    """Partner Center made the change; the subscription as it is now and the lines it bills."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    kind: MidTermKind
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    quantity: Quantity
    term: Term
    billing_cycle: BillingCycle
    term_start: UtcDatetime
    term_end: UtcDatetime
    currency: Currency
    unit_price_minor: NonNegative = Field(description="per seat per billing period from now")
    unit_cost_minor: NonNegative
    price_reset: bool
    promotion_removed: Identifier | None = None
    lines: tuple[MidTermChargeLine, ...]


class MidTermChangeRejected(Event):
    """A mid-term change the hub or Partner Center refused; ``message`` says what to do."""

    reseller_id: ResellerId
    change_id: Identifier
    customer_id: Identifier
    subscription_id: Identifier
    kind: MidTermKind
    code: Identifier
    message: Text


EVENTS: tuple[type[Event], ...] = (
    NextTermChangeRequested,
    NextTermChangeScheduled,
    NextTermChangeRejected,
    ScheduledChangesDeleted,
    RenewalNoticeIssued,
    SubscriptionRenewed,
    RenewalsDue,
    PromotionPublished,
    RenewalApproved,
    RenewalApprovalRecorded,
    RenewalApprovalRejected,
    RenewalNotApproved,
    AutoRenewSwitchOff,
    MidTermChangeRequested,
    MidTermChangeApplied,
    MidTermChangeRejected,
)
