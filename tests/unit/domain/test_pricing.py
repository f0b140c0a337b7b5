"""Reseller pricing: markup rounding, fixed list prices, effective dates, price protection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, Term
from hub.domain.pricing import markup_price, price_entry_on, protected_unit_price, unit_price
from hub.domain.reference import PriceListEntry
from hub.errors import BusinessRuleViolation, ValidationFailed


def entry(
    cost: int, start: date, end: date | None = None, price: int | None = None
) -> PriceListEntry:
    return PriceListEntry(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="AV1",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        unit_cost_minor=cost,
        unit_price_minor=price,
        effective_from=start,
        effective_to=end,
    )


KEY = {
    "product_id": "CFQ7TTC0LH18",
    "sku_id": "0001",
    "availability_id": "AV1",
    "term": Term.P1Y,
    "billing_cycle": BillingCycle.MONTHLY,
    "currency": "EUR",
}


def test_markup_is_basis_points_on_cost_rounded_half_up() -> None:
    assert markup_price(1000, 1500) == 1150
    assert markup_price(1230, 1250) == 1384  # 1383.75 -> 1384
    assert markup_price(10, 500) == 11  # 10.5 ties up
    assert markup_price(1000, 0) == 1000
    assert markup_price(1000, -500) == 950


def test_markup_below_minus_hundred_percent_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        markup_price(1000, -10_001)


@given(st.integers(0, 10**9), st.integers(-10_000, 100_000))
def test_markup_is_within_half_a_unit_of_exact(cost: int, bps: int) -> None:
    exact = Decimal(cost) * (10_000 + bps) / 10_000
    assert abs(markup_price(cost, bps) - exact) <= Decimal("0.5")


def test_fixed_list_price_overrides_markup() -> None:
    assert unit_price(entry(1000, date(2026, 1, 1), price=1299), 5000).unit_price_minor == 1299
    assert unit_price(entry(1000, date(2026, 1, 1)), 5000).unit_price_minor == 1500


def test_newest_entry_in_force_wins_and_end_date_is_inclusive() -> None:
    entries = [
        entry(1000, date(2026, 1, 1), date(2026, 6, 30)),
        entry(1100, date(2026, 7, 1)),
    ]
    assert price_entry_on(entries, **KEY, on=date(2026, 6, 30)).unit_cost_minor == 1000
    assert price_entry_on(entries, **KEY, on=date(2026, 7, 1)).unit_cost_minor == 1100


def test_no_entry_in_force_is_a_business_error() -> None:
    with pytest.raises(BusinessRuleViolation, match="NoPrice"):
        price_entry_on([entry(1000, date(2026, 1, 1))], **KEY, on=date(2025, 12, 31))
    with pytest.raises(BusinessRuleViolation):
        price_entry_on(
            [entry(1000, date(2026, 1, 1))], **{**KEY, "currency": "USD"}, on=date(2026, 2, 1)
        )


def test_price_protection_holds_the_term_start_price_until_renewal() -> None:
    entries = [entry(1000, date(2026, 1, 1)), entry(1200, date(2026, 4, 1))]
    held = protected_unit_price(entries, **KEY, term_start=date(2026, 2, 15), markup_bps=1000)
    assert (held.unit_cost_minor, held.unit_price_minor) == (1000, 1100)
    renewed = protected_unit_price(entries, **KEY, term_start=date(2027, 2, 15), markup_bps=1000)
    assert (renewed.unit_cost_minor, renewed.unit_price_minor) == (1200, 1320)
