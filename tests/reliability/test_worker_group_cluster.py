"""A worker group on a three-node cluster: three workers, then one worker and one broker
SIGKILLed mid-stream and a fourth worker added; every input still has exactly one outcome.

``GROUP_RESELLERS`` resellers (topics and changelogs at 3 replicas, ``min.insync.replicas=2``)
send orders, remittance advices and support tickets while the test feeds them in small steps;
once every worker has handled orders, the busiest worker and one broker are SIGKILLed, a fourth
worker joins, and the feed goes on. The broker comes back, every reseller's month is closed
(one ``BillingRunRequested`` each), and once the group's lag is zero the checker reads every
output and dead letter (``read_committed``) and finds:

- each order exactly one decision, each advice exactly one ``PaymentAdviceRecorded``, each ticket
  exactly one ``TicketRouted``, each close exactly one ``BillingRunCompleted``; a copy of an
  output under the same event id is byte for byte the same (a redelivery), never another content;
- no invoice issued twice (one per invoice id, every copy alike);
- credit checks right across the rebalances: a reseller whose limit fits ``FIT`` orders had
  exactly its first ``FIT`` orders accepted, in the order it sent them, and every later one held
  for its credit limit (never over-committed, never one too few).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import Feeder, wait_zero_lag

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, Record, publish, read_all
from hub.ops.local_cluster import LocalCluster
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.billing import (
    BillingRunCompleted,
    BillingRunRequested,
    ChargeRated,
    InvoiceIssued,
    PaymentReceived,
)
from hub.schemas.events.ingress import PaymentAdviceRecorded
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderHeld,
    OrderRejected,
    OrderRequested,
)
from hub.schemas.events.support import TicketOpened, TicketRouted
from hub.topics import Topic, TopicCatalog
from tests.support import checker
from tests.support.broker import kafka_cluster  # noqa: F401 - the fixture
from tests.support.checker import Input, Output
from tests.support.e2e import events_in
from tests.support.ingress_world import (
    SEAT_YEAR_MINOR,
    envelope,
    order,
    payment,
    reference,
    ticket,
)
from tests.support.simulator import partner_center

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CODEC = Codec()
GROUP_RESELLERS = [f"gc-r{n}" for n in range(12)]
# Resellers whose limit fits FIT orders of one seat (7,200 a year at 600 a month), none more.
NEAR_LIMIT = set(GROUP_RESELLERS[:4])
FIT = 3
ORDERS_EACH = int(os.environ.get("HUB_GROUP_ORDERS_EACH", "12"))
LIMITS = {rid: FIT * SEAT_YEAR_MINOR if rid in NEAR_LIMIT else 10**12 for rid in GROUP_RESELLERS}
REPLICAS = 3


def _order(topics: TopicCatalog, rid: str, n: int) -> Outgoing:
    return Outgoing(topics.name(Topic.ORDERS), rid, order(rid, order_id=f"PO-{rid}-{n:03d}"))


def _advice(topics: TopicCatalog, rid: str, n: int) -> Outgoing:
    event = payment(rid, 10_000 + n, payment_id=f"PAY-{rid}-{n:03d}")
    return Outgoing(topics.name(Topic.PAYMENTS), rid, event)


def _ticket(topics: TopicCatalog, rid: str, n: int) -> Outgoing:
    return Outgoing(topics.name(Topic.TICKETS), rid, ticket(rid, ticket_id=f"T-{rid}-{n:03d}"))


def stream(topics: TopicCatalog) -> list[Outgoing]:
    """Round by round, each reseller's next order, and every fourth round an advice and a
    ticket: each reseller's orders in the order they are numbered."""
    items: list[Outgoing] = []
    for n in range(ORDERS_EACH):
        for rid in GROUP_RESELLERS:
            items.append(_order(topics, rid, n))
            if n % 4 == 1:
                items += [_advice(topics, rid, n), _ticket(topics, rid, n)]
    return items


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    """The Partner Center simulator, for the accepted orders' provisioning."""
    with partner_center(tmp_path) as url:
        yield url


