"""A transfer between two resellers end to end: a real broker and worker, the simulator.

Reseller A orders a subscription (its term value enters A's exposure), transfers it to
reseller B ten days into its first month; the month's close invoices A for the days before the
effective day and B for the rest, each at its own price to the minor unit, and A's open
commitment leaves A's exposure for B's. From then on the subscription is B's to change: A's
cancellation finds no subscription, B's seat increase reaches Partner Center.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.proration import cycle_start
from hub.domain.rating import prorate
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderHeld,
    OrderLine,
    OrderRequested,
    SubscriptionProvisioned,
)
from hub.schemas.events.reference import PriceListEntryUpserted
from hub.schemas.events.relationships import SubscriptionTransferred, SubscriptionTransferRequested
from hub.schemas.events.subscriptions import (
    SubscriptionChanged,
    SubscriptionChangeRejected,
    SubscriptionChangeRequested,
)
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import WorkerHub, envelope, reference_events
from tests.support.simulator import partner_center

A, B = "tra", "trb"
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
COST = 600  # per seat-month; A sells at cost, B with a 10% markup (660)


def _reseller(rid: str, markup_bps: int, limit: int) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id="4199101" if rid == A else "4199102",
        name=f"Reseller {rid}",
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=limit,
        payment_terms_days=30,
        markup_bps=markup_bps,
    )


def _reference(catalog: TopicCatalog) -> list[Outgoing]:
    customer = Customer(
        customer_id="tr-cust",
        reseller_id=A,
        name="Transferred Inc",
        country="US",
        language="en",
        currency="USD",
    )
    entry = PriceListEntry(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=COST,
        effective_from=date(2020, 1, 1),
    )
    return [
        *reference_events(
            catalog,
            resellers=[_reseller(A, 0, 80_000), _reseller(B, 1000, 50_000)],
            customers=[
                customer,
                customer.model_copy(update={"customer_id": "trb-cust", "reseller_id": B}),
            ],
            items=[ITEM],
        ),
        Outgoing(
            catalog.name(Topic.PRICES),
            ITEM.catalog_item_id,
            PriceListEntryUpserted(**envelope(None), price_list_id="msft", entry=entry),
        ),
    ]


@pytest.fixture(scope="module")
def hub(kafka: BrokerInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerHub]:
    tmp = tmp_path_factory.mktemp("transfer")
    prefix = f"t.transfer.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([A, B])))
    with partner_center(tmp) as url:
        worker = WorkerProcess(
            kafka.bootstrap,
            tmp,
            topic_prefix=prefix,
            app_id=f"transfer-e2e-{uuid.uuid4().hex[:8]}",
            env={"HUB_PARTNER_CENTER_URL": url},
        )
        hub = WorkerHub(kafka, catalog, worker)
        try:
            hub.publish(_reference(catalog))
            worker.start().wait_ready()
            yield hub
        finally:
            worker.stop()


def _order(rid: str, quantity: int, customer_id: str = "tr-cust") -> OrderRequested:
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=quantity,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        **envelope(rid),
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def _send(hub: WorkerHub, topic: Topic, event: Event) -> None:
    hub.publish([Outgoing(hub.catalog.name(topic), event.reseller_id or "", event)])


def _of(events: list[Event], kind: type[Event], **match: object) -> list[Any]:
    """Matching events, each once (a redelivered output repeats its event id)."""
    found = {
        e.event_id: e
        for e in events
        if isinstance(e, kind) and all(getattr(e, k, None) == v for k, v in match.items())
    }
    return list(found.values())


def _exposure_of(hub: WorkerHub, rid: str, seats: int) -> int:
    """What the intake holds against ``rid``: an order that fits the limit alone but not on
    top of the exposure is held, and its hold says what the exposure was."""
    probe = _order(rid, seats, "tr-cust" if rid == A else "trb-cust")
    _send(hub, Topic.ORDERS, probe)
    status = lambda: hub.partner(rid, PartnerTopic.STATUS)  # noqa: E731

    def decided() -> list[Any]:
        return [e for e in status() if getattr(e, "order_id", None) == probe.order_id]

    hub.wait_for("the probe decided", decided)
    assert _of(status(), OrderHeld, order_id=probe.order_id), decided()
    (held,) = _of(status(), OrderHeld, order_id=probe.order_id)
    return int(held.open_receivables_minor)


def test_mid_month_transfer_invoices_both_prorated_and_moves_the_exposure(hub) -> None:
    order = _order(A, 10)
    _send(hub, Topic.ORDERS, order)
    status_a = lambda: hub.partner(A, PartnerTopic.STATUS)  # noqa: E731
    hub.wait_for(
        "SubscriptionProvisioned",
        lambda: _of(status_a(), SubscriptionProvisioned, order_id=order.order_id),
    )
    assert _of(status_a(), OrderAccepted, order_id=order.order_id)
    (sub,) = _of(status_a(), SubscriptionProvisioned, order_id=order.order_id)
    committed = COST * 10 * 12
    assert _exposure_of(hub, A, 11) == committed

    start: date = sub.term_start
    effective = start + timedelta(days=10)
    period_end = cycle_start(start, 1) - timedelta(days=1)
    request = SubscriptionTransferRequested(
        **envelope(A),
        to_reseller_id=B,
        subscription_id=sub.subscription_id,
        effective_date=effective,
    )
    _send(hub, Topic.RELATIONSHIP_REQUESTS, request)
    status_b = lambda: hub.partner(B, PartnerTopic.STATUS)  # noqa: E731
    hub.wait_for("the transfer told to B", lambda: _of(status_b(), SubscriptionTransferred))
    hub.wait_for("the transfer told to A", lambda: _of(status_a(), SubscriptionTransferred))
    (told_a,) = _of(status_a(), SubscriptionTransferred)
    (told_b,) = _of(status_b(), SubscriptionTransferred)
    assert (told_a.side, told_b.side) == ("from", "to")

    # The close of the month the term started in invoices both resellers.
    close = b.BillingRunRequested(
        **envelope(None),
        run="close",
        period=f"{start:%Y-%m}",
        as_of=cycle_start(start.replace(day=1), 1),
    )
    hub.publish([Outgoing(hub.catalog.name(Topic.BILLING_INPUTS), "all", close)])
    billing = lambda rid: _of(hub.partner(rid, PartnerTopic.BILLING), b.InvoiceIssued)  # noqa: E731
    hub.wait_for("A's invoice", lambda: billing(A))
    hub.wait_for("B's invoice", lambda: billing(B))
    (invoice_a,), (invoice_b,) = billing(A), billing(B)
    days = (period_end - effective).days + 1
    period_days = (period_end - start).days + 1
    a_full, b_full = COST * 10, 660 * 10
    a_part = a_full - prorate(a_full, days, period_days)
    b_part = prorate(b_full, days, period_days)
    assert invoice_a.subtotal_minor == a_part
    assert invoice_b.subtotal_minor == b_part
    assert (told_a.from_period_minor, told_a.to_period_minor) == (a_part, b_part)

    # A's open commitment for the rest of the term left its exposure; B took B's on.
    assert told_a.released_commitment_minor > 0
    assert _exposure_of(hub, A, 11) <= committed - told_a.released_commitment_minor + a_part
    assert _exposure_of(hub, B, 6) >= told_b.taken_commitment_minor

    # The subscription is B's to change now: A's cancellation finds nothing, B adds seats.
    cancel = _subscription_change(A, sub, kind="cancel")
    more = _subscription_change(B, sub, kind="change_quantity", new_quantity=12)
    _send(hub, Topic.SUBSCRIPTION_CHANGES, cancel)
    _send(hub, Topic.SUBSCRIPTION_CHANGES, more)
    hub.wait_for(
        "A's cancellation refused",
        lambda: _of(status_a(), SubscriptionChangeRejected, change_id=cancel.change_id),
    )
    (refused,) = _of(status_a(), SubscriptionChangeRejected, change_id=cancel.change_id)
    assert refused.code == "SubscriptionNotFound"
    hub.wait_for(
        "B's seats added", lambda: _of(status_b(), SubscriptionChanged, change_id=more.change_id)
    )
    (added,) = _of(status_b(), SubscriptionChanged, change_id=more.change_id)
    assert (added.old_quantity, added.new_quantity) == (10, 12)


def _subscription_change(
    rid: str, sub: SubscriptionProvisioned, **fields: Any
) -> SubscriptionChangeRequested:
    return SubscriptionChangeRequested(
        **envelope(rid),
        change_id=f"chg-{uuid.uuid4().hex[:8]}",
        customer_id=sub.customer_id,
        subscription_id=sub.subscription_id,
        requested_at=datetime.now(UTC),
        **fields,
    )
