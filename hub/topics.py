"""The topic catalogue: every topic's name, key, contracts, partitions, retention and access.

Names carry an optional prefix (``HUB_TOPIC_PREFIX``) so several hubs, or several tests, share a
broker without seeing each other. Per-reseller topics live under ``partner.<reseller_id>.`` so a
prefix ACL gives each reseller its own topics and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum

DLQ_SUFFIX = ".dlq"
_RESELLER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_DAY_MS = 24 * 60 * 60 * 1000
_WEEK_MS = 7 * _DAY_MS
# Money and audit topics keep ten years: invoices and credits must be replayable for audits.
_TEN_YEARS_MS = 3650 * _DAY_MS

# Partitions of every keyed multi-partition topic and of every flow's state table
# (``HUB_KAFKA_PARTITIONS``): one count, because a flow reads its state from the partition of the
# message it handles, so its topics and its table must be partitioned alike. It caps how many
# workers share a flow (one partition has one owner); it cannot grow later without moving keys
# away from their state, so it starts with room for a dozen workers.
DEFAULT_PARTITIONS = 12
# A reseller's own partner topics: read by its systems, never by a hub flow, so not
# co-partitioned with anything.
PARTNER_PARTITIONS = 3


class Topic(StrEnum):
    """The fixed topics, by role. Values are the names without the prefix."""

    # Reseller ingress: each reseller's system writes its own events, keyed by reseller id.
    ORDERS = "reseller.orders"
    SUBSCRIPTION_CHANGES = "reseller.subscription-changes"
    TICKETS = "reseller.tickets"
    PAYMENTS = "reseller.payments"
    # Reference data: compacted, loaded into global tables.
    RESELLERS = "ref.resellers"
    CUSTOMERS = "ref.customers"
    CATALOG = "ref.catalog"
    PRICES = "ref.prices"
    # The hub's own flows.
    ORDER_DECISIONS = "hub.orders.decisions"
    PROVISIONING = "hub.orders.provisioning"
    SUBSCRIPTION_EVENTS = "hub.subscriptions.events"
    CHARGES = "hub.billing.charges"
    INVOICES = "hub.billing.invoices"
    REVENUE = "hub.billing.revenue"
    COLLECTIONS = "hub.billing.collections"
    BILLING_INPUTS = "hub.billing.inputs"
    RECONCILIATION_LINES = "hub.reconciliation.lines"
    RECONCILIATION_MISMATCHES = "hub.reconciliation.mismatches"
    SUPPORT_EVENTS = "hub.support.events"
    INCIDENTS = "hub.support.incidents"
    CREDITS_APPROVED = "hub.credits.approved"
    CREDITS_ALLOCATED = "hub.credits.allocated"
    OPS_COMMANDS = "hub.ops.commands"
    SUPPORT_TICKET_COMMANDS = "hub.support.ticket-commands"
    SUPPORT_CORRELATION = "hub.support.correlation"
    CREDITS_SUBSCRIPTIONS = "hub.credits.subscriptions"
    CREDITS_INDEX = "hub.credits.index"
    CREDITS_AUDIT = "hub.credits.audit"
    INGRESS_REJECTIONS = "hub.ingress.rejections"
    PARTNER_DEAD_LETTERS = "hub.partners.undeliverable"
    # The webhook bridge (hub/webhooks): endpoints, its delivery log and its parked deliveries.
    WEBHOOK_ENDPOINTS = "hub.webhooks.endpoints"
    WEBHOOK_DELIVERIES = "hub.webhooks.deliveries"
    WEBHOOK_RETRIES = "hub.webhooks.retries"
    # Azure plan consumption (hub/streams/consumption): usage in, rated, accruals, alerts.
    CONSUMPTION_INPUTS = "hub.consumption.inputs"
    CONSUMPTION_RATED = "hub.consumption.rated"
    CONSUMPTION_ACCRUALS = "hub.consumption.accruals"
    CONSUMPTION_ALERTS = "hub.consumption.alerts"

    # Sales incentives (hub/streams/incentives): plans, facts by payee, lines and statements.
    INCENTIVE_PLANS = "hub.incentives.plans"
    INCENTIVE_LEDGER = "hub.incentives.ledger"
    INCENTIVE_STATEMENTS = "hub.incentives.statements"
    INCENTIVE_INPUTS = "hub.incentives.inputs"
    # Renewals (hub/streams/renewals): subscriptions and scheduler ticks in, renewal facts out.
    RENEWAL_INPUTS = "hub.renewals.inputs"
    RENEWAL_EVENTS = "hub.renewals.events"
    RENEWAL_PROMOTIONS = "hub.renewals.promotions"
    # Renewal approvals: the renewals flow's commands to the orders lifecycle.
    SUBSCRIPTION_COMMANDS = "hub.subscriptions.commands"
    # Relationships (hub/streams/relationships): customer onboarding and MCA attestation.
    RELATIONSHIP_REQUESTS = "hub.relationships.requests"
    RELATIONSHIP_EVENTS = "hub.relationships.events"
    CUSTOMER_AGREEMENTS = "ref.customer-agreements"
    CUSTOMER_GDAP = "ref.customer-gdap"


# The shared ingress topics and the kind each reseller's own ingress topic is named after.
INGRESS_KINDS: dict[Topic, str] = {
    Topic.ORDERS: "orders",
    Topic.SUBSCRIPTION_CHANGES: "subscription-changes",
    Topic.TICKETS: "tickets",
    Topic.PAYMENTS: "payments",
}
INGRESS: tuple[Topic, ...] = tuple(INGRESS_KINDS)


class PartnerTopic(StrEnum):
    """A reseller's own topics: ``partner.<reseller_id>.<kind>``."""

    STATUS = "status"
    BILLING = "billing"
    SUPPORT = "support"


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the catalogue declares it; ``apply`` makes the broker match."""

    name: str
    key: str
    events: tuple[str, ...]
    description: str
    # None: the catalogue's count (``TopicCatalog.partitions``), as every keyed topic that a flow
    # reads beside its state table.
    partitions: int | None = None
    compacted: bool = False
    retention_ms: int | None = _WEEK_MS
    writers: tuple[str, ...] = ("hub",)
    readers: tuple[str, ...] = ("hub", "ops")
    dead_letter: bool = True
    # On an ingress topic: the event types a reseller may write there (anything else, and every
    # hub-issued document, is refused by the owning flow and ignored by observers).
    reseller_events: tuple[str, ...] = ()
    configs: dict[str, str] = field(default_factory=dict, compare=False)

    def broker_configs(self) -> dict[str, str]:
        """The topic-level configs the broker should hold for this spec."""
        configs = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None and not self.compacted:
            configs["retention.ms"] = str(self.retention_ms)
        configs.update(self.configs)
        return configs

    @property
    def partition_count(self) -> int:
        """The partitions this topic has: a catalogue's specs always say (``fixed``)."""
        if self.partitions is None:
            raise ValueError(f"{self.name}: no partition count (take specs from a TopicCatalog)")
        return self.partitions


