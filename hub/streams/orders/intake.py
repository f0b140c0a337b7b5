"""Order intake: validation and credit check -> OrderAccepted | OrderHeld | OrderRejected.

The one writer of the intake journal (``IntakeState``), so it also takes every other input that
moves a reseller's exposure or its orders: billing/collections facts the hub issued (invoices,
credit notes, confirmed payments, dunning), finance's review of a held order, and what Microsoft
made of an accepted order (provisioned, or refused for good: its commitment is freed). A
reseller's own word (a payment advice) moves nothing. Each message's writes are made whole by
the journal, so the exposure and the order it moved never disagree after a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hub.domain import credit
from hub.domain.consumption.invoice_lines import consumption_part
from hub.domain.credit import CreditDecision, CreditOutcome, CreditPolicy, CreditReason, Exposure
from hub.domain.orders import Order, OrderLine, ReferenceView, order_commitment, validate_order
from hub.domain.reference import ResellerProfile
from hub.errors import BusinessRuleViolation, SchemaError, ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.billing import CreditNoteIssued, DunningStageReached, InvoiceIssued
from hub.schemas.events.consumption import ConsumptionAccrued
from hub.schemas.events.ingress import PaymentConfirmed
from hub.schemas.events.orders import (
    HoldReason,
    OrderAccepted,
    OrderHeld,
    OrderRejected,
    OrderRequested,
    OrderReviewDecided,
    ProvisioningFailed,
    RejectionReason,
    SubscriptionProvisioned,
)
from hub.schemas.events.relationships import SubscriptionTransferred
from hub.streams.consumption.exposure import accrue_consumption
from hub.streams.orders import metrics
from hub.streams.orders.state import (
    Failure,
    IntakeState,
    OrderRecord,
    OrderStatus,
    entity_key,
)
from hub.streams.relationships.agreements import agreement_rejections
from hub.streams.relationships.transfers import transfer_exposure
from hub.topics import PartnerTopic, Topic, TopicCatalog

Clock = Callable[[], datetime]

_HOLD_REASONS: dict[CreditReason, HoldReason] = {
    CreditReason.CREDIT_HOLD: "reseller_on_credit_hold",
    CreditReason.CREDIT_HOLD_WITH_OVERDUE: "reseller_on_credit_hold",
    CreditReason.LIMIT_EXCEEDED: "over_credit_limit",
    CreditReason.ORDER_EXCEEDS_LIMIT: "over_credit_limit",
}
_STATUS: dict[type[Event], OrderStatus] = {
    OrderAccepted: "accepted",
    OrderHeld: "held",
    OrderRejected: "rejected",
}

# Orders that never went to Microsoft: no provisioning outcome is theirs.
_UNPLACED = frozenset({"held", "rejected"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def domain_order(request: OrderRequested) -> Order:
    return Order(
        order_id=request.order_id,
        reseller_id=request.reseller_id,
        customer_id=request.customer_id,
        lines=tuple(OrderLine.model_validate(line.model_dump()) for line in request.lines),
        requested_at=request.requested_at,
    )


def held_event(
    request: OrderRequested, decision: CreditDecision, exposure: Exposure, now: datetime
) -> OrderHeld:
    # The contract's "open receivables" is everything the limit already carries (receivables and
    # earlier commitments), so exposure_minor is exactly what the credit check compared.
    return OrderHeld(
        **caused_by(request, "OrderHeld"),
        event_time=now,
        order_id=request.order_id,
        customer_id=request.customer_id,
        reason_code=_HOLD_REASONS.get(decision.code, "manual_review"),
        message=f"{decision.code}: {decision.reason}",
        credit_limit_minor=decision.credit_limit_minor,
        open_receivables_minor=exposure.total_minor,
        order_commitment_minor=decision.order_value_minor,
        exposure_minor=exposure.total_minor + decision.order_value_minor,
        currency=decision.currency,
    )


@dataclass
class OrderIntake:
    """Handlers for ``reseller.orders``, billing/collections facts, review commands and
    provisioning outcomes: everything that writes the intake journal."""

    topics: TopicCatalog
    state: IntakeState
    reference: Callable[[], ReferenceView]
    policy: CreditPolicy = field(default_factory=CreditPolicy)
    clock: Clock = utc_now

    def emits(self, event: Event, order_id: str, known_reseller: bool = True) -> list[Emit]:
        """A decision goes to the decisions topic and, for a known reseller, to its status."""
        reseller_id = event.reseller_id or ""
        out = [Emit(self.topics.name(Topic.ORDER_DECISIONS), reseller_id, event)]
        if known_reseller:
            out.append(Emit(self.topics.partner(reseller_id, PartnerTopic.STATUS), order_id, event))
        return out

    # -- reseller.orders ---------------------------------------------------------------------

    async def on_order(self, event: Event) -> Sequence[Emit]:
        if not isinstance(event, OrderRequested):
            raise SchemaError(f"{type(event).__name__} does not belong on the orders topic")
        ref = self.reference()
        known = event.reseller_id in ref.resellers
        existing = self.state.order(event.reseller_id, event.order_id)
        if existing is not None:
            # Already decided (the reseller sent it again): the same decision, nothing changes.
            return self.emits(existing.decision.event(), event.order_id, known)
        now = self.clock()
        decision, commitment, currency = self._decide(event, ref, now)
        self.state.put_order(
            event.reseller_id,
            event.order_id,
            OrderRecord(
                request=event.model_dump(mode="json"),
                status=_STATUS[type(decision)],
                decision=StoredEvent.of(decision),
                commitment_minor=commitment,
                currency=currency,
            ),
        )
        return self.emits(decision, event.order_id, known)

    def _decide(
        self, request: OrderRequested, ref: ReferenceView, now: datetime
    ) -> tuple[Event, int | None, str | None]:
        order = domain_order(request)
        rejections = [*validate_order(order, ref), *agreement_rejections(order.customer_id)]
        if rejections:
            metrics.count_decision("rejected", [r.code.value for r in rejections])
            reasons = tuple(
                RejectionReason(code=r.code.value, field=r.field, value=r.value, message=r.message)
                for r in rejections
            )
            return self._rejected(request, request, reasons, now), None, None
        reseller = ref.resellers[request.reseller_id]
        commitment = order_commitment(order, ref.prices, reseller)
        exposure = self.state.exposure_of(reseller.reseller_id, reseller.currency)
        decision = credit.credit_decision(reseller, exposure, commitment, self.policy)
        if decision.outcome is CreditOutcome.ACCEPT:
            self.state.put_exposure(credit.apply_commitment(exposure, commitment))
            metrics.count_decision("accepted")
            accepted = self._accepted(request, request, reseller, commitment, now)
            return accepted, commitment, reseller.currency
        if decision.outcome is CreditOutcome.HOLD:
            # Counted under the reason the OrderHeld event carries, so a dashboard and the
            # reseller's status speak of the same hold.
            metrics.count_decision("held", [_HOLD_REASONS.get(decision.code, "manual_review")])
            return held_event(request, decision, exposure, now), commitment, reseller.currency
        metrics.count_decision("rejected", [decision.code.value])
        reason = RejectionReason(code=decision.code.value, message=decision.reason)
        return self._rejected(request, request, (reason,), now), None, None

    @staticmethod
    def _accepted(
        cause: Event,
        request: OrderRequested,
        reseller: ResellerProfile,
        commitment: int,
        now: datetime,
    ) -> OrderAccepted:
        return OrderAccepted(
            **{**caused_by(cause, "OrderAccepted"), "correlation_id": request.correlation_id},
            event_time=now,
            order_id=request.order_id,
            customer_id=request.customer_id,
            lines=request.lines,
            commitment_minor=commitment,
            currency=reseller.currency,
            requested_at=request.requested_at,
        )

    @staticmethod
    def _rejected(
        cause: Event,
        request: OrderRequested,
        reasons: tuple[RejectionReason, ...],
        now: datetime,
    ) -> OrderRejected:
        return OrderRejected(
            **{**caused_by(cause, "OrderRejected"), "correlation_id": request.correlation_id},
            event_time=now,
            order_id=request.order_id,
            customer_id=request.customer_id,
            reasons=reasons,
        )

    # -- hub.ops.commands --------------------------------------------------------------------

    async def on_review(self, event: Event) -> Sequence[Emit]:
        """Finance releases (-> OrderAccepted) or rejects (-> OrderRejected) a held order."""
        if not isinstance(event, OrderReviewDecided):
            return ()  # another flow's command on the shared ops topic
        record = self.state.order(event.reseller_id, event.order_id)
        if record is None:
            raise BusinessRuleViolation(
                "OrderNotFound", f"no order {event.order_id!r} of reseller {event.reseller_id!r}"
            )
        if record.status != "held":
            if record.decision.doc.get("causation_id") == str(event.event_id):
                return self.emits(record.decision.event(), event.order_id)  # redelivered
            raise BusinessRuleViolation(
                "OrderNotHeld", f"order {event.order_id!r} is {record.status}, not held"
            )
        request = record.order_requested()
        now = self.clock()
        decision: Event
        if event.decision == "release":
            reseller = self.reference().resellers.get(event.reseller_id)
            if reseller is None or record.commitment_minor is None:
                raise ValidationFailed("reseller_id", event.reseller_id, "reseller is not known")
            exposure = self.state.exposure_of(reseller.reseller_id, reseller.currency)
            self.state.put_exposure(credit.apply_commitment(exposure, record.commitment_minor))
            decision = self._accepted(event, request, reseller, record.commitment_minor, now)
            status: OrderStatus = "accepted"
            metrics.count_decision("accepted")
        else:
            reason = RejectionReason(
                code="ReviewRejected",
                message=f"rejected by finance review: {event.reason or 'no reason given'}",
            )
            decision = self._rejected(event, request, (reason,), now)
            status = "rejected"
            metrics.count_decision("rejected", ["ReviewRejected"])
        updated = record.model_copy(update={"status": status, "decision": StoredEvent.of(decision)})
        self.state.put_order(event.reseller_id, event.order_id, updated)
        return self.emits(decision, event.order_id)

    # -- billing and collections feedback ------------------------------------------------------

    async def on_exposure_event(self, event: Event) -> Sequence[Emit]:
        """Invoices, credit notes, confirmed payments and dunning move the exposure, each once."""
        if isinstance(event, ConsumptionAccrued):
            return accrue_consumption(self.state, event)
        if isinstance(event, SubscriptionTransferred):
            return transfer_exposure(self.state, event)
        if not isinstance(
            event, InvoiceIssued | CreditNoteIssued | PaymentConfirmed | DunningStageReached
        ):
            return ()  # not an exposure fact; the topic's other readers handle it
        applied = entity_key(event.reseller_id, str(event.event_id))
        if applied in self.state.applied:
            return ()  # applied once (a redelivery older than the journal's kept outputs)
        exposure = self.state.exposure_of(event.reseller_id, event.currency)
        if exposure.currency != event.currency:
            raise ValidationFailed(
                "currency",
                event.currency,
                f"the exposure of {event.reseller_id} is kept in {exposure.currency}",
            )
        self.state.put_exposure(apply_exposure_event(exposure, event))
        self.state.applied[applied] = 1
        return ()

    # -- hub.orders.provisioning ---------------------------------------------------------------

    async def on_provisioning(self, event: Event) -> Sequence[Emit]:
        """What Microsoft made of an accepted order: the order's status, and its commitment
        freed once if Microsoft refused it for good (``credit.release_refused_order``)."""
        if not isinstance(event, SubscriptionProvisioned | ProvisioningFailed):
            return ()
        record = self.state.order(event.reseller_id, event.order_id)
        if record is None or record.commitment_minor is None or record.status in _UNPLACED:
            return ()  # not an order this hub accepted: nothing of it to update
        if isinstance(event, SubscriptionProvisioned):
            updated = self._provisioned(record, event)
        elif record.status == "provisioned":
            return ()  # a report older than the provisioning that followed it
        else:
            updated = self._failed(record, event)
        if updated != record:
            self.state.put_order(event.reseller_id, event.order_id, updated)
        return ()

    def _provisioned(self, record: OrderRecord, event: SubscriptionProvisioned) -> OrderRecord:
        ids = record.subscription_ids
        if event.subscription_id not in ids:
            ids = [*ids, event.subscription_id]
        if record.released and record.commitment_minor is not None:
            # Placed after all (an operator replayed the refused order): it will be invoiced.
            exposure = self.state.exposure_of(event.reseller_id, event.currency)
            self.state.put_exposure(credit.apply_commitment(exposure, record.commitment_minor))
        return record.model_copy(
            update={
                "status": "provisioned",
                "released": False,
                "microsoft_order_id": event.microsoft_order_id,
                "subscription_ids": ids,
                "failure": None,
            }
        )

    def _failed(self, record: OrderRecord, event: ProvisioningFailed) -> OrderRecord:
        failure = Failure(
            code=event.code,
            message=event.message,
            retriable=event.retriable,
            attempts=event.attempts,
        )
        released = record.released
        raw = self.state.exposure.get(event.reseller_id)
        if not event.retriable and not released and record.commitment_minor is not None:
            if raw is not None:  # an accepted order's commitment is in its reseller's exposure
                exposure = Exposure.model_validate(raw)
                freed = credit.release_refused_order(exposure, record.commitment_minor)
                self.state.put_exposure(freed)
            released = True
        return record.model_copy(
            update={"status": "failed", "failure": failure, "released": released}
        )


def apply_exposure_event(
    exposure: Exposure,
    event: InvoiceIssued | CreditNoteIssued | PaymentConfirmed | DunningStageReached,
) -> Exposure:
    """The exposure after one billing or collections fact (the rules are in hub.domain.credit)."""
    if isinstance(event, InvoiceIssued):
        # Consumption lines were accrued consumption, never an order's commitment.
        consumption = consumption_part((ln.product_id, ln.amount_minor) for ln in event.lines)
        billed = credit.commitment_billed_by(exposure, event.subtotal_minor - consumption)
        return credit.apply_invoice(exposure, event.total_minor, consumes_commitment_minor=billed)
    if isinstance(event, CreditNoteIssued):
        return credit.apply_invoice(exposure, -event.total_minor)
    if isinstance(event, PaymentConfirmed):
        return credit.apply_payment(exposure, event.amount_minor)
    overdue = credit.set_overdue(exposure, event.overdue_minor)
    return credit.set_credit_hold(overdue, event.credit_hold)
