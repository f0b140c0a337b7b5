"""Events of the relationships flow (hub/streams/relationships): customer onboarding and the
Microsoft Customer Agreement attestation that must precede any order."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.enums import BillingCycle, Term
from hub.domain.relationships.customers import Address, Contact
from hub.schemas.envelope import Event
from hub.schemas.types import Identifier, ResellerId, Text, UtcDatetime

AgreementState = Literal["pending", "accepted"]


class CustomerOnboardingRequested(Event):
    """A reseller asks for a new customer tenant; with ``agreement_*`` set it also attests that
    the customer accepted the Microsoft Customer Agreement (who, when, which version)."""

    reseller_id: ResellerId
    request_id: Identifier
    customer_id: str = Field(min_length=1, max_length=64, description="the hub's id for it")
    company_name: Text
    domain: Identifier = Field(description="initial domain prefix or <prefix>.onmicrosoft.com")
    address: Address
    contact: Contact
    language: str = Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    currency: str = Field(min_length=3, max_length=3)
    agreement_template_id: Identifier | None = Field(
        default=None, description="the MCA version the customer accepted"
    )
    agreement_date: UtcDatetime | None = Field(default=None, description="dateAgreed")
    accepted_by: Contact | None = Field(default=None, description="primaryContact")


class CustomerAttestationRequested(Event):
    """The customer accepted the MCA after onboarding: record it at Partner Center."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    agreement_template_id: Identifier
    agreement_date: UtcDatetime
    accepted_by: Contact


class CustomerOnboarded(Event):
    """The customer exists at Partner Center for the reseller; ``agreement`` says whether it may
    order yet (``accepted``) or waits for its attestation (``pending``)."""

    reseller_id: ResellerId
    request_id: Identifier
    customer_id: str = Field(min_length=1, max_length=64)
    microsoft_customer_id: Identifier
    domain: Identifier
    agreement: AgreementState


class CustomerOnboardingRefused(Event):
    """The request was refused (domain, agreement, unknown reseller, ...); nothing was created."""

    reseller_id: ResellerId
    request_id: Identifier
    customer_id: str = Field(min_length=1, max_length=64)
    code: Identifier
    message: Text


class CustomerAgreementRecorded(Event):
    """Where a customer's MCA stands (compacted, by customer): the order intake refuses orders
    of a ``pending`` customer; customers never onboarded through the hub have no record."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    status: AgreementState
    template_id: Identifier | None = None
    date_agreed: UtcDatetime | None = None
    accepted_by_email: Identifier | None = None


class GdapRelationshipRequested(Event):
    """Ask the customer for a GDAP relationship (``accessDetails.unifiedRoles``, ``duration``
    up to P730D, ``autoExtendDuration`` PT0S or P180D); it is active once the customer's admin
    approves it at Microsoft."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=50)
    roles: tuple[Identifier, ...] = Field(min_length=1, description="role definition ids")
    duration: Identifier = "P730D"
    auto_extend: Identifier = "PT0S"


class GdapRelationshipUpdated(Event):
    """A GDAP relationship as Partner Center has it now (compacted ``ref.customer-gdap``, keyed
    ``<customer>|<relationship>``): every worker's escalation reads them."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    relationship_id: Identifier
    display_name: str = Field(min_length=1, max_length=50)
    roles: tuple[Identifier, ...]
    status: Identifier = Field(description="delegatedAdminRelationshipStatus")
    duration_days: int = Field(ge=1, le=730)
    auto_extend_days: int = Field(ge=0, le=180)
    activated_at: UtcDatetime | None = None
    end_at: UtcDatetime | None = None


class GdapExpiryNotice(Event):
    """A GDAP relationship ends in ``threshold_days`` or fewer (notices at 30, 7 and 1 days):
    without it the distributor cannot open support requests for the customer."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    relationship_id: Identifier
    threshold_days: int = Field(ge=0)
    end_at: UtcDatetime
    message: Text