_RESELLER = "reseller:<reseller_id>"

_FIXED: tuple[TopicSpec, ...] = (
    # The shared ingress topics: on an authenticating broker only the hub writes them (its
    # ingress gateway forwards each reseller's own ``reseller.<id>.<kind>`` topic here with the
    # writer it authenticated); without authentication resellers write them directly.
    TopicSpec(
        Topic.ORDERS,
        "reseller_id",
        ("OrderRequested",),
        "orders from resellers' systems",
        reseller_events=("OrderRequested",),
    ),
    TopicSpec(
        Topic.SUBSCRIPTION_CHANGES,
        "reseller_id",
        (
            "SubscriptionChangeRequested",
            "NextTermChangeRequested",
            "RenewalApproved",
            "MidTermChangeRequested",
        ),
        "quantity changes, suspend, reactivate, cancel, auto-renew; next-term changes; renewal "
        "approvals; mid-term billing-frequency changes and upgrades",
        reseller_events=(
            "SubscriptionChangeRequested",
            "NextTermChangeRequested",
            "RenewalApproved",
            "MidTermChangeRequested",
        ),
    ),
    TopicSpec(
        Topic.TICKETS,
        "reseller_id",
        ("TicketOpened", "TicketUpdated"),
        "support tickets from resellers' customers",
        reseller_events=("TicketOpened", "TicketUpdated"),
    ),
    TopicSpec(
        Topic.PAYMENTS,
        "reseller_id",
        ("PaymentReceived",),
        "remittance advices from resellers (claims until finance confirms them)",
        retention_ms=_TEN_YEARS_MS,
        reseller_events=("PaymentReceived",),
    ),
    TopicSpec(
        Topic.RESELLERS,
        "reseller_id",
        ("ResellerUpserted",),
        "reseller profiles",
        compacted=True,
        partitions=1,
        writers=("ops",),
    ),
    TopicSpec(
        Topic.CUSTOMERS,
        "customer_id",
        ("CustomerUpserted",),
        "end customers of resellers",
        compacted=True,
        partitions=1,
        writers=("ops", "hub"),  # the hub: customers onboarded through it
    ),
    TopicSpec(
        Topic.CATALOG,
        "catalog_item_id",
        ("CatalogItemUpserted",),
        "sellable products",
        compacted=True,
        partitions=1,
        writers=("ops",),
    ),
    TopicSpec(
        Topic.PRICES,
        "price_key",
        ("PriceListEntryUpserted",),
        "Microsoft cost price lists",
        compacted=True,
        partitions=1,
        writers=("ops",),
    ),
    TopicSpec(
        Topic.ORDER_DECISIONS,
        "reseller_id",
        ("OrderAccepted", "OrderHeld", "OrderRejected"),
        "validation and credit-check outcomes",
    ),
    TopicSpec(
        Topic.PROVISIONING,
        "reseller_id",
        ("SubscriptionProvisioned", "ProvisioningFailed"),
        "what Microsoft provisioned, or why not",
        retention_ms=_TEN_YEARS_MS,
    ),
    TopicSpec(
        Topic.SUBSCRIPTION_EVENTS,
        "subscription_id",
        ("SubscriptionChanged", "SubscriptionChangeRejected"),
        "subscription lifecycle facts",
        retention_ms=_TEN_YEARS_MS,
    ),
    TopicSpec(
        Topic.CHARGES,
        "reseller_id",
        ("ChargeRated",),
        "rated charges (cost and price)",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.INVOICES,
        "reseller_id",
        ("InvoiceIssued", "CreditNoteIssued"),
        "every invoice and credit note (the distributor's finance reads the full set)",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.REVENUE,
        "reseller_id",
        ("RevenueRecognised",),
        "monthly revenue recognition",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.COLLECTIONS,
        "reseller_id",
        (
            "DunningStageReached",
            "PaymentAdviceRecorded",
            "PaymentConfirmed",
            "BillingRunCompleted",
            "SubscriptionTransferred",
        ),
        "dunning, credit holds, payment advices, the payments finance confirmed, closes done, "
        "transfers (the exposure moves)",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.RECONCILIATION_LINES,
        "subscription_id",
        ("ReconciliationLineReceived",),
        "Microsoft's reconciliation lines",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "finance"),
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.RECONCILIATION_MISMATCHES,
        "subscription_id",
        ("ReconciliationMismatch",),
        "differences between Microsoft's lines and the hub's",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.SUPPORT_EVENTS,
        "ticket_id",
        (
            "TicketRouted",
            "TicketEscalated",
            "TicketUpdated",
            "TicketResolved",
            "SlaWarning",
            "SlaBreached",
        ),
        "support routing, escalation, SLA",
        readers=("hub", "ops", "desk"),
    ),
    TopicSpec(
        Topic.INCIDENTS,
        "incident_id",
        ("IncidentDetected",),
        "correlated multi-customer incidents",
        readers=("hub", "ops", "desk"),
    ),
    TopicSpec(
        Topic.CREDITS_APPROVED,
        "incident_id",
        ("ServiceCreditApproved",),
        "service credits Microsoft approved to the distributor",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "finance"),
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.CREDITS_ALLOCATED,
        "subscription_id",
        ("ServiceCreditAllocated",),
        "credits passed through to affected customers",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.OPS_COMMANDS,
        "subject_id",
        (),
        "ops commands (release held order, close month)",
        writers=("ops", "finance"),
    ),
    TopicSpec(
        Topic.SUPPORT_TICKET_COMMANDS,
        "reseller_id",
        ("TicketResolved", "GdapApprovalNeeded", "TicketEscalated"),
        "support-internal: SLA ticks, resolutions, and escalations held for GDAP and released, "
        "co-partitioned with reseller.tickets",
        retention_ms=_DAY_MS,
        readers=("hub",),
    ),
    TopicSpec(
        Topic.SUPPORT_CORRELATION,
        "correlation_key",
        ("TicketOpened", "TicketRouted", "TicketUpdated"),
        "support-internal: escalatable tickets re-keyed by service and region",
        retention_ms=_WEEK_MS,
        readers=("hub",),
    ),
    TopicSpec(
        Topic.BILLING_INPUTS,
        "reseller_id",
        (
            "BillingRunRequested",
            "BillingRunContinued",
            "SubscriptionChanged",
            "PaymentReceived",
            "ServiceCreditAllocated",
            "ReconciliationLineReceived",
            "ConsumptionCharged",
            "SubscriptionRenewed",
            "SubscriptionTransferRequested",
            "SubscriptionTransferred",
        ),
        "billing-internal: runs (close, dunning, reconcile) and inputs re-keyed by reseller; "
        "last in the list so it is no event's home (registry subject)",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "ops", "finance"),
        readers=("hub",),
    ),
    TopicSpec(
        Topic.CREDITS_SUBSCRIPTIONS,
        "subscription_id",
        ("SubscriptionProvisioned",),
        "credits-internal: provisioned subscriptions re-keyed to meet their lifecycle changes",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub",),
    ),
    TopicSpec(
        Topic.CREDITS_INDEX,
        "service",
        ("SubscriptionProvisioned", "SubscriptionChanged", "ServiceCreditApproved"),
        "credits-internal: subscriptions and approvals re-keyed by Microsoft service",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub",),
    ),
    TopicSpec(
        Topic.CREDITS_AUDIT,
        "credit_id",
        ("ServiceCreditAllocationReported",),
        "how each approved service credit was allocated, and its remainder",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.INGRESS_REJECTIONS,
        "reseller_id",
        ("IngressRejected",),
        "ingress events refused (wrong type, another reseller's identity, implausible values)",
        retention_ms=_TEN_YEARS_MS,
    ),
    TopicSpec(
        Topic.PARTNER_DEAD_LETTERS,
        "subject_id",
        (),
        "the distributor's dead letters of partner topics: events meant for partner.<id>.* of a "
        "reseller never onboarded, kept with the topic they were meant for and never sent there",
        partitions=1,
        retention_ms=_TEN_YEARS_MS,
        dead_letter=False,
    ),
    # The webhook bridge's own topics hold JSON, not Avro events (hub/webhooks/records.py).
    TopicSpec(
        Topic.WEBHOOK_ENDPOINTS,
        "endpoint_id",
        (),
        "webhook endpoints (url, event types, signing secret), latest record per endpoint id",
        compacted=True,
        partitions=1,
        writers=("hub", "ops"),
        readers=("hub", "ops"),
        dead_letter=False,
    ),
    TopicSpec(
        Topic.WEBHOOK_DELIVERIES,
        "endpoint_id",
        (),
        "webhook delivery attempts and their outcomes",
        retention_ms=_WEEK_MS * 5,
        dead_letter=False,
    ),
    TopicSpec(
        Topic.WEBHOOK_RETRIES,
        "endpoint_id",
        (),
        "webhook deliveries waiting for their next attempt (kept beyond the 3-day retry window)",
        retention_ms=_WEEK_MS,
        readers=("hub",),
        dead_letter=False,
    ),
    # Azure plan consumption (hub/streams/consumption), all keyed by reseller beside the flow's
    # state; the accruals are read by the order intake (credit exposure).
    TopicSpec(
        Topic.CONSUMPTION_INPUTS,
        "reseller_id",
        (
            "UsageRecorded",
            "ConsumptionBudgetSet",
            "ConsumptionMarkupSet",
            "ConsumptionCloseRequested",
            "ConsumptionCloseContinued",
        ),
        "consumption inputs: daily rated usage from Partner Center, budgets, markups, closes",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "ops", "finance"),
        readers=("hub",),
    ),
    TopicSpec(
        Topic.CONSUMPTION_RATED,
        "reseller_id",
        ("UsageRated", "ConsumptionAdjusted", "ConsumptionCharged"),
        "rated usage facts, adjustments after a close, and the month's summarised lines",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.CONSUMPTION_ACCRUALS,
        "reseller_id",
        ("ConsumptionAccrued",),
        "accrued, not yet invoiced consumption per reseller (feeds the credit exposure)",
        retention_ms=_TEN_YEARS_MS,
    ),
    TopicSpec(
        Topic.CONSUMPTION_ALERTS,
        "reseller_id",
        ("ConsumptionBudgetThresholdReached", "ConsumptionAnomalyDetected", "UsageMismatchFound"),
        "consumption budget thresholds, anomalies and billed-usage differences, for ops",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    # Sales incentives (hub/streams/incentives): plans are read whole by every worker; facts
    # are re-keyed by payee beside the ledger's state; lines and statements are for finance.
    TopicSpec(
        Topic.INCENTIVE_PLANS,
        "plan_id",
        ("IncentivePlanSet",),
        "incentive plans (rebates, commissions), latest record per plan id",
        compacted=True,
        partitions=1,
        writers=("ops", "finance"),
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.INCENTIVE_LEDGER,
        "payee",
        ("IncentiveFactNoted", "IncentiveStatementRequested"),
        "incentives-internal: billing facts per plan re-keyed by payee, and statement requests",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "finance"),
        readers=("hub",),
    ),
    TopicSpec(
        Topic.INCENTIVE_STATEMENTS,
        "payee",
        ("IncentiveLineBooked", "IncentiveStatementIssued"),
        "incentive accrual and reversal lines, and monthly statements per payee",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.INCENTIVE_INPUTS,
        "reseller_id",
        ("IncentiveWriteOffContinued",),
        "incentives-internal: a write-off's next page, beside the router's state",
        retention_ms=_WEEK_MS,
        readers=("hub",),
    ),
    # Renewals (hub/streams/renewals): lifecycle facts re-keyed by reseller beside the flow's
    # state, and the scheduler's ticks; notices, scheduled changes and renewals out.
    TopicSpec(
        Topic.RENEWAL_INPUTS,
        "reseller_id",
        ("SubscriptionChanged", "RenewalsDue"),
        "renewals-internal: lifecycle facts by reseller and scheduler ticks per partition",
        readers=("hub",),
    ),
    TopicSpec(
        Topic.RENEWAL_EVENTS,
        "subscription_id",
        (
            "RenewalNoticeIssued",
            "NextTermChangeScheduled",
            "NextTermChangeRejected",
            "ScheduledChangesDeleted",
            "SubscriptionRenewed",
            "RenewalApprovalRecorded",
            "RenewalApprovalRejected",
            "RenewalNotApproved",
            "MidTermChangeApplied",
            "MidTermChangeRejected",
        ),
        "renewal notices, scheduled next-term changes, approvals, mid-term changes and renewals",
        retention_ms=_TEN_YEARS_MS,
        readers=("hub", "ops", "finance"),
    ),
    TopicSpec(
        Topic.RENEWAL_PROMOTIONS,
        "promotion_id",
        ("PromotionPublished",),
        "Microsoft's promotions with their dates, latest record per promotion id",
        compacted=True,
        partitions=1,
        writers=("ops",),
    ),
    # Renewal approvals: keyed by reseller like the lifecycle's other inputs, so a command
    # meets the orders flow's record of the subscription in the same partition.
    TopicSpec(
        Topic.SUBSCRIPTION_COMMANDS,
        "reseller_id",
        ("AutoRenewSwitchOff", "MidTermChangeApplied", "SubscriptionTransferred"),
        "hub-internal commands to the subscription lifecycle (unapproved renewals, mid-term "
        "changes and transfers the record follows)",
        readers=("hub",),
    ),
    # Relationships (hub/streams/relationships): requests and outcomes keyed by reseller beside
    # the flow's state; each customer's MCA standing compacted, read whole by every worker.
    TopicSpec(
        Topic.RELATIONSHIP_REQUESTS,
        "reseller_id",
        (
            "CustomerOnboardingRequested",
            "CustomerAttestationRequested",
            "GdapRelationshipRequested",
            "GdapApprovalNeeded",
            "RelationshipSweepTick",
            "SubscriptionTransferRequested",
            "SubscriptionChanged",
            "SubscriptionDriftResolution",
        ),
        "customer onboarding, MCA attestation and GDAP requests, tickets held for GDAP, sweep "
        "ticks",
        retention_ms=_TEN_YEARS_MS,
        writers=("hub", "ops"),
        readers=("hub",),
    ),
    TopicSpec(
        Topic.RELATIONSHIP_EVENTS,
        "reseller_id",
        (
            "CustomerOnboarded",
            "CustomerOnboardingRefused",
            "GdapRelationshipUpdated",
            "GdapExpiryNotice",
            "GdapApprovalNeeded",
            "SubscriptionTransferred",
            "SubscriptionTransferRefused",
            "SubscriptionDriftDetected",
            "SubscriptionDriftResolved",
        ),
        "onboarding outcomes, GDAP changes, notices and held tickets, transfers, drift, for ops",
        retention_ms=_TEN_YEARS_MS,
    ),
    TopicSpec(
        Topic.CUSTOMER_AGREEMENTS,
        "customer_id",
        ("CustomerAgreementRecorded",),
        "each onboarded customer's Microsoft Customer Agreement standing (pending, accepted)",
        compacted=True,
        partitions=1,
    ),
    TopicSpec(
        Topic.CUSTOMER_GDAP,
        "customer_id|relationship_id",
        ("GdapRelationshipUpdated",),
        "customers' GDAP relationships as Partner Center has them (read by escalation)",
        compacted=True,
        partitions=1,
    ),
)

