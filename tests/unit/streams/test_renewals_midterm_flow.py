"""Mid-term changes in the renewals flow: checked with the pure rules, sent to Partner Center
through the adapter, rated as the rules say (the credit and the new charge), the record moved to
the new term or SKU, and scheduled next-term changes deleted with the reseller told."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from hub.connectors.partner_center import PartnerCenterError
from hub.domain.enums import BillingCycle, Term
from hub.domain.orders import ReferenceView
from hub.domain.reference import CatalogItem
from hub.domain.renewals import RenewalPolicy
from hub.domain.renewals_midterm import (
    MidTermChange,
    change_billing_frequency,
    extend_term,
    upgrade,
)
from hub.schemas.events.renewals import (
    MidTermChangeApplied,
    MidTermChangeRejected,
    MidTermChangeRequested,
    RenewalNoticeIssued,
    ScheduledChangesDeleted,
    SubscriptionRenewed,
)
from hub.streams.renewals.flow import Renewals
from hub.topics import PartnerTopic
from tests.unit.streams.test_renewals_flow import (
    ITEM,
    RENEWS,
    TOPICS,
    World,
    entry,
    ids,
    provisioned,
    reference,
    request,
)

STATUS = TOPICS.partner("contoso", PartnerTopic.STATUS)
AT = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
STANDARD = CatalogItem(
    product_id="CFQ7TTC0LDPB",
    sku_id="0001",
    availability_id="AV2",
    name="Business Standard",
    service="m365",
    markets=("DE",),
)
CHEAPER = CatalogItem(
    product_id="CFQ7TTC0LH0R",
    sku_id="0001",
    availability_id="AV3",
    name="Exchange Online",
    service="m365",
    markets=("DE",),
)


def family_reference() -> ReferenceView:
    ref = reference()
    return ReferenceView(
        resellers=ref.resellers,
        customers=ref.customers,
        catalogue={
            **ref.catalogue,
            STANDARD.catalog_item_id: STANDARD,
            CHEAPER.catalog_item_id: CHEAPER,
        },
        prices={
            **ref.prices,
            # A triennial term of the same offer, for a longer term mid-term.
            ITEM.catalog_item_id: [
                *ref.prices[ITEM.catalog_item_id],
                entry(BillingCycle.ANNUAL, 33_000, date(2024, 1, 1)).model_copy(
                    update={"term": Term.P3Y}
                ),
            ],
            STANDARD.catalog_item_id: [
                entry(BillingCycle.ANNUAL, 24_000, date(2024, 1, 1), item=STANDARD)
            ],
            CHEAPER.catalog_item_id: [
                entry(BillingCycle.ANNUAL, 4_000, date(2024, 1, 1), item=CHEAPER)
            ],
        },
    )


class FakeMidTerm:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail: PartnerCenterError | None = None

    async def change_billing_cycle(
        self, customer: Any, reseller: Any, sid: str, cycle: BillingCycle, *, correlation_id: str
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append(("billing_cycle", cycle))

    async def change_term(
        self,
        customer: Any,
        reseller: Any,
        sid: str,
        term: Term,
        cycle: BillingCycle,
        *,
        correlation_id: str,
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append(("term", (term, cycle)))

    async def upgrade(
        self,
        customer: Any,
        reseller: Any,
        sid: str,
        to_catalog_item_id: str,
        quantity: int,
        *,
        correlation_id: str,
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append(("upgrade", (to_catalog_item_id, quantity)))


def world() -> tuple[World, FakeMidTerm]:
    w = World()
    changer = FakeMidTerm()
    w.flow = Renewals(
        TOPICS,
        w.state,
        family_reference,
        w.scheduler,
        RenewalPolicy(),
        partition_of=lambda _: 0,
        midterm=changer,
    )
    return w, changer


def midterm(change_id: str = "mid-1", **kw: Any) -> MidTermChangeRequested:
    values: dict[str, Any] = {
        **ids(change_id),
        "change_id": change_id,
        "customer_id": "cust-1",
        "subscription_id": "sub-1",
        "kind": "billing_frequency",
        "billing_cycle": BillingCycle.MONTHLY,
        "requested_at": AT,
        **kw,
    }
    return MidTermChangeRequested.model_validate(values)


def applied_of(out: Any) -> MidTermChangeApplied:
    (event,) = {e.event for e in out if isinstance(e.event, MidTermChangeApplied)}
    return event


def same_lines(applied: MidTermChangeApplied, rules: MidTermChange) -> None:
    got = [
        (ln.charge_type, ln.quantity, ln.unit_price_minor, ln.amount_minor) for ln in applied.lines
    ]
    want = [
        (ln.charge_type.value, ln.quantity, ln.unit_price_minor, ln.amount_minor)
        for ln in rules.lines
    ]
    assert got == want
    assert [(ln.charge_start, ln.charge_end) for ln in applied.lines] == [
        (ln.charge_start, ln.charge_end) for ln in rules.lines
    ]


async def test_annual_to_monthly_starts_a_new_term_at_todays_price_with_credit_and_charge() -> None:
    w, changer = world()
    await w.send(provisioned())
    before = w.state.record("contoso", "sub-1")
    assert before is not None

    out = await w.send(midterm())
    applied = applied_of(out)

    assert changer.calls == [("billing_cycle", BillingCycle.MONTHLY)]
    # The orders lifecycle's record follows it: the same event, keyed by reseller, on the
    # hub-internal commands topic its fulfilment agent reads.
    (command,) = [e for e in out if e.topic.endswith("hub.subscriptions.commands")]
    assert (command.key, command.event) == ("contoso", applied)
    # Today's monthly list: 1_000 cost + 10 % markup, no promotion; a new P1Y term from today.
    assert (applied.unit_price_minor, applied.unit_cost_minor) == (1_100, 1_000)
    assert applied.price_reset
    assert applied.term_start == datetime(2025, 6, 15, tzinfo=UTC)
    assert applied.term_end == datetime(2026, 6, 15, tzinfo=UTC)
    rules = change_billing_frequency(
        before.subscription,
        AT,
        BillingCycle.MONTHLY,
        old_unit_price_minor=13_200,
        new_unit_price_minor=1_100,
    )
    assert isinstance(rules, MidTermChange)
    same_lines(applied, rules)
    credit, charge = applied.lines
    assert credit.amount_minor < 0 < charge.amount_minor
    assert charge.amount_minor == 1_100 * 200
    # The flow now renews at the new term end: nothing at the old one, notices before the new.
    assert [
        e for e in await w.tick(RENEWS + timedelta(hours=1)) if isinstance(e, SubscriptionRenewed)
    ] == []
    notices = await w.tick(datetime(2026, 6, 15, tzinfo=UTC) - timedelta(days=30))
    assert [type(e) for e in notices] == [RenewalNoticeIssued]
    assert notices[0].billing_cycle is BillingCycle.MONTHLY


async def test_a_longer_term_starts_today_at_the_triennial_price_and_is_sent_as_a_patch() -> None:
    w, changer = world()
    await w.send(provisioned())
    before = w.state.record("contoso", "sub-1")
    assert before is not None

    out = await w.send(midterm(kind="term", term=Term.P3Y, billing_cycle=None))
    applied = applied_of(out)

    assert changer.calls == [("term", (Term.P3Y, BillingCycle.ANNUAL))]
    # Today's triennial list, billed yearly as before: 33_000 cost + 10 % markup.
    assert (applied.term, applied.billing_cycle) == (Term.P3Y, BillingCycle.ANNUAL)
    assert (applied.unit_price_minor, applied.unit_cost_minor) == (36_300, 33_000)
    assert applied.term_start == datetime(2025, 6, 15, tzinfo=UTC)
    assert applied.term_end == datetime(2028, 6, 15, tzinfo=UTC)
    rules = extend_term(
        before.subscription,
        AT,
        Term.P3Y,
        BillingCycle.ANNUAL,
        old_unit_price_minor=13_200,
        new_unit_price_minor=36_300,
    )
    assert isinstance(rules, MidTermChange)
    same_lines(applied, rules)
    assert {ln.charge_type for ln in applied.lines} == {"extendTerm"}
    (command,) = [e for e in out if e.topic.endswith("hub.subscriptions.commands")]
    assert command.event == applied
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.subscription.term is Term.P3Y


async def test_a_shorter_term_is_refused_mid_term() -> None:
    w, changer = world()
    await w.send(provisioned())
    out = await w.send(midterm(kind="term", term=Term.P1M, billing_cycle=BillingCycle.MONTHLY))
    (refused,) = {e.event for e in out if isinstance(e.event, MidTermChangeRejected)}
    assert refused.code == "ShorterTermNotAllowed"
    assert "only grow" in refused.message
    assert changer.calls == []


async def test_an_upgrade_keeps_the_term_end_and_rates_the_rest_of_the_period() -> None:
    w, changer = world()
    await w.send(provisioned())
    before = w.state.record("contoso", "sub-1")
    assert before is not None
    target = {
        "product_id": STANDARD.product_id,
        "sku_id": STANDARD.sku_id,
        "availability_id": STANDARD.availability_id,
    }

    applied = applied_of(await w.send(midterm(kind="upgrade", billing_cycle=None, **target)))

    assert changer.calls == [("upgrade", (STANDARD.catalog_item_id, 200))]
    assert (applied.product_id, applied.unit_price_minor) == (STANDARD.product_id, 26_400)
    assert applied.term_end == RENEWS
    rules = upgrade(
        before.subscription,
        AT,
        current=ITEM,
        target=STANDARD,
        old_unit_price_minor=13_200,
        new_unit_price_minor=26_400,
    )
    assert isinstance(rules, MidTermChange)
    same_lines(applied, rules)
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.subscription.catalog_item_id == STANDARD.catalog_item_id
    renewed = [
        e for e in await w.tick(RENEWS + timedelta(hours=1)) if isinstance(e, SubscriptionRenewed)
    ]
    assert renewed[0].product_id == STANDARD.product_id


async def test_a_mid_term_change_deletes_the_scheduled_change_and_tells_the_reseller() -> None:
    w, _ = world()
    await w.send(provisioned())
    await w.send(request(quantity=101))
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.scheduled is not None

    out = await w.send(midterm())

    deleted = [e for e in out if isinstance(e.event, ScheduledChangesDeleted) and e.topic == STATUS]
    assert len(deleted) == 1
    assert "mid-term" in deleted[0].event.message
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.scheduled is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"billing_cycle": BillingCycle.ANNUAL}, "NoChange"),
        (
            {
                "kind": "upgrade",
                "billing_cycle": None,
                "product_id": CHEAPER.product_id,
                "sku_id": CHEAPER.sku_id,
                "availability_id": CHEAPER.availability_id,
            },
            "NotAnUpgrade",
        ),
        ({"customer_id": "cust-2"}, "SubscriptionNotFound"),
        ({"reseller_id": "fabrikam"}, "SubscriptionNotFound"),
        ({"requested_at": RENEWS + timedelta(days=1)}, "TermEnded"),
    ],
)
async def test_what_the_rules_refuse_is_rejected_with_the_reason_and_nothing_sent(
    change: dict[str, Any], code: str
) -> None:
    w, changer = world()
    await w.send(provisioned())
    out = await w.send(midterm(**change))
    rejected = out[0].event
    assert isinstance(rejected, MidTermChangeRejected)
    assert rejected.code == code
    assert rejected.message
    assert changer.calls == []
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.subscription.billing_cycle is BillingCycle.ANNUAL


async def test_partner_center_refusing_is_a_rejection_and_a_retriable_failure_changes_nothing() -> (
    None
):
    w, changer = world()
    await w.send(provisioned())
    changer.fail = PartnerCenterError(
        "busy", operation="update_subscription", status=503, retriable=True
    )
    with pytest.raises(PartnerCenterError):
        await w.send(midterm("mid-9"))
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.subscription.billing_cycle is BillingCycle.ANNUAL
    changer.fail = PartnerCenterError(
        "no",
        operation="update_subscription",
        status=400,
        code="900704",
        description="not modifiable",
    )
    out = await w.send(midterm("mid-10"))
    assert out[0].event.code == "PartnerCenterRefused"  # type: ignore[attr-defined]
    assert "not modifiable" in out[0].event.message  # type: ignore[attr-defined]


async def test_a_retry_of_the_same_change_answers_alike_and_changes_once() -> None:
    w, changer = world()
    await w.send(provisioned())
    first = applied_of(await w.send(midterm()))
    again = applied_of(await w.send(midterm().model_copy(update={"event_id": uuid.uuid4()})))
    assert first == again
    assert len(changer.calls) == 1
    assert first.term == Term.P1Y
