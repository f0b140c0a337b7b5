"""Allocating an approval as stated: fixed amount, tier percentage, per-customer amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.allocation import (
    AffectedSubscription,
    RemainderReason,
    allocate_approved,
    allocate_percentage,
)
from hub.errors import ValidationFailed


def sub(sid: str, fee: int, customer: str = "c1", days: int = 31) -> AffectedSubscription:
    return AffectedSubscription(sid, customer, "r1", "exchange", "EUR", fee, days, 31, Decimal(1))


@pytest.mark.parametrize("pct", [25, 50, 100])
def test_percentage_credits_that_share_of_every_fee(pct: int) -> None:
    result = allocate_percentage(pct, "EUR", [sub("a", 1000), sub("b", 3000)], service="exchange")
    assert {a.subscription_id: a.amount_minor for a in result.allocations} == {
        "a": 1000 * pct // 100,
        "b": 3000 * pct // 100,
    }
    assert result.remainder_minor == 0


def test_fixed_amount_is_spread_by_fee_times_days() -> None:
    result = allocate_approved(
        "EUR", [sub("a", 1000, days=31), sub("b", 1000, days=0)], amount_minor=100
    )
    assert [(a.subscription_id, a.amount_minor) for a in result.allocations] == [("a", 100)]


def test_fixed_amount_with_a_tier_is_spread_by_full_fee() -> None:
    result = allocate_approved(
        "EUR", [sub("a", 1000, days=31), sub("b", 1000, days=1)], amount_minor=100, percentage=25
    )
    assert [a.amount_minor for a in result.allocations] == [50, 50]


def test_per_customer_amounts_stay_with_their_customer() -> None:
    affected = [sub("a1", 1000, "c1"), sub("a2", 3000, "c1"), sub("b1", 500, "c2")]
    result = allocate_approved(
        "EUR", affected, amount_minor=1000, customer_amounts={"c1": 400, "c2": 600}
    )
    got = {a.subscription_id: a.amount_minor for a in result.allocations}
    assert got == {"a1": 100, "a2": 300, "b1": 500}
    assert result.remainder_minor == 100
    assert result.remainder_reason is RemainderReason.CAPS_REACHED


def test_per_customer_amount_of_an_unaffected_customer_is_remainder() -> None:
    result = allocate_approved("EUR", [sub("a1", 1000, "c1")], customer_amounts={"zz": 70})
    assert result.allocations == ()
    assert (result.remainder_minor, result.remainder_reason) == (
        70,
        RemainderReason.NO_ELIGIBLE_FEES,
    )


def test_an_approval_without_amount_or_percentage_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        allocate_approved("EUR", [sub("a", 1)])


@given(
    fees=st.lists(st.integers(0, 10**6), min_size=1, max_size=30),
    customers=st.lists(st.sampled_from(["c1", "c2", "c3"]), min_size=30, max_size=30),
    amounts=st.fixed_dictionaries(
        {}, optional={c: st.integers(0, 10**7) for c in ("c1", "c2", "c3", "c4")}
    ),
)
def test_per_customer_parts_sum_to_approved_minus_remainder(
    fees: list[int], customers: list[str], amounts: dict[str, int]
) -> None:
    affected = [sub(f"s{i}", fee, customers[i]) for i, fee in enumerate(fees)]
    result = allocate_approved("EUR", affected, customer_amounts=amounts or {"c1": 5})
    total = sum((amounts or {"c1": 5}).values())
    assert result.allocated_minor + result.remainder_minor == total == result.approved_minor
    for a in result.allocations:
        assert 0 < a.amount_minor <= fees[int(a.subscription_id[1:])]