_PARTNER: dict[PartnerTopic, tuple[tuple[str, ...], str]] = {
    PartnerTopic.STATUS: (
        (
            "OrderAccepted",
            "OrderHeld",
            "OrderRejected",
            "SubscriptionProvisioned",
            "ProvisioningFailed",
            "SubscriptionChanged",
            "SubscriptionChangeRejected",
            "IngressRejected",
            "WebhookEndpointDisabled",
            # Azure plan consumption alerts.
            "ConsumptionBudgetThresholdReached",
            "ConsumptionAnomalyDetected",
            # Renewals: notices, scheduled next-term changes, renewals.
            "RenewalNoticeIssued",
            "NextTermChangeScheduled",
            "NextTermChangeRejected",
            "ScheduledChangesDeleted",
            "SubscriptionRenewed",
            "RenewalApprovalRecorded",
            "RenewalApprovalRejected",
            "RenewalNotApproved",
            "MidTermChangeApplied",
            "MidTermChangeRejected",
            # Customer onboarding outcomes, GDAP tasks and expiry notices.
            "CustomerOnboarded",
            "CustomerOnboardingRefused",
            "GdapApprovalNeeded",
            "GdapExpiryNotice",
            "SubscriptionTransferred",
            "SubscriptionTransferRefused",
        ),
        "order and subscription status for one reseller",
    ),
    PartnerTopic.BILLING: (
        (
            "InvoiceIssued",
            "CreditNoteIssued",
            "DunningStageReached",
            "ServiceCreditAllocated",
            "PaymentAdviceRecorded",
            "PaymentConfirmed",
            # Azure plan consumption lines of the month.
            "ConsumptionCharged",
            # Sales incentives: the reseller's own rebate statement.
            "IncentiveStatementIssued",
        ),
        "invoices, credit notes, charges and credits for one reseller",
    ),
    PartnerTopic.SUPPORT: (
        ("TicketRouted", "TicketUpdated", "TicketResolved", "SlaWarning", "SlaBreached"),
        "tickets routed to one reseller's own support queue",
    ),
}


