"""Two flow groups of one hub (``HUB_FLOWS``): billing in one worker, every other flow in
another, each its own consumer group. Work crosses between them through Kafka only, and an ops
command gets one outcome: handled by its flow's group, passed over by the other, and an unknown
one dead-lettered once."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.ingress import PaymentConfirmed
from hub.schemas.events.orders import OrderAccepted, OrderHeld, SubscriptionProvisioned
from hub.schemas.events.support import TicketOpened
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import read_events, wait_until
from tests.support.ingress_world import PROBE_SEATS, confirmation, order, payment, reference, ticket
from tests.support.simulator import partner_center

CODEC = Codec()
RID = "fgA"


def test_billing_and_the_other_flows_in_groups_of_their_own(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.flows.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([RID])))
    asyncio.run(publish(kafka.bootstrap, CODEC, reference(catalog, [RID])))
    app_id = f"flows-{uuid.uuid4().hex[:8]}"
    billing, others = (
        WorkerProcess(
            kafka.bootstrap,
            tmp_path,
            topic_prefix=prefix,
            app_id=app_id,
            name=name,
            env={"HUB_FLOWS": flows},
        )
        for name, flows in (
            ("billing", "billing"),
            ("others", "orders,support,credits,ingress"),
        )
    )
    decisions = catalog.name(Topic.ORDER_DECISIONS)

    def send(topic: Topic, *events: Event) -> None:
        outgoing = [Outgoing(catalog.name(topic), RID, e) for e in events]
        asyncio.run(publish(kafka.bootstrap, CODEC, outgoing))

    def decision_of(placed: Event) -> Event | None:
        order_id = getattr(placed, "order_id", "")
        found = [e for e in read_events(kafka.bootstrap, decisions) if e.order_id == order_id]  # type: ignore[attr-defined]
        return found[0] if found else None

    try:
        for worker in (billing, others):
            worker.start()
        for worker in (billing, others):
            worker.wait_ready()
        # Each group its own tables.
        groups = sorted(p.name for p in (tmp_path / "tables").iterdir())
        assert groups == [f"{app_id}.billing", f"{app_id}.credits-ingress-orders-support"]

        advice, later = payment(RID, 100_000), payment(RID, 1_000)
        send(Topic.PAYMENTS, advice, later)
        base = order(RID, PROBE_SEATS)
        send(Topic.ORDERS, base)
        wait_until("the first order decided", lambda: decision_of(base) is not None, others)
        assert isinstance(decision_of(base), OrderAccepted)
        probe = order(RID, PROBE_SEATS)
        send(Topic.ORDERS, probe)
        wait_until("the probe order decided", lambda: decision_of(probe) is not None, others)
        assert isinstance(decision_of(probe), OrderHeld)

        # Finance confirms the payments (billing's command); between them, an event no flow takes
        # as a command (one key: one partition, read in this order by both groups).
        send(Topic.OPS_COMMANDS, confirmation(advice), ticket(RID), confirmation(later))

        def confirmed() -> bool:
            collections = read_events(kafka.bootstrap, catalog.name(Topic.COLLECTIONS))
            ids = {e.payment_id for e in collections if isinstance(e, PaymentConfirmed)}
            return ids == {advice.payment_id, later.payment_id}

        # The billing group has read past the unknown command once both are confirmed.
        wait_until("both confirmations, by the billing group", confirmed, billing)
        # The orders group learns of it through Kafka: the same order now fits.
        again = order(RID, PROBE_SEATS)
        send(Topic.ORDERS, again)
        wait_until("the third order decided", lambda: decision_of(again) is not None, others)
        assert isinstance(decision_of(again), OrderAccepted)

        dead = catalog.dead_letter(catalog.name(Topic.OPS_COMMANDS))
        wait_until(
            "the unknown command dead-lettered",
            lambda: len(asyncio.run(read_all(kafka.bootstrap, dead))) >= 1,
            others,
        )
        # One dead letter, the unknown command's, by the orders group: none from the billing
        # group (past it already), none for the confirmations (the orders group passed them over).
        letters = asyncio.run(read_all(kafka.bootstrap, dead))
        assert len(letters) == 1, [r.headers for r in letters]
        assert letters[0].value is not None
        assert isinstance(CODEC.decode(letters[0].value), TicketOpened)
    finally:
        for worker in (billing, others):
            worker.stop()


def _page(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.loads(response.read())


def test_order_intake_and_fulfilment_in_groups_of_their_own(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    """``HUB_FLOWS=order-intake`` and ``HUB_FLOWS=fulfilment``: the decision crosses to
    fulfilment through Kafka carrying the request's time, the provisioning crosses back, and
    intake's order page names the subscriptions whose state the other group holds."""
    prefix = f"t.parts.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all([RID])))
    asyncio.run(publish(kafka.bootstrap, CODEC, reference(catalog, [RID])))
    app_id = f"parts-{uuid.uuid4().hex[:8]}"
    with partner_center(tmp_path) as url:
        intake, fulfilment = (
            WorkerProcess(
                kafka.bootstrap,
                tmp_path,
                topic_prefix=prefix,
                app_id=app_id,
                name=flows,
                env={"HUB_FLOWS": flows, "HUB_PARTNER_CENTER_URL": url},
            )
            for flows in ("order-intake", "fulfilment")
        )
        try:
            for worker in (intake, fulfilment):
                worker.start()
            for worker in (intake, fulfilment):
                worker.wait_ready()
            groups = sorted(p.name for p in (tmp_path / "tables").iterdir())
            assert groups == [f"{app_id}.fulfilment", f"{app_id}.order-intake"]
            placed = order(RID, 2)
            asyncio.run(
                publish(kafka.bootstrap, CODEC, [Outgoing(catalog.name(Topic.ORDERS), RID, placed)])
            )

            def provisioned() -> list[SubscriptionProvisioned]:
                events = read_events(kafka.bootstrap, catalog.name(Topic.PROVISIONING))
                return [
                    e
                    for e in events
                    if isinstance(e, SubscriptionProvisioned) and e.order_id == placed.order_id
                ]

            wait_until("the order provisioned by the fulfilment group", provisioned, fulfilment)
            (decision,) = [
                e
                for e in read_events(kafka.bootstrap, catalog.name(Topic.ORDER_DECISIONS))
                if isinstance(e, OrderAccepted) and e.order_id == placed.order_id
            ]
            assert decision.requested_at == placed.requested_at
            (sub,) = provisioned()
            path = f"/orders/{RID}/{placed.order_id}/"
            wait_until(
                "intake to learn the provisioning",
                lambda: _page(intake.web_port, path)["status"] == "provisioned",
                intake,
            )
            page = _page(intake.web_port, path)
            assert page["subscription_ids"] == [sub.subscription_id]
            assert page["subscriptions"] is None  # their state is the fulfilment group's
        finally:
            for worker in (intake, fulfilment):
                worker.stop()
