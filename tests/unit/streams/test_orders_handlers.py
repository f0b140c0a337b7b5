"""The orders flow's handlers without a broker: each agent's state behind its journal, as the
worker runs it, and an in-process Partner Center simulator."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterConfig
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.orders import ReferenceView
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import BusinessRuleViolation
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.pipeline import Outcome, Pipeline, RetryPolicy
from hub.runtime.state import MemoryStore
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.billing import DunningStageReached, PaymentReceived
from hub.schemas.events.ingress import PaymentConfirmed
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderHeld,
    OrderLine,
    OrderRejected,
    OrderRequested,
    OrderReviewDecided,
    ProvisioningFailed,
    SubscriptionProvisioned,
)
from hub.schemas.events.subscriptions import (
    SubscriptionChanged,
    SubscriptionChangeRejected,
    SubscriptionChangeRequested,
)
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.simulator.partner_center.server import PartnerCenterSimulator, SimulatorHandle, serve
from hub.streams.ingress import IngressGate
from hub.streams.orders import intake_routes, leave_to_intake
from hub.streams.orders.intake import OrderIntake
from hub.streams.orders.lifecycle import Lifecycle
from hub.streams.orders.provisioning import Provisioning
from hub.streams.orders.state import FulfilmentState, IntakeState
from hub.streams.orders.web import order_view
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import crash_cut
from tests.support.crash_cut import RecordingStore

START = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
TOKEN = "unit-token"
TOPICS = TopicCatalog("u.")
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("US",),
)
# 6.00 per seat-month: a P1Y monthly seat commits 72.00.
SEAT_YEAR = 600 * 12


def _reseller(reseller_id: str, limit: int) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=reseller_id,
        partner_id="4100001",
        name=reseller_id,
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=limit,
        payment_terms_days=30,
    )


def _reference() -> ReferenceView:
    price = PriceListEntry(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="USD",
        unit_cost_minor=600,
        effective_from=date(2020, 1, 1),
    )
    customers = {
        f"{r}-cust": Customer(
            customer_id=f"{r}-cust",
            reseller_id=r,
            name=f"{r} customer",
            country="US",
            language="en",
            currency="USD",
        )
        for r in ("contoso", "fabrikam")
    }
    return ReferenceView(
        resellers={
            "contoso": _reseller("contoso", 10 * SEAT_YEAR),
            "fabrikam": _reseller("fabrikam", 0).model_copy(update={"on_credit_hold": True}),
        },
        customers=customers,
        catalogue={ITEM.catalog_item_id: ITEM},
        prices={ITEM.catalog_item_id: [price]},
    )


class Flow:
    """The orders flow's two agents, each writing its own table through its journal."""

    def __init__(
        self,
        client: PartnerCenterClient | None = None,
        intake_store: MemoryStore | None = None,
        fulfilment_store: MemoryStore | None = None,
        keep: int = 4096,
    ) -> None:
        self.intake_store = intake_store if intake_store is not None else RecordingStore()
        self.fulfilment_store = (
            fulfilment_store if fulfilment_store is not None else RecordingStore()
        )
        self.intake_journal = Journal(self.intake_store, "orders", keep=keep)
        self.fulfilment_journal = Journal(self.fulfilment_store, "fulfilment")
        self.state = IntakeState.of(self.intake_journal)
        self.fulfilment = FulfilmentState.of(self.fulfilment_journal)
        self.intake = OrderIntake(TOPICS, self.state, _reference, clock=lambda: START)
        self.provisioning = Provisioning(
            TOPICS,
            self.fulfilment,
            _reference,
            client,  # type: ignore[arg-type]
            clock=lambda: START,
            requests=self.request_of,
        )
        self.lifecycle = Lifecycle(
            TOPICS,
            self.fulfilment,
            _reference,
            client,  # type: ignore[arg-type]
            clock=lambda: START,
        )

    def request_of(self, reseller_id: str, order_id: str) -> OrderRequested | None:
        record = self.state.order(reseller_id, order_id)
        return None if record is None else record.order_requested()

    async def take(self, handler: str, event: Event) -> Sequence[Emit]:
        """One message of ``orders.intake`` (``handler`` names its topic's handler)."""
        handle = getattr(self.intake, handler)
        return await self.intake_journal.run(0, str(event.event_id), lambda: handle(event))

    async def order(self, event: Event) -> Sequence[Emit]:
        return await self.take("on_order", event)

    async def fact(self, event: Event) -> Sequence[Emit]:
        return await self.take("on_exposure_event", event)

    async def review(self, event: Event) -> Sequence[Emit]:
        return await self.take("on_review", event)

    async def outcome(self, event: Event) -> Sequence[Emit]:
        return await self.take("on_provisioning", event)

    async def decision(self, event: Event) -> Sequence[Emit]:
        """One message of ``orders.fulfilment`` from the decisions topic."""
        run = self.provisioning.on_decision
        return await self.fulfilment_journal.run(0, str(event.event_id), lambda: run(event))

    async def change(self, event: Event) -> Sequence[Emit]:
        """One message of ``orders.fulfilment`` from the subscription-changes topic."""
        run = self.lifecycle.on_change
        return await self.fulfilment_journal.run(0, str(event.event_id), lambda: run(event))

    def exposure(self, reseller_id: str = "contoso") -> tuple[int, int]:
        exposure = self.state.exposure_of(reseller_id, "USD")
        return exposure.committed_minor, exposure.open_receivables_minor

    def status(self, order: OrderRequested) -> str:
        record = self.state.order(order.reseller_id, order.order_id)
        assert record is not None
        return record.status


