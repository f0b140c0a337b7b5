"""Billing bills a renewal as the renewals flow renewed it (a scheduled next term), and as
before when no renewal was noted."""

from __future__ import annotations

from datetime import UTC, date, datetime

from test_billing_ledger import CLOSE_NOV, TOPICS, env, feed, ledger, of, provisioned

from hub.domain.enums import BillingCycle, ChargeType, Term
from hub.schemas.events import billing as b
from hub.schemas.events.renewals import SubscriptionRenewed
from hub.topics import Topic

RENEWS = datetime(2026, 11, 15, tzinfo=UTC)


def renewed(quantity: int) -> SubscriptionRenewed:
    return SubscriptionRenewed(
        **env("renewed-s0", "contoso"),
        customer_id="cust-de",
        subscription_id="s0",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        old_quantity=10,
        quantity=quantity,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=RENEWS,
        term_end=datetime(2027, 11, 15, tzinfo=UTC),
        unit_cost_minor=650,
        unit_price_minor=650,
        currency="EUR",
        scheduled_change_applied=True,
    )


def renewal_lines(emits: list) -> list:
    charges = of(emits, TOPICS.name(Topic.CHARGES), b.ChargeRated)
    return [c for c in charges if c.charge_type is ChargeType.RENEW]


async def test_the_close_renews_at_the_quantity_the_renewals_flow_renewed_at():
    ldg = ledger()
    await feed(ldg, [provisioned("s0", "contoso", "cust-de", start=date(2025, 11, 15))])
    assert await feed(ldg, [renewed(6)]) == []
    (line,) = renewal_lines(await feed(ldg, [CLOSE_NOV]))
    assert line.quantity == 6
    assert line.period_start == date(2026, 11, 15)
    assert not ldg.tables.next_terms.get("s0|2026-11-15")  # used once, then gone


async def test_without_a_noted_renewal_the_close_renews_the_same_quantity():
    ldg = ledger()
    await feed(ldg, [provisioned("s0", "contoso", "cust-de", start=date(2025, 11, 15))])
    (line,) = renewal_lines(await feed(ldg, [CLOSE_NOV]))
    assert line.quantity == 10
