"""A charge, or its refund, for every seat of a subscription from one day to its period's end.

Moving a subscription (a transfer between resellers) and changing it mid-term (billing
frequency, upgrade) both close the old subscription's period with a refund and open the new
one's with a charge, each prorated from the day of the move.
"""

from __future__ import annotations

from datetime import date

from hub.domain import charges as ch
from hub.domain.enums import ChargeType
from hub.domain.rating import Charge


def prorated_charge(
    sub: ch.BilledSubscription, source_id: str, ct: ChargeType, on: date, *, refund: bool
) -> Charge:
    """``ct`` for every seat of ``sub`` from ``on`` to the end of the billing period holding it
    (``on`` must fall in the current term)."""
    start, end = ch.billing_period(sub, on)
    return Charge(
        source_id=source_id,
        charge_type=ct,
        subscription_id=sub.subscription_id,
        customer_id=sub.customer_id,
        reseller_id=sub.reseller_id,
        product_id=sub.product_id,
        sku_id=sub.sku_id,
        availability_id=sub.availability_id,
        kind=sub.kind,
        term=sub.term,
        billing_cycle=sub.billing_cycle,
        currency=sub.currency,
        quantity=sub.quantity,
        refund=refund,
        term_start=sub.term_start,
        period_start=start,
        period_end=end,
        effective_date=on,
    )
