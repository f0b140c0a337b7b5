"""The orders record's subscription after a mid-term change ends where the mid-term rules put it,
whatever the change day and seat history: the new term's window after a billing-frequency
change, the same term and refund deadlines after an upgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.reference import CatalogItem
from hub.domain.renewals_midterm import MidTermChange, change_billing_frequency, upgrade
from hub.domain.subscriptions import SeatBatch, Subscription, cancellation_window_end
from hub.domain.subscriptions_midterm import follow_mid_term

PURCHASE = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
BASIC = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Basic",
    service="m365",
    markets=("US",),
)
STANDARD = BASIC.model_copy(update={"product_id": "CFQ7TTC0LDPB", "name": "Standard"})


def subscription(cycle: BillingCycle, added_after: list[int]) -> Subscription:
    """Five seats bought at ``PURCHASE``, one more each ``added_after`` hours later."""
    batches = [SeatBatch(quantity=5, allow_until=cancellation_window_end(PURCHASE))]
    batches += [
        SeatBatch(quantity=1, allow_until=cancellation_window_end(PURCHASE + timedelta(hours=h)))
        for h in added_after
    ]
    return Subscription(
        subscription_id="s1",
        order_id="o1",
        reseller_id="contoso",
        customer_id="c1",
        product_id=BASIC.product_id,
        sku_id=BASIC.sku_id,
        availability_id=BASIC.availability_id,
        quantity=sum(b.quantity for b in batches),
        term=Term.P1Y,
        billing_cycle=cycle,
        status=SubscriptionStatus.ACTIVE,
        term_start=PURCHASE,
        term_end=PURCHASE.replace(year=2026),
        window_start=PURCHASE,
        seat_batches=tuple(batches),
    )


def followed(sub: Subscription, change: MidTermChange, new_term: bool) -> Subscription:
    new = change.subscription
    return follow_mid_term(
        sub,
        product_id=new.product_id,
        sku_id=new.sku_id,
        availability_id=new.availability_id,
        term=new.term,
        billing_cycle=new.billing_cycle,
        new_term=(new.term_start, new.term_end) if new_term else None,
    )


hours = st.lists(st.integers(min_value=1, max_value=24 * 300), max_size=4)
days = st.integers(min_value=1, max_value=360)


@given(added=hours, day=days, monthly=st.booleans())
def test_after_a_billing_frequency_change_the_record_is_the_new_term_the_rules_made(
    added: list[int], day: int, monthly: bool
) -> None:
    cycle = BillingCycle.MONTHLY if monthly else BillingCycle.ANNUAL
    sub = subscription(cycle, added)
    at = PURCHASE + timedelta(days=day)
    to = BillingCycle.ANNUAL if monthly else BillingCycle.MONTHLY
    change = change_billing_frequency(
        sub, at, to, old_unit_price_minor=700, new_unit_price_minor=8_400
    )
    assert isinstance(change, MidTermChange)

    after = followed(sub, change, new_term=True)

    assert after == change.subscription
    # Every seat is refundable in the new term's first seven days, none after.
    assert after.refundable_seats(after.term_start + timedelta(days=7)) == sub.quantity
    assert after.refundable_seats(after.term_start + timedelta(days=8)) == 0


@given(added=hours, day=days, monthly=st.booleans())
def test_after_an_upgrade_the_record_keeps_its_term_and_each_seats_refund_deadline(
    added: list[int], day: int, monthly: bool
) -> None:
    sub = subscription(BillingCycle.MONTHLY if monthly else BillingCycle.ANNUAL, added)
    at = PURCHASE + timedelta(days=day)
    change = upgrade(
        sub,
        at,
        current=BASIC,
        target=STANDARD,
        old_unit_price_minor=700,
        new_unit_price_minor=1_500,
    )
    assert isinstance(change, MidTermChange)

    after = followed(sub, change, new_term=False)

    assert after == change.subscription
    assert after.catalog_item_id == STANDARD.catalog_item_id
    assert after.refundable_seats(at) == sub.refundable_seats(at)
