"""Payments: a reseller's report is a remittance advice (a claim); finance's confirmation is money.

``reseller.payments`` carries advices: each admitted one is recorded (``PaymentAdviceRecorded``
on ``hub.billing.collections`` and the reseller's billing topic) and settles nothing. Finance
confirms a payment with an ops command (``hub billing confirm-payment``, or one per line of
``hub billing import-statement``): only then does billing apply it to open invoices (a
``PaymentReceived`` on ``hub.billing.inputs``) and the order credit check count it
(``PaymentConfirmed`` on ``hub.billing.collections``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from hub.domain.orders import ReferenceView
from hub.errors import SchemaError, ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.billing import PaymentReceived
from hub.schemas.events.ingress import PaymentAdviceRecorded, PaymentConfirmed
from hub.streams import ingress
from hub.streams.context import Context
from hub.topics import PartnerTopic, Topic, TopicCatalog


@dataclass
class Payments:
    topics: TopicCatalog
    reference: Callable[[], ReferenceView]

    def _onboarded(self, reseller_id: str, currency: str) -> None:
        profile = self.reference().resellers.get(reseller_id)
        if profile is None:
            raise ValidationFailed("reseller_id", reseller_id, "not an onboarded reseller")
        if profile.currency != currency:
            raise ValidationFailed(
                "currency", currency, f"{reseller_id} is billed in {profile.currency}"
            )

    def _billing(self, reseller_id: str) -> str:
        return self.topics.partner(reseller_id, PartnerTopic.BILLING)

    async def on_advice(self, event: Event) -> Sequence[Emit]:
        """An admitted advice is recorded and acknowledged; it frees no credit."""
        if not isinstance(event, PaymentReceived):
            raise SchemaError(f"{type(event).__name__} does not belong on the payments topic")
        self._onboarded(event.reseller_id, event.currency)
        # Its time is the advice's: a redelivery, handled again (this flow keeps no journal: it
        # has no state), sends the very same record.
        recorded = PaymentAdviceRecorded(
            **caused_by(event, "PaymentAdviceRecorded"),
            event_time=event.event_time,
            payment_id=event.payment_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            received_at=event.received_at,
            reference=event.reference,
            invoice_ids=event.invoice_ids,
        )
        rid = event.reseller_id
        return [
            Emit(self.topics.name(Topic.COLLECTIONS), rid, recorded),
            Emit(self._billing(rid), event.payment_id, recorded),
        ]

    async def on_confirmed(self, event: Event) -> Sequence[Emit]:
        """Finance's confirmation: billing settles invoices, the credit check frees credit."""
        if not isinstance(event, PaymentConfirmed):
            return ()  # another flow's command on the shared ops topic
        self._onboarded(event.reseller_id, event.currency)
        payment = PaymentReceived(
            **caused_by(event, "PaymentReceived"),
            event_time=event.event_time,
            payment_id=event.payment_id,
            amount_minor=event.amount_minor,
            currency=event.currency,
            received_at=event.received_at,
            method=event.method,
            reference=event.reference,
            invoice_ids=event.invoice_ids,
        )
        rid = event.reseller_id
        return [
            Emit(self.topics.name(Topic.BILLING_INPUTS), rid, payment),
            Emit(self.topics.name(Topic.COLLECTIONS), rid, event),
            Emit(self._billing(rid), event.payment_id, event),
        ]


def register(app: faust.App, ctx: Context) -> None:
    """The payments agent (owner of ``reseller.payments``) and finance's confirmation command."""
    payments = Payments(ctx.topics, ctx.reference.view)
    pipeline = ctx.pipeline("billing")
    gate = ingress.gate_for(ctx, Topic.PAYMENTS)
    ctx.on_ops_command(PaymentConfirmed, payments.on_confirmed)

    @app.agent(ctx.source(Topic.PAYMENTS), name="billing.payment-advices", concurrency=1)
    async def advices(stream: Any) -> None:
        await ingress.run(pipeline, stream, gate, payments.on_advice)
