"""A month's summarised consumption as a rated line billing can invoice like any other charge."""

from __future__ import annotations

from collections.abc import Iterable

from hub.domain.enums import BillingCycle, ChargeType, ProductKind, Term
from hub.domain.invoicing import period_bounds
from hub.domain.rating import RatedLine

# Partner Center's product id of the Azure plan; the meter category stands in the sku's place,
# so an invoice line reads "DZH318Z0BPS6/Virtual Machines".
AZURE_PLAN_PRODUCT_ID = "DZH318Z0BPS6"


def consumption_line(
    *,
    line_id: str,
    source_id: str,
    reseller_id: str,
    customer_id: str,
    subscription_id: str,
    meter_category: str,
    period: str,
    amount_minor: int,
    cost_minor: int,
    currency: str,
) -> RatedLine:
    """One summarised line: quantity 1 at the month's amount (usage quantities are decimals in
    their own units; the detail stays on the reseller's billing topic). Taxed as a service
    subscription product, billed monthly in arrears for the whole month."""
    first, last = period_bounds(period)
    days = (last - first).days + 1
    return RatedLine(
        line_id=line_id,
        source_id=source_id,
        charge_type=ChargeType.CYCLE_CHARGE,
        subscription_id=subscription_id,
        customer_id=customer_id,
        reseller_id=reseller_id,
        product_id=AZURE_PLAN_PRODUCT_ID,
        sku_id=meter_category,
        availability_id="consumption",
        kind=ProductKind.SUBSCRIPTION,
        term=Term.P1M,
        billing_cycle=BillingCycle.MONTHLY,
        currency=currency,
        quantity=1,
        unit_cost_minor=cost_minor,
        unit_price_minor=amount_minor,
        cost_minor=cost_minor,
        price_minor=amount_minor,
        period_start=first,
        period_end=last,
        days=days,
        period_days=days,
    )


def consumption_part(lines: Iterable[tuple[str | None, int]]) -> int:
    """What of an invoice's subtotal bills Azure plan consumption, from its lines' ``(product id,
    amount)``. That part was never an order's commitment (it was accrued consumption), so it must
    not pay commitments off (``hub.domain.credit.commitment_billed_by`` takes the rest)."""
    return sum(amount for product_id, amount in lines if product_id == AZURE_PLAN_PRODUCT_ID)
