"""The simulator's prorated lines and the hub's expected cost agree to the minor unit.

Both follow Microsoft's license formula, ROUNDDOWN(EffectiveUnitPrice, minor unit) * seats, so
reconciliation finds a difference only where Microsoft charged something else.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.domain.money import CURRENCY_EXPONENTS
from hub.domain.rating import Charge, microsoft_prorated_cost, rate_charge
from hub.domain.reference import PriceListEntry
from hub.simulator.partner_center.billing import line_subtotal, prorated_unit_price


def simulator_minor(unit_minor: int, seats: int, days: int, period_days: int, currency: str) -> int:
    places = CURRENCY_EXPONENTS[currency]
    unit = Decimal(unit_minor).scaleb(-places)
    subtotal = line_subtotal(prorated_unit_price(unit, days, period_days), seats, currency)
    return int(subtotal.scaleb(places))


@given(
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    unit_minor=st.integers(0, 10**7),
    seats=st.integers(0, 300),
    period_days=st.integers(1, 1096),
    data=st.data(),
)
def test_prorated_cost_is_what_the_simulator_charges(
    currency: str, unit_minor: int, seats: int, period_days: int, data: st.DataObject
) -> None:
    days = data.draw(st.integers(0, period_days))

    expected = microsoft_prorated_cost(unit_minor, seats, days, period_days)

    assert expected == simulator_minor(unit_minor, seats, days, period_days, currency)
    assert -expected == simulator_minor(unit_minor, -seats, days, period_days, currency)


def _entry(minor: int) -> PriceListEntry:
    return PriceListEntry(
        product_id="CFQ7TTC0LDPB",
        sku_id="0001",
        availability_id="CFQ7TTC0K5BB",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        unit_cost_minor=minor,
        effective_from=date(2026, 1, 1),
    )


@pytest.mark.parametrize(
    ("kind", "unit_minor", "seats", "effective", "cost_minor"),
    [
        # The demo's seat increase: 5 seats at 11.75, 29 of 30 days: 11.35 x 5, not 56.79.
        (ChargeType.ADD_QUANTITY, 1175, 5, date(2026, 11, 26), 5675),
        # The demo's day-3 cancellation: 15 seats at 6.77, 27 of 30 days: 6.09 x 15, not 91.40.
        (ChargeType.CANCEL_IMMEDIATE, 677, 15, date(2026, 11, 28), -9135),
    ],
)
def test_the_hub_rates_a_prorated_line_as_the_simulator_bills_it(
    kind: ChargeType, unit_minor: int, seats: int, effective: date, cost_minor: int
) -> None:
    charge = Charge(
        source_id="s",
        charge_type=kind,
        subscription_id="sub",
        customer_id="c",
        reseller_id="contoso-de",
        product_id="CFQ7TTC0LDPB",
        sku_id="0001",
        availability_id="CFQ7TTC0K5BB",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        quantity=seats,
        term_start=date(2026, 11, 25),
        period_start=date(2026, 11, 25),
        period_end=date(2026, 12, 24),
        effective_date=effective,
    )

    line = rate_charge(charge, [_entry(unit_minor)], 0)

    sign = -1 if kind == ChargeType.CANCEL_IMMEDIATE else 1
    assert line.cost_minor == cost_minor
    assert cost_minor == simulator_minor(unit_minor, sign * seats, line.days, 30, "EUR")
