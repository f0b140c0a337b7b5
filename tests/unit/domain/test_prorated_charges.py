"""A prorated charge runs from its day to the end of the billing period holding that day."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import ChargeType
from hub.domain.prorated_charges import prorated_charge
from tests.unit.domain.test_charges import sub


def test_a_refund_covers_every_seat_from_the_day_to_the_period_end() -> None:
    s = sub(quantity=7)
    c = prorated_charge(s, "src", ChargeType.REMOVE_QUANTITY, date(2026, 3, 10), refund=True)
    assert (c.period_start, c.period_end) == (date(2026, 2, 28), date(2026, 3, 30))
    assert c.effective_date == date(2026, 3, 10)
    assert (c.quantity, c.refund, c.charge_type) == (7, True, ChargeType.REMOVE_QUANTITY)
    assert (c.subscription_id, c.reseller_id, c.source_id) == ("s1", "r1", "src")


@given(st.dates(min_value=date(2026, 1, 31), max_value=date(2027, 1, 30)))
def test_the_day_always_falls_in_the_charged_period(on: date) -> None:
    c = prorated_charge(sub(), "src", ChargeType.ADD_QUANTITY, on, refund=False)
    assert c.period_start <= c.effective_date == on <= c.period_end
