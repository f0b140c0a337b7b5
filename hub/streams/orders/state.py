"""What the orders flow remembers, in two journaled tables, each written by one agent.

- ``orders-state`` (``IntakeState``), written only by ``orders.intake``: each reseller's
  exposure, its orders (decision, status, what Microsoft made of it) and the exposure facts it
  applied. It reads the orders, invoices, collections, ops commands and provisioning topics.
- ``fulfilment-state`` (``FulfilmentState``), written only by ``orders.fulfilment``: Microsoft
  customers, what was placed per order, the subscriptions and their changes. It reads the
  decisions, subscription-change and subscription-command topics, and the mid-term changes
  the renewals flow applied (re-keyed by reseller onto billing's inputs).

Every topic and table is keyed by reseller id with the same partition count, so a reseller's
entries (``<reseller>|<entity>``) live on one partition and each message's writes are made whole
by the journal (``hub/runtime/journal.py``) whatever order a cluster lands them in.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.credit import Exposure
from hub.domain.subscriptions import Subscription
from hub.runtime.journal import Journal
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderRequested

Table = MutableMapping[str, Any]
OrderStatus = Literal["accepted", "held", "rejected", "provisioned", "failed"]


def entity_key(reseller_id: str, entity_id: str) -> str:
    """``<reseller>|<entity>``: order, change and customer ids are the reseller's own, so only
    the pair is unique. Reseller ids never hold ``|`` (they name topics): a prefix scan of
    ``<reseller>|`` finds that reseller's entries and no other's."""
    return f"{reseller_id}|{entity_id}"


class Failure(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    retriable: bool
    attempts: int


class OrderRecord(BaseModel):
    """One order as ops see it (``hub orders show``): request, decision, what Microsoft made."""

    request: dict[str, Any]
    status: OrderStatus
    decision: StoredEvent
    commitment_minor: int | None = None
    currency: str | None = None
    # The commitment was freed after Microsoft refused the order for good.
    released: bool = False
    microsoft_order_id: str | None = None
    subscription_ids: list[str] = Field(default_factory=list)
    failure: Failure | None = None

    def order_requested(self) -> OrderRequested:
        return OrderRequested.model_validate(self.request)


class PlacedOrder(BaseModel):
    """What provisioning placed at Microsoft for one order (bounded by the order's lines)."""

    microsoft_order_id: str
    provisioned: list[StoredEvent]

    @property
    def subscription_ids(self) -> list[str]:
        return [str(item.doc["subscription_id"]) for item in self.provisioned]


class SubscriptionRecord(BaseModel):
    """A provisioned subscription with what lifecycle changes need besides the domain state."""

    subscription: Subscription
    microsoft_customer_id: str
    unit_price_minor: int
    unit_cost_minor: int
    currency: str


def _views(cls: Any, journal: Journal) -> dict[str, Any]:
    return {f.name: journal.view(f.name) for f in fields(cls)}


@dataclass
class IntakeState:
    """The intake journal's views (plain dicts work too, outside a worker)."""

    exposure: Table  # reseller -> Exposure
    orders: Table  # reseller|order -> OrderRecord (held orders are records with status "held")
    applied: Table  # reseller|event id -> 1: an invoice, payment or dunning fact in the exposure

    @classmethod
    def of(cls, journal: Journal) -> IntakeState:
        return cls(**_views(cls, journal))

    def exposure_of(self, reseller_id: str, currency: str) -> Exposure:
        raw = self.exposure.get(reseller_id)
        if raw is None:
            return Exposure(reseller_id=reseller_id, currency=currency)
        return Exposure.model_validate(raw)

    def put_exposure(self, exposure: Exposure) -> None:
        self.exposure[exposure.reseller_id] = exposure.model_dump(mode="json")

    def order(self, reseller_id: str, order_id: str) -> OrderRecord | None:
        raw = self.orders.get(entity_key(reseller_id, order_id))
        return None if raw is None else OrderRecord.model_validate(raw)

    def put_order(self, reseller_id: str, order_id: str, record: OrderRecord) -> None:
        self.orders[entity_key(reseller_id, order_id)] = record.model_dump(mode="json")


@dataclass
class FulfilmentState:
    """The fulfilment journal's views: Microsoft's side of a reseller's orders."""

    customers: Table  # reseller|customer -> Microsoft customer id
    placed: Table  # reseller|order -> PlacedOrder
    subscriptions: Table  # reseller|subscription -> SubscriptionRecord
    changes: Table  # reseller|change -> the StoredEvent it produced
    # reseller|mid-term change id -> the MidTermChangeApplied the record followed (its own view:
    # the reseller's mid-term and seat change ids are separate namespaces)
    midterms: Table = field(default_factory=dict)

    @classmethod
    def of(cls, journal: Journal) -> FulfilmentState:
        return cls(**_views(cls, journal))

    def placed_order(self, reseller_id: str, order_id: str) -> PlacedOrder | None:
        raw = self.placed.get(entity_key(reseller_id, order_id))
        return None if raw is None else PlacedOrder.model_validate(raw)

    def put_placed(self, reseller_id: str, order_id: str, placed: PlacedOrder) -> None:
        self.placed[entity_key(reseller_id, order_id)] = placed.model_dump(mode="json")

    def subscription(self, reseller_id: str, subscription_id: str) -> SubscriptionRecord | None:
        raw = self.subscriptions.get(entity_key(reseller_id, subscription_id))
        return None if raw is None else SubscriptionRecord.model_validate(raw)

    def put_subscription(self, record: SubscriptionRecord) -> None:
        sub = record.subscription
        key = entity_key(sub.reseller_id, sub.subscription_id)
        self.subscriptions[key] = record.model_dump(mode="json")


def restore(stored: Sequence[StoredEvent]) -> list[Event]:
    return [item.event() for item in stored]
