"""Subscription lifecycle: a reseller's change request -> domain rules -> Partner Center PATCH.

The 7-day rule is decided in ``hub.domain.subscriptions``; Microsoft enforces it too, and if it
refuses what the hub allowed, its refusal (code and text) becomes the rejection. Subscriptions and
change outcomes live in the fulfilment journal, beside what provisioning placed: a subscription is
there before its ``SubscriptionProvisioned`` is sent, so a change the reseller sends on seeing it
always finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError
from hub.connectors.partner_center.models import SubscriptionPatch
from hub.domain.orders import ReferenceView
from hub.domain.relationships.transfers import moved_subscription
from hub.domain.renewals_midterm import restarts_term
from hub.domain.subscriptions import (
    Change,
    ChangeRejectionCode,
    Rejected,
    Subscription,
    refund_minor,
    request_change,
    with_partner_center_windows,
)
from hub.domain.subscriptions_midterm import follow_mid_term
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.relationships import SubscriptionTransferred
from hub.schemas.events.renewals import (
    AutoRenewSwitchOff,
    MidTermChangeApplied,
    MidTermChangeRequested,
    NextTermChangeRequested,
    RenewalApproved,
)
from hub.schemas.events.subscriptions import (
    SubscriptionChanged,
    SubscriptionChangeRejected,
    SubscriptionChangeRequested,
)
from hub.streams.orders import metrics
from hub.streams.orders.intake import Clock, utc_now
from hub.streams.orders.state import FulfilmentState, SubscriptionRecord, entity_key
from hub.topics import PartnerTopic, Topic, TopicCatalog

NOT_FOUND = "SubscriptionNotFound"
REFUSED = "PartnerCenterRefused"


_WINDOW_CLOSED = {
    ChangeRejectionCode.CANCELLATION_WINDOW_CLOSED,
    ChangeRejectionCode.SEAT_REDUCTION_WINDOW_CLOSED,
}


def patch_for(old: Subscription, new: Subscription) -> SubscriptionPatch:
    """The PATCH that moves Microsoft's subscription from ``old`` to ``new`` (changed fields)."""
    return SubscriptionPatch(
        quantity=new.quantity if new.quantity != old.quantity else None,
        status=new.status if new.status != old.status else None,
        auto_renew_enabled=new.auto_renew if new.auto_renew != old.auto_renew else None,
    )


