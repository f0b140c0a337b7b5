"""Billing rates a mid-term change as the rules say: the rest of the period credited at the old
price and the new charge at the new one, then bills later cycles on the new plan."""

from __future__ import annotations

from datetime import UTC, date, datetime

from test_billing_ledger import TOPICS, env, feed, ledger, of, provisioned

from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.reference import CatalogItem
from hub.domain.renewals_midterm import MidTermChange, change_billing_frequency, upgrade
from hub.domain.subscriptions import Subscription
from hub.schemas.events import billing as b
from hub.schemas.events.renewals import MidTermChangeApplied, MidTermChargeLine
from hub.topics import Topic

START = datetime(2025, 11, 15, tzinfo=UTC)
AT = datetime(2026, 1, 20, 9, 30, tzinfo=UTC)
BASIC = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Basic",
    service="m365",
    markets=("DE",),
)
STANDARD = CatalogItem(
    product_id="CFQ7TTC0LDPB",
    sku_id="0001",
    availability_id="CFQ7TTC0K5BB",
    name="Standard",
    service="m365",
    markets=("DE",),
)


def subscription() -> Subscription:
    """The renewals flow's view of test_billing_ledger's ``provisioned("s0", ...)``."""
    return Subscription(
        subscription_id="s0",
        order_id="o-s0",
        reseller_id="contoso",
        customer_id="cust-de",
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        quantity=10,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        status=SubscriptionStatus.ACTIVE,
        auto_renew=True,
        term_start=START,
        term_end=START.replace(year=2026),
        window_start=START,
    )


def applied(kind: str, change: MidTermChange, cost: int) -> MidTermChangeApplied:
    new = change.subscription
    return MidTermChangeApplied(
        **env(f"mid-{kind}", "contoso", AT),
        change_id=f"mid-{kind}",
        customer_id="cust-de",
        subscription_id="s0",
        kind=kind,
        product_id=new.product_id,
        sku_id=new.sku_id,
        availability_id=new.availability_id,
        quantity=new.quantity,
        term=new.term,
        billing_cycle=new.billing_cycle,
        term_start=new.term_start,
        term_end=new.term_end,
        currency="EUR",
        unit_price_minor=change.unit_price_minor,
        unit_cost_minor=cost,
        price_reset=True,
        lines=tuple(
            MidTermChargeLine(
                charge_type=ln.charge_type.value,
                catalog_item_id=ln.catalog_item_id,
                quantity=ln.quantity,
                unit_price_minor=ln.unit_price_minor,
                charge_start=ln.charge_start,
                charge_end=ln.charge_end,
                amount_minor=ln.amount_minor,
            )
            for ln in change.lines
        ),
    )


def charges(emits: list, ct: ChargeType) -> list[b.ChargeRated]:
    return [c for c in of(emits, TOPICS.name(Topic.CHARGES), b.ChargeRated) if c.charge_type is ct]


async def test_monthly_to_annual_credits_the_rest_of_the_month_and_charges_the_new_year() -> None:
    ldg = ledger()
    await feed(ldg, [provisioned("s0", "contoso", "cust-de", start=START.date())])
    rules = change_billing_frequency(
        subscription(),
        AT,
        BillingCycle.ANNUAL,
        old_unit_price_minor=700,
        new_unit_price_minor=8_400,
    )
    assert isinstance(rules, MidTermChange)
    event = applied("billing_frequency", rules, cost=7_200)

    emits = await feed(ldg, [event])

    lines = charges(emits, ChargeType.CHANGE_BILLING_PLAN)
    assert sorted(c.price_minor for c in lines) == sorted(ln.amount_minor for ln in rules.lines)
    credit = min(lines, key=lambda c: c.price_minor)
    assert (credit.period_start, credit.period_end) == (date(2026, 1, 20), date(2026, 2, 14))
    new = max(lines, key=lambda c: c.price_minor)
    assert new.price_minor == 8_400 * 10
    assert (new.period_start, new.period_end) == (date(2026, 1, 20), date(2027, 1, 19))
    assert new.cost_minor == 7_200 * 10
    record = ldg.tables.subscriptions.get("s0")
    assert record is not None
    assert (record["billing_cycle"], record["term_start"]) == ("annual", "2026-01-20")

    # Sent again: the same lines, booked once.
    unbilled = len(list(ldg.tables.unbilled.keys()))
    again = await feed(ldg, [event])
    assert {c.event_id for c in charges(again, ChargeType.CHANGE_BILLING_PLAN)} == {
        c.event_id for c in lines
    }
    assert len(list(ldg.tables.unbilled.keys())) == unbilled


async def test_an_upgrade_credits_the_old_sku_and_charges_the_new_for_the_rest_of_the_period() -> (
    None
):
    ldg = ledger()
    await feed(ldg, [provisioned("s0", "contoso", "cust-de", start=START.date())])
    rules = upgrade(
        subscription(),
        AT,
        current=BASIC,
        target=STANDARD,
        old_unit_price_minor=700,
        new_unit_price_minor=1_500,
    )
    assert isinstance(rules, MidTermChange)

    emits = await feed(ldg, [applied("upgrade", rules, cost=1_250)])

    lines = charges(emits, ChargeType.CONVERT)
    assert sorted(c.price_minor for c in lines) == sorted(ln.amount_minor for ln in rules.lines)
    assert {c.product_id for c in lines} == {BASIC.product_id, STANDARD.product_id}
    assert {(c.period_start, c.period_end) for c in lines} == {
        (date(2026, 1, 20), date(2026, 2, 14))
    }
    record = ldg.tables.subscriptions.get("s0")
    assert record is not None
    assert (record["product_id"], record["unit_price_minor"]) == (STANDARD.product_id, 1_500)
    assert record["term_end"] == "2026-11-15"
