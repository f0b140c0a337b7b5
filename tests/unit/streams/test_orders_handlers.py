"""The orders flow's handlers without a broker: dict tables, and an in-process simulator."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
from hub.runtime.pipeline import Emit, Outcome, Pipeline, RetryPolicy
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
from hub.streams.orders_intake import OrderIntake
from hub.streams.orders_lifecycle import Lifecycle
from hub.streams.orders_provisioning import Provisioning
from hub.streams.orders_state import OrderTables
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import crash_cut

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


def _tables() -> OrderTables:
    return OrderTables({}, {}, {}, {}, {}, {})


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


def _intake(tables: OrderTables) -> OrderIntake:
    return OrderIntake(TOPICS, tables, _reference, clock=lambda: START)


def _events(emits: Sequence[Emit]) -> list[Event]:
    return [e.event for e in emits]


async def test_accepted_order_commits_its_term_value_once_even_if_delivered_twice() -> None:
    tables = _tables()
    intake = _intake(tables)
    order = _order(2)

    first = await intake.on_order(order)
    again = await intake.on_order(order.model_copy(update={"event_id": uuid.uuid4()}))

    assert isinstance(first[0].event, OrderAccepted)
    assert _events(first) == _events(again)
    assert [e.topic for e in first] == [
        TOPICS.name(Topic.ORDER_DECISIONS),
        TOPICS.partner("contoso", PartnerTopic.STATUS),
    ]
    assert tables.exposure_of("contoso", "USD").committed_minor == 2 * SEAT_YEAR


async def test_order_over_the_remaining_limit_is_held_with_the_numbers() -> None:
    tables = _tables()
    intake = _intake(tables)
    await intake.on_order(_order(8))

    held = (await intake.on_order(_order(3)))[0].event

    assert isinstance(held, OrderHeld)
    assert held.reason_code == "over_credit_limit"
    assert held.exposure_minor == 11 * SEAT_YEAR
    assert held.credit_limit_minor == 10 * SEAT_YEAR
    assert tables.exposure_of("contoso", "USD").committed_minor == 8 * SEAT_YEAR


async def test_invalid_order_is_rejected_with_every_reason_and_no_status_for_unknown_reseller() -> (
    None
):
    intake = _intake(_tables())
    order = _order(301, reseller_id="nobody", customer_id="ghost")

    emits = await intake.on_order(order)

    rejected = emits[0].event
    assert isinstance(rejected, OrderRejected)
    assert {r.code for r in rejected.reasons} == {
        "UnknownReseller",
        "CustomerNotFound",
        "QuantityAboveMaximum",
    }
    assert [e.topic for e in emits] == [TOPICS.name(Topic.ORDER_DECISIONS)]


async def test_confirmed_payments_free_headroom_advices_do_not_and_a_hold_holds_once() -> None:
    tables = _tables()
    intake = _intake(tables)
    dunning = DunningStageReached(
        **_envelope(),
        stage="credit_hold",
        days_overdue=40,
        overdue_minor=5_000,
        currency="USD",
        invoice_ids=("INV-1",),
        credit_hold=True,
    )
    await intake.on_exposure_event(dunning)
    await intake.on_exposure_event(dunning)
    assert tables.exposure_of("contoso", "USD").overdue_minor == 5_000
    first = (await intake.on_order(_order(1)))[0].event
    assert isinstance(first, OrderHeld)
    assert first.reason_code == "reseller_on_credit_hold"
    assert "overdue" in first.message

    # A reseller's advice is a claim: it moves nothing; finance's confirmation does.
    await intake.on_exposure_event(_advice("pay-1", 5_000))
    assert tables.exposure_of("contoso", "USD").overdue_minor == 5_000
    payment = _payment("pay-1", 5_000)
    await intake.on_exposure_event(payment)
    await intake.on_exposure_event(payment)

    exposure = tables.exposure_of("contoso", "USD")
    assert (exposure.open_receivables_minor, exposure.overdue_minor) == (-5_000, 0)
    held = (await intake.on_order(_order(1)))[0].event
    assert isinstance(held, OrderHeld)
    assert held.reason_code == "reseller_on_credit_hold"


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
    tables = _tables()
    intake = _intake(tables)
    order = _order(1, reseller_id="fabrikam")
    assert isinstance((await intake.on_order(order))[0].event, OrderHeld)
    release = _review(order.order_id, "release")

    accepted = (await intake.on_review(release))[0].event
    redelivered = (await intake.on_review(release))[0].event

    assert isinstance(accepted, OrderAccepted)
    assert accepted == redelivered
    assert accepted.correlation_id == order.correlation_id
    assert tables.exposure_of("fabrikam", "USD").committed_minor == SEAT_YEAR
    with pytest.raises(BusinessRuleViolation, match="OrderNotHeld"):
        await intake.on_review(_review(order.order_id, "reject"))
    with pytest.raises(BusinessRuleViolation, match="OrderNotFound"):
        await intake.on_review(_review("PO-unknown", "release"))


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


async def _provisioned(tables: OrderTables, client: PartnerCenterClient) -> SubscriptionProvisioned:
    intake = _intake(tables)
    accepted = (await intake.on_order(_order(5)))[0].event
    provisioning = Provisioning(TOPICS, tables, _reference, client, clock=lambda: START)
    event = (await provisioning.on_decision(accepted))[0].event
    assert isinstance(event, SubscriptionProvisioned)
    return event


async def test_redelivered_acceptance_resends_the_same_subscription_without_a_new_order(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    tables = _tables()
    provisioned = await _provisioned(tables, client)
    accepted = OrderAccepted.model_validate(next(iter(tables.orders.values()))["decision"]["doc"])
    provisioning = Provisioning(TOPICS, tables, _reference, client, clock=lambda: START)

    again = await provisioning.on_decision(accepted)

    assert again[0].event == provisioned
    assert sim.simulator.state.summary()["subscriptions"] == 1
    assert provisioned.unit_price_minor == 600
    assert provisioned.term_start == START.date()


async def test_retriable_failures_past_the_budget_report_failure_and_dead_letter(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    sim.simulator.faults.add(Fault(kind=FaultKind.SERVER_ERROR, count=None, operation="checkout"))
    tables = _tables()
    accepted = (await _intake(tables).on_order(_order(1)))[0].event
    provisioning = Provisioning(TOPICS, tables, _reference, client, clock=lambda: START)
    sent: list[tuple[str, bytes | None, bytes | None, Headers]] = []

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    async def no_sleep(_: float) -> None:
        return None

    pipeline = Pipeline(
        "provisioning", Codec(), send, DeadLetters(send), RetryPolicy(3), no_sleep, random.Random(1)
    )
    source = SourceMessage("decisions", 0, 1, b"contoso", Codec().encode(accepted), [])

    outcome = await pipeline.process(source, provisioning.on_decision, provisioning.on_failure)

    assert outcome is Outcome.DEAD_LETTERED
    failed = Codec().decode(sent[0][2] or b"")
    assert isinstance(failed, ProvisioningFailed)
    assert (failed.retriable, failed.attempts) == (True, 3)
    assert sent[-1][0] == "decisions.dlq"
    assert next(iter(tables.orders.values()))["status"] == "failed"
    # A retriable failure keeps the commitment: the order may still be replayed from the DLQ.
    assert tables.exposure_of("contoso", "USD").committed_minor == SEAT_YEAR


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
    tables = _tables()
    sub = await _provisioned(tables, client)
    sim.simulator.state.advance(timedelta(days=3))
    lifecycle = Lifecycle(TOPICS, tables, _reference, client, clock=lambda: START)
    request = _change(sub, START + timedelta(days=3), kind="change_quantity", new_quantity=3)

    changed = (await lifecycle.on_change(request))[0].event
    again = (await lifecycle.on_change(request))[0].event

    assert isinstance(changed, SubscriptionChanged)
    assert changed == again
    assert (changed.old_quantity, changed.new_quantity) == (5, 3)
    assert changed.refund_minor > 0
    record = sim.simulator.state.subscriptions.records[sub.subscription_id]
    assert record.quantity == 3


async def test_cancel_after_seven_days_is_rejected_without_calling_microsoft(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    tables = _tables()
    sub = await _provisioned(tables, client)
    lifecycle = Lifecycle(TOPICS, tables, _reference, client, clock=lambda: START)
    patches_before = sim.simulator.state.requests["update_subscription"]

    rejected = (await lifecycle.on_change(_change(sub, START + timedelta(days=8))))[0].event

    assert isinstance(rejected, SubscriptionChangeRejected)
    assert rejected.code == "CancellationWindowClosed"
    assert sim.simulator.state.requests["update_subscription"] == patches_before


async def test_microsoft_refusing_what_the_hub_allowed_becomes_a_rejection(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    tables = _tables()
    sub = await _provisioned(tables, client)
    sim.simulator.state.advance(timedelta(days=9))  # Microsoft's clock is past the window
    lifecycle = Lifecycle(TOPICS, tables, _reference, client, clock=lambda: START)

    rejected = (await lifecycle.on_change(_change(sub, START + timedelta(days=2))))[0].event

    assert isinstance(rejected, SubscriptionChangeRejected)
    assert rejected.code == "PartnerCenterRefused"
    assert "900701" in rejected.message


async def test_another_resellers_subscription_is_reported_as_not_found(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    tables = _tables()
    sub = await _provisioned(tables, client)
    lifecycle = Lifecycle(TOPICS, tables, _reference, client, clock=lambda: START)
    foreign = _change(sub, START, reseller_id="fabrikam", customer_id="fabrikam-cust")

    emits = await lifecycle.on_change(foreign)

    assert isinstance(emits[0].event, SubscriptionChangeRejected)
    assert emits[0].event.code == "SubscriptionNotFound"
    assert emits[1].topic == TOPICS.partner("fabrikam", PartnerTopic.STATUS)


# -- a crash between a message's table writes ----------------------------------------------------

Step = Callable[[OrderTables], Awaitable[Sequence[Emit]]]
ORDER = _order(2)
HELD = _order(1, reseller_id="fabrikam")
PAYMENT = _payment("pay-9", 5_000)


class Refused(Exception):
    """Microsoft refused the order for good."""

    retriable = False
    code = "InvalidSku"


def intake(handler: str, event: Event) -> Step:
    return lambda tables: getattr(_intake(tables), handler)(event)


async def fail_for_good(tables: OrderTables) -> Sequence[Emit]:
    accepted = (await _intake(_tables()).on_order(ORDER))[0].event  # the same event again
    provisioning = Provisioning(TOPICS, tables, _reference, None, clock=lambda: START)  # type: ignore[arg-type]
    return await provisioning.on_failure(accepted, Refused("sku retired"), 1)


@pytest.mark.parametrize(
    ("before", "step"),
    [
        ([], intake("on_order", ORDER)),
        ([intake("on_order", HELD)], intake("on_review", _review(HELD.order_id, "release"))),
        ([], intake("on_exposure_event", PAYMENT)),
        ([intake("on_order", ORDER)], fail_for_good),
    ],
    ids=["accepted", "released", "payment", "failed-for-good"],
)
async def test_a_replay_completes_writes_a_crash_cut_short_at_any_point(
    before: list[Step], step: Step
) -> None:
    """The exposure moves in one write and the order (or applied marker) in another: a crash
    between them must not commit, release or apply a payment twice on the replay."""
    whole, log = crash_cut.recording(OrderTables)
    for earlier in before:
        await earlier(whole)
    start = len(log)
    expected = _events(await step(whole))
    writes = log[start:]
    assert len(writes) >= 2, "the message writes once: nothing to cut short"
    for cut in range(len(writes)):
        tables, _ = crash_cut.recording(OrderTables)
        for earlier in before:
            await earlier(tables)
        crash_cut.land(tables, writes[:cut])
        assert _events(await step(tables)) == expected, f"cut at {cut}"
        assert crash_cut.state(tables) == crash_cut.state(whole), f"cut after {cut} writes"


async def test_a_change_replayed_after_a_crash_before_its_record_is_sent_as_changed(
    sim: SimulatorHandle, client: PartnerCenterClient
) -> None:
    """The subscription (already PATCHed at Microsoft) lands, the change's record does not: the
    replay compared against the new state and rejected the change Microsoft had applied."""
    whole, log = crash_cut.recording(OrderTables)
    sub = await _provisioned(whole, client)
    sim.simulator.state.advance(timedelta(days=3))
    request = _change(sub, START + timedelta(days=3), kind="change_quantity", new_quantity=3)
    start = len(log)
    expected = _events(
        await Lifecycle(TOPICS, whole, _reference, client, clock=lambda: START).on_change(request)
    )
    assert isinstance(expected[0], SubscriptionChanged)
    assert len(log) - start == 2
    for cut in range(start, len(log)):
        tables = crash_cut.land(crash_cut.recording(OrderTables)[0], log[:cut])
        lifecycle = Lifecycle(TOPICS, tables, _reference, client, clock=lambda: START)
        assert _events(await lifecycle.on_change(request)) == expected, f"cut at {cut - start}"
        assert crash_cut.state(tables) == crash_cut.state(whole)
