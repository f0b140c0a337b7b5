"""Ingress contracts: a refused reseller event, and a payment from advice to confirmation."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from hub.schemas.envelope import Event
from hub.schemas.events.billing import PaymentMethod
from hub.schemas.types import Currency, Identifier, ResellerId, Text, UtcDatetime

ConfirmationSource = Literal["ops", "bank_statement"]


class IngressRejected(Event):
    """The hub refused an event a reseller wrote (its type, its identity or its values), before
    any flow acted on it. Sent to the writer's status topic and to the hub's rejections."""

    reseller_id: ResellerId = Field(description="the writer the hub holds responsible")
    topic: Identifier = Field(description="the ingress topic, without the hub's prefix")
    event_type: Identifier
    rejected_event_id: UUID = Field(description="event_id of the refused event")
    code: Identifier
    field: Identifier
    value: str = Field(max_length=256)
    message: Text


class PaymentAdviceRecorded(Event):
    """A reseller reported a payment (a remittance advice): recorded, and a claim only until
    finance confirms it; it frees no credit and settles no invoice before that."""

    reseller_id: ResellerId
    payment_id: Identifier
    amount_minor: int = Field(gt=0)
    currency: Currency
    received_at: UtcDatetime
    reference: str | None = None
    invoice_ids: tuple[str, ...] = ()


class PaymentConfirmed(Event):
    """Finance confirmed money on the distributor's account (an ops command or a bank-statement
    line): only a confirmed payment settles invoices and frees credit."""

    reseller_id: ResellerId
    payment_id: Identifier
    amount_minor: int = Field(gt=0)
    currency: Currency
    received_at: UtcDatetime
    method: PaymentMethod
    reference: str | None = None
    invoice_ids: tuple[str, ...] = ()
    confirmed_by: Identifier = Field(description="who confirmed it, for the audit trail")
    source: ConfirmationSource


EVENTS: tuple[type[Event], ...] = (IngressRejected, PaymentAdviceRecorded, PaymentConfirmed)
