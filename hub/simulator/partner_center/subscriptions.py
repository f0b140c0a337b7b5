"""Subscriptions in the simulator, with Microsoft's new-commerce rules.

Seats may be removed, and a subscription cancelled, only within 7 calendar days of purchase or
renewal (added seats: of their addition), refunded by daily proration. Suspended still bills.
A seat change posts two lines of one charge type and dates, as Microsoft's reconciliation file
has them: the old quantity refunded (negative EffectiveUnitPrice) and the new total charged.
Charge cycles of a purchase on the 29th-31st follow Microsoft's table (``cycle_start``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.models import (
    RefundableQuantity,
    RefundableQuantityDetail,
    Subscription,
    SubscriptionPatch,
)
from hub.domain.enums import BillingCycle, ChargeType, SubscriptionStatus, Term
from hub.domain.proration import cycle_start
from hub.simulator.partner_center.billing import (
    TERM_MONTHS,
    add_months,
    calendar_days,
    remaining_days,
)
from hub.simulator.partner_center.catalog import SimCatalogItem
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.ledger import ChargeContext, Ledger

REFUND_WINDOW = timedelta(days=7)
_BILLED = (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED)


@dataclass
class Lot:
    """Seats that share one refund deadline."""

    quantity: int
    allow_until: datetime


@dataclass
class SubscriptionRecord:
    id: str
    customer_id: str
    item: SimCatalogItem
    unit_price: Decimal
    quantity: int
    term: Term
    cycle: BillingCycle
    period_months: int
    partner_id: str | None
    created: datetime
    term_start: datetime
    context: ChargeContext
    order_id: str
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE
    auto_renew: bool = True
    period_index: int = 0
    lots: list[Lot] = field(default_factory=list)

    @property
    def term_end(self) -> datetime:
        return add_months(self.term_start, TERM_MONTHS[self.term])

    @property
    def period_start(self) -> datetime:
        return cycle_start(self.term_start, self.period_index * self.period_months)

    @property
    def period_end(self) -> datetime:
        return min(
            cycle_start(self.term_start, (self.period_index + 1) * self.period_months),
            self.term_end,
        )

    @property
    def cancellation_allowed_until(self) -> datetime:
        return self.term_start + REFUND_WINDOW

    def refundable(self, now: datetime) -> int:
        return sum(lot.quantity for lot in self.lots if lot.allow_until >= now)

    def to_model(self, now: datetime) -> Subscription:
        live = [lot for lot in self.lots if lot.allow_until >= now]
        return Subscription(
            id=self.id,
            offer_id=self.item.catalog_item_id,
            offer_name=self.item.sku_name,
            friendly_name=self.item.sku_name,
            quantity=self.quantity,
            creation_date=self.created,
            effective_start_date=self.term_start,
            commitment_end_date=self.term_end,
            auto_renew_enabled=self.auto_renew,
            status=self.status,
            partner_id=self.partner_id,
            order_id=self.order_id,
            term_duration=self.term,
            billing_cycle=self.cycle,
            refundable_quantity=RefundableQuantity(
                total_quantity=sum(lot.quantity for lot in live),
                details=[
                    RefundableQuantityDetail(
                        quantity=lot.quantity, allow_until_date_time=lot.allow_until
                    )
                    for lot in live
                ],
            ),
            cancellation_allowed_until_date=self.cancellation_allowed_until,
        )


class SubscriptionBook:
    """Applies PATCHes and the passing of time to subscriptions, posting charges to the ledger."""

    def __init__(self, ledger: Ledger, tax_rate: Decimal) -> None:
        self.records: dict[str, SubscriptionRecord] = {}
        self._ledger = ledger
        self._tax_rate = tax_rate

    def add(self, record: SubscriptionRecord, now: datetime) -> None:
        record.lots = [Lot(record.quantity, record.term_start + REFUND_WINDOW)]
        self.records[record.id] = record
        self._charge_period(record, ChargeType.NEW, now)

    def get(self, customer_id: str, subscription_id: str) -> SubscriptionRecord:
        record = self.records.get(subscription_id)
        if record is None or record.customer_id != customer_id:
            raise SimError.not_found(f"subscription {subscription_id}")
        return record

    def patch(self, record: SubscriptionRecord, patch: SubscriptionPatch, now: datetime) -> None:
        if record.status in (SubscriptionStatus.DELETED, SubscriptionStatus.EXPIRED):
            if patch.status == record.status and patch.quantity is None:
                return  # a retried cancel finds the work done
            raise SimError(
                400,
                ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE,
                f"subscription is {record.status}; it cannot be changed",
            )
        # Every check runs before anything changes, so a refused PATCH changes nothing.
        new_status = patch.status if patch.status != record.status else None
        if new_status is not None:
            self._check_status(record, new_status, now)
        if patch.quantity is not None and patch.quantity != record.quantity:
            self._change_quantity(record, patch.quantity, now)
        if new_status is not None:
            self._change_status(record, new_status, now)
        if patch.auto_renew_enabled is not None:
            record.auto_renew = patch.auto_renew_enabled

    def advance(self, now: datetime) -> None:
        """Bill every period boundary up to ``now``: cycle charges, renewals, expiries."""
        for record in self.records.values():
            while record.status in _BILLED and record.period_end <= now:
                if record.period_end < record.term_end:
                    record.period_index += 1
                    self._charge_period(record, ChargeType.CYCLE_CHARGE, record.period_start)
                elif record.auto_renew:
                    record.term_start = record.term_end
                    record.period_index = 0
                    record.lots = [Lot(record.quantity, record.term_start + REFUND_WINDOW)]
                    self._charge_period(record, ChargeType.RENEW, record.term_start)
                else:
                    record.status = SubscriptionStatus.EXPIRED

    def _change_quantity(self, record: SubscriptionRecord, quantity: int, now: datetime) -> None:
        if record.status != SubscriptionStatus.ACTIVE:
            raise SimError(
                400,
                ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE,
                f"seats of a {record.status} subscription cannot be changed",
            )
        if quantity > record.item.max_quantity:
            raise SimError(
                400,
                ErrorCode.QUOTA_NOT_AVAILABLE,
                f"at most {record.item.max_quantity} seats of {record.item.catalog_item_id}",
            )
        delta = quantity - record.quantity
        if delta > 0:
            record.lots.append(Lot(delta, now + REFUND_WINDOW))
            self._seat_change(record, ChargeType.ADD_QUANTITY, quantity, now)
        else:
            removable = record.refundable(now)
            if -delta > removable:
                raise SimError(
                    400,
                    ErrorCode.SEAT_REDUCTION_WINDOW_EXPIRED,
                    f"only {removable} seats may be removed now; seats can be reduced only "
                    "within 7 days of purchase, renewal or their addition",
                )
            self._release_lots(record, -delta, now)
            self._seat_change(record, ChargeType.REMOVE_QUANTITY, quantity, now)
        record.quantity = quantity

    def _check_status(
        self, record: SubscriptionRecord, status: SubscriptionStatus, now: datetime
    ) -> None:
        if status == SubscriptionStatus.DELETED:
            if now > record.cancellation_allowed_until:
                until = record.cancellation_allowed_until.isoformat()
                raise SimError(
                    400,
                    ErrorCode.CANCELLATION_WINDOW_EXPIRED,
                    f"cancellation was allowed until {until} (7 days after purchase or renewal)",
                )
        elif (record.status, status) not in (
            (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED),
            (SubscriptionStatus.SUSPENDED, SubscriptionStatus.ACTIVE),
        ):
            raise SimError(
                400,
                ErrorCode.INVALID_STATUS_TRANSITION,
                f"a {record.status} subscription cannot become {status}",
            )

    def _change_status(
        self, record: SubscriptionRecord, status: SubscriptionStatus, now: datetime
    ) -> None:
        if status == SubscriptionStatus.DELETED:
            self._prorate(record, ChargeType.CANCEL_IMMEDIATE, -record.quantity, now)
            record.lots = []
        record.status = status

    def _release_lots(self, record: SubscriptionRecord, seats: int, now: datetime) -> None:
        # Newest seats go first: they carry the latest deadline the customer is still within.
        for lot in sorted(record.lots, key=lambda lot: lot.allow_until, reverse=True):
            if seats == 0:
                break
            if lot.allow_until < now:
                continue
            taken = min(lot.quantity, seats)
            lot.quantity -= taken
            seats -= taken
        record.lots = [lot for lot in record.lots if lot.quantity > 0]

    def _charge_period(
        self, record: SubscriptionRecord, kind: ChargeType, posted: datetime
    ) -> None:
        start, end = record.period_start, record.period_end
        days = calendar_days(start, end)
        self._post(record, kind, record.quantity, days, days, start, end, posted)

    def _prorate(
        self,
        record: SubscriptionRecord,
        kind: ChargeType,
        seats: int,
        now: datetime,
        *,
        refund: bool = False,
    ) -> None:
        start, end = record.period_start, record.period_end
        days = remaining_days(now, start, end)
        if days == 0:
            return
        period_days = calendar_days(start, end)
        self._post(record, kind, seats, days, period_days, now, end, now, refund=refund)

    def _seat_change(
        self, record: SubscriptionRecord, kind: ChargeType, quantity: int, now: datetime
    ) -> None:
        """The old quantity refunded, the new total charged: one charge type, same dates."""
        self._prorate(record, kind, record.quantity, now, refund=True)
        if quantity > 0:
            self._prorate(record, kind, quantity, now)

    def _post(
        self,
        record: SubscriptionRecord,
        kind: ChargeType,
        seats: int,
        days: int,
        period_days: int,
        start: datetime,
        end: datetime,
        posted: datetime,
        *,
        refund: bool = False,
    ) -> None:
        context = replace(
            record.context, subscription_start=record.term_start, subscription_end=record.term_end
        )
        self._ledger.post(
            context,
            kind,
            unit_price=record.unit_price,
            days=days,
            period_days=period_days,
            billable_quantity=seats,
            charge_start=start,
            charge_end=end,
            posted_at=posted,
            tax_rate=self._tax_rate,
            refund=refund,
        )