def check_reseller_id(reseller_id: str) -> str:
    if not _RESELLER_ID.fullmatch(reseller_id):
        raise ValueError(
            f"reseller id {reseller_id!r} cannot name a topic: use 1-64 of A-Z a-z 0-9 _ -"
        )
    return reseller_id


@dataclass(frozen=True)
class TopicCatalog:
    """The catalogue under one prefix ("" in production; a unique one per test)."""

    prefix: str = ""
    partitions: int = DEFAULT_PARTITIONS

    def name(self, topic: Topic) -> str:
        return f"{self.prefix}{topic.value}"

    def partner(self, reseller_id: str, kind: PartnerTopic) -> str:
        return f"{self.prefix}partner.{check_reseller_id(reseller_id)}.{kind.value}"

    def ingress(self, reseller_id: str, topic: Topic) -> str:
        """A reseller's own ingress topic ``reseller.<id>.<kind>``: only it may write there."""
        return f"{self.prefix}reseller.{check_reseller_id(reseller_id)}.{INGRESS_KINDS[topic]}"

    def ingress_pattern(self) -> re.Pattern[str]:
        """Every reseller's own ingress topics under this prefix (group 1: id, group 2: kind)."""
        kinds = "|".join(re.escape(kind) for kind in INGRESS_KINDS.values())
        return re.compile(
            rf"^{re.escape(self.prefix)}reseller\.([A-Za-z0-9_-]{{1,64}})\.({kinds})$"
        )

    def ingress_of(self, name: str) -> tuple[str, Topic] | None:
        """(reseller id, shared ingress topic) of a reseller's own ingress topic, else None."""
        match = self.ingress_pattern().fullmatch(name)
        if match is None:
            return None
        topic = next(t for t, kind in INGRESS_KINDS.items() if kind == match.group(2))
        return match.group(1), topic

    def ingress_specs(self, reseller_id: str) -> tuple[TopicSpec, ...]:
        """A reseller's own ingress topics: one partition each, so its events keep their order."""
        writer = f"reseller:{check_reseller_id(reseller_id)}"
        return tuple(
            TopicSpec(
                self.ingress(reseller_id, topic),
                "reseller_id",
                _reseller_events(topic),
                f"{INGRESS_KINDS[topic]} of one reseller, forwarded by the hub to {topic.value}",
                partitions=1,
                writers=(writer,),
                readers=("hub",),
                dead_letter=False,
                reseller_events=_reseller_events(topic),
            )
            for topic in INGRESS
        )

    def partner_owner(self, name: str) -> str | None:
        """The reseller whose partner topic ``name`` is, or None if it is no partner topic."""
        head = f"{self.prefix}partner."
        if not name.startswith(head):
            return None
        owner, dot, _kind = name[len(head) :].partition(".")
        return owner if dot else None

    def partner_prefix(self, reseller_id: str) -> str:
        """The prefix a reseller's read ACL is granted on."""
        return f"{self.prefix}partner.{check_reseller_id(reseller_id)}."

    @staticmethod
    def dead_letter(topic_name: str) -> str:
        return f"{topic_name}{DLQ_SUFFIX}"

    def fixed(self) -> tuple[TopicSpec, ...]:
        return tuple(
            replace(
                spec,
                name=f"{self.prefix}{spec.name}",
                partitions=self.partitions if spec.partitions is None else spec.partitions,
            )
            for spec in _FIXED
        )

    def keyed(self) -> tuple[TopicSpec, ...]:
        """The fixed topics partitioned by the catalogue's count (co-partitioned with tables)."""
        pairs = zip(self.fixed(), _FIXED, strict=True)
        return tuple(spec for spec, raw in pairs if raw.partitions is None)

    def for_reseller(self, reseller_id: str) -> tuple[TopicSpec, ...]:
        reader = f"reseller:{check_reseller_id(reseller_id)}"
        return tuple(
            TopicSpec(
                self.partner(reseller_id, kind),
                "subject_id",
                events,
                description,
                partitions=PARTNER_PARTITIONS,
                retention_ms=_TEN_YEARS_MS if kind is PartnerTopic.BILLING else _WEEK_MS * 4,
                readers=(reader, "hub", "ops"),
                dead_letter=False,
            )
            for kind, (events, description) in _PARTNER.items()
        )

    def dead_letters(self, specs: Iterable[TopicSpec]) -> tuple[TopicSpec, ...]:
        """One ``.dlq`` topic per consumed topic: original bytes and the reason, kept long."""
        return tuple(
            TopicSpec(
                self.dead_letter(spec.name),
                spec.key,
                (),
                f"dead letters of {spec.name}: original bytes, headers and the reason",
                partitions=1,
                retention_ms=_TEN_YEARS_MS,
                readers=("hub", "ops"),
                dead_letter=False,
            )
            for spec in specs
            if spec.dead_letter
        )

    def event_homes(self) -> dict[str, str]:
        """Each event's home topic (the first fixed topic carrying it): its registry subject."""
        homes: dict[str, str] = {}
        for spec in self.fixed():
            for event in spec.events:
                homes.setdefault(event, spec.name)
        return homes

    def subjects(self) -> dict[str, tuple[str, ...]]:
        """Fixed topic -> the events it carries, for ``hub schemas register``."""
        return {spec.name: spec.events for spec in self.fixed() if spec.events}

    def all(self, reseller_ids: Iterable[str] = ()) -> tuple[TopicSpec, ...]:
        fixed = self.fixed()
        ids = sorted(set(reseller_ids))
        partner = tuple(s for rid in ids for s in self.for_reseller(rid))
        ingress = tuple(s for rid in ids for s in self.ingress_specs(rid))
        return fixed + self.dead_letters(fixed) + partner + ingress


def _reseller_events(topic: Topic) -> tuple[str, ...]:
    return next(spec.reseller_events for spec in _FIXED if spec.name == topic.value)


def reseller_events(topic: Topic) -> frozenset[str]:
    """The event types a reseller may write on the ingress topic ``topic`` (empty elsewhere)."""
    return frozenset(next((s.reseller_events for s in _FIXED if s.name == topic.value), ()))


def hub_documents() -> frozenset[str]:
    """Every event type the catalogue carries that no reseller may write: the hub's documents
    (invoices, credit notes, allocations, decisions, dunning, confirmations)."""
    carried = {e for spec in _FIXED for e in spec.events}
    carried |= {e for events, _ in _PARTNER.values() for e in events}
    return frozenset(carried - {e for spec in _FIXED for e in spec.reseller_events})
