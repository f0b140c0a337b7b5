"""Service-credit allocation: exact sums, caps, ties, suites, currencies and SLA tiers."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.allocation import (
    AffectedSubscription,
    RemainderReason,
    allocate_credit,
    allocate_percentage,
    allocate_tier_credit,
    credit_from_tier,
    tier_percentage,
)
from hub.domain.money import exponent
from hub.errors import ValidationFailed


def sub(
    sid: str,
    fee: int,
    days: int = 30,
    dim: int = 30,
    *,
    currency: str = "EUR",
    rate: Decimal = Decimal(1),
    service: str = "exchange",
    service_fees: tuple[tuple[str, int], ...] = (),
) -> AffectedSubscription:
    return AffectedSubscription(
        subscription_id=sid,
        customer_id=f"c-{sid}",
        reseller_id="r1",
        service=service,
        currency=currency,
        monthly_fee_minor=fee,
        affected_days=days,
        days_in_month=dim,
        rate_to_distributor=rate,
        service_fees=service_fees,
    )


def amounts(result: object) -> dict[str, int]:
    return {a.subscription_id: a.amount_minor for a in result.allocations}  # type: ignore[attr-defined]


def test_split_is_pro_rata_to_fee_and_sums_exactly() -> None:
    result = allocate_credit(1000, "EUR", [sub("a", 1000), sub("b", 3000)])
    assert amounts(result) == {"a": 250, "b": 750}
    assert result.remainder_minor == 0
    assert result.remainder_reason is RemainderReason.NONE


def test_affected_days_weigh_the_split() -> None:
    # Same fee, one hit for 10 days, the other for 30: a 1:3 split.
    result = allocate_credit(400, "EUR", [sub("a", 3000, days=10), sub("b", 3000, days=30)])
    assert amounts(result) == {"a": 100, "b": 300}


def test_ties_go_to_the_lower_subscription_id() -> None:
    result = allocate_credit(2, "EUR", [sub("c", 100), sub("a", 100), sub("b", 100)])
    assert amounts(result) == {"a": 1, "b": 1}
    assert sum(amounts(result).values()) == 2


def test_cap_excess_is_redistributed_then_reported() -> None:
    # "a" would get 2/3 of 900 = 600 but its fee is 100: it caps, the rest goes to "b".
    result = allocate_credit(900, "EUR", [sub("a", 100, days=30), sub("b", 1000, days=1)])
    assert amounts(result) == {"a": 100, "b": 800}
    assert result.remainder_minor == 0
    over = allocate_credit(5000, "EUR", [sub("a", 100), sub("b", 1000)])
    assert amounts(over) == {"a": 100, "b": 1000}
    assert over.remainder_minor == 3900
    assert over.remainder_reason is RemainderReason.CAPS_REACHED


def test_nobody_eligible_leaves_everything_as_remainder() -> None:
    result = allocate_credit(700, "EUR", [sub("a", 100, service="teams")], service="exchange")
    assert result.allocations == ()
    assert result.remainder_minor == 700
    assert result.remainder_reason is RemainderReason.NO_ELIGIBLE_FEES


def test_suite_is_split_per_service() -> None:
    suite = sub("s", 3000, service="m365-e3", service_fees=(("exchange", 1000), ("teams", 2000)))
    plain = sub("x", 1000, service="exchange")
    result = allocate_credit(1000, "EUR", [suite, plain], service="exchange")
    # Only the suite's Exchange share (1000) weighs and caps, equal to the plain Exchange sub.
    assert amounts(result) == {"s": 500, "x": 500}
    assert all(a.service == "exchange" for a in result.allocations)
    capped = allocate_credit(5000, "EUR", [suite], service="exchange")
    assert amounts(capped) == {"s": 1000}
    assert capped.remainder_minor == 4000


def test_customer_billed_in_another_currency_gets_converted_amount() -> None:
    # Distributor EUR; the GBP customer's fee 10.00 GBP is 11.70 EUR at 1.17 EUR per GBP.
    gbp = sub("g", 1000, currency="GBP", rate=Decimal("1.17"))
    eur = sub("e", 1170)
    result = allocate_credit(1001, "EUR", [gbp, eur])
    by_id = {a.subscription_id: a for a in result.allocations}
    assert by_id["e"].amount_minor + by_id["g"].amount_minor == 1001
    g = by_id["g"]
    assert g.amount_minor == 500  # tie 500.5/500.5 goes to "e" (lower id)
    assert g.customer_currency == "GBP"
    assert g.customer_amount_minor == 427  # 5.00 EUR / 1.17 = 4.2735 GBP -> 4.27
    assert g.fx_difference_minor() == Decimal("500") - Decimal("427") * Decimal("1.17")
    assert result.fx_difference_minor() == g.fx_difference_minor()


def test_zero_exponent_currency_converts_exactly() -> None:
    jpy = sub("j", 16000, currency="JPY", rate=Decimal("0.0062"))  # 99.20 EUR of fee
    result = allocate_credit(9920, "EUR", [jpy])
    (only,) = result.allocations
    assert only.amount_minor == 9920
    assert only.customer_amount_minor == 16000
    assert only.fx_difference_minor() == 0


def test_converted_amount_never_exceeds_the_fee() -> None:
    gbp = sub("g", 999, currency="GBP", rate=Decimal("1.1749"))
    result = allocate_credit(10**6, "EUR", [gbp])
    (only,) = result.allocations
    assert only.customer_amount_minor <= 999
    assert only.amount_minor == 1173  # floor(9.99 * 1.1749 EUR)


def test_same_currency_with_a_rate_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        allocate_credit(1, "EUR", [sub("a", 10, rate=Decimal(2))])


def test_duplicate_subscription_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        allocate_credit(1, "EUR", [sub("a", 10), sub("a", 20)])


@pytest.mark.parametrize(
    ("uptime", "pct"),
    [
        ("99.95", 0),
        ("99.9", 0),
        ("99.89", 25),
        ("99", 25),
        ("98.99", 50),
        ("95", 50),
        ("94.99", 100),
        ("0", 100),
    ],
)
def test_microsoft_365_tiers(uptime: str, pct: int) -> None:
    assert tier_percentage("exchange", Decimal(uptime)) == pct


def test_tier_credit_of_a_fee() -> None:
    assert credit_from_tier("teams", Decimal("99.5"), 1999) == 499  # 25%, rounded down
    assert credit_from_tier("teams", Decimal("98"), 2000) == 1000
    assert credit_from_tier("teams", Decimal("90"), 2000) == 2000


def test_unknown_service_has_no_tiers() -> None:
    with pytest.raises(ValidationFailed):
        tier_percentage("quantum", Decimal(90))


def test_tier_allocation_gives_each_its_share_of_its_fee() -> None:
    affected = [sub("a", 1000, days=2), sub("b", 3000, days=30)]
    result = allocate_tier_credit("exchange", Decimal("98.5"), "EUR", affected)
    assert amounts(result) == {"a": 500, "b": 1500}  # 50%, regardless of days
    assert result.remainder_minor == 0


subs_strategy = st.lists(
    st.builds(
        lambda fee, dim, frac, cur: sub(
            "",
            fee,
            days=min(dim, frac),
            dim=dim,
            currency=cur[0],
            rate=cur[1],
        ),
        st.integers(0, 10**6),
        st.integers(28, 31),
        st.integers(0, 31),
        st.sampled_from(
            [("EUR", Decimal(1)), ("GBP", Decimal("1.17")), ("JPY", Decimal("0.0062"))]
        ),
    ),
    max_size=30,
)


def _named(items: list[AffectedSubscription]) -> list[AffectedSubscription]:
    return [
        AffectedSubscription(
            f"s{i:03d}",
            s.customer_id,
            s.reseller_id,
            s.service,
            s.currency,
            s.monthly_fee_minor,
            s.affected_days,
            s.days_in_month,
            s.rate_to_distributor,
        )
        for i, s in enumerate(items)
    ]


@settings(max_examples=300)
@given(subs_strategy, st.integers(0, 10**8), st.randoms(use_true_random=False))
def test_allocation_properties(
    raw: list[AffectedSubscription], approved: int, rnd: random.Random
) -> None:
    affected = _named(raw)
    result = allocate_credit(approved, "EUR", affected)
    caps = {
        s.subscription_id: s.monthly_fee_minor
        * s.rate_to_distributor.as_integer_ratio()[0]
        * 100
        // (s.rate_to_distributor.as_integer_ratio()[1] * 10 ** (0 if s.currency == "JPY" else 2))
        for s in affected
    }
    fees = {s.subscription_id: s.monthly_fee_minor for s in affected}
    assert result.allocated_minor + result.remainder_minor == approved
    assert result.remainder_minor >= 0
    for a in result.allocations:
        assert a.amount_minor > 0
        assert a.amount_minor <= caps[a.subscription_id]
        assert 0 <= a.customer_amount_minor <= fees[a.subscription_id]
    # Remainder only when every eligible subscription is at its cap.
    if result.remainder_minor:
        got = amounts(result)
        eligible = [s for s in affected if s.affected_days and caps[s.subscription_id]]
        assert all(got.get(s.subscription_id) == caps[s.subscription_id] for s in eligible)
    shuffled = list(affected)
    rnd.shuffle(shuffled)
    again = allocate_credit(approved, "EUR", shuffled)
    assert sorted(again.allocations) == sorted(result.allocations)
    assert again.remainder_minor == result.remainder_minor


@settings(max_examples=200)
@given(st.lists(st.integers(1, 10**5), min_size=1, max_size=20), st.integers(0, 10**6))
def test_each_part_is_within_one_unit_of_its_exact_share_when_uncapped(
    fees: list[int], approved: int
) -> None:
    affected = [sub(f"s{i:02d}", fee) for i, fee in enumerate(fees)]
    total = sum(fees)
    if approved > total:
        approved = total
    result = allocate_credit(approved, "EUR", affected)
    got = amounts(result)
    for s in affected:
        exact = Decimal(approved * s.monthly_fee_minor) / Decimal(total)
        assert abs(got.get(s.subscription_id, 0) - exact) < 1


def test_a_hundred_thousand_subscriptions_allocate_the_whole_credit_exactly() -> None:
    """Exact at scale; how fast is measured in bench/credits.py, never asserted here."""
    rnd = random.Random(7)
    affected = [
        AffectedSubscription(
            f"sub-{i:07d}",
            f"c{i}",
            f"r{i % 50}",
            "exchange",
            "GBP" if i % 10 == 0 else "EUR",
            rnd.randint(100, 500_000),
            rnd.randint(1, 30),
            30,
            Decimal("1.17") if i % 10 == 0 else Decimal(1),
        )
        for i in range(100_000)
    ]
    result = allocate_credit(987_654_321, "EUR", affected)
    assert result.allocated_minor + result.remainder_minor == 987_654_321
    assert sum(a.amount_minor for a in result.allocations) == result.allocated_minor


def test_stated_rate_rounds_a_half_pence_up_where_its_rounded_inverse_would_not() -> None:
    # 0.10 EUR at 0.85 GBP/EUR is exactly 8.5 pence: half up gives 9. The inverse of 0.85 as a
    # 28-digit decimal (1.1764...824) is a hair too big and would give 8.
    stated = AffectedSubscription(
        "s-gbp",
        "c",
        "r",
        "exchange",
        "GBP",
        5000,
        1,
        31,
        Decimal(1) / Decimal("0.85"),
        (),
        Decimal("0.85"),
    )
    (alloc,) = allocate_credit(10, "EUR", [stated]).allocations
    assert (alloc.amount_minor, alloc.customer_amount_minor) == (10, 9)
    assert alloc.fx_rate == Decimal("0.85")
    # 10 cents became 9 pence = 10.588... cents: the rounding gave the customer 0.588 cents.
    assert alloc.fx_difference_minor().quantize(Decimal("0.0001")) == Decimal("-0.5882")
    inverse_only = stated._replace(fx_rate=None)
    (rounded,) = allocate_credit(10, "EUR", [inverse_only]).allocations
    assert rounded.customer_amount_minor == 8


def test_stated_rate_must_be_positive() -> None:
    bad = AffectedSubscription(
        "s", "c", "r", "exchange", "GBP", 5000, 1, 31, Decimal(1), (), Decimal("-0.85")
    )
    with pytest.raises(ValidationFailed):
        allocate_credit(10, "EUR", [bad])


_RATES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)


@settings(max_examples=150, deadline=None)
@given(
    approved=st.integers(min_value=0, max_value=10**7),
    gbp=_RATES,
    jpy=_RATES,
    fees=st.lists(st.integers(min_value=1, max_value=10**6), min_size=3, max_size=12),
)
def test_stated_rates_sum_exactly_and_convert_each_share_half_up(
    approved: int, gbp: Decimal, jpy: Decimal, fees: list[int]
) -> None:
    currencies = [("EUR", None), ("GBP", gbp), ("JPY", jpy)]
    affected = [
        sub(f"s{i:02d}", fee, 3, 30, currency=currencies[i % 3][0])._replace(
            fx_rate=currencies[i % 3][1]
        )
        for i, fee in enumerate(fees)
    ]
    result = allocate_credit(approved, "EUR", affected)
    assert result.allocated_minor + result.remainder_minor == approved
    shift = {"EUR": 0, "GBP": 0, "JPY": -2}
    for a in result.allocations:
        rate = a.fx_rate if a.fx_rate is not None else Decimal(1)
        exact = (Decimal(a.amount_minor) * rate).scaleb(shift[a.customer_currency])
        assert a.customer_amount_minor == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    flipped = allocate_credit(approved, "EUR", list(reversed(affected)))
    assert amounts(flipped) == amounts(result)


def test_percentage_credit_does_not_hand_converted_rounding_losses_to_others() -> None:
    # One EUR subscription of fee 1,000,000 and 200 GBP subscriptions of fee 999 at 1.1799:
    # at 25% the EUR one is owed exactly 250,000.
    affected = [sub("eur", 1_000_000)] + [
        sub(f"gbp-{i:03d}", 999, currency="GBP", rate=Decimal("1.1799")) for i in range(200)
    ]
    result = allocate_percentage(25, "EUR", affected, service="exchange")
    assert amounts(result)["eur"] == 250_000
    for a in result.allocations[1:]:
        assert abs(Decimal(a.amount_minor) - Decimal(999) * Decimal("1.1799") / 4) <= 1


_RATES = st.sampled_from(
    [
        ("EUR", Decimal(1)),
        ("GBP", Decimal("1.1799")),
        ("GBP", Decimal("1.17")),
        ("USD", Decimal("0.9259")),
        ("JPY", Decimal("0.0062")),
        ("KWD", Decimal("2.98")),
    ]
)


@given(
    st.lists(st.tuples(st.integers(1, 10**7), _RATES), min_size=1, max_size=40),
    st.integers(1, 100),
    st.sampled_from(["EUR", "USD"]),
)
def test_percentage_parts_are_each_within_one_minor_unit_of_their_exact_share(
    rows: list[tuple[int, tuple[str, Decimal]]], percentage: int, distributor: str
) -> None:
    """For any mix of currencies and rates, each part is its exact share to one minor unit,
    and parts plus remainder are exactly the total."""
    affected = [
        sub(
            f"s{i:03d}",
            fee,
            currency=cur,
            rate=Decimal(1) if cur == distributor else rate,
        )
        for i, (fee, (cur, rate)) in enumerate(rows)
    ]
    result = allocate_percentage(percentage, distributor, affected, service="exchange")
    got = amounts(result)
    assert result.allocated_minor + result.remainder_minor == result.approved_minor
    shift = exponent(distributor)
    for s in affected:
        exact = (
            Fraction(s.monthly_fee_minor)
            * Fraction(s.rate_to_distributor)
            * Fraction(10) ** (shift - exponent(s.currency))
            * Fraction(percentage, 100)
        )
        assert abs(got.get(s.subscription_id, 0) - exact) <= 1


@given(
    st.lists(
        st.tuples(
            st.integers(1, 10**7),
            st.sampled_from([("GBP", "0.85"), ("JPY", "162.5"), ("USD", "1.08"), ("EUR", "1")]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 100),
)
def test_percentage_parts_with_rates_stated_as_the_approval_states_them_are_exact_to_one_unit(
    rows: list[tuple[int, tuple[str, str]]], percentage: int
) -> None:
    """Rates as ``hub credits approve --fx GBP=0.85`` states them (customer currency per euro):
    each part is within one minor unit of fee / rate x percentage."""
    affected = [
        sub(f"s{i:03d}", fee, currency=cur)._replace(
            fx_rate=None if cur == "EUR" else Decimal(rate)
        )
        for i, (fee, (cur, rate)) in enumerate(rows)
    ]
    result = allocate_percentage(percentage, "EUR", affected, service="exchange")
    got = amounts(result)
    assert result.allocated_minor + result.remainder_minor == result.approved_minor
    for s in affected:
        rate = Fraction(s.fx_rate) if s.fx_rate is not None else Fraction(1)
        exact = (
            Fraction(s.monthly_fee_minor)
            / rate
            * Fraction(10) ** (exponent("EUR") - exponent(s.currency))
            * Fraction(percentage, 100)
        )
        assert abs(got.get(s.subscription_id, 0) - exact) <= 1
