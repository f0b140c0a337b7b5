"""Monthly price lists with effective dates, promotions, and the per-reseller renewal preview."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, Term
from hub.domain.price_lists import (
    Promotion,
    RenewingItem,
    check_price_list,
    discounted,
    preview,
    price_on,
)
from hub.domain.reference import PriceListEntry

ITEM = {"product_id": "P", "sku_id": "S", "availability_id": "A"}


def entry(cost, start, end=None, price=None, cycle=BillingCycle.MONTHLY):
    return PriceListEntry(
        **ITEM,
        term=Term.P1Y,
        billing_cycle=cycle,
        currency="EUR",
        unit_cost_minor=cost,
        unit_price_minor=price,
        effective_from=start,
        effective_to=end,
    )


def renewing(sid, on, qty=10, current=1100, cycle=BillingCycle.MONTHLY):
    return RenewingItem(
        subscription_id=sid,
        customer_id="c1",
        **ITEM,
        quantity=qty,
        term=Term.P1Y,
        billing_cycle=cycle,
        renews_on=on,
        current_unit_price_minor=current,
    )


def at(on, entries, promos=(), markup=1000):
    return price_on(
        entries,
        promos,
        **ITEM,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        on=on,
        markup_bps=markup,
    )


def test_next_months_list_applies_from_its_effective_date():
    lists = [entry(1000, date(2026, 1, 1)), entry(1200, date(2026, 2, 1))]
    assert at(date(2026, 1, 31), lists).unit_price_minor == 1100
    assert at(date(2026, 2, 1), lists).unit_price_minor == 1320


def test_the_best_running_promotion_discounts_cost_and_a_fixed_price():
    promos = [
        Promotion(
            promotion_id="A",
            **ITEM,
            term=Term.P1Y,
            billing_cycle=BillingCycle.MONTHLY,
            discount_bps=500,
            starts_on=date(2026, 1, 1),
            ends_on=date(2026, 1, 31),
        ),
        Promotion(
            promotion_id="B",
            **ITEM,
            term=Term.P1Y,
            billing_cycle=BillingCycle.MONTHLY,
            discount_bps=1000,
            starts_on=date(2026, 1, 15),
            ends_on=date(2026, 1, 31),
        ),
    ]
    p = at(date(2026, 1, 20), [entry(1000, date(2026, 1, 1))], promos)
    assert (p.unit_cost_minor, p.unit_price_minor, p.promotion_id) == (900, 990, "B")
    fixed = at(date(2026, 1, 20), [entry(1000, date(2026, 1, 1), price=2000)], promos)
    assert fixed.unit_price_minor == 1800
    assert at(date(2026, 2, 1), [entry(1000, date(2026, 1, 1))], promos).promotion_id is None


def test_a_list_with_overlapping_starts_or_backwards_dates_is_reported():
    problems = check_price_list(
        [
            entry(1, date(2026, 2, 1)),
            entry(2, date(2026, 2, 1)),
            entry(3, date(2026, 3, 1), date(2026, 2, 1)),
        ]
    )
    assert [p.index for p in problems] == [1, 2]


def test_the_preview_shows_each_renewal_at_the_new_price_and_the_totals():
    lists = [entry(1000, date(2026, 1, 1), date(2026, 1, 31)), entry(1200, date(2026, 2, 1))]
    p = preview(
        "r1",
        [renewing("s2", date(2026, 2, 20), qty=5), renewing("s1", date(2026, 2, 3))],
        entries=lists,
        currency="EUR",
        markup_bps=1000,
        month_start=date(2026, 2, 1),
    )
    assert [ln.subscription_id for ln in p.lines] == ["s1", "s2"]
    assert [ln.renewal_unit_price_minor for ln in p.lines] == [1320, 1320]
    # 220 more per seat per month: 10 + 5 seats, 12 monthly periods per term.
    assert p.exposure_change_minor == 220 * 15
    assert p.revenue_change_minor == 220 * 15 * 12
    assert p.unpriced == 0


def test_a_renewal_without_a_price_is_listed_and_counted_not_fatal():
    p = preview(
        "r1",
        [renewing("s1", date(2026, 2, 3))],
        entries=[entry(1, date(2026, 3, 1))],
        currency="EUR",
        markup_bps=0,
        month_start=date(2026, 2, 1),
    )
    assert p.unpriced == 1
    assert p.lines[0].renewal_unit_price_minor is None
    assert "no EUR price" in p.lines[0].note


@given(
    amount=st.integers(min_value=0, max_value=10**12),
    bps=st.integers(min_value=1, max_value=10_000),
)
def test_a_discount_never_raises_a_price_and_100_percent_is_free(amount, bps):
    d = discounted(amount, bps)
    assert 0 <= d <= amount
    assert discounted(amount, 10_000) == 0