class GdapApprovalNeeded(Event):
    """A task for the reseller: a ticket waits to be escalated to Microsoft until the customer
    approves a GDAP relationship with a support role. The ticket's SLA clock keeps running."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    ticket_id: Identifier
    correlation_key: Identifier = Field(description="where the ticket's escalation lives")
    relationship_id: Identifier | None = None
    missing_role: Identifier
    message: Text


class SubscriptionTransferRequested(Event):
    """Move a subscription from ``reseller_id`` to ``to_reseller_id`` (both resellers of the
    distributor) on ``effective_date``: liability changes hands at the start of that day."""

    reseller_id: ResellerId
    to_reseller_id: ResellerId
    subscription_id: Identifier
    effective_date: date


class SubscriptionTransferred(Event):
    """A subscription moved between two resellers. One copy per side (``side``): the old
    reseller's ends its liability and frees its open commitment, the new one's takes both on.

    Amounts are the current billing period's (``period_start``..``period_end``) split at the
    effective day, each at its reseller's price, and the rest of the term's commitment."""

    reseller_id: ResellerId = Field(description="the reseller this copy is for")
    side: Literal["from", "to"]
    from_reseller_id: ResellerId
    to_reseller_id: ResellerId
    subscription_id: Identifier
    customer_id: str = Field(min_length=1, max_length=64)
    effective_date: date
    product_id: Identifier
    sku_id: Identifier
    availability_id: Identifier
    term: Term
    billing_cycle: BillingCycle
    currency: str = Field(min_length=3, max_length=3)
    quantity: int = Field(ge=1)
    term_start: date
    term_end: date
    auto_renew: bool
    unit_cost_minor: int = Field(ge=0)
    from_unit_price_minor: int = Field(ge=0)
    to_unit_price_minor: int = Field(ge=0)
    period_start: date
    period_end: date
    from_period_minor: int = Field(description="the old reseller's part of the period")
    to_period_minor: int = Field(description="the new reseller's part of the period")
    released_commitment_minor: int = Field(ge=0, description="leaves the old one's exposure")
    taken_commitment_minor: int = Field(ge=0, description="enters the new one's exposure")
    microsoft_customer_id: str | None = Field(
        default=None,
        max_length=64,
        description="the customer's Microsoft tenant id (v2): set on the copy the orders "
        "lifecycle hands the new reseller, so it manages the subscription at Partner Center",
    )
    schema_version: int = Field(default=2, ge=1, description="version of this event's contract")


class SubscriptionTransferRefused(Event):
    """A transfer that cannot go ahead, and why; nothing moved."""

    reseller_id: ResellerId
    to_reseller_id: ResellerId
    subscription_id: Identifier
    message: Text


class DriftField(BaseModel):
    """One field that differs: the hub's value and Partner Center's (as text)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Identifier
    hub: str | None = None
    microsoft: str


class SubscriptionDriftDetected(Event):
    """Partner Center's subscription differs from the hub's view (changed in the portal,
    renewed, suspended by Microsoft, or unknown to the hub); reported once per difference."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    subscription_id: Identifier
    kind: Literal["changed", "renewed", "suspended_by_microsoft", "unknown_to_hub"]
    fields: tuple[DriftField, ...]
    fingerprint: Identifier = Field(description="names this difference in a resolution")


class SubscriptionDriftResolution(Event):
    """Ops settle a drift: ``adopt`` (the hub takes Partner Center's values), ``correct``
    (Partner Center gets the hub's values back) or ``ignore``."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    subscription_id: Identifier
    resolution: Literal["adopt", "correct", "ignore"]
    note: str | None = Field(default=None, max_length=4000)


class SubscriptionDriftResolved(Event):
    """What became of a resolution (``refused`` with the reason when it could not apply)."""

    reseller_id: ResellerId
    customer_id: str = Field(min_length=1, max_length=64)
    subscription_id: Identifier
    outcome: Literal["adopted", "corrected", "ignored", "refused"]
    message: Text


class RelationshipSweepTick(Event):
    """Internal: one partition's sweep looks at its next page of GDAP relationships."""

    partition: int = Field(ge=0)


EVENTS: tuple[type[Event], ...] = (
    CustomerOnboardingRequested,
    CustomerAttestationRequested,
    CustomerOnboarded,
    CustomerOnboardingRefused,
    CustomerAgreementRecorded,
    GdapRelationshipRequested,
    GdapRelationshipUpdated,
    GdapExpiryNotice,
    GdapApprovalNeeded,
    RelationshipSweepTick,
    SubscriptionTransferRequested,
    SubscriptionTransferred,
    SubscriptionTransferRefused,
    SubscriptionDriftDetected,
    SubscriptionDriftResolution,
    SubscriptionDriftResolved,
)
