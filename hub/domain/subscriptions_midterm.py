"""The orders lifecycle's subscription after a mid-term change Partner Center has made.

The renewals flow decides and applies the change (``hub.domain.renewals_midterm``); the
lifecycle's own record then has to follow it, or a later seat reduction or cancellation is
checked and refunded on the old billing cycle, term and SKU. A change that starts a new term (a
billing-frequency change) opens the new term's cancellation window as ``_restart`` there does;
an upgrade keeps the term, its window and the seats' refund deadlines.
"""

from __future__ import annotations

from datetime import datetime

from hub.domain.enums import BillingCycle, Term
from hub.domain.subscriptions import Subscription


def follow_mid_term(
    sub: Subscription,
    *,
    product_id: str,
    sku_id: str,
    availability_id: str,
    term: Term,
    billing_cycle: BillingCycle,
    new_term: tuple[datetime, datetime] | None,
) -> Subscription:
    """``sub`` as it is after the change: the SKU, term and billing cycle Microsoft now has.

    ``new_term`` (start, end) when the change started a new term; ``None`` keeps the record's
    own term dates (they are to the instant, where the renewals flow's are to the day)."""
    update: dict[str, object] = {
        "product_id": product_id,
        "sku_id": sku_id,
        "availability_id": availability_id,
        "term": term,
        "billing_cycle": billing_cycle,
    }
    if new_term is not None:  # its own cancellation window from its start
        start, end = new_term
        update |= {
            "term_start": start,
            "term_end": end,
            "window_start": start,
            "seat_batches": (),
            "cancellation_allowed_until_date": None,
        }
    return Subscription.model_validate({**sub.model_dump(), **update})