def _until(what: str, check: Any, workers: list[WorkerProcess], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        for w in workers:
            assert w.running(), f"a worker died ({what}):\n{w.log_tail()}"
        assert time.monotonic() < deadline, f"{what}:\n" + "\n".join(w.log_tail() for w in workers)
        time.sleep(0.5)


def _read(bootstrap: str, topic: str) -> list[tuple[Record, Event]]:
    records = asyncio.run(read_all(bootstrap, topic, timeout_s=120))
    return [(r, CODEC.decode(r.value)) for r in records if r.value]


def _differences(found: list[tuple[Record, Event]]) -> str:
    """Each event id written with more than one content: its type, the fields that differ,
    each copy's partition and offset."""
    by_id: dict[str, list[tuple[Record, Event]]] = {}
    for record, event in found:
        by_id.setdefault(str(event.event_id), []).append((record, event))
    lines = []
    for event_id, copies in by_id.items():
        if len({r.value for r, _ in copies}) < 2:
            continue
        dumps = [e.model_dump(mode="json") for _, e in copies]
        fields = sorted({k for k in dumps[0] if any(d.get(k) != dumps[0].get(k) for d in dumps)})
        lines.append(f"{event_id} {type(copies[0][1]).__name__}: differs in {fields}")
        for (record, _), dump in zip(copies, dumps, strict=True):
            lines.append(f"  {record.partition}@{record.offset} {[dump.get(k) for k in fields]}")
    return "\n".join(lines)


def final_of(decisions: list[tuple[Record, Event]]) -> list[Event]:
    """Each order's decision (the last copy of each)."""
    final: dict[str, Event] = {}
    for _, event in decisions:
        order_id = getattr(event, "order_id", None)
        if isinstance(event, (OrderAccepted, OrderHeld, OrderRejected)) and order_id:
            final[order_id] = event
    return list(final.values())


def _outputs(found: list[tuple[Record, Event]], kind: type[Event], cause: str) -> list[Output]:
    return [
        Output(
            event_id=str(event.event_id),
            cause_id=str(getattr(event, cause)),
            key=event.reseller_id or "",
            amount_minor=0,
            identity=str(event.event_id),
            fingerprint=checker.fingerprint(record.value),
        )
        for record, event in found
        if isinstance(event, kind)
    ]


def test_three_workers_lose_a_worker_and_a_broker_gain_a_fourth_and_every_input_is_exact(
    kafka_cluster: LocalCluster,  # noqa: F811 - the fixture
    tmp_path: Path,
    simulator: str,
) -> None:
    bootstrap = kafka_cluster.bootstrap
    topics = TopicCatalog(f"gc.{uuid.uuid4().hex[:8]}.")
    asyncio.run(apply_topics(bootstrap, topics.all(GROUP_RESELLERS), replication_factor=REPLICAS))
    app_id = f"group-cluster-{uuid.uuid4().hex[:8]}"

    def worker(name: str) -> WorkerProcess:
        return WorkerProcess(
            bootstrap,
            tmp_path / name,
            topic_prefix=topics.prefix,
            app_id=app_id,
            env={
                "HUB_PARTNER_CENTER_URL": simulator,
                "HUB_KAFKA_REPLICATION_FACTOR": str(REPLICAS),
            },
        )

    workers = [worker(name) for name in ("w1", "w2", "w3")]
    items = stream(topics)
    feeder = Feeder(bootstrap, items, per_batch=6, pause_s=0.3)
    runs: list[BillingRunRequested] = []
    victim_node: int | None = None
    alive = list(workers)
    try:
        asyncio.run(publish(bootstrap, CODEC, reference(topics, GROUP_RESELLERS, limits=LIMITS)))
        for w in workers:
            w.start()
        for w in workers:
            w.wait_ready(timeout_s=300)
        feeder.start()

        def all_busy() -> bool:
            return all(events_in(w, "OrderRequested") > 0 for w in workers)

        _until("every worker deciding orders", all_busy, workers)
        assert feeder.sent < len(items), "the stream ended before the kills: slow the feed"
        busiest = max(workers, key=lambda w: events_in(w, "OrderRequested"))
        busiest.kill()
        victim_node = kafka_cluster.node_ids[-1]
        kafka_cluster.kill_node(victim_node)
        alive.remove(busiest)
        fourth = worker("w4").start()
        alive.append(fourth)
        fourth.wait_ready(timeout_s=300)

        feeder.join(timeout=600)
        assert not feeder.is_alive(), "the feed did not end"
        assert feeder.error is None, feeder.error
        kafka_cluster.start_node(victim_node)
        victim_node = None

        # The month is closed once every accepted order's subscription is rated (a charge
        # rated after its month's close waits for the next one).
        orders_sent = sum(isinstance(i.event, OrderRequested) for i in items)

        def all_rated() -> bool:
            decided = final_of(_read(bootstrap, topics.name(Topic.ORDER_DECISIONS)))
            wanted = sum(isinstance(e, OrderAccepted) for e in decided)
            rated = {
                e.subscription_id
                for _, e in _read(bootstrap, topics.name(Topic.CHARGES))
                if isinstance(e, ChargeRated)
            }
            return len(decided) == orders_sent and len(rated) == wanted

        _until("every order decided and every accepted one rated", all_rated, alive, 600)
        period = datetime.now(UTC).strftime("%Y-%m")
        runs = [
            BillingRunRequested(
                **envelope(rid), run="close", period=period, as_of=datetime.now(UTC).date()
            )
            for rid in GROUP_RESELLERS
        ]
        asyncio.run(
            publish(
                bootstrap,
                CODEC,
                [Outgoing(topics.name(Topic.BILLING_INPUTS), r.reseller_id or "", r) for r in runs],
            )
        )
        # Every input topic's partitions, also those the group never committed on yet.
        inputs = [Topic.ORDERS, Topic.PAYMENTS, Topic.TICKETS, Topic.BILLING_INPUTS]
        required = [topics.name(t) for t in inputs]
        wait_zero_lag(bootstrap, app_id, fourth, required=required, timeout_s=600)
        for w in alive:
            assert w.running(), w.log_tail()

        decisions = _read(bootstrap, topics.name(Topic.ORDER_DECISIONS))
        collections = _read(bootstrap, topics.name(Topic.COLLECTIONS))
        support = _read(bootstrap, topics.name(Topic.SUPPORT_EVENTS))
        invoices = _read(bootstrap, topics.name(Topic.INVOICES))

        sent = {
            kind: [i.event for i in items if isinstance(i.event, kind)]
            for kind in (
                OrderRequested,
                PaymentReceived,
                TicketOpened,
            )
        }
        report = checker.Report()
        for name, inputs, outputs in (
            (
                "orders",
                sent[OrderRequested],
                [
                    o
                    for kind in (OrderAccepted, OrderHeld, OrderRejected)
                    for o in _outputs(decisions, kind, "causation_id")
                ],
            ),
            (
                "advices",
                sent[PaymentReceived],
                _outputs(collections, PaymentAdviceRecorded, "causation_id"),
            ),
            ("tickets", sent[TicketOpened], _outputs(support, TicketRouted, "causation_id")),
            ("closes", runs, _outputs(collections, BillingRunCompleted, "run_event_id")),
        ):
            part = checker.check_outcomes(
                [Input(str(e.event_id), e.reseller_id or "") for e in inputs], outputs, []
            )
            print(f"\n{name}: {part.summary()}")
            report.extend(part)
        if not report.ok:
            print(_differences([*decisions, *collections, *support]))
        report.assert_ok()

        # No invoice twice: one content per invoice id.
        by_invoice: dict[str, set[bytes]] = {}
        for record, event in invoices:
            if isinstance(event, InvoiceIssued):
                by_invoice.setdefault(event.invoice_id, set()).add(record.value or b"")
        twice = {k: len(v) for k, v in by_invoice.items() if len(v) > 1}
        assert not twice, f"invoices issued with two contents: {twice}"
        assert by_invoice, "the closes issued no invoice"

        # Money exact: one content per charge, a charge for each accepted order's subscription,
        # and each reseller invoiced exactly what was rated for it.
        charges = _read(bootstrap, topics.name(Topic.CHARGES))
        by_charge: dict[str, set[bytes]] = {}
        rated: dict[str, dict[str, int]] = {}
        subscriptions: dict[str, set[str]] = {}
        for record, event in charges:
            if isinstance(event, ChargeRated):
                by_charge.setdefault(event.charge_id, set()).add(record.value or b"")
                rated.setdefault(event.reseller_id, {})[event.charge_id] = event.price_minor
                subscriptions.setdefault(event.reseller_id, set()).add(event.subscription_id)
        assert not {k for k, v in by_charge.items() if len(v) > 1}, "a charge with two contents"
        invoiced: dict[str, dict[str, int]] = {}
        for _, event in invoices:
            if isinstance(event, InvoiceIssued):
                invoiced.setdefault(event.reseller_id, {})[event.invoice_id] = event.subtotal_minor
        accepted = {
            rid: sum(
                isinstance(e, OrderAccepted) and e.reseller_id == rid for e in final_of(decisions)
            )
            for rid in GROUP_RESELLERS
        }
        money = {
            rid: (
                accepted[rid],
                len(subscriptions.get(rid, ())),
                sum(rated.get(rid, {}).values()),
                sum(invoiced.get(rid, {}).values()),
            )
            for rid in GROUP_RESELLERS
        }
        print(f"\naccepted, subscriptions rated, rated, invoiced per reseller: {money}")
        for rid, (orders, subs, price, billed) in money.items():
            assert subs == orders, f"{rid}: {orders} accepted orders, {subs} subscriptions rated"
            assert billed == price, f"{rid}: rated {price}, invoiced {billed}"

        # Credit checks right across the rebalances: a near-limit reseller's first FIT orders
        # accepted, the later ones held for the limit.
        final = {getattr(e, "order_id", ""): e for e in final_of(decisions)}
        for rid in sorted(NEAR_LIMIT):
            outcome = [type(final[f"PO-{rid}-{n:03d}"]).__name__ for n in range(ORDERS_EACH)]
            expected = ["OrderAccepted"] * FIT + ["OrderHeld"] * (ORDERS_EACH - FIT)
            assert outcome == expected, f"{rid}: {outcome}"
            held = [final[f"PO-{rid}-{n:03d}"] for n in range(FIT, ORDERS_EACH)]
            assert {getattr(h, "reason_code", None) for h in held} == {"over_credit_limit"}
        others = [rid for rid in GROUP_RESELLERS if rid not in NEAR_LIMIT]
        assert all(
            isinstance(final[f"PO-{rid}-{n:03d}"], OrderAccepted)
            for rid in others
            for n in range(ORDERS_EACH)
        )
    finally:
        if victim_node is not None:
            kafka_cluster.start_node(victim_node)
        for w in {id(w): w for w in [*workers, *alive]}.values():
            w.stop()
