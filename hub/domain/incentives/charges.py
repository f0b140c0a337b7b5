"""What a rated charge brings an incentive plan: seats, revenue now, revenue later, a refund.

Billing recognises an up-front charge it schedules (new, renew, cycle charge of an annual or
triennial cycle) month by month itself (``RevenueRecognised``), so such a charge accrues as it
is recognised; every other charge (monthly billing, seat changes, credits) is revenue in the
month its service starts, when rated. A cancellation within the 7 days refunds: a monthly
subscription's the latest charge that started on or before it; an up-front subscription's
revenue is adjusted down by billing, and what it recognises after is labelled a refund's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from hub.domain.enums import BillingCycle, ChargeType

# What billing recognises month by month itself (hub/streams/billing/ledger.py).
UP_FRONT = frozenset({BillingCycle.ANNUAL, BillingCycle.TRIENNIAL})
SCHEDULED = frozenset({ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE})
# Charge types whose quantity is seats added (negative: removed) in the month.
SEAT_CHANGES = frozenset(
    {
        ChargeType.NEW,
        ChargeType.ADD_QUANTITY,
        ChargeType.REMOVE_QUANTITY,
        ChargeType.CANCEL_IMMEDIATE,
    }
)


class Revenue(StrEnum):
    """How a charge's revenue reaches the plans."""

    NOW = "now"  # recognised when rated, in the month its service starts
    AS_RECOGNISED = "as_recognised"  # billing's RevenueRecognised, month by month
    REFUND_MONTHLY = "refund_monthly"  # refunds the latest monthly charge it cancels
    REFUND_UP_FRONT = "refund_up_front"  # billing adjusts the recognised revenue down


@dataclass(frozen=True)
class ChargeRoute:
    """A charge's part in the plans: its seat change (0: none), how its revenue counts, and
    whether it is a monthly charge a later 7-day cancellation may refund."""

    seats: int
    revenue: Revenue
    refundable: bool


def route_charge(
    charge_type: ChargeType, cycle: BillingCycle, price_minor: int, quantity: int
) -> ChargeRoute:
    up_front = cycle in UP_FRONT
    seats = quantity if charge_type in SEAT_CHANGES else 0
    if charge_type is ChargeType.CANCEL_IMMEDIATE:
        revenue = Revenue.REFUND_UP_FRONT if up_front else Revenue.REFUND_MONTHLY
        return ChargeRoute(seats, revenue, refundable=False)
    if up_front and charge_type in SCHEDULED:
        return ChargeRoute(seats, Revenue.AS_RECOGNISED, refundable=False)
    return ChargeRoute(seats, Revenue.NOW, refundable=price_minor > 0 and not up_front)


def refunded_charge(
    charges: list[tuple[str, str, int]], cancelled_on: str
) -> tuple[str, int] | None:
    """Of a subscription's monthly charges ``(start, charge_id, price_minor)``, the one a
    cancellation on ``cancelled_on`` (ISO date) refunds: the latest started on or before it."""
    started = [c for c in charges if c[0] <= cancelled_on]
    if not started:
        return None
    _, charge_id, price = max(started)
    return charge_id, price


def month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
