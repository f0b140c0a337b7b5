"""One valid instance of every renewals event (test helper, not a test)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from hub.domain.enums import BillingCycle, Term
from hub.domain.price_lists import Promotion
from hub.schemas.envelope import Event
from hub.schemas.events import renewals as n

_T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
_RENEWS = datetime(2026, 3, 1, tzinfo=UTC)
_IDS: dict[str, Any] = {
    "event_id": UUID("7d1e2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b"),
    "event_time": _T0,
    "correlation_id": "renewal-sub-1",
    "reseller_id": "contoso",
}
_SUB: dict[str, Any] = {"customer_id": "a1b2c3d4-tenant", "subscription_id": "sub-1"}
_ITEM: dict[str, Any] = {
    "product_id": "CFQ7TTC0LH18",
    "sku_id": "0001",
    "availability_id": "CFQ7TTC0LDPB",
}

BUILDERS: dict[str, Callable[[], Event]] = {
    "NextTermChangeRequested": lambda: n.NextTermChangeRequested(
        **_IDS,
        **_SUB,
        change_id="chg-1",
        quantity=101,
        billing_cycle=BillingCycle.MONTHLY,
        requested_at=_T0,
    ),
    "NextTermChangeScheduled": lambda: n.NextTermChangeScheduled(
        **_IDS,
        **_SUB,
        **_ITEM,
        change_id="chg-1",
        quantity=101,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        custom_term_end_date=date(2026, 12, 31),
        renews_at=_RENEWS,
        unit_price_minor=1_320,
        currency="EUR",
    ),
    "NextTermChangeRejected": lambda: n.NextTermChangeRejected(
        **_IDS, **_SUB, change_id="chg-2", code="NotSameFamily", message="not in the family"
    ),
    "ScheduledChangesDeleted": lambda: n.ScheduledChangesDeleted(
        **_IDS, **_SUB, cause="change_quantity", message="a mid-term change deletes them"
    ),
    "RenewalNoticeIssued": lambda: n.RenewalNoticeIssued(
        **_IDS,
        **_SUB,
        **_ITEM,
        lead_days=30,
        renews_at=_RENEWS,
        quantity=200,
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        scheduled_change=False,
        currency="EUR",
        unit_price_minor=13_200,
        current_unit_price_minor=12_000,
        unit_change_minor=1_200,
        change_bps=1_000,
        term_value_minor=2_640_000,
        promotion_id="39NFJQT1Q5KT:0001",
        changes_until=_RENEWS,
        approve_by=datetime(2026, 2, 27, tzinfo=UTC),
    ),
    "SubscriptionRenewed": lambda: n.SubscriptionRenewed(
        **_IDS,
        **_SUB,
        **_ITEM,
        old_quantity=200,
        quantity=101,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=_RENEWS,
        term_end=datetime(2027, 3, 1, tzinfo=UTC),
        unit_cost_minor=1_100,
        unit_price_minor=1_320,
        currency="EUR",
        scheduled_change_applied=True,
    ),
    "PromotionPublished": lambda: n.PromotionPublished(
        event_id=UUID("7d1e2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4d"),
        event_time=_T0,
        correlation_id="promotions-2026-03",
        promotion=Promotion(
            promotion_id="39NFJQT1Q5KT:0001",
            **_ITEM,
            term=Term.P1Y,
            billing_cycle=BillingCycle.ANNUAL,
            discount_bps=1500,
            starts_on=date(2026, 3, 1),
            ends_on=date(2026, 6, 30),
        ),
    ),
    "RenewalsDue": lambda: n.RenewalsDue(
        event_id=UUID("7d1e2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4c"),
        event_time=_T0,
        correlation_id="renewals-tick",
        partition=3,
        now=_T0,
    ),
    "RenewalApproved": lambda: n.RenewalApproved(
        **_IDS, **_SUB, approval_id="apr-1", requested_at=_T0
    ),
    "RenewalApprovalRecorded": lambda: n.RenewalApprovalRecorded(
        **_IDS, **_SUB, approval_id="apr-1", renews_at=_RENEWS
    ),
    "RenewalApprovalRejected": lambda: n.RenewalApprovalRejected(
        **_IDS, **_SUB, approval_id="apr-2", code="ApprovalNotRequired", message="no policy"
    ),
    "RenewalNotApproved": lambda: n.RenewalNotApproved(
        **_IDS,
        **_SUB,
        renews_at=_RENEWS,
        approve_by=datetime(2026, 2, 27, tzinfo=UTC),
        message="not approved by the deadline: auto-renew is switched off",
    ),
    "AutoRenewSwitchOff": lambda: n.AutoRenewSwitchOff(
        **_IDS, **_SUB, renews_at=_RENEWS, reason="renewal not approved by 2026-02-27"
    ),
    "MidTermChangeRequested": lambda: n.MidTermChangeRequested(
        **_IDS,
        **_SUB,
        change_id="mid-1",
        kind="billing_frequency",
        billing_cycle=BillingCycle.ANNUAL,
        requested_at=_T0,
    ),
    "MidTermChangeApplied": lambda: n.MidTermChangeApplied(
        **_IDS,
        **_SUB,
        **_ITEM,
        change_id="mid-1",
        kind="billing_frequency",
        quantity=10,
        term=Term.P1Y,
        billing_cycle=BillingCycle.ANNUAL,
        term_start=datetime(2025, 3, 14, tzinfo=UTC),
        term_end=datetime(2026, 3, 14, tzinfo=UTC),
        currency="EUR",
        unit_price_minor=13_200,
        unit_cost_minor=12_000,
        price_reset=True,
        lines=(
            n.MidTermChargeLine(
                charge_type="changeBillingPlan",
                catalog_item_id="CFQ7TTC0LH18:0001:CFQ7TTC0LDPB",
                quantity=10,
                unit_price_minor=-1_100,
                charge_start=date(2025, 3, 14),
                charge_end=date(2025, 3, 31),
                amount_minor=-6_387,
            ),
        ),
    ),
    "MidTermChangeRejected": lambda: n.MidTermChangeRejected(
        **_IDS,
        **_SUB,
        change_id="mid-2",
        kind="upgrade",
        code="NotAnUpgrade",
        message="not priced above the current SKU",
    ),
}
