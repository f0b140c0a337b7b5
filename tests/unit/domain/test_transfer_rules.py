from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import SubscriptionStatus
from hub.domain.relationships.transfers import (
    TransferKind,
    refusal,
    released_commitment,
    split_liability,
)


def test_mid_month_transfer_splits_by_days():
    # March: 31 days; effective 16 March -> A pays 1..15 (15 days), B 16..31 (16 days).
    split = split_liability(3100, date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 16))
    assert (split.old_minor, split.new_minor) == (1500, 1600)


def test_effective_on_the_first_day_moves_the_whole_period():
    split = split_liability(999, date(2026, 3, 1), date(2026, 3, 31), date(2026, 3, 1))
    assert (split.old_minor, split.new_minor) == (0, 999)


@given(
    st.integers(min_value=0, max_value=10**12),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    st.integers(min_value=1, max_value=1100),
    st.integers(min_value=-10, max_value=1200),
)
def test_old_and_new_parts_sum_to_the_whole(amount, start, length, offset):
    end = start + timedelta(days=length - 1)
    split = split_liability(amount, start, end, start + timedelta(days=offset))
    assert split.old_minor + split.new_minor == amount
    assert 0 <= split.old_minor <= amount
    assert 0 <= split.new_minor <= amount


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=364))
def test_later_transfers_release_less_commitment(amount, offset):
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    day = start + timedelta(days=offset)
    assert released_commitment(amount, start, end, day) >= released_commitment(
        amount, start, end, day + timedelta(days=1)
    )


def _refusal(**kw):
    args = {
        "kind": TransferKind.BETWEEN_RESELLERS,
        "status": SubscriptionStatus.ACTIVE,
        "from_reseller": "a",
        "to_reseller": "b",
        "known_resellers": {"a", "b"},
        "currencies": ("EUR", "EUR"),
        "effective": date(2026, 3, 16),
        "term_start": date(2026, 1, 1),
        "term_end": date(2026, 12, 31),
    }
    args.update(kw)
    return refusal(**args)


def test_an_eligible_transfer_is_not_refused():
    assert _refusal() is None


def test_transfer_refusals_say_why():
    assert "active" in _refusal(status=SubscriptionStatus.SUSPENDED)
    assert "outside" in _refusal(effective=date(2027, 1, 1))
    assert "not a reseller" in _refusal(to_reseller="z")
    assert "two different" in _refusal(to_reseller="a")
    assert "currencies" in _refusal(currencies=("EUR", "GBP"))


def test_a_transfer_out_needs_only_the_old_reseller():
    assert _refusal(kind=TransferKind.OUT_TO_PARTNER, to_reseller=None) is None
    assert _refusal(kind=TransferKind.IN_FROM_PARTNER, from_reseller=None) is None
