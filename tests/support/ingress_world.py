"""A small world for ingress-trust tests: two resellers, their customers, one priced item, and
builders for good, hostile and forged records on the ingress topics."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.billing import PaymentReceived
from hub.schemas.events.ingress import PaymentConfirmed
from hub.schemas.events.orders import OrderLine, OrderRequested
from hub.schemas.events.reference import PriceListEntryUpserted
from hub.schemas.events.subscriptions import SubscriptionChangeRequested
from hub.schemas.events.support import TicketOpened
from hub.topics import Topic, TopicCatalog
from tests.support.e2e import reference_events
from tests.support.samples import sample

ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
SEAT_YEAR_MINOR = 12 * 600  # P1Y billed monthly at a cost of 600, no markup
CREDIT_LIMIT_MINOR = 50_000
# Hub documents a reseller might forge to raise its own credit or lift a hold.
FORGED = (
    "CreditNoteIssued",
    "PaymentConfirmed",
    "InvoiceIssued",
    "DunningStageReached",
    "OrderAccepted",
)
# Two orders of this many seats (28,800 each) are over the limit of 50,000 together, by less than
# one forged credit (19,159) would free; one alone fits (an order over the limit by itself is
# rejected outright, whatever was paid).
PROBE_SEATS = 4


def customer_of(reseller_id: str) -> str:
    return f"{reseller_id}-cust"


def now() -> datetime:
    return datetime.now(UTC)


def envelope(reseller_id: str | None) -> dict[str, Any]:
    return {
        "event_id": new_event_id(),
        "event_time": now(),
        "correlation_id": f"trust-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def reseller(
    rid: str, credit_limit_minor: int = CREDIT_LIMIT_MINOR, on_credit_hold: bool = False
) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id=str(4_400_000 + sum(map(ord, rid))),
        name=f"Reseller {rid}",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=credit_limit_minor,
        payment_terms_days=30,
        on_credit_hold=on_credit_hold,
    )


def reference(
    catalog: TopicCatalog,
    resellers: Iterable[str],
    *,
    limits: Mapping[str, int] | None = None,
    on_hold: Collection[str] = (),
) -> list[Outgoing]:
    """Each reseller (its limit from ``limits``, else ``CREDIT_LIMIT_MINOR``; on credit hold if
    in ``on_hold``) with one customer, and the one priced item."""
    resellers = tuple(resellers)
    limits = limits or {}
    customers = [
        Customer(
            customer_id=customer_of(rid),
            reseller_id=rid,
            name=f"Customer of {rid}",
            country="US",
            language="en",
            currency="USD",
        )
        for rid in resellers
    ]
    entry = PriceListEntry(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=date(2020, 1, 1),
    )
    price = PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=entry)
    profiles = [
        reseller(r, limits.get(r, CREDIT_LIMIT_MINOR), on_credit_hold=r in on_hold)
        for r in resellers
    ]
    out = reference_events(catalog, profiles, customers, [ITEM])
    return [*out, Outgoing(catalog.name(Topic.PRICES), ITEM.catalog_item_id, price)]


def order(rid: str, seats: int = 1, customer: str | None = None, **changes: Any) -> OrderRequested:
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=seats,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    fields = {
        **envelope(rid),
        "order_id": f"PO-{uuid.uuid4().hex[:10]}",
        "customer_id": customer or customer_of(rid),
        "lines": (line,),
        "requested_at": now(),
        **changes,
    }
    return OrderRequested(**fields)


def ticket(rid: str, customer: str | None = None, **changes: Any) -> TicketOpened:
    fields = {
        **envelope(rid),
        "ticket_id": f"T-{uuid.uuid4().hex[:10]}",
        "customer_id": customer or customer_of(rid),
        "title": "Mailbox unreachable",
        "description": "Users cannot open their mailboxes since this morning.",
        "category": "questions",
        "severity": "minimal",
        "language": "en",
        "service": "exchange",
        "region": "us-east",
        **changes,
    }
    return TicketOpened(**fields)


def change(rid: str, customer: str | None = None) -> SubscriptionChangeRequested:
    return SubscriptionChangeRequested(
        **envelope(rid),
        change_id=f"chg-{uuid.uuid4().hex[:10]}",
        customer_id=customer or customer_of(rid),
        subscription_id=f"sub-{uuid.uuid4().hex[:10]}",
        kind="suspend",
        requested_at=now(),
    )


def payment(rid: str, amount_minor: int = 100_000, **changes: Any) -> PaymentReceived:
    fields = {
        **envelope(rid),
        "payment_id": f"pay-{uuid.uuid4().hex[:10]}",
        "amount_minor": amount_minor,
        "currency": "USD",
        "received_at": now(),
        "method": "bank_transfer",
        **changes,
    }
    return PaymentReceived(**fields)


def confirmation(advice: PaymentReceived) -> PaymentConfirmed:
    return PaymentConfirmed(
        **envelope(advice.reseller_id),
        payment_id=advice.payment_id,
        amount_minor=advice.amount_minor,
        currency=advice.currency,
        received_at=advice.received_at,
        method=advice.method,
        confirmed_by="finance-test",
        source="ops",
    )


def forged(name: str, rid: str) -> Event:
    """A hub document of ``rid`` as a reseller might forge it: a credit (19,159 minor units,
    more than a probe order is over the limit), a confirmed payment, a lifted hold."""
    doc = sample(name)
    update: dict[str, Any] = {**envelope(rid), "reseller_id": rid}
    if "currency" in type(doc).model_fields:
        update["currency"] = "USD"
    if name == "DunningStageReached":
        update["credit_hold"] = False
        update["overdue_minor"] = 1
    return doc.model_copy(update=update)


def of_reseller(rid: str, topic: Topic) -> Event:
    """A good event of ``rid`` for the ingress ``topic``."""
    if topic is Topic.ORDERS:
        return order(rid)
    if topic is Topic.SUBSCRIPTION_CHANGES:
        return change(rid)
    if topic is Topic.TICKETS:
        return ticket(rid)
    return payment(rid)
