"""Consumption domain: versioned facts never double count, rating is exact, budgets fire once."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.consumption.anomaly import AnomalyRule, is_anomaly
from hub.domain.consumption.budgets import Budget, newly_crossed
from hub.domain.consumption.facts import (
    Outcome,
    UsageFact,
    UsageStage,
    UsageVersion,
    apply_version,
    close_fact,
)
from hub.domain.consumption.rating import (
    ConsumptionPricing,
    RatingError,
    accrual_delta,
    cost_in,
    price_of,
    split_minor,
    to_minor,
)
from hub.domain.consumption.reconciliation import UsageDifference, compare

DAY = date(2026, 11, 3)
amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(10_000), places=6)
stages = st.sampled_from(list(UsageStage))


def version(stage: UsageStage, price: Decimal, revision: int = 0) -> UsageVersion:
    return UsageVersion(stage=stage, revision=revision, quantity=price, cost=price, price=price)


def fold(versions: list[UsageVersion], close_after: int | None = None) -> tuple[Decimal, Decimal]:
    """Accrued and adjusted totals after applying ``versions`` in order."""
    fact: UsageFact | None = None
    accrued = adjusted = Decimal(0)
    for i, v in enumerate(versions):
        change = apply_version(fact, "sub", "meter", DAY, v)
        fact = change.fact
        accrued += change.accrued_delta
        adjusted += change.adjustment
        if close_after is not None and i == close_after:
            fact = close_fact(fact)
    return accrued, adjusted


def newest(versions: list[UsageVersion]) -> UsageVersion:
    best = versions[0]
    for v in versions[1:]:
        if v.order > best.order:
            best = v
    return best


@given(st.lists(st.tuples(stages, st.integers(0, 3), amounts), min_size=1, max_size=12))
def test_versions_in_any_order_accrue_exactly_the_newest_figure(raw: list) -> None:
    versions = [version(s, p, r) for s, r, p in raw]
    accrued, adjusted = fold(versions)
    assert adjusted == 0
    assert accrued == newest(versions).price


@given(
    st.lists(st.tuples(stages, st.integers(0, 3), amounts), min_size=1, max_size=12),
    st.integers(0, 11),
)
def test_after_the_close_the_invoiced_and_adjusted_sum_to_the_newest_figure(
    raw: list, close_at: int
) -> None:
    versions = [version(s, p, r) for s, r, p in raw]
    close_at = min(close_at, len(versions) - 1)
    accrued, adjusted = fold(versions, close_after=close_at)
    # What was invoiced at the close plus every adjustment after it is the newest figure.
    assert accrued + adjusted == newest(versions).price
    assert accrued == newest(versions[: close_at + 1]).price


def test_estimate_then_final_then_late_correction_is_one_charge() -> None:
    fact = apply_version(None, "s", "m", DAY, version(UsageStage.ESTIMATE, Decimal("10"))).fact
    redelivered = apply_version(fact, "s", "m", DAY, version(UsageStage.ESTIMATE, Decimal("10")))
    assert redelivered.outcome is Outcome.STALE
    assert redelivered.accrued_delta == 0
    final = apply_version(fact, "s", "m", DAY, version(UsageStage.FINAL, Decimal("12")))
    assert final.outcome is Outcome.REPLACED
    assert final.accrued_delta == Decimal(2)
    late_estimate = apply_version(
        final.fact, "s", "m", DAY, version(UsageStage.ESTIMATE, Decimal(99), 5)
    )
    assert late_estimate.outcome is Outcome.STALE
    closed = close_fact(final.fact)
    correction = UsageVersion(
        stage=UsageStage.CORRECTION,
        quantity=Decimal(11),
        cost=Decimal(11),
        price=Decimal("11.5"),
        reason="meter reading corrected",
    )
    late = apply_version(closed, "s", "m", DAY, correction)
    assert late.outcome is Outcome.ADJUSTED
    assert late.accrued_delta == 0
    assert late.adjustment == Decimal("-0.5")
    assert late.fact.current.reason == "meter reading corrected"


def test_a_version_for_another_fact_is_refused() -> None:
    fact = apply_version(None, "s", "m", DAY, version(UsageStage.ESTIMATE, Decimal(1))).fact
    with pytest.raises(ValueError, match="version of"):
        apply_version(fact, "s", "other", DAY, version(UsageStage.FINAL, Decimal(1)))


@given(
    st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=8),
    st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=6),
    st.integers(-10_000, 100_000),
    st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_rating_is_exact_for_any_decimal_quantity(
    quantity: Decimal, unit: Decimal, bps: int, currency: str
) -> None:
    price = price_of(quantity * unit, bps)
    exact = Fraction(quantity) * Fraction(unit) * Fraction(10_000 + bps, 10_000)
    assert Fraction(price) == exact
    exp = {"EUR": 2, "JPY": 0, "KWD": 3}[currency]
    expected = (Decimal(exact.numerator) / Decimal(exact.denominator)).scaleb(exp)
    # The one rounding: half to even of the exact value, in the currency's minor units.
    assert to_minor(price, currency) == int(expected.quantize(Decimal(1), ROUND_HALF_EVEN))


def test_half_a_cent_rounds_to_even() -> None:
    assert to_minor(Decimal("0.125"), "EUR") == 12
    assert to_minor(Decimal("0.135"), "EUR") == 14
    assert to_minor(Decimal("0.5"), "JPY") == 0


@given(st.lists(st.decimals(min_value=Decimal(-50), max_value=Decimal(50), places=5), max_size=40))
def test_accrual_deltas_sum_to_the_rounded_total(moves: list[Decimal]) -> None:
    total = Decimal(0)
    emitted = 0
    for move in moves:
        emitted += accrual_delta(total, total + move, "EUR")
        total += move
    assert emitted == to_minor(total, "EUR")


@given(
    st.integers(-(10**9), 10**9),
    st.lists(
        st.decimals(min_value=Decimal(0), max_value=Decimal(10**5), places=4),
        min_size=1,
        max_size=30,
    ),
)
def test_split_is_within_one_minor_unit_and_sums_exactly(
    total: int, weights: list[Decimal]
) -> None:
    parts = split_minor(total, weights)
    assert sum(parts) == total
    whole = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        share = (
            Fraction(total) * Fraction(w) / Fraction(whole)
            if whole
            else Fraction(total, len(weights))
        )
        assert abs(Fraction(part) - share) < 1


def test_meter_category_markup_overrides_the_reseller_default() -> None:
    pricing = ConsumptionPricing(default_bps=1000, by_category={"Storage": -500})
    assert price_of(Decimal(100), pricing.bps_for("Storage")) == Decimal(95)
    assert price_of(Decimal(100), pricing.bps_for("Virtual Machines")) == Decimal(110)


def test_cost_is_taken_in_the_resellers_currency() -> None:
    args = {
        "pricing_currency": "USD",
        "pricing_total": Decimal("10"),
        "billing_currency": "EUR",
        "billing_total": Decimal("9.2"),
    }
    assert cost_in("EUR", **args) == Decimal("9.2")
    assert cost_in("USD", **args) == Decimal("10")
    assert cost_in("GBP", fx_rates={("EUR", "GBP"): Decimal("0.85")}, **args) == Decimal("7.820")
    with pytest.raises(RatingError, match="EUR to SEK"):
        cost_in("SEK", **args)


@settings(max_examples=200)
@given(
    st.lists(st.integers(-5_000, 20_000), min_size=1, max_size=30),
    st.integers(1, 100_000),
)
def test_budget_thresholds_fire_once_per_period(spends: list[int], budget_minor: int) -> None:
    budget = Budget(amount_minor=budget_minor, currency="EUR")
    fired: list[int] = []
    spent = 0
    for move in spends:
        spent = max(spent + move, 0)
        fired += newly_crossed(budget, spent, fired)
    assert len(fired) == len(set(fired))
    assert fired == sorted(fired)  # a lower threshold is never reached after a higher one
    peak = 0
    spent = 0
    for move in spends:
        spent = max(spent + move, 0)
        peak = max(peak, spent)
    assert set(fired) == {t for t in budget.thresholds if peak * 100 >= t * budget_minor}


def test_budget_at_exactly_eighty_percent_fires_eighty() -> None:
    budget = Budget(amount_minor=1000, currency="EUR")
    assert newly_crossed(budget, 799, []) == [50]
    assert newly_crossed(budget, 800, [50]) == [80]
    assert newly_crossed(budget, 5000, [50, 80]) == [100]
    assert newly_crossed(budget, 5000, [50, 80, 100]) == []


def test_a_spike_over_k_times_the_trailing_median_is_an_anomaly() -> None:
    rule = AnomalyRule(factor=Decimal(3), window=14, min_days=5)
    normal = [100, 110, 90, 105, 95]
    assert is_anomaly(301, normal, rule)
    assert not is_anomaly(300, normal, rule)
    assert not is_anomaly(10_000, normal[:4], rule)  # too little history to judge
    assert not is_anomaly(10_000, [0] * 10, rule)  # idle customer: nothing to compare with


def test_reconciliation_finds_each_difference() -> None:
    fact = apply_version(
        None,
        "s",
        "m",
        DAY,
        UsageVersion(
            stage=UsageStage.ESTIMATE,
            quantity=Decimal("2.5"),
            cost=Decimal("5.00"),
            price=Decimal(6),
        ),
    ).fact
    assert compare(fact, Decimal("2.5"), Decimal("5.004")) == []
    kinds = [f.kind for f in compare(fact, Decimal("2.6"), Decimal("5.20"))]
    assert kinds == [UsageDifference.QUANTITY, UsageDifference.COST]
    assert [f.kind for f in compare(None, Decimal(1), Decimal(1))] == [UsageDifference.NOT_RATED]
