"""Property tests: proration, Microsoft's subtotal rounding, backoff, exact JSON decimals."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.backoff import RetryPolicy, backoff_delay
from hub.connectors.partner_center.errors import parse_retry_after
from hub.simulator.partner_center.billing import (
    add_months,
    calendar_days,
    line_subtotal,
    prorated_unit_price,
    remaining_days,
)

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)


@given(prices, st.integers(1, 366), st.integers(1, 300), st.data())
def test_refund_never_exceeds_the_charge_for_the_period(
    price: Decimal, period_days: int, seats: int, data: st.DataObject
) -> None:
    unused = data.draw(st.integers(0, period_days))
    charge = line_subtotal(prorated_unit_price(price, period_days, period_days), seats, "USD")
    refund = line_subtotal(prorated_unit_price(price, unused, period_days), -seats, "USD")

    assert charge == price * seats
    assert -refund <= charge
    assert refund <= 0
    if unused == period_days:
        assert -refund == charge


@given(prices, st.integers(1, 366), st.integers(-300, 300), st.data())
def test_subtotal_is_unit_price_rounded_down_to_cents_times_quantity(
    price: Decimal, period_days: int, quantity: int, data: st.DataObject
) -> None:
    days = data.draw(st.integers(0, period_days))
    effective = prorated_unit_price(price, days, period_days)
    subtotal = line_subtotal(effective, quantity, "USD")

    per_unit = subtotal / quantity if quantity else Decimal(0)
    assert subtotal == subtotal.quantize(Decimal("0.01"))
    if quantity:
        assert Decimal(0) <= effective - per_unit < Decimal("0.01")


@given(moments, st.integers(0, 40))
def test_remaining_plus_used_days_is_the_period(start: datetime, used: int) -> None:
    end = add_months(start, 1)
    now = start + timedelta(days=used)
    total = calendar_days(start, end)

    assert 28 <= total <= 31
    assert remaining_days(now, start, end) == max(0, total - min(used, total))


def test_add_months_clamps_to_the_last_day() -> None:
    assert add_months(datetime(2025, 1, 31, tzinfo=UTC), 1) == datetime(2025, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 15, tzinfo=UTC), 3) == datetime(2026, 2, 15, tzinfo=UTC)
    assert add_months(datetime(2025, 1, 15, tzinfo=UTC), -1) == datetime(2024, 12, 15, tzinfo=UTC)


@given(st.integers(1, 20), st.floats(0, 5), st.floats(0, 60), st.integers(0, 2**32))
def test_backoff_is_full_jitter_under_the_cap(
    attempt: int, base: float, cap: float, seed: int
) -> None:
    policy = RetryPolicy(backoff_base_s=base, backoff_cap_s=cap)
    delay = backoff_delay(attempt, policy, random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2 ** (attempt - 1))


@given(st.integers(1, 10), st.floats(0, 120), st.integers(0, 2**32))
def test_backoff_never_undercuts_retry_after(attempt: int, retry_after: float, seed: int) -> None:
    delay = backoff_delay(attempt, RetryPolicy(), random.Random(seed), retry_after)
    assert delay >= retry_after


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Mon, 10 Mar 2025 09:00:30 GMT", now=now) == 30
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
def test_decimals_cross_the_wire_exactly(amount: Decimal) -> None:
    text = wire_json.dumps({"UnitPrice": amount})
    assert wire_json.loads(text)["UnitPrice"] == amount
