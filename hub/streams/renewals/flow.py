"""The renewals flow's handler: subscriptions in, notices, scheduled changes and renewals out.

Subscriptions arrive from provisioning and lifecycle facts; each keeps one entry in the time
index (its next notice, else its renewal). A ``RenewalsDue`` tick for one partition reads the
index up to its ``now`` a page at a time (what is left goes with the next tick), so a tick's
work is bounded whatever the number of subscriptions. Time comes only from the tick, so a replay
decides the same, and ids are derived from the subscription, its term and the lead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any

from hub.connectors.partner_center import PartnerCenterError
from hub.connectors.partner_center.renewals import NextTermScheduler
from hub.connectors.partner_center.renewals_midterm import MidTermChanger
from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.orders import TERM_MONTHS, ReferenceView
from hub.domain.price_lists import PricePoint, Promotion, price_on
from hub.domain.proration import add_months
from hub.domain.renewals import (
    NextTerm,
    NoticeDue,
    RenewalPolicy,
    RenewalQuote,
    approval_deadline,
    must_switch_off,
    notice_schedule,
    notices_to_send,
    quote,
)
from hub.domain.renewals_midterm import (
    MidTermChange,
    MidTermRejected,
    change_billing_frequency,
    extend_term,
    term_change_refusal,
    upgrade,
)
from hub.domain.renewals_scheduled import (
    ScheduledChange,
    ScheduleRejected,
    deletion_reason,
    next_term_of,
    schedule,
)
from hub.domain.subscriptions import Subscription
from hub.errors import BusinessRuleViolation, RetriableError, ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event, caused_by, derived_event_id
from hub.schemas.events.orders import ProvisioningFailed, SubscriptionProvisioned
from hub.schemas.events.relationships import SubscriptionTransferred
from hub.schemas.events.renewals import (
    AutoRenewSwitchOff,
    MidTermChangeApplied,
    MidTermChangeRejected,
    MidTermChangeRequested,
    MidTermChargeLine,
    NextTermChangeRejected,
    NextTermChangeRequested,
    NextTermChangeScheduled,
    RenewalApprovalRecorded,
    RenewalApprovalRejected,
    RenewalApproved,
    RenewalNotApproved,
    RenewalNoticeIssued,
    RenewalsDue,
    ScheduledChangesDeleted,
    SubscriptionRenewed,
)
from hub.schemas.events.subscriptions import (
    SubscriptionChanged,
    SubscriptionChangeRejected,
    SubscriptionChangeRequested,
)
from hub.streams.renewals import metrics
from hub.streams.renewals.state import RenewalRecord, RenewalsState, due_key, entity_key
from hub.topics import PartnerTopic, Topic, TopicCatalog

log = logging.getLogger(__name__)
# Catalogue items (and currencies) a missing renewal price was logged for, bounded.
_NO_PRICE_SAID: set[tuple[str, str]] = set()
_NO_PRICE_SAID_MAX = 1_000

NOT_FOUND = "SubscriptionNotFound"
REFUSED = "PartnerCenterRefused"
NOT_REQUIRED = "ApprovalNotRequired"
NOT_RENEWING = "NotRenewing"
DEADLINE_PASSED = "ApprovalDeadlinePassed"
NO_PRICE = "NoPrice"
UNKNOWN_ITEM = "UnknownCatalogItem"
# Lifecycle requests and outcomes on the topics this flow observes that change nothing here.
_IGNORED = (ProvisioningFailed, SubscriptionChangeRequested, SubscriptionChangeRejected)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Renewals:
    """Handlers of the renewals agent; the state is dict-backed views in unit tests."""

    def __init__(
        self,
        topics: TopicCatalog,
        state: RenewalsState,
        reference: Callable[[], ReferenceView],
        scheduler: NextTermScheduler,
        policy: RenewalPolicy,
        *,
        partition_of: Callable[[str], int],
        page: int = 200,
        promotions: Callable[[], Iterable[Promotion]] = tuple,
        promotions_ready: Callable[[], bool] = lambda: True,
        approval_required: Callable[[str], bool] = lambda reseller_id: False,
        midterm: MidTermChanger | None = None,
    ) -> None:
        self.topics = topics
        self.state = state
        self.reference = reference
        self.scheduler = scheduler
        self.policy = policy
        self.partition_of = partition_of
        self.page = page
        self.promotions = promotions
        self.promotions_ready = promotions_ready
        self.approval_required = approval_required
        self.midterm = midterm

    def policy_of(self, reseller_id: str) -> RenewalPolicy:
        """The flow's policy with the reseller's approval requirement."""
        if not self.approval_required(reseller_id):
            return self.policy
        return self.policy.model_copy(update={"approval_required": True})

    # --- dispatch ------------------------------------------------------------------------------

    async def handle(self, event: Event, key: str = "") -> Sequence[Emit]:
        if isinstance(event, RenewalsDue):
            return self.on_due(event)
        if isinstance(event, NextTermChangeRequested):
            return await self.on_request(event)
        if isinstance(event, RenewalApproved):
            return self.on_approval(event)
        if isinstance(event, MidTermChangeRequested):
            return await self.on_midterm(event)
        if isinstance(event, SubscriptionProvisioned):
            return self.on_provisioned(event)
        if isinstance(event, SubscriptionChanged):
            return self.on_changed(event)
        if isinstance(event, SubscriptionTransferred):
            return self.on_transferred(event)
        if isinstance(event, _IGNORED):
            return []
        raise ValidationFailed("event", type(event).__name__, "not a renewals event")

    def _out(self, event: Event, subscription_id: str) -> list[Emit]:
        """To the renewals topic and, for an onboarded reseller, to its status topic."""
        out = [Emit(self.topics.name(Topic.RENEWAL_EVENTS), subscription_id, event)]
        rid = event.reseller_id or ""
        if rid in self.reference().resellers:
            out.append(Emit(self.topics.partner(rid, PartnerTopic.STATUS), subscription_id, event))
        return out

    # --- subscriptions in ------------------------------------------------------------------------

    def on_provisioned(self, ev: SubscriptionProvisioned) -> list[Emit]:
        if self.state.record(ev.reseller_id, ev.subscription_id) is not None:
            return []  # a redelivery: the record may already carry later changes
        self._open(ev, ev.reseller_id, ev.order_id, ev.unit_price_minor)
        return []

    def on_transferred(self, ev: SubscriptionTransferred) -> list[Emit]:
        """A subscription moved between resellers: the old one's record goes (no more notices
        to it; what it scheduled is gone with it), the new one's starts at its own price."""
        if ev.side == "from":
            record = self.state.record(ev.from_reseller_id, ev.subscription_id)
            if record is not None:
                self.state.remove(record)
            return []
        if self.state.record(ev.to_reseller_id, ev.subscription_id) is not None:
            return []  # a redelivery
        order_id = f"transfer-{ev.subscription_id}"[:128]
        self._open(ev, ev.to_reseller_id, order_id, ev.to_unit_price_minor)
        return []

    def _open(
        self,
        ev: SubscriptionProvisioned | SubscriptionTransferred,
        reseller_id: str,
        order_id: str,
        unit_price_minor: int,
    ) -> None:
        """A subscription's record, active from its term start, for ``reseller_id``."""
        start = _midnight(ev.term_start)
        sub = Subscription(
            subscription_id=ev.subscription_id,
            order_id=order_id,
            reseller_id=reseller_id,
            customer_id=ev.customer_id,
            product_id=ev.product_id,
            sku_id=ev.sku_id,
            availability_id=ev.availability_id,
            quantity=ev.quantity,
            term=ev.term,
            billing_cycle=ev.billing_cycle,
            status=SubscriptionStatus.ACTIVE,
            auto_renew=ev.auto_renew,
            term_start=start,
            term_end=_midnight(ev.term_end),
            window_start=start,
        )
        self._save(
            RenewalRecord(
                subscription=sub,
                currency=ev.currency,
                unit_price_minor=unit_price_minor,
                unit_cost_minor=ev.unit_cost_minor,
                partition=self.partition_of(reseller_id),
            )
        )

    def on_changed(self, ev: SubscriptionChanged) -> list[Emit]:
        record = self.state.record(ev.reseller_id, ev.subscription_id)
        if record is None:
            log.info("change of %s before its provisioning: nothing scheduled", ev.subscription_id)
            return []
        sub = record.subscription.model_copy(
            update={
                "quantity": ev.new_quantity or 1,
                "status": ev.status,
                "auto_renew": ev.auto_renew,
            }
        )
        out: list[Emit] = []
        updated = record.model_copy(update={"subscription": sub})
        if ev.kind == "set_auto_renew" and ev.auto_renew:
            # The reseller turned auto-renew on itself (after being told it went off): that is
            # its approval of this renewal.
            updated = updated.model_copy(update={"approved_for": sub.term_end})
        reason = deletion_reason(ev.kind, auto_renew=ev.auto_renew)
        if record.scheduled is not None and reason is not None:
            updated = updated.model_copy(update={"scheduled": None, "scheduled_change_id": None})
            metrics.SCHEDULED_DELETED.inc()
            deleted = ScheduledChangesDeleted(
                **caused_by(ev, "ScheduledChangesDeleted"),
                event_time=ev.event_time,
                customer_id=ev.customer_id,
                subscription_id=ev.subscription_id,
                cause=ev.kind,
                message=reason,
            )
            out += self._out(deleted, ev.subscription_id)
        self._save(updated)
        return out

    # --- scheduled next-term changes ------------------------------------------------------------

    async def on_request(self, ev: NextTermChangeRequested) -> list[Emit]:
        key = entity_key(ev.reseller_id, ev.change_id)
        done = self.state.changes.get(key)
        if done is not None:  # the reseller sent it again
            return self._out(StoredEvent.model_validate(done).event(), ev.subscription_id)
        outcome = await self._decide(ev)
        self.state.changes[key] = StoredEvent.of(outcome).model_dump(mode="json")
        return self._out(outcome, ev.subscription_id)

    async def _decide(self, ev: NextTermChangeRequested) -> Event:
        record = self.state.record(ev.reseller_id, ev.subscription_id)
        if record is None or record.subscription.customer_id != ev.customer_id:
            return self._rejected(
                ev,
                NOT_FOUND,
                f"subscription {ev.subscription_id!r} is not a subscription of customer "
                f"{ev.customer_id!r} of this reseller",
            )
        ref = self.reference()
        sub = record.subscription
        change = ScheduledChange(
            quantity=ev.quantity,
            product_id=ev.product_id,
            sku_id=ev.sku_id,
            availability_id=ev.availability_id,
            term=ev.term,
            billing_cycle=ev.billing_cycle,
            custom_term_end_date=ev.custom_term_end_date,
        )
        target = next_term_of(sub, change)
        result = schedule(
            sub,
            change,
            ev.requested_at,
            catalogue=ref.catalogue,
            entries=ref.prices.get(target.catalog_item_id) or (),
            currency=record.currency,
        )
        if isinstance(result, ScheduleRejected):
            return self._rejected(ev, result.code.value, result.reason)
        customer = ref.customers.get(sub.customer_id)
        reseller = ref.resellers.get(sub.reseller_id)
        if customer is None or reseller is None:
            return self._rejected(
                ev, NOT_FOUND, "the customer or reseller is not in the hub's reference data"
            )
        try:
            await self.scheduler.schedule(
                customer, reseller, sub.subscription_id, result, correlation_id=ev.correlation_id
            )
        except PartnerCenterError as exc:
            if exc.retriable:
                raise  # the pipeline retries with backoff, then dead-letters
            said = exc.description or str(exc)
            return self._rejected(ev, REFUSED, f"Partner Center {exc.code}: {said}")
        priced = self._quote(record, result)
        self.state.put(
            record.model_copy(update={"scheduled": result, "scheduled_change_id": ev.change_id})
        )
        metrics.SCHEDULED.labels(outcome="scheduled").inc()
        return NextTermChangeScheduled(
            **caused_by(ev, "NextTermChangeScheduled"),
            event_time=ev.event_time,
            change_id=ev.change_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            product_id=result.product_id,
            sku_id=result.sku_id,
            availability_id=result.availability_id,
            quantity=result.quantity,
            term=result.term,
            billing_cycle=result.billing_cycle,
            custom_term_end_date=result.custom_term_end_date,
            renews_at=sub.term_end,
            unit_price_minor=priced.unit_price_minor if priced else record.unit_price_minor,
            currency=record.currency,
        )

    def _rejected(self, ev: NextTermChangeRequested, code: str, message: str) -> Event:
        metrics.SCHEDULED.labels(outcome="rejected").inc()
        return NextTermChangeRejected(
            **caused_by(ev, "NextTermChangeRejected"),
            event_time=ev.event_time,
            change_id=ev.change_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            code=code,
            message=message,
        )

    # --- mid-term changes ------------------------------------------------------------------------

    async def on_midterm(self, ev: MidTermChangeRequested) -> list[Emit]:
        key = entity_key(ev.reseller_id, f"midterm-{ev.change_id}")
        done = self.state.changes.get(key)
        if done is not None:  # the reseller sent it again
            return self._out(StoredEvent.model_validate(done).event(), ev.subscription_id)
        outcome, told = await self._change_now(ev)
        self.state.changes[key] = StoredEvent.of(outcome).model_dump(mode="json")
        return self._out(outcome, ev.subscription_id) + told

    def _price_now(
        self,
        record: RenewalRecord,
        item_id: str,
        cycle: BillingCycle,
        at: datetime,
        term: Term | None = None,
    ) -> PricePoint | None:
        """Today's list price of ``item_id`` on ``term`` (the subscription's by default) and
        ``cycle``, without promotion (a mid-term change resets the price and removes
        promotions)."""
        ref = self.reference()
        sub = record.subscription
        product_id, sku_id, availability_id = item_id.split(":")
        profile = ref.resellers.get(sub.reseller_id)
        try:
            return price_on(
                ref.prices.get(item_id) or (),
                (),
                product_id=product_id,
                sku_id=sku_id,
                availability_id=availability_id,
                term=term or sub.term,
                billing_cycle=cycle,
                currency=record.currency,
                on=at.astimezone(UTC).date(),
                markup_bps=profile.markup_bps if profile else 0,
                with_promotion=False,
            )
        except BusinessRuleViolation:
            return None

    async def _change_now(self, ev: MidTermChangeRequested) -> tuple[Event, list[Emit]]:
        record = self.state.record(ev.reseller_id, ev.subscription_id)
        if record is None or record.subscription.customer_id != ev.customer_id:
            return self._midterm_rejected(
                ev,
                NOT_FOUND,
                f"subscription {ev.subscription_id!r} is not a subscription of customer "
                f"{ev.customer_id!r} of this reseller",
            ), []
        ref = self.reference()
        sub = record.subscription
        at = ev.requested_at
        result: MidTermChange | MidTermRejected
        if ev.kind == "billing_frequency":
            assert ev.billing_cycle is not None  # the contract requires it for this kind
            point = self._price_now(record, sub.catalog_item_id, ev.billing_cycle, at)
            if point is None:
                return self._midterm_rejected(
                    ev, NO_PRICE, f"no list price for {sub.term} billed {ev.billing_cycle} today"
                ), []
            result = change_billing_frequency(
                sub,
                at,
                ev.billing_cycle,
                old_unit_price_minor=record.unit_price_minor,
                new_unit_price_minor=point.unit_price_minor,
            )
        elif ev.kind == "term":
            assert ev.term is not None  # the contract requires it for this kind
            cycle = ev.billing_cycle or sub.billing_cycle
            refused = term_change_refusal(sub, at, ev.term, cycle)
            if refused is not None:
                return self._midterm_rejected(ev, refused.code.value, refused.reason), []
            point = self._price_now(record, sub.catalog_item_id, cycle, at, term=ev.term)
            if point is None:
                return self._midterm_rejected(
                    ev, NO_PRICE, f"no list price for {ev.term} billed {cycle} today"
                ), []
            result = extend_term(
                sub,
                at,
                ev.term,
                cycle,
                old_unit_price_minor=record.unit_price_minor,
                new_unit_price_minor=point.unit_price_minor,
            )
        else:
            target_id = f"{ev.product_id}:{ev.sku_id}:{ev.availability_id}"
            current, target = ref.catalogue.get(sub.catalog_item_id), ref.catalogue.get(target_id)
            if current is None or target is None:
                return self._midterm_rejected(
                    ev, UNKNOWN_ITEM, f"{target_id} is not in the hub's catalogue"
                ), []
            point = self._price_now(record, target_id, sub.billing_cycle, at)
            if point is None:
                return self._midterm_rejected(
                    ev, NO_PRICE, f"no list price for {target_id} on this plan today"
                ), []
            result = upgrade(
                sub,
                at,
                current=current,
                target=target,
                old_unit_price_minor=record.unit_price_minor,
                new_unit_price_minor=point.unit_price_minor,
            )
        if isinstance(result, MidTermRejected):
            return self._midterm_rejected(ev, result.code.value, result.reason), []
        customer = ref.customers.get(sub.customer_id)
        reseller = ref.resellers.get(sub.reseller_id)
        if customer is None or reseller is None or self.midterm is None:
            return self._midterm_rejected(
                ev, NOT_FOUND, "the customer or reseller is not in the hub's reference data"
            ), []
        try:
            if ev.kind == "billing_frequency":
                await self.midterm.change_billing_cycle(
                    customer,
                    reseller,
                    sub.subscription_id,
                    result.subscription.billing_cycle,
                    correlation_id=ev.correlation_id,
                )
            elif ev.kind == "term":
                await self.midterm.change_term(
                    customer,
                    reseller,
                    sub.subscription_id,
                    result.subscription.term,
                    result.subscription.billing_cycle,
                    correlation_id=ev.correlation_id,
                )
            else:
                await self.midterm.upgrade(
                    customer,
                    reseller,
                    sub.subscription_id,
                    result.subscription.catalog_item_id,
                    sub.quantity,
                    correlation_id=ev.correlation_id,
                )
        except PartnerCenterError as exc:
            if exc.retriable:
                raise  # the pipeline retries with backoff, then dead-letters
            said = exc.description or str(exc)
            return self._midterm_rejected(ev, REFUSED, f"Partner Center {exc.code}: {said}"), []
        return self._applied(ev, record, result, point)

    def _applied(
        self,
        ev: MidTermChangeRequested,
        record: RenewalRecord,
        change: MidTermChange,
        point: PricePoint,
    ) -> tuple[Event, list[Emit]]:
        new = change.subscription
        new_term = new.term_end != record.subscription.term_end
        told: list[Emit] = []
        if record.scheduled is not None:  # Microsoft's rule: any mid-term change deletes them
            metrics.SCHEDULED_DELETED.inc()
            deleted = ScheduledChangesDeleted(
                **caused_by(ev, "ScheduledChangesDeleted"),
                event_time=ev.event_time,
                customer_id=ev.customer_id,
                subscription_id=ev.subscription_id,
                cause=ev.kind,
                message="a mid-term change deletes the changes scheduled for the next term, as "
                "at Microsoft; schedule them again if they still apply",
            )
            told = self._out(deleted, ev.subscription_id)
        update: dict[str, Any] = {
            "subscription": new,
            "unit_price_minor": change.unit_price_minor,
            "unit_cost_minor": point.unit_cost_minor,
            "scheduled": None,
            "scheduled_change_id": None,
        }
        if new_term:  # a new term: its own notices and approval
            update |= {"sent": (), "approved_for": None, "switched_off_for": None}
        self._save(record.model_copy(update=update))
        metrics.MIDTERM.labels(kind=ev.kind, outcome="applied").inc()
        applied = MidTermChangeApplied(
            **caused_by(ev, "MidTermChangeApplied"),
            event_time=ev.event_time,
            change_id=ev.change_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            kind=ev.kind,
            product_id=new.product_id,
            sku_id=new.sku_id,
            availability_id=new.availability_id,
            quantity=new.quantity,
            term=new.term,
            billing_cycle=new.billing_cycle,
            term_start=new.term_start,
            term_end=new.term_end,
            currency=record.currency,
            unit_price_minor=change.unit_price_minor,
            unit_cost_minor=point.unit_cost_minor,
            price_reset=change.price_reset,
            promotion_removed=change.promotion_removed,
            lines=tuple(
                MidTermChargeLine(
                    charge_type=line.charge_type.value,
                    catalog_item_id=line.catalog_item_id,
                    quantity=line.quantity,
                    unit_price_minor=line.unit_price_minor,
                    charge_start=line.charge_start,
                    charge_end=line.charge_end,
                    amount_minor=line.amount_minor,
                )
                for line in change.lines
            ),
        )
        # The orders lifecycle's record follows it, keyed by reseller beside its state.
        commands = self.topics.name(Topic.SUBSCRIPTION_COMMANDS)
        return applied, [*told, Emit(commands, new.reseller_id, applied)]

    def _midterm_rejected(self, ev: MidTermChangeRequested, code: str, message: str) -> Event:
        metrics.MIDTERM.labels(kind=ev.kind, outcome="rejected").inc()
        return MidTermChangeRejected(
            **caused_by(ev, "MidTermChangeRejected"),
            event_time=ev.event_time,
            change_id=ev.change_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            kind=ev.kind,
            code=code,
            message=message,
        )

    # --- renewal approvals ------------------------------------------------------------------------

    def on_approval(self, ev: RenewalApproved) -> list[Emit]:
        key = entity_key(ev.reseller_id, f"approval-{ev.approval_id}")
        done = self.state.changes.get(key)
        if done is not None:  # the reseller sent it again
            return self._out(StoredEvent.model_validate(done).event(), ev.subscription_id)
        outcome = self._approve(ev)
        self.state.changes[key] = StoredEvent.of(outcome).model_dump(mode="json")
        return self._out(outcome, ev.subscription_id)

    def _approve(self, ev: RenewalApproved) -> Event:
        # Keyed by the sending reseller: another reseller's subscription is not found.
        record = self.state.record(ev.reseller_id, ev.subscription_id)
        if record is None or record.subscription.customer_id != ev.customer_id:
            return self._approval_rejected(
                ev,
                NOT_FOUND,
                f"subscription {ev.subscription_id!r} is not a subscription of customer "
                f"{ev.customer_id!r} of this reseller",
            )
        sub = record.subscription
        policy = self.policy_of(sub.reseller_id)
        if not policy.approval_required:
            return self._approval_rejected(
                ev, NOT_REQUIRED, "renewals of this reseller need no approval; nothing to do"
            )
        if sub.status is not SubscriptionStatus.ACTIVE or ev.requested_at >= sub.term_end:
            return self._approval_rejected(
                ev, NOT_RENEWING, "the subscription is not active before a renewal to approve"
            )
        if record.switched_off_for == sub.term_end or not sub.auto_renew:
            return self._approval_rejected(
                ev,
                DEADLINE_PASSED,
                "auto-renew is off for this term; to renew, turn it on with a set_auto_renew "
                "change, which counts as approval",
            )
        self._save(record.model_copy(update={"approved_for": sub.term_end}))
        metrics.APPROVALS.labels(outcome="approved").inc()
        return RenewalApprovalRecorded(
            **caused_by(ev, "RenewalApprovalRecorded"),
            event_time=ev.event_time,
            approval_id=ev.approval_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            renews_at=sub.term_end,
        )

    def _approval_rejected(self, ev: RenewalApproved, code: str, message: str) -> Event:
        metrics.APPROVALS.labels(outcome="rejected").inc()
        return RenewalApprovalRejected(
            **caused_by(ev, "RenewalApprovalRejected"),
            event_time=ev.event_time,
            approval_id=ev.approval_id,
            customer_id=ev.customer_id,
            subscription_id=ev.subscription_id,
            code=code,
            message=message,
        )

    @staticmethod
    def _approved(record: RenewalRecord) -> bool:
        return record.approved_for == record.subscription.term_end

    def _switch_off(
        self, record: RenewalRecord, tick: RenewalsDue
    ) -> tuple[RenewalRecord, list[Emit]]:
        """No approval by the deadline: the orders lifecycle turns auto-renew off (at Partner
        Center and in its record, then ``SubscriptionChanged``); the reseller is told why."""
        sub = record.subscription
        policy = self.policy_of(sub.reseller_id)
        deadline = approval_deadline(sub.term_end, policy)
        reason = (
            f"the renewal on {sub.term_end.date().isoformat()} was not approved by "
            f"{deadline.isoformat()}: auto-renew is switched off and the subscription expires "
            "at the end of its term; to renew, turn auto-renew on with a set_auto_renew change"
        )
        command = AutoRenewSwitchOff(
            **self._ids(record, tick, "AutoRenewSwitchOff"),
            customer_id=sub.customer_id,
            subscription_id=sub.subscription_id,
            renews_at=sub.term_end,
            reason=reason,
        )
        told = RenewalNotApproved(
            **self._ids(record, tick, "RenewalNotApproved"),
            customer_id=sub.customer_id,
            subscription_id=sub.subscription_id,
            renews_at=sub.term_end,
            approve_by=deadline,
            message=reason,
        )
        metrics.APPROVALS.labels(outcome="switched_off").inc()
        commands = self.topics.name(Topic.SUBSCRIPTION_COMMANDS)
        out = [Emit(commands, sub.reseller_id, command), *self._out(told, sub.subscription_id)]
        return record.model_copy(update={"switched_off_for": sub.term_end}), out

    # --- what falls due ---------------------------------------------------------------------------

    def on_due(self, tick: RenewalsDue) -> list[Emit]:
        if not self.promotions_ready():
            # A notice or renewal priced without a running promotion would be wrong for good.
            raise RetriableError("promotions not loaded yet")
        now = tick.now
        now_ms = int(now.timestamp() * 1000)
        out: list[Emit] = []
        page = list(islice(self.state.due_by(tick.partition, now_ms), self.page))
        if page:
            first_ms = int(page[0][0].split("|")[1])
            metrics.DUE_LAG.set(max(0.0, (now_ms - first_ms) / 1000))
        for _, reseller_id, subscription_id in page:
            record = self.state.record(reseller_id, subscription_id)
            if record is None:
                continue
            out += self._due(record, tick)
        return out

    def _due(self, record: RenewalRecord, tick: RenewalsDue) -> list[Emit]:
        sub = record.subscription
        if tick.now >= sub.term_end:
            return self._renew(record, tick)
        policy = self.policy_of(sub.reseller_id)
        out: list[Emit] = []
        if record.switched_off_for != sub.term_end and must_switch_off(
            sub.term_end,
            policy,
            tick.now,
            approved=self._approved(record),
            auto_renew=sub.status is SubscriptionStatus.ACTIVE and sub.auto_renew,
        ):
            record, out = self._switch_off(record, tick)
        if record.switched_off_for == sub.term_end:
            self._save(record)
            return out  # it will not renew: no notice says it will
        schedule_ = notice_schedule(sub.term_end, policy)
        for notice in notices_to_send(schedule_, tick.now, record.sent, sub.term_end):
            priced = self._quote(record, record.scheduled or next_term_of(sub, None))
            # Superseded earlier notices count as sent: each notice goes out at most once.
            sent = (
                *record.sent,
                *(n.lead_days for n in schedule_ if n.lead_days >= notice.lead_days),
            )
            record = record.model_copy(update={"sent": tuple(sorted(set(sent), reverse=True))})
            if priced is None:
                metrics.NOTICES_UNPRICED.inc()
                continue
            metrics.NOTICES.labels(lead_days=str(notice.lead_days)).inc()
            out += self._out(
                self._notice(record, priced, notice.lead_days, tick), sub.subscription_id
            )
        self._save(record)
        return out

    def _quote(self, record: RenewalRecord, next_term: NextTerm) -> RenewalQuote | None:
        ref = self.reference()
        profile = ref.resellers.get(record.subscription.reseller_id)
        try:
            return quote(
                record.subscription,
                next_term,
                entries=ref.prices.get(next_term.catalog_item_id) or (),
                promotions=self.promotions(),
                currency=record.currency,
                markup_bps=profile.markup_bps if profile else 0,
                current_unit_price_minor=record.unit_price_minor,
                policy=self.policy_of(record.subscription.reseller_id),
            )
        except BusinessRuleViolation as exc:
            # Once per catalogue item and currency, not per subscription: a missing price list
            # entry would otherwise write a line for every subscription of the item.
            missing = (next_term.catalog_item_id, record.currency)
            if missing not in _NO_PRICE_SAID and len(_NO_PRICE_SAID) < _NO_PRICE_SAID_MAX:
                _NO_PRICE_SAID.add(missing)
                log.warning(
                    "no renewal price for %s (subscription %s and any other of it): %s",
                    next_term.catalog_item_id,
                    record.subscription.subscription_id,
                    exc,
                )
            return None

    @staticmethod
    def _ids(record: RenewalRecord, tick: RenewalsDue, kind: str, *parts: Any) -> dict[str, Any]:
        sub = record.subscription
        term = sub.term_end.isoformat()
        return {
            "event_id": derived_event_id(f"{sub.subscription_id}|{term}", kind, *parts),
            "correlation_id": f"renewal-{sub.subscription_id}"[:128],
            "causation_id": tick.event_id,
            "reseller_id": sub.reseller_id,
            "event_time": tick.now,
        }

    def _notice(
        self, record: RenewalRecord, q: RenewalQuote, lead: int, tick: RenewalsDue
    ) -> RenewalNoticeIssued:
        n = q.next_term
        return RenewalNoticeIssued(
            **self._ids(record, tick, "RenewalNoticeIssued", lead),
            customer_id=record.subscription.customer_id,
            subscription_id=record.subscription.subscription_id,
            lead_days=lead,
            renews_at=q.renews_at,
            product_id=n.product_id,
            sku_id=n.sku_id,
            availability_id=n.availability_id,
            quantity=n.quantity,
            term=n.term,
            billing_cycle=n.billing_cycle,
            scheduled_change=record.scheduled is not None,
            currency=q.currency,
            unit_price_minor=q.unit_price_minor,
            current_unit_price_minor=q.current_unit_price_minor,
            unit_change_minor=q.unit_change_minor,
            change_bps=q.change_bps,
            term_value_minor=q.term_value_minor,
            promotion_id=q.promotion_id,
            changes_until=q.changes_until,
            approve_by=q.approve_by,
        )

    def _renew(self, record: RenewalRecord, tick: RenewalsDue) -> list[Emit]:
        sub = record.subscription
        unapproved = self.policy_of(sub.reseller_id).approval_required and not self._approved(
            record
        )
        if sub.status is not SubscriptionStatus.ACTIVE or not sub.auto_renew or unapproved:
            ended = sub.model_copy(update={"status": SubscriptionStatus.EXPIRED})
            metrics.EXPIRED.inc()
            self._save(record.model_copy(update={"subscription": ended}))
            return []
        next_term = record.scheduled or next_term_of(sub, None)
        priced = self._quote(record, next_term)
        start = sub.term_end
        if next_term.custom_term_end_date is not None:
            end = _midnight(next_term.custom_term_end_date + timedelta(days=1))
        else:
            end = add_months(start, TERM_MONTHS[next_term.term])
        renewed = Subscription.model_validate(
            {
                **sub.model_dump(),
                "product_id": next_term.product_id,
                "sku_id": next_term.sku_id,
                "availability_id": next_term.availability_id,
                "quantity": next_term.quantity,
                "term": next_term.term,
                "billing_cycle": next_term.billing_cycle,
                "term_start": start,
                "term_end": end,
                "window_start": start,
                "seat_batches": (),
                "cancellation_allowed_until_date": None,
            }
        )
        price = priced.unit_price_minor if priced else record.unit_price_minor
        cost = priced.unit_cost_minor if priced else record.unit_cost_minor
        applied = record.scheduled is not None
        metrics.RENEWED.labels(kind="scheduled" if applied else "same").inc()
        event = SubscriptionRenewed(
            **self._ids(record, tick, "SubscriptionRenewed"),
            customer_id=sub.customer_id,
            subscription_id=sub.subscription_id,
            product_id=renewed.product_id,
            sku_id=renewed.sku_id,
            availability_id=renewed.availability_id,
            old_quantity=sub.quantity,
            quantity=renewed.quantity,
            term=renewed.term,
            billing_cycle=renewed.billing_cycle,
            term_start=renewed.term_start,
            term_end=renewed.term_end,
            unit_cost_minor=cost,
            unit_price_minor=price,
            currency=record.currency,
            promotion_id=priced.promotion_id if priced else None,
            scheduled_change_applied=applied,
        )
        self._save(
            record.model_copy(
                update={
                    "subscription": renewed,
                    "unit_price_minor": price,
                    "unit_cost_minor": cost,
                    "sent": (),
                    "scheduled": None,
                    "scheduled_change_id": None,
                }
            )
        )
        return self._out(event, sub.subscription_id)

    # --- the time index -----------------------------------------------------------------------

    def _next_due(self, record: RenewalRecord) -> datetime | None:
        """The subscription's next piece of work: its next unsent notice, else its term end."""
        sub = record.subscription
        if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED):
            return None
        if record.switched_off_for == sub.term_end:
            return sub.term_end  # no more notices: it expires then
        if sub.status is SubscriptionStatus.ACTIVE and sub.auto_renew:
            floor = min(record.sent, default=None)
            pending = [
                n
                for n in notice_schedule(sub.term_end, self.policy_of(sub.reseller_id))
                if floor is None or n.lead_days < floor
            ]
            policy = self.policy_of(sub.reseller_id)
            if (
                policy.approval_required
                and not self._approved(record)
                and record.switched_off_for != sub.term_end
            ):
                pending.append(
                    NoticeDue(lead_days=0, due_at=approval_deadline(sub.term_end, policy))
                )
            if pending:
                return min(n.due_at for n in pending)
        return sub.term_end

    def _save(self, record: RenewalRecord) -> None:
        """Write the record and move its one time-index entry."""
        sub = record.subscription
        due = self._next_due(record)
        new_key = (
            None
            if due is None
            else due_key(record.partition, due, sub.reseller_id, sub.subscription_id)
        )
        if record.due_key is not None and record.due_key != new_key:
            self.state.due.pop(record.due_key, None)
        if new_key is not None:
            self.state.due[new_key] = 1
        self.state.put(record.model_copy(update={"due_key": new_key}))
