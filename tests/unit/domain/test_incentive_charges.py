"""What a rated charge brings incentive plans (hub/domain/incentives/charges.py)."""

from __future__ import annotations

from datetime import date

import pytest

from hub.domain.enums import BillingCycle, ChargeType
from hub.domain.incentives.charges import (
    ChargeRoute,
    Revenue,
    month,
    refunded_charge,
    route_charge,
)

M, A, T = BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL


@pytest.mark.parametrize(
    ("charge_type", "cycle", "price", "quantity", "expected"),
    [
        (ChargeType.NEW, M, 7_000, 10, ChargeRoute(10, Revenue.NOW, refundable=True)),
        (ChargeType.NEW, A, 84_000, 10, ChargeRoute(10, Revenue.AS_RECOGNISED, refundable=False)),
        (ChargeType.RENEW, T, 9_000, 3, ChargeRoute(0, Revenue.AS_RECOGNISED, refundable=False)),
        (ChargeType.CYCLE_CHARGE, M, 700, 1, ChargeRoute(0, Revenue.NOW, refundable=True)),
        (ChargeType.ADD_QUANTITY, A, 4_000, 2, ChargeRoute(2, Revenue.NOW, refundable=False)),
        (ChargeType.REMOVE_QUANTITY, M, -1_400, -2, ChargeRoute(-2, Revenue.NOW, refundable=False)),
        (ChargeType.CANCEL_IMMEDIATE, M, -700, -1, ChargeRoute(-1, Revenue.REFUND_MONTHLY, False)),
        (
            ChargeType.CANCEL_IMMEDIATE,
            A,
            -8_400,
            -1,
            ChargeRoute(-1, Revenue.REFUND_UP_FRONT, False),
        ),
    ],
)
def test_each_charge_is_routed_as_billing_recognises_it(
    charge_type: ChargeType, cycle: BillingCycle, price: int, quantity: int, expected: ChargeRoute
) -> None:
    assert route_charge(charge_type, cycle, price, quantity) == expected


def test_a_cancellation_refunds_the_latest_charge_started_on_or_before_it() -> None:
    charges = [("2026-10-05", "oct", 700), ("2026-11-05", "nov", 710), ("2026-12-05", "dec", 720)]
    assert refunded_charge(charges, "2026-11-09") == ("nov", 710)
    assert refunded_charge(charges, "2026-12-05") == ("dec", 720)
    assert refunded_charge(charges, "2026-10-01") is None
    assert refunded_charge([], "2026-10-01") is None


def test_month_is_the_charge_start_s_year_and_month() -> None:
    assert month(date(2026, 3, 31)) == "2026-03"