def _envelope(reseller_id: str = "contoso") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "event_time": START,
        "correlation_id": "corr-1",
        "reseller_id": reseller_id,
    }


def _order(seats: int, reseller_id: str = "contoso", **changes: Any) -> OrderRequested:
    line = OrderLine(
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=seats,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    fields: dict[str, Any] = {
        **_envelope(reseller_id),
        "order_id": f"PO-{uuid.uuid4().hex[:6]}",
        "customer_id": f"{reseller_id}-cust",
        "lines": (line,),
        "requested_at": START,
        **changes,
    }
    return OrderRequested(**fields)


def _payment(payment_id: str, amount_minor: int) -> PaymentConfirmed:
    return PaymentConfirmed(
        **_envelope(),
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency="USD",
        received_at=START,
        method="bank_transfer",
        confirmed_by="finance",
        source="ops",
    )


def _advice(payment_id: str, amount_minor: int) -> PaymentReceived:
    return PaymentReceived(
        **_envelope(),
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency="USD",
        received_at=START,
        method="bank_transfer",
    )


def _events(emits: Sequence[Emit]) -> list[Event]:
    return [e.event for e in emits]


async def test_accepted_order_commits_its_term_value_once_even_if_delivered_twice() -> None:
    flow = Flow()
    order = _order(2)

    first = await flow.order(order)
    redelivered = await flow.order(order)
    resent = await flow.order(order.model_copy(update={"event_id": uuid.uuid4()}))

    assert isinstance(first[0].event, OrderAccepted)
    assert _events(first) == _events(redelivered) == _events(resent)
    assert [e.topic for e in first] == [
        TOPICS.name(Topic.ORDER_DECISIONS),
        TOPICS.partner("contoso", PartnerTopic.STATUS),
    ]
    assert flow.exposure() == (2 * SEAT_YEAR, 0)


async def test_order_over_the_remaining_limit_is_held_with_the_numbers() -> None:
    flow = Flow()
    await flow.order(_order(8))

    held = (await flow.order(_order(3)))[0].event

    assert isinstance(held, OrderHeld)
    assert held.reason_code == "over_credit_limit"
    assert held.exposure_minor == 11 * SEAT_YEAR
    assert held.credit_limit_minor == 10 * SEAT_YEAR
    assert flow.exposure() == (8 * SEAT_YEAR, 0)


async def test_invalid_order_is_rejected_with_every_reason_and_no_status_for_unknown_reseller() -> (
    None
):
    flow = Flow()
    order = _order(301, reseller_id="nobody", customer_id="ghost")

    emits = await flow.order(order)

    rejected = emits[0].event
    assert isinstance(rejected, OrderRejected)
    assert {r.code for r in rejected.reasons} == {
        "UnknownReseller",
        "CustomerNotFound",
        "QuantityAboveMaximum",
    }
    assert [e.topic for e in emits] == [TOPICS.name(Topic.ORDER_DECISIONS)]


def _dunning() -> DunningStageReached:
    return DunningStageReached(
        **_envelope(),
        stage="credit_hold",
        days_overdue=40,
        overdue_minor=5_000,
        currency="USD",
        invoice_ids=("INV-1",),
        credit_hold=True,
    )


async def test_confirmed_payments_free_headroom_advices_do_not_and_a_hold_holds_once() -> None:
    flow = Flow()
    dunning = _dunning()
    await flow.fact(dunning)
    await flow.fact(dunning)
    assert flow.state.exposure_of("contoso", "USD").overdue_minor == 5_000
    first = (await flow.order(_order(1)))[0].event
    assert isinstance(first, OrderHeld)
    assert first.reason_code == "reseller_on_credit_hold"
    assert "overdue" in first.message

    # A reseller's advice is a claim: it moves nothing; finance's confirmation does.
    await flow.fact(_advice("pay-1", 5_000))
    assert flow.state.exposure_of("contoso", "USD").overdue_minor == 5_000
    payment = _payment("pay-1", 5_000)
    await flow.fact(payment)
    await flow.fact(payment)

    exposure = flow.state.exposure_of("contoso", "USD")
    assert (exposure.open_receivables_minor, exposure.overdue_minor) == (-5_000, 0)
    held = (await flow.order(_order(1)))[0].event
    assert isinstance(held, OrderHeld)
    assert held.reason_code == "reseller_on_credit_hold"


async def test_a_fact_redelivered_after_the_journal_forgot_it_moves_the_exposure_once() -> None:
    """The journal keeps the latest outputs only; the applied entry holds for good."""
    flow = Flow(keep=1)
    payment = _payment("pay-2", 5_000)
    await flow.fact(payment)
    await flow.order(_order(1))  # the journal's one kept slot now holds the order

    await flow.fact(payment)

    assert flow.exposure() == (SEAT_YEAR, -5_000)
    assert list(flow.state.applied) == [f"contoso|{payment.event_id}"]


def _review(order_id: str, decision: str, event_id: uuid.UUID | None = None) -> OrderReviewDecided:
    return OrderReviewDecided(
        **{**_envelope("fabrikam"), "event_id": event_id or uuid.uuid4()},
        order_id=order_id,
        decision=decision,
        reviewer="finance",
        reason="checked",
        decided_at=START,
    )


async def test_release_accepts_a_held_order_once_and_a_second_release_is_refused() -> None:
    flow = Flow()
    order = _order(1, reseller_id="fabrikam")
    assert isinstance((await flow.order(order))[0].event, OrderHeld)
    release = _review(order.order_id, "release")

    accepted = (await flow.review(release))[0].event
    redelivered = (await flow.review(release))[0].event

    assert isinstance(accepted, OrderAccepted)
    assert accepted == redelivered
    assert accepted.correlation_id == order.correlation_id
    assert flow.state.exposure_of("fabrikam", "USD").committed_minor == SEAT_YEAR
    with pytest.raises(BusinessRuleViolation, match="OrderNotHeld"):
        await flow.review(_review(order.order_id, "reject"))
    with pytest.raises(BusinessRuleViolation, match="OrderNotFound"):
        await flow.review(_review("PO-unknown", "release"))


class Refused(Exception):
    """Microsoft refused the order for good."""

    retriable = False
    code = "InvalidSku"


class Throttled(Exception):
    retriable = True
    code = "429"


async def _failure(
    flow: Flow, order: OrderRequested, error: Exception, attempts: int = 1
) -> ProvisioningFailed:
    """The report provisioning sends for ``order``'s acceptance (it writes no state)."""
    accepted = (await flow.order(order))[0].event
    report = (await flow.provisioning.on_failure(accepted, error, attempts))[0].event
    assert isinstance(report, ProvisioningFailed)
    return report


async def test_an_order_refused_for_good_frees_its_commitment_once_a_retriable_one_keeps_it() -> (
    None
):
    flow = Flow()
    refused, throttled = _order(2), _order(3)
    failed = await _failure(flow, refused, Refused("sku retired"))
    retriable = await _failure(flow, throttled, Throttled("busy"), attempts=6)
    assert flow.exposure() == (5 * SEAT_YEAR, 0)

    await flow.outcome(failed)
    await flow.outcome(failed)
    await flow.outcome(failed.model_copy(update={"event_id": uuid.uuid4()}))  # reported again
    await flow.outcome(retriable)

    assert flow.exposure() == (3 * SEAT_YEAR, 0)
    assert (flow.status(refused), flow.status(throttled)) == ("failed", "failed")
    record = flow.state.order("contoso", refused.order_id)
    assert record is not None
    assert record.failure is not None
    assert (record.failure.code, record.released) == ("InvalidSku", True)


# -- provisioning and lifecycle against an in-process simulator ---------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await serve("127.0.0.1", 0, simulator=PartnerCenterSimulator(start=START, token=TOKEN))
    yield handle
    await handle.close()


@pytest.fixture
async def client(sim: SimulatorHandle) -> AsyncIterator[PartnerCenterClient]:
    config = PartnerCenterConfig(
        base_url=sim.url, token=SecretStr(TOKEN), max_attempts=1, backoff_base_s=0
    )
    async with PartnerCenterClient(config) as pc:
        yield pc


async def _provisioned(flow: Flow, order: OrderRequested | None = None) -> SubscriptionProvisioned:
    accepted = (await flow.order(order or _order(5)))[0].event
    event = (await flow.decision(accepted))[0].event
    assert isinstance(event, SubscriptionProvisioned)
    return event


async def test_redelivered_acceptance_resends_the_same_subscription_without_a_new_order(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    order = _order(5)
    provisioned = await _provisioned(flow, order)
    accepted = (await flow.order(order))[0].event
    # The same acceptance under a new message (a release sent twice, a replayed topic).
    again = await flow.decision(accepted.model_copy(update={"event_id": uuid.uuid4()}))

    assert again[0].event == provisioned
    assert sim.simulator.state.summary()["subscriptions"] == 1
    assert provisioned.unit_price_minor == 600
    assert provisioned.term_start == START.date()


async def test_intake_learns_the_provisioning_and_the_order_view_shows_its_subscriptions(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    order = _order(5)
    provisioned = await _provisioned(flow, order)

    shown = order_view(flow.state, flow.fulfilment, "contoso", order.order_id)
    assert shown is not None
    assert shown["status"] == "accepted"  # until intake reads the provisioning topic
    assert [s["subscription"]["subscription_id"] for s in shown["subscriptions"]] == [
        provisioned.subscription_id
    ]
    await flow.outcome(provisioned)
    await flow.outcome(provisioned.model_copy(update={"event_id": uuid.uuid4()}))

    shown = order_view(flow.state, flow.fulfilment, "contoso", order.order_id)
    assert shown is not None
    assert shown["status"] == "provisioned"
    assert shown["subscription_ids"] == [provisioned.subscription_id]
    assert shown["microsoft_order_id"] == provisioned.microsoft_order_id
    assert flow.exposure() == (5 * SEAT_YEAR, 0)
    assert order_view(flow.state, flow.fulfilment, "fabrikam", order.order_id) is None
    # A worker of order intake alone: the ids, not the state held by the fulfilment group.
    alone = order_view(flow.state, None, "contoso", order.order_id)
    assert alone is not None
    assert (alone["subscriptions"], alone["subscription_ids"]) == (
        None,
        [provisioned.subscription_id],
    )


async def test_retriable_failures_past_the_budget_report_failure_and_dead_letter(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    sim.simulator.faults.add(Fault(kind=FaultKind.SERVER_ERROR, count=None, operation="checkout"))
    flow = Flow(client)
    accepted = (await flow.order(_order(1)))[0].event
    sent: list[tuple[str, bytes | None, bytes | None, Headers]] = []

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    async def no_sleep(_: float) -> None:
        return None

    pipeline = Pipeline(
        "provisioning",
        Codec(),
        send,
        DeadLetters(send),
        RetryPolicy(3),
        no_sleep,
        random.Random(1),
        journal=flow.fulfilment_journal,
    )
    source = SourceMessage("decisions", 0, 1, b"contoso", Codec().encode(accepted), [])
    provisioning = flow.provisioning

    outcome = await pipeline.process(source, provisioning.on_decision, provisioning.on_failure)

    assert outcome is Outcome.DEAD_LETTERED
    failed = Codec().decode(sent[0][2] or b"")
    assert isinstance(failed, ProvisioningFailed)
    assert (failed.retriable, failed.attempts) == (True, 3)
    assert sent[-1][0] == "decisions.dlq"
    assert list(flow.fulfilment.placed) == []
    await flow.outcome(failed)
    assert next(iter(flow.state.orders.values()))["status"] == "failed"
    # A retriable failure keeps the commitment: the order may still be replayed from the DLQ.
    assert flow.exposure() == (SEAT_YEAR, 0)


def _change(
    sub: SubscriptionProvisioned, at: datetime, **fields: Any
) -> SubscriptionChangeRequested:
    values: dict[str, Any] = {
        **_envelope(sub.reseller_id or ""),
        "change_id": f"chg-{uuid.uuid4().hex[:6]}",
        "customer_id": sub.customer_id,
        "subscription_id": sub.subscription_id,
        "kind": "cancel",
        "requested_at": at,
        **fields,
    }
    return SubscriptionChangeRequested(**values)


async def test_seat_reduction_on_day_three_is_refunded_by_the_day_and_applied_at_microsoft(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    sim.simulator.state.advance(timedelta(days=3))
    request = _change(sub, START + timedelta(days=3), kind="change_quantity", new_quantity=3)

    changed = (await flow.change(request))[0].event
    resent = (await flow.change(request.model_copy(update={"event_id": uuid.uuid4()})))[0].event

    assert isinstance(changed, SubscriptionChanged)
    assert changed == resent
    assert (changed.old_quantity, changed.new_quantity) == (5, 3)
    assert changed.refund_minor > 0
    record = sim.simulator.state.subscriptions.records[sub.subscription_id]
    assert record.quantity == 3


async def test_cancel_after_seven_days_is_rejected_without_calling_microsoft(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    patches_before = sim.simulator.state.requests["update_subscription"]

    rejected = (await flow.change(_change(sub, START + timedelta(days=8))))[0].event

    assert isinstance(rejected, SubscriptionChangeRejected)
    assert rejected.code == "CancellationWindowClosed"
    assert sim.simulator.state.requests["update_subscription"] == patches_before


async def test_microsoft_refusing_what_the_hub_allowed_becomes_a_rejection(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    sim.simulator.state.advance(timedelta(days=9))  # Microsoft's clock is past the window

    rejected = (await flow.change(_change(sub, START + timedelta(days=2))))[0].event

    assert isinstance(rejected, SubscriptionChangeRejected)
    assert rejected.code == "PartnerCenterRefused"
    assert "900701" in rejected.message


async def test_another_resellers_subscription_is_reported_as_not_found(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    foreign = _change(sub, START, reseller_id="fabrikam", customer_id="fabrikam-cust")

    emits = await flow.change(foreign)

    assert isinstance(emits[0].event, SubscriptionChangeRejected)
    assert emits[0].event.code == "SubscriptionNotFound"
    assert emits[1].topic == TOPICS.partner("fabrikam", PartnerTopic.STATUS)


# -- a crash part way through a message's writes ---------------------------------------------
# Each agent's writes go to its one table, in order: a crash lands a prefix of that table's write
# log and no commit, and the message is handled again on the state rebuilt from that prefix.

Step = Callable[[Flow], Awaitable[Sequence[Emit]]]
ORDER = _order(2)
OTHER = _order(3)
NEAR_LIMIT = _order(8)
TO_THE_LIMIT = _order(2)
HELD = _order(1, reseller_id="fabrikam")
PAYMENT = _payment("pay-9", 5_000)


def take(handler: str, event: Event) -> Step:
    return lambda flow: flow.take(handler, event)


async def _report(error: Exception) -> ProvisioningFailed:
    return await _failure(Flow(), ORDER, error)  # the same report whatever flow sends it


async def _refused(flow: Flow) -> Sequence[Emit]:
    return await flow.outcome(await _report(Refused("sku retired")))


@pytest.mark.parametrize(
    ("before", "step", "committed"),
    [
        ([], take("on_order", ORDER), 2),
        ([take("on_order", NEAR_LIMIT)], take("on_order", TO_THE_LIMIT), 10),
        ([take("on_order", HELD)], take("on_review", _review(HELD.order_id, "release")), 0),
        ([], take("on_exposure_event", PAYMENT), 0),
        ([take("on_order", ORDER), take("on_order", OTHER)], _refused, 3),
    ],
    ids=["accepted", "to-the-limit", "released", "payment", "refused-for-good"],
)
async def test_a_replay_after_a_crash_at_any_write_commits_and_frees_credit_once(
    before: list[Step], step: Step, committed: int
) -> None:
    """Before the journal, the exposure moved in one write and the order (or an applied marker)
    in another; a crash between them had to be caught by notes in the exposure. Now any prefix
    of the message's writes replays to the uncut run's state and outputs."""
    whole = Flow()
    for earlier in before:
        await earlier(whole)
    log = whole.intake_store.log  # type: ignore[attr-defined]
    start = len(log)
    expected = _events(await step(whole))
    assert len(log) - start > 2, "the message writes next to nothing: nothing to cut short"
    assert whole.exposure()[0] == committed * SEAT_YEAR
    for cut in range(start, len(log) + 1):
        replay = Flow(intake_store=crash_cut.landed(log[:cut]))
        assert _events(await step(replay)) == expected, f"cut at {cut - start}"
        assert replay.intake_store.data == whole.intake_store.data, f"cut at {cut - start}"
        # Never over the limit, nothing committed or freed twice, whatever comes next.
        after = await replay.order(_order(1))
        assert replay.exposure()[0] == whole.exposure()[0] + (
            SEAT_YEAR if isinstance(after[0].event, OrderAccepted) else 0
        )
        assert replay.exposure()[0] <= 10 * SEAT_YEAR


async def test_a_placement_cut_short_by_a_crash_is_sent_again_without_a_second_order(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    whole = Flow(client)
    accepted = (await whole.order(_order(2)))[0].event
    log = whole.fulfilment_store.log  # type: ignore[attr-defined]
    expected = _events(await whole.decision(accepted))
    assert len(log) > 3
    for cut in range(len(log) + 1):
        replay = Flow(client, intake_store=whole.intake_store)
        replay.fulfilment_journal = Journal(crash_cut.landed(log[:cut]), "fulfilment")
        replay.fulfilment = replay.provisioning.state = FulfilmentState.of(
            replay.fulfilment_journal
        )
        assert _events(await replay.decision(accepted)) == expected, f"cut at {cut}"
        assert replay.fulfilment_journal.store.data == whole.fulfilment_store.data  # type: ignore[attr-defined]
    summary = sim.simulator.state.summary()
    assert (summary["orders"], summary["subscriptions"]) == (1, 1)


async def test_a_change_cut_short_by_a_crash_is_sent_as_changed_once(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    """The subscription (PATCHed at Microsoft) and the change's outcome are one entry: a replay
    never compares the change against the new state and rejects what Microsoft applied."""
    whole = Flow(client)
    sub = await _provisioned(whole)
    sim.simulator.state.advance(timedelta(days=3))
    request = _change(sub, START + timedelta(days=3), kind="change_quantity", new_quantity=3)
    log = whole.fulfilment_store.log  # type: ignore[attr-defined]
    start = len(log)
    expected = _events(await whole.change(request))
    assert isinstance(expected[0], SubscriptionChanged)
    for cut in range(start, len(log) + 1):
        replay = Flow(client)
        replay.fulfilment_journal = Journal(crash_cut.landed(log[:cut]), "fulfilment")
        replay.fulfilment = FulfilmentState.of(replay.fulfilment_journal)
        replay.lifecycle.state = replay.fulfilment
        assert _events(await replay.change(request)) == expected, f"cut at {cut - start}"
        assert replay.fulfilment_journal.store.data == whole.fulfilment_store.data  # type: ignore[attr-defined]
    assert sim.simulator.state.subscriptions.records[sub.subscription_id].quantity == 3


# -- which topic's outcome intake owns ---------------------------------------------------------


async def test_intake_dead_letters_only_what_it_owns_and_takes_the_review_from_the_ops_topic() -> (
    None
):
    """Intake reads five topics into one journal: an unreadable message on billing's
    provisioning topic or the ops dispatcher's topic is their owners' to dead-letter, one on
    the invoices topic is intake's; a review on the ops topic moves the order (the dispatcher's
    handler for it does nothing)."""
    flow = Flow()
    held = _order(1, reseller_id="fabrikam")
    await flow.order(held)
    sent: list[str] = []

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append(topic)

    def pipeline(observer: bool) -> Pipeline:
        journal = flow.intake_journal
        return Pipeline(
            "orders", Codec(), send, DeadLetters(send), observer=observer, journal=journal
        )

    gate = IngressGate(TOPICS, Topic.ORDERS, _reference)
    routes = intake_routes(TOPICS, pipeline(False), pipeline(True), gate, flow.intake)
    assert set(routes) == {
        TOPICS.name(t)
        for t in (Topic.ORDERS, Topic.INVOICES, Topic.COLLECTIONS, Topic.OPS_COMMANDS)
    } | {TOPICS.name(Topic.PROVISIONING), TOPICS.name(Topic.CONSUMPTION_ACCRUALS)}

    def message(topic: Topic, value: bytes, offset: int) -> SourceMessage:
        return SourceMessage(TOPICS.name(topic), 0, offset, b"fabrikam", value, [])

    outcomes = [
        await routes[TOPICS.name(t)](message(t, b"\x00garbage", i))
        for i, t in enumerate((Topic.PROVISIONING, Topic.OPS_COMMANDS, Topic.INVOICES))
    ]
    release = Codec().encode(_review(held.order_id, "release"))
    reviewed = await routes[TOPICS.name(Topic.OPS_COMMANDS)](
        message(Topic.OPS_COMMANDS, release, 9)
    )

    assert outcomes == [Outcome.LEFT_TO_OWNER, Outcome.LEFT_TO_OWNER, Outcome.DEAD_LETTERED]
    assert reviewed is Outcome.PROCESSED
    assert flow.status(held) == "accepted"
    assert sent == [
        TopicCatalog.dead_letter(TOPICS.name(Topic.INVOICES)),
        TOPICS.name(Topic.ORDER_DECISIONS),
        TOPICS.partner("fabrikam", PartnerTopic.STATUS),
    ]
    assert await leave_to_intake(_review(held.order_id, "release")) == ()


class ReportsLaterWindow:
    """Partner Center as the simulator, but reporting a later cancellationAllowedUntilDate
    (as after a renewal the hub has not seen)."""

    def __init__(self, real: PartnerCenterClient, until: datetime) -> None:
        self.real, self.until, self.asked = real, until, 0

    async def start(self) -> None:
        await self.real.start()

    async def get_subscription(self, customer_id: str, sid: str, *, correlation_id: str) -> Any:
        self.asked += 1
        seen = await self.real.get_subscription(customer_id, sid, correlation_id=correlation_id)
        return seen.model_copy(update={"cancellation_allowed_until_date": self.until})

    async def update_subscription(self, *args: Any, **kwargs: Any) -> Any:
        return await self.real.update_subscription(*args, **kwargs)


async def test_partner_center_windows_win_when_the_hubs_own_count_has_closed_them(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    microsoft = ReportsLaterWindow(client, START + timedelta(days=9))
    flow.lifecycle.client = microsoft  # type: ignore[assignment]

    allowed = (await flow.change(_change(sub, START + timedelta(days=8))))[0].event
    assert isinstance(allowed, SubscriptionChanged), allowed
    assert microsoft.asked == 1
    assert sim.simulator.state.subscriptions.records[sub.subscription_id].status == "deleted"

    # Inside the hub's own window nobody asks (a replay decides on the same state).
    other = await _provisioned(flow, _order(2))
    reduced = await flow.change(
        _change(other, START + timedelta(days=2), kind="change_quantity", new_quantity=1)
    )
    assert isinstance(reduced[0].event, SubscriptionChanged)
    assert microsoft.asked == 1

    # Closed by both counts: rejected, Microsoft never patched.
    microsoft.until = START + timedelta(days=7)
    late = await _provisioned(flow, _order(3))
    rejected = (await flow.change(_change(late, START + timedelta(days=8))))[0].event
    assert isinstance(rejected, SubscriptionChangeRejected)
    assert rejected.code == "CancellationWindowClosed"


async def test_fulfilment_in_a_group_of_its_own_prices_a_decision_as_of_its_request(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    """``HUB_FLOWS=fulfilment``: intake's record of the order is in another group, so the
    decision (v2) carries the request's time, which prices the lines as the credit check did."""
    flow = Flow(client)
    accepted = (await flow.order(_order(5)))[0].event
    assert isinstance(accepted, OrderAccepted)
    assert accepted.requested_at == START
    released = START + timedelta(days=400)  # held, then released by finance much later

    def reference() -> ReferenceView:
        ref = _reference()
        (old,) = ref.prices[ITEM.catalog_item_id]
        raised = old.model_copy(
            update={"unit_cost_minor": 900, "effective_from": (START + timedelta(days=200)).date()}
        )
        return replace(ref, prices={ITEM.catalog_item_id: [old, raised]})

    alone = Provisioning(TOPICS, flow.fulfilment, reference, client, clock=lambda: released)

    async def provision(decision: OrderAccepted) -> SubscriptionProvisioned:
        emits = await flow.fulfilment_journal.run(
            0, str(decision.event_id), lambda: alone.on_decision(decision)
        )
        event = emits[0].event
        assert isinstance(event, SubscriptionProvisioned)
        return event

    decision = accepted.model_copy(update={"event_time": released})
    assert (await provision(decision)).unit_cost_minor == 600
    # A v1 decision has no request time: its own time prices it.
    v1 = decision.model_copy(
        update={"event_id": uuid.uuid4(), "order_id": "PO-v1", "requested_at": None}
    )
    assert (await provision(v1)).unit_cost_minor == 900
