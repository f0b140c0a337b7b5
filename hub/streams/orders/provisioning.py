"""Provisioning: an accepted order becomes Microsoft subscriptions through Partner Center.

Idempotent end to end: an order already placed re-sends its events; otherwise the adapter
looks up the order placed under the order's idempotency key before placing it again, so neither a
redelivered ``OrderAccepted`` nor a lost response ever yields a second Microsoft order. What it
placed (Microsoft customer, order, subscriptions) is written to the fulfilment journal; the
order's status and a failed order's commitment belong to intake, which reads the outcome from
``hub.orders.provisioning``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.connectors.partner_center import PartnerCenterClient, nce_line
from hub.connectors.partner_center.models import (
    Address,
    BillingProfile,
    CompanyProfile,
)
from hub.connectors.partner_center.models import Customer as MicrosoftCustomer
from hub.connectors.partner_center.models import Subscription as MicrosoftSubscription
from hub.domain.ids import idempotency_key_for_customer, idempotency_key_for_order
from hub.domain.orders import Order, ReferenceView, find_price, line_unit_price
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.subscriptions import provision
from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.pipeline import RetryPolicy
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.orders import (
    OrderAccepted,
    OrderRequested,
    ProvisioningFailed,
    SubscriptionProvisioned,
)
from hub.streams.orders import metrics
from hub.streams.orders.intake import Clock, domain_order, utc_now
from hub.streams.orders.state import (
    FulfilmentState,
    PlacedOrder,
    SubscriptionRecord,
    entity_key,
    restore,
)
from hub.topics import PartnerTopic, Topic, TopicCatalog

# Partner Center throttles in bursts and recovers within seconds: six attempts with backoff
# capped at 10 s wait at most ~15 s between attempts in total (expected ~8 s), on top of the
# adapter's own per-call retries that honour Retry-After.
PROVISIONING_RETRY = RetryPolicy(max_attempts=6, base_s=0.5, cap_s=10.0)
# Parked placements and changes one tick retries: each calls Partner Center, and a tick holds
# the fulfilment agent while it runs.
PARKED_PAGE = 5

_NOT_DOMAIN = re.compile(r"[^a-z0-9-]+")


def microsoft_customer(customer: Customer, reseller: ResellerProfile) -> MicrosoftCustomer:
    """The tenant to create for ``customer``, with its reseller as the associated partner."""
    domain = customer.tenant_domain or (
        _NOT_DOMAIN.sub("-", customer.customer_id.lower()).strip("-")[:27] + ".onmicrosoft.com"
    )
    return MicrosoftCustomer(
        company_profile=CompanyProfile(domain=domain, company_name=customer.name),
        billing_profile=BillingProfile(
            company_name=customer.name,
            email=f"admin@{domain}",
            culture=customer.language if "-" in customer.language else "en-US",
            language=customer.language.split("-")[0],
            default_address=Address(country=customer.country),
        ),
        associated_partner_id=reseller.partner_id,
    )


def no_requests(reseller_id: str, order_id: str) -> OrderRequested | None:
    return None


@dataclass
class Provisioning:
    """Handler and failure report for ``OrderAccepted`` on the decisions topic."""

    topics: TopicCatalog
    state: FulfilmentState
    reference: Callable[[], ReferenceView]
    client: PartnerCenterClient
    clock: Clock = utc_now
    # The reseller's request as intake recorded it (read only; intake's journal writes it before
    # the decision is sent): its date prices the lines as the credit check priced them.
    requests: Callable[[str, str], OrderRequested | None] = no_requests

    def emits(self, events: Sequence[Event], key_of: Callable[[Event], str]) -> list[Emit]:
        out: list[Emit] = []
        for event in events:
            reseller_id = event.reseller_id or ""
            out.append(Emit(self.topics.name(Topic.PROVISIONING), reseller_id, event))
            status = self.topics.partner(reseller_id, PartnerTopic.STATUS)
            out.append(Emit(status, key_of(event), event))
        return out

    async def on_decision(self, event: Event) -> Sequence[Emit]:
        if not isinstance(event, OrderAccepted):
            return ()  # held and rejected orders go nowhere near Microsoft
        placed = self.state.placed_order(event.reseller_id, event.order_id)
        if placed is not None:
            return self.emits(restore(placed.provisioned), _subject)
        try:
            provisioned = await self._place(event)
        except Exception as exc:
            if getattr(exc, "retriable", False):
                metrics.PROVISIONING_RETRIES.inc()
            raise
        return self.emits(provisioned, _subject)

    async def _place(self, accepted: OrderAccepted) -> list[SubscriptionProvisioned]:
        ref = self.reference()
        reseller = ref.resellers.get(accepted.reseller_id)
        customer = ref.customers.get(accepted.customer_id)
        if reseller is None or customer is None:
            raise ValidationFailed(
                "customer_id", accepted.customer_id, "reseller or customer left the reference data"
            )
        request = self.requests(accepted.reseller_id, accepted.order_id)
        order = domain_order(request or _request_of(accepted))
        await self.client.start()  # idempotent; the worker's service closes it on shutdown
        ms_customer_id = await self._microsoft_customer(customer, reseller, accepted.correlation_id)
        lines = [
            nce_line(
                line.catalog_item_id,
                line.quantity,
                line.term,
                line.billing_cycle,
                reseller.partner_id,
                line_id=index,
            )
            for index, line in enumerate(order.lines)
        ]
        ms_order = await self.client.place_order(
            ms_customer_id,
            lines,
            correlation_id=accepted.correlation_id,
            # The key Microsoft orders have been placed under since the hub began: keep it.
            idempotency_key=idempotency_key_for_order(
                f"{accepted.reseller_id}/{accepted.order_id}"
            ),
        )
        subscriptions = {
            s.id: s
            for s in await self.client.list_subscriptions(
                ms_customer_id, correlation_id=accepted.correlation_id, order_id=ms_order.id
            )
        }
        now = self.clock()
        events: list[SubscriptionProvisioned] = []
        for item in sorted(ms_order.line_items, key=lambda i: i.line_item_number):
            ms_sub = subscriptions.get(item.subscription_id or "")
            if ms_sub is None:
                raise ValidationFailed(
                    "subscription_id", item.subscription_id, "Microsoft order line has none"
                )
            index = item.line_item_number
            sub_record = self._subscription(order, index, ms_sub, ms_customer_id, reseller, ref)
            self.state.put_subscription(sub_record)
            events.append(self._provisioned(accepted, index, ms_order.id, sub_record, now))
        placed = PlacedOrder(
            microsoft_order_id=ms_order.id, provisioned=[StoredEvent.of(e) for e in events]
        )
        self.state.put_placed(accepted.reseller_id, accepted.order_id, placed)
        metrics.SUBSCRIPTIONS_PROVISIONED.inc(len(events))
        if request is not None:
            requested = request.event_time
            metrics.ORDER_TO_PROVISIONED.observe(
                max(0.0, (self.clock() - requested).total_seconds())
            )
        return events

    async def _microsoft_customer(
        self, customer: Customer, reseller: ResellerProfile, correlation_id: str
    ) -> str:
        key = entity_key(reseller.reseller_id, customer.customer_id)
        known = self.state.customers.get(key)
        if known is not None:
            return str(known)
        created = await self.client.create_customer(
            microsoft_customer(customer, reseller),
            correlation_id=correlation_id,
            idempotency_key=idempotency_key_for_customer(customer.customer_id),
        )
        if created.id is None:
            raise ValidationFailed("customer.id", None, "Microsoft returned a customer without id")
        self.state.customers[key] = created.id
        return created.id

    @staticmethod
    def _subscription(
        order: Order,
        index: int,
        ms_sub: MicrosoftSubscription,
        ms_customer_id: str,
        reseller: ResellerProfile,
        ref: ReferenceView,
    ) -> SubscriptionRecord:
        line = order.lines[index]
        entry = find_price(
            ref.prices,
            line.catalog_item_id,
            line.term,
            line.billing_cycle,
            reseller.currency,
            order.order_date,
        )
        if entry is None:
            raise ValidationFailed(f"lines[{index}]", line.catalog_item_id, "price disappeared")
        # Microsoft's purchase time opens the 7-day window, so hub and Microsoft agree on it.
        subscription = provision(
            order,
            line,
            ms_sub.id,
            ms_sub.effective_start_date,
            auto_renew=ms_sub.auto_renew_enabled,
        )
        return SubscriptionRecord(
            subscription=subscription,
            microsoft_customer_id=ms_customer_id,
            unit_price_minor=line_unit_price(entry, reseller),
            unit_cost_minor=entry.unit_cost_minor,
            currency=reseller.currency,
        )

    @staticmethod
    def _provisioned(
        accepted: OrderAccepted,
        index: int,
        microsoft_order_id: str,
        record: SubscriptionRecord,
        now: datetime,
    ) -> SubscriptionProvisioned:
        sub = record.subscription
        return SubscriptionProvisioned(
            **caused_by(accepted, "SubscriptionProvisioned", index),
            event_time=now,
            order_id=accepted.order_id,
            line_index=index,
            customer_id=accepted.customer_id,
            subscription_id=sub.subscription_id,
            microsoft_order_id=microsoft_order_id,
            product_id=sub.product_id,
            sku_id=sub.sku_id,
            availability_id=sub.availability_id,
            quantity=sub.quantity,
            term=sub.term,
            billing_cycle=sub.billing_cycle,
            term_start=sub.term_start.date(),
            term_end=sub.term_end.date(),
            auto_renew=sub.auto_renew,
            unit_cost_minor=record.unit_cost_minor,
            unit_price_minor=record.unit_price_minor,
            currency=record.currency,
        )

    async def on_failure(self, event: Event, error: Exception, attempts: int) -> Sequence[Emit]:
        """Report a provisioning that failed for good (the pipeline then dead-letters it).

        Outside the journal, so it writes nothing: intake reads the report and frees the
        commitment of an order Microsoft refused for good."""
        if not isinstance(event, OrderAccepted):
            return ()
        retriable = bool(getattr(error, "retriable", False))
        code = str(getattr(error, "code", None) or type(error).__name__)
        message = str(getattr(error, "description", None) or error)[:4000] or code
        failed = ProvisioningFailed(
            **caused_by(event, "ProvisioningFailed"),
            event_time=self.clock(),
            order_id=event.order_id,
            line_index=0,
            customer_id=event.customer_id,
            retriable=retriable,
            attempts=attempts,
            code=code,
            message=message,
        )
        metrics.PROVISIONING_FAILURES.labels(retriable=str(retriable).lower()).inc()
        return self.emits([failed], _subject)


def _subject(event: Event) -> str:
    """Partner status topics are keyed by what the event is about."""
    return str(getattr(event, "order_id", "") or event.event_id)


def _request_of(accepted: OrderAccepted) -> OrderRequested:
    """The request as the decision carries it, when the intake record is not in this worker
    (fulfilment in a flow group of its own). A v1 decision has no request time: its own time
    stands in for it."""
    return OrderRequested(
        event_id=accepted.causation_id or accepted.event_id,
        event_time=accepted.event_time,
        correlation_id=accepted.correlation_id,
        reseller_id=accepted.reseller_id,
        order_id=accepted.order_id,
        customer_id=accepted.customer_id,
        lines=accepted.lines,
        requested_at=accepted.requested_at or accepted.event_time,
    )
