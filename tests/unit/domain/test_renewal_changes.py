"""Scheduled next-term changes (Microsoft's rules) and mid-term changes with proration."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.reference import CatalogItem, PriceListEntry
from hub.domain.renewals import NextTerm
from hub.domain.renewals_midterm import (
    MidTermChange,
    MidTermRejected,
    MidTermRejectionCode,
    change_billing_frequency,
    coterm_first_charge,
    coterm_options,
    extend_term,
    upgrade,
)
from hub.domain.renewals_scheduled import (
    ScheduledChange,
    ScheduleRejected,
    ScheduleRejectionCode,
    deletion_reason,
    next_term_of,
    schedule,
)
from hub.domain.subscriptions import Subscription

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 1, tzinfo=UTC)
BASIC = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="AV1",
    name="Business Basic",
    service="m365",
    markets=("DE",),
    max_quantity=300,
)
STANDARD = CatalogItem(
    product_id="CFQ7TTC0LDPB",
    sku_id="0001",
    availability_id="AV2",
    name="Business Standard",
    service="m365",
    markets=("DE",),
)
AZURE = CatalogItem(
    product_id="DZH318Z0BQ3Q",
    sku_id="0001",
    availability_id="AV3",
    name="Other",
    service="defender",
    markets=("DE",),
)
CATALOGUE = {i.catalog_item_id: i for i in (BASIC, STANDARD, AZURE)}


def sub(
    status=SubscriptionStatus.ACTIVE,
    auto_renew=True,
    term=Term.P1Y,
    cycle=BillingCycle.ANNUAL,
    quantity=200,
    start=START,
):
    from hub.domain.proration import add_months

    months = {Term.P1M: 1, Term.P1Y: 12, Term.P3Y: 36}[term]
    return Subscription(
        subscription_id="s-1",
        order_id="o-1",
        reseller_id="r1",
        customer_id="c1",
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        quantity=quantity,
        term=term,
        billing_cycle=cycle,
        status=status,
        auto_renew=auto_renew,
        term_start=start,
        term_end=add_months(start, months),
        window_start=start,
    )


def entries():
    out = []
    for item in (BASIC, STANDARD, AZURE):
        for term, cycle in [
            (Term.P1Y, BillingCycle.ANNUAL),
            (Term.P1Y, BillingCycle.MONTHLY),
            (Term.P1M, BillingCycle.MONTHLY),
            (Term.P3Y, BillingCycle.ANNUAL),
        ]:
            out.append(
                PriceListEntry(
                    product_id=item.product_id,
                    sku_id=item.sku_id,
                    availability_id=item.availability_id,
                    term=term,
                    billing_cycle=cycle,
                    currency="EUR",
                    unit_cost_minor=1000,
                    effective_from=date(2024, 1, 1),
                )
            )
    return out


def do(change, s=None, at=datetime(2026, 2, 10, tzinfo=UTC)):
    return schedule(s or sub(), change, at, catalogue=CATALOGUE, entries=entries(), currency="EUR")


def test_a_seat_reduction_and_billing_cycle_change_for_the_next_term_are_accepted():
    result = do(ScheduledChange(quantity=101, billing_cycle=BillingCycle.MONTHLY))
    assert isinstance(result, NextTerm)
    assert (result.quantity, result.billing_cycle, result.term) == (
        101,
        BillingCycle.MONTHLY,
        Term.P1Y,
    )
    assert result.catalog_item_id == BASIC.catalog_item_id


def test_a_sku_change_within_the_family_is_accepted_and_outside_it_refused():
    up = do(ScheduledChange(product_id=STANDARD.product_id, sku_id="0001", availability_id="AV2"))
    assert isinstance(up, NextTerm)
    assert up.product_id == STANDARD.product_id
    other = do(ScheduledChange(product_id=AZURE.product_id, sku_id="0001", availability_id="AV3"))
    assert isinstance(other, ScheduleRejected)
    assert other.code is ScheduleRejectionCode.NOT_SAME_FAMILY


@pytest.mark.parametrize(
    ("change", "kw", "code"),
    [
        (
            ScheduledChange(quantity=100),
            {"auto_renew": False},
            ScheduleRejectionCode.AUTO_RENEW_OFF,
        ),
        (
            ScheduledChange(quantity=100),
            {"status": SubscriptionStatus.SUSPENDED},
            ScheduleRejectionCode.NOT_ACTIVE,
        ),
        (ScheduledChange(quantity=200), {}, ScheduleRejectionCode.NO_CHANGE),
        (ScheduledChange(quantity=301), {}, ScheduleRejectionCode.QUANTITY_OUT_OF_RANGE),
        (ScheduledChange(term=Term.P1M), {}, ScheduleRejectionCode.PLAN_NOT_ALLOWED),
        (ScheduledChange(product_id="X"), {}, ScheduleRejectionCode.UNKNOWN_ITEM),
        (
            ScheduledChange(product_id="X", sku_id="1", availability_id="2"),
            {},
            ScheduleRejectionCode.UNKNOWN_ITEM,
        ),
        (
            ScheduledChange(term=Term.P3Y, billing_cycle=BillingCycle.TRIENNIAL),
            {},
            ScheduleRejectionCode.NO_PRICE,
        ),
        (
            ScheduledChange(custom_term_end_date=date(2026, 2, 27)),
            {},
            ScheduleRejectionCode.BAD_END_DATE,
        ),
    ],
)
def test_scheduled_changes_microsoft_refuses_are_refused_with_a_reason(change, kw, code):
    result = do(change, sub(**kw))
    assert isinstance(result, ScheduleRejected), result
    assert result.code is code
    assert result.reason


def test_changes_are_accepted_until_the_renewal_starts_and_not_after():
    last = END - timedelta(microseconds=1)
    assert isinstance(do(ScheduledChange(quantity=100), at=last), NextTerm)
    late = do(ScheduledChange(quantity=100), at=END)
    assert isinstance(late, ScheduleRejected)
    assert late.code is ScheduleRejectionCode.TOO_LATE


def test_a_custom_term_end_inside_the_next_term_is_accepted():
    result = do(ScheduledChange(custom_term_end_date=date(2026, 12, 31)))
    assert isinstance(result, NextTerm)
    assert result.custom_term_end_date == date(2026, 12, 31)


def test_nothing_scheduled_renews_the_same_values():
    s = sub()
    n = next_term_of(s, None)
    assert (n.quantity, n.term, n.billing_cycle, n.catalog_item_id) == (
        200,
        Term.P1Y,
        BillingCycle.ANNUAL,
        BASIC.catalog_item_id,
    )


@pytest.mark.parametrize(
    "kind", ["change_quantity", "cancel", "change_billing_cycle", "change_term", "upgrade"]
)
def test_every_mid_term_change_deletes_scheduled_changes(kind):
    reason = deletion_reason(kind)
    assert reason is not None
    assert "deletes" in reason


def test_suspension_keeps_them_and_auto_renew_off_deletes_them():
    assert deletion_reason("suspend") is None
    assert deletion_reason("set_auto_renew", auto_renew=True) is None
    assert deletion_reason("set_auto_renew", auto_renew=False) is not None


# --- mid-term changes ---------------------------------------------------------------------


def ok(result) -> MidTermChange:
    assert isinstance(result, MidTermChange), result
    return result


def test_annual_to_monthly_credits_the_unused_days_and_restarts_the_term_at_todays_price():
    # Annual P1Y from 1 March 2025 at 120.00/seat/year, 10 seats; change on 1 Sept 2025.
    s = sub(quantity=10)
    at = datetime(2025, 9, 1, 10, tzinfo=UTC)
    c = ok(
        change_billing_frequency(
            s,
            at,
            BillingCycle.MONTHLY,
            old_unit_price_minor=12_000,
            new_unit_price_minor=1_050,
            promotion_id="PROMO1",
        )
    )
    credit, charge = c.lines
    # The year 2025-03-01..2026-02-28 has 365 days; 181 remain from 1 Sept (both ends).
    assert credit.amount_minor == -round(120_000 * 181 / 365)
    assert (credit.charge_start, credit.charge_end) == (date(2025, 9, 1), date(2026, 2, 28))
    assert charge.amount_minor == 10_500
    assert (charge.charge_start, charge.charge_end) == (date(2025, 9, 1), date(2025, 9, 30))
    assert c.subscription.term_start == datetime(2025, 9, 1, tzinfo=UTC)
    assert c.subscription.term_end == datetime(2026, 9, 1, tzinfo=UTC)
    assert c.subscription.billing_cycle is BillingCycle.MONTHLY
    assert c.promotion_removed == "PROMO1"
    assert c.price_reset
    assert {ln.charge_type for ln in c.lines} == {ChargeType.CHANGE_BILLING_PLAN}


def test_a_triennial_term_cannot_change_billing_frequency_mid_term():
    s = sub(term=Term.P3Y, cycle=BillingCycle.ANNUAL)
    r = change_billing_frequency(
        s,
        datetime(2025, 6, 1, tzinfo=UTC),
        BillingCycle.MONTHLY,
        old_unit_price_minor=1,
        new_unit_price_minor=1,
    )
    assert isinstance(r, MidTermRejected)
    assert r.code is MidTermRejectionCode.TRIENNIAL_FREQUENCY


def test_a_term_only_grows_mid_term():
    s = sub(term=Term.P1Y)
    r = extend_term(
        s,
        datetime(2025, 6, 1, tzinfo=UTC),
        Term.P1M,
        BillingCycle.MONTHLY,
        old_unit_price_minor=1,
        new_unit_price_minor=1,
    )
    assert isinstance(r, MidTermRejected)
    assert r.code is MidTermRejectionCode.SHORTER_TERM
    c = ok(
        extend_term(
            s,
            datetime(2025, 6, 1, tzinfo=UTC),
            Term.P3Y,
            BillingCycle.ANNUAL,
            old_unit_price_minor=12_000,
            new_unit_price_minor=11_000,
        )
    )
    assert c.subscription.term_end == datetime(2028, 6, 1, tzinfo=UTC)
    assert c.lines[1].amount_minor == 11_000 * 200
    assert c.lines[0].charge_type is ChargeType.EXTEND_TERM


def test_an_upgrade_keeps_the_term_end_and_bills_the_difference_for_the_days_left():
    s = sub(quantity=10, cycle=BillingCycle.MONTHLY)
    at = datetime(2025, 3, 11, tzinfo=UTC)  # period 1..31 March: 21 days left of 31
    c = ok(
        upgrade(
            s,
            at,
            current=BASIC,
            target=STANDARD,
            old_unit_price_minor=600,
            new_unit_price_minor=1_250,
        )
    )
    credit, charge = c.lines
    assert credit.amount_minor == -round(6_000 * 21 / 31)
    assert charge.amount_minor == round(12_500 * 21 / 31)
    assert c.subscription.term_end == s.term_end
    assert c.subscription.product_id == STANDARD.product_id


def test_a_downgrade_or_another_family_is_not_an_upgrade():
    s = sub()
    at = datetime(2025, 4, 1, tzinfo=UTC)
    down = upgrade(
        s, at, current=BASIC, target=STANDARD, old_unit_price_minor=900, new_unit_price_minor=800
    )
    assert isinstance(down, MidTermRejected)
    assert down.code is MidTermRejectionCode.NOT_AN_UPGRADE
    other = upgrade(
        s, at, current=BASIC, target=AZURE, old_unit_price_minor=1, new_unit_price_minor=2
    )
    assert isinstance(other, MidTermRejected)
    assert other.code is MidTermRejectionCode.NOT_SAME_FAMILY


@given(
    day=st.integers(min_value=0, max_value=363),
    qty=st.integers(min_value=1, max_value=300),
    price=st.integers(min_value=0, max_value=10**7),
)
def test_the_credit_never_exceeds_what_the_period_cost_and_shrinks_as_days_pass(day, qty, price):
    s = sub(quantity=qty)
    at = START + timedelta(days=day)
    c = ok(
        change_billing_frequency(
            s, at, BillingCycle.MONTHLY, old_unit_price_minor=price, new_unit_price_minor=price
        )
    )
    later = ok(
        change_billing_frequency(
            s,
            at + timedelta(days=1),
            BillingCycle.MONTHLY,
            old_unit_price_minor=price,
            new_unit_price_minor=price,
        )
    )
    assert -price * qty <= c.lines[0].amount_minor <= 0
    assert later.lines[0].amount_minor >= c.lines[0].amount_minor


def test_coterm_options_are_existing_end_dates_in_the_term_a_month_end_and_the_natural_end():
    opts = coterm_options(
        date(2025, 3, 15), Term.P1Y, [date(2025, 10, 31), date(2027, 1, 1), date(2025, 3, 1)]
    )
    assert opts == (date(2025, 10, 31), date(2026, 2, 28), date(2026, 3, 14))


def test_coterm_first_charge_is_the_term_price_prorated_by_days():
    # 1 Jan 2025 .. 31 Dec 2025 natural (365 days); ending 30 June = 181 days.
    assert coterm_first_charge(36_500, date(2025, 1, 1), Term.P1Y, date(2025, 6, 30)) == 18_100
    assert coterm_first_charge(36_500, date(2025, 1, 1), Term.P1Y, date(2025, 12, 31)) == 36_500
    with pytest.raises(ValueError, match="outside"):
        coterm_first_charge(1, date(2025, 1, 1), Term.P1Y, date(2026, 1, 1))


@given(
    start=st.dates(min_value=date(2001, 1, 1), max_value=date(2090, 1, 1)),
    length=st.integers(min_value=0, max_value=364),
    price=st.integers(min_value=0, max_value=10**9),
)
def test_a_coterm_charge_grows_with_the_days_and_never_exceeds_the_term(start, length, price):
    natural_len = coterm_options(start, Term.P1Y, [])[-1]
    end = min(start + timedelta(days=length), natural_len)
    charge = coterm_first_charge(price, start, Term.P1Y, end)
    assert 0 <= charge <= price
    if end > start:
        assert coterm_first_charge(price, start, Term.P1Y, end - timedelta(days=1)) <= charge