@dataclass
class Lifecycle:
    topics: TopicCatalog
    state: FulfilmentState
    reference: Callable[[], ReferenceView]
    client: PartnerCenterClient
    clock: Clock = utc_now

    def emits(self, event: Event, subscription_id: str) -> list[Emit]:
        """To the lifecycle topic and, for an onboarded reseller only, to its status topic."""
        reseller_id = event.reseller_id or ""
        out = [Emit(self.topics.name(Topic.SUBSCRIPTION_EVENTS), subscription_id, event)]
        if reseller_id in self.reference().resellers:
            status = self.topics.partner(reseller_id, PartnerTopic.STATUS)
            out.append(Emit(status, subscription_id, event))
        return out

    async def on_change(self, event: Event) -> Sequence[Emit]:
        if isinstance(event, (NextTermChangeRequested, RenewalApproved, MidTermChangeRequested)):
            return []  # the renewals flow's (hub/streams/renewals), on the same ingress topic
        if not isinstance(event, SubscriptionChangeRequested):
            raise SchemaError(f"{type(event).__name__} does not belong on the changes topic")
        key = entity_key(event.reseller_id, event.change_id)
        done = self.state.changes.get(key)
        if done is not None:  # the reseller sent the change again
            return self.emits(StoredEvent.model_validate(done).event(), event.subscription_id)
        # Keyed by the requesting reseller: another reseller's subscription is not found.
        record = self.state.subscription(event.reseller_id, event.subscription_id)
        outcome = await self._decide(event, record)
        self.state.changes[key] = StoredEvent.of(outcome).model_dump(mode="json")
        return self.emits(outcome, event.subscription_id)

    async def on_command(self, event: Event) -> Sequence[Emit]:
        """A hub-internal command on ``hub.subscriptions.commands``: a mid-term change the
        renewals flow applied (``on_mid_term``), or its switch-off of auto-renew for a renewal
        that needed approval and got none. It goes through the same
        rules and Partner Center PATCH as a reseller's ``set_auto_renew``, and ends in the usual
        ``SubscriptionChanged`` (or ``SubscriptionChangeRejected``); already off, nothing."""
        if isinstance(event, MidTermChangeApplied):
            return await self.on_mid_term(event)
        if isinstance(event, SubscriptionTransferred):
            return self.on_transferred(event)
        if not isinstance(event, AutoRenewSwitchOff):
            raise SchemaError(f"{type(event).__name__} does not belong on the commands topic")
        request = SubscriptionChangeRequested(
            event_id=event.event_id,
            event_time=event.event_time,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            reseller_id=event.reseller_id,
            change_id=f"renewal-not-approved-{event.renews_at.date()}-{event.subscription_id}"[
                :128
            ],
            customer_id=event.customer_id,
            subscription_id=event.subscription_id,
            kind="set_auto_renew",
            auto_renew=False,
            requested_at=event.event_time,
        )
        key = entity_key(request.reseller_id, request.change_id)
        done = self.state.changes.get(key)
        if done is not None:  # a redelivery
            return self.emits(StoredEvent.model_validate(done).event(), request.subscription_id)
        record = self.state.subscription(request.reseller_id, request.subscription_id)
        if record is not None and not record.subscription.auto_renew:
            return []  # already off: nothing to switch, nothing to tell
        outcome = await self._decide(request, record)
        self.state.changes[key] = StoredEvent.of(outcome).model_dump(mode="json")
        return self.emits(outcome, request.subscription_id)

    async def on_mid_term(self, event: Event) -> Sequence[Emit]:
        """A mid-term change the renewals flow applied at Partner Center (on
        ``hub.subscriptions.commands``, keyed by reseller beside this flow's state): the
        record takes the new SKU, term, billing cycle and unit price, so later seat changes and
        cancellations are checked and refunded on what Microsoft now bills. Once per change: a
        redelivery, or a replay after later changes moved the record on, changes nothing."""
        if not isinstance(event, MidTermChangeApplied):
            return []
        key = entity_key(event.reseller_id, event.change_id)
        if key in self.state.midterms:
            return []
        record = self.state.subscription(event.reseller_id, event.subscription_id)
        if record is None or record.subscription.customer_id != event.customer_id:
            return []  # not a subscription this flow provisioned: nothing of its own to follow
        new_term = (event.term_start, event.term_end) if restarts_term(event.kind) else None
        followed = follow_mid_term(
            record.subscription,
            product_id=event.product_id,
            sku_id=event.sku_id,
            availability_id=event.availability_id,
            term=event.term,
            billing_cycle=event.billing_cycle,
            new_term=new_term,
        )
        self.state.put_subscription(
            record.model_copy(
                update={
                    "subscription": followed,
                    "unit_price_minor": event.unit_price_minor,
                    "unit_cost_minor": event.unit_cost_minor,
                    "currency": event.currency,
                }
            )
        )
        self.state.midterms[key] = StoredEvent.of(event).model_dump(mode="json")
        return []

    def on_transferred(self, ev: SubscriptionTransferred) -> list[Emit]:
        """A transfer billing booked (hub/streams/relationships/transfers.py), on
        ``hub.subscriptions.commands``. The old reseller's copy (keyed by it, beside its
        record) removes the record, so the old reseller's changes find no subscription, and
        hands the record's Microsoft customer to the new reseller's partition; that copy opens
        the record under the new reseller at its price. Once each: a redelivered old copy finds
        no record, a redelivered new one finds its record."""
        if ev.side == "from":
            record = self.state.subscription(ev.from_reseller_id, ev.subscription_id)
            if record is None or record.subscription.customer_id != ev.customer_id:
                return []  # not provisioned by this flow, or moved already
            del self.state.subscriptions[entity_key(ev.from_reseller_id, ev.subscription_id)]
            handed = SubscriptionTransferred.model_validate(
                {
                    **ev.model_dump(),
                    **caused_by(ev, "SubscriptionTransferred", "record"),
                    "reseller_id": ev.to_reseller_id,
                    "side": "to",
                    "microsoft_customer_id": record.microsoft_customer_id,
                }
            )
            commands = self.topics.name(Topic.SUBSCRIPTION_COMMANDS)
            return [Emit(commands, ev.to_reseller_id, handed)]
        ms_customer = ev.microsoft_customer_id
        if ms_customer is None or self.state.subscription(ev.to_reseller_id, ev.subscription_id):
            return []
        moved = moved_subscription(
            subscription_id=ev.subscription_id,
            transfer_id=str(ev.causation_id or ev.event_id),
            to_reseller_id=ev.to_reseller_id,
            customer_id=ev.customer_id,
            product_id=ev.product_id,
            sku_id=ev.sku_id,
            availability_id=ev.availability_id,
            quantity=ev.quantity,
            term=ev.term,
            billing_cycle=ev.billing_cycle,
            auto_renew=ev.auto_renew,
            term_start=ev.term_start,
            term_end=ev.term_end,
        )
        self.state.put_subscription(
            SubscriptionRecord(
                subscription=moved,
                microsoft_customer_id=ms_customer,
                unit_price_minor=ev.to_unit_price_minor,
                unit_cost_minor=ev.unit_cost_minor,
                currency=ev.currency,
            )
        )
        # The new reseller's later orders for this customer reach the same Microsoft customer.
        customer = entity_key(ev.to_reseller_id, ev.customer_id)
        if self.state.customers.get(customer) is None:
            self.state.customers[customer] = ms_customer
        return []

    async def _decide(
        self, request: SubscriptionChangeRequested, record: SubscriptionRecord | None
    ) -> Event:
        # Another reseller's subscription is reported as missing: ids must not leak existence.
        if (
            record is None
            or record.subscription.reseller_id != request.reseller_id
            or record.subscription.customer_id != request.customer_id
        ):
            return self._rejected(
                request,
                NOT_FOUND,
                f"subscription {request.subscription_id!r} is not a "
                f"subscription of customer {request.customer_id!r} of this reseller",
            )
        sub = record.subscription
        item = self.reference().catalogue.get(sub.catalog_item_id)

        def decide(sub: Subscription) -> Change | Rejected:
            return request_change(
                sub,
                request.kind,
                request.requested_at,
                new_quantity=request.new_quantity,
                auto_renew=request.auto_renew,
                max_quantity=item.max_quantity if item else None,
            )

        result = decide(sub)
        if isinstance(result, Rejected) and result.code in _WINDOW_CLOSED:
            # Closed by the hub's own count: Partner Center's windows win (a renewal or seats
            # added outside the hub open windows the hub did not see). Asked only then, so a
            # replay of an allowed change decides on the same state.
            sub = await self._with_microsoft_windows(record, request.correlation_id)
            result = decide(sub)
        if isinstance(result, Rejected):
            return self._rejected(request, result.code.value, result.reason)
        await self.client.start()
        try:
            await self.client.update_subscription(
                record.microsoft_customer_id,
                sub.subscription_id,
                patch_for(sub, result.subscription),
                correlation_id=request.correlation_id,
            )
        except PartnerCenterError as exc:
            if exc.retriable:
                raise  # the pipeline retries with backoff, then dead-letters
            said = exc.description or str(exc)
            return self._rejected(request, REFUSED, f"Partner Center {exc.code}: {said}")
        changed = self._changed(request, record, result)
        self.state.put_subscription(record.model_copy(update={"subscription": result.subscription}))
        return changed

    async def _with_microsoft_windows(
        self, record: SubscriptionRecord, correlation_id: str
    ) -> Subscription:
        """The subscription with the refund windows Partner Center reports for it, which win
        over the hub's own (a renewal, or seats added outside the hub, opens windows the hub
        did not see): ``refundableQuantity.details[]`` and ``cancellationAllowedUntilDate``."""
        sub = record.subscription
        await self.client.start()
        try:
            seen = await self.client.get_subscription(
                record.microsoft_customer_id, sub.subscription_id, correlation_id=correlation_id
            )
        except PartnerCenterError as exc:
            if exc.retriable:
                raise  # the pipeline retries with backoff, then dead-letters
            return sub  # Microsoft said no: the hub's own windows decide, Microsoft checks again
        details = seen.refundable_quantity.details if seen.refundable_quantity else []
        return with_partner_center_windows(
            sub,
            [(d.quantity, d.allow_until_date_time) for d in details],
            seen.cancellation_allowed_until_date,
        )

    def _changed(
        self, request: SubscriptionChangeRequested, record: SubscriptionRecord, change: Change
    ) -> SubscriptionChanged:
        fact = change.fact
        refund = refund_minor(fact.refund, record.unit_price_minor) if fact.refund else 0
        metrics.count_change(fact.kind.value)
        return SubscriptionChanged(
            **caused_by(request, "SubscriptionChanged"),
            event_time=self.clock(),
            change_id=request.change_id,
            customer_id=request.customer_id,
            subscription_id=request.subscription_id,
            kind=request.kind,
            effective_at=fact.effective_at,
            old_quantity=fact.old_quantity,
            new_quantity=fact.new_quantity,
            status=fact.new_status,
            auto_renew=change.subscription.auto_renew,
            refund_minor=refund,
            currency=record.currency,
        )

    def _rejected(
        self, request: SubscriptionChangeRequested, code: str, message: str
    ) -> SubscriptionChangeRejected:
        metrics.count_change_rejected(code)
        return SubscriptionChangeRejected(
            **caused_by(request, "SubscriptionChangeRejected"),
            event_time=self.clock(),
            change_id=request.change_id,
            customer_id=request.customer_id,
            subscription_id=request.subscription_id,
            kind=request.kind,
            code=code,
            message=message,
        )
