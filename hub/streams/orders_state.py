"""What the orders flow remembers per reseller partition: exposure, orders, subscriptions, changes.

Every table is written only while a message keyed by ``reseller_id`` is processed, so a reseller's
whole state lives in the partition its orders, decisions, changes and payments share. Values are
JSON documents (faust tables); the mappings here are plain ``MutableMapping`` so logic is testable
with dicts.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.credit import Exposure
from hub.domain.subscriptions import Subscription
from hub.runtime.stored_events import StoredEvent
from hub.schemas.envelope import Event
from hub.schemas.events.orders import OrderRequested

Table = MutableMapping[str, Any]
OrderStatus = Literal["accepted", "held", "rejected", "provisioned", "failed"]


def order_key(reseller_id: str, order_id: str) -> str:
    """Order ids are the reseller's own, so only (reseller, order) is unique across resellers.

    Reseller ids cannot contain ``/`` (they name topics), so the join is unambiguous.
    """
    return f"{reseller_id}/{order_id}"


def commitment_key(order: str) -> str:
    """The key an exposure notes an order's commitment under (``credit.noting``)."""
    return f"commit:{order}"


def release_key(order: str) -> str:
    """The key an exposure notes the release of an order's commitment under."""
    return f"release:{order}"


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
    microsoft_order_id: str | None = None
    subscription_ids: list[str] = Field(default_factory=list)
    provisioned: list[StoredEvent] = Field(default_factory=list)
    failure: Failure | None = None

    def order_requested(self) -> OrderRequested:
        return OrderRequested.model_validate(self.request)


class SubscriptionRecord(BaseModel):
    """A provisioned subscription with what lifecycle changes need besides the domain state."""

    subscription: Subscription
    microsoft_customer_id: str
    unit_price_minor: int
    unit_cost_minor: int
    currency: str
    # The latest change applied (its key in ``OrderTables.changes`` and its outcome), written
    # with the subscription: a replay after a crash before the change's own record sends it.
    last_change: tuple[str, StoredEvent] | None = None


@dataclass
class OrderTables:
    """The flow's tables; faust tables in a worker, dicts in unit tests."""

    exposure: Table  # reseller_id -> Exposure
    orders: Table  # order_key -> OrderRecord (held orders are records with status "held")
    applied: Table  # event_id of an invoice/payment/dunning event already in the exposure
    microsoft_customers: Table  # hub customer_id -> Microsoft customer id
    subscriptions: Table  # subscription_id -> SubscriptionRecord
    changes: Table  # reseller_id/change_id -> the StoredEvent it produced

    def exposure_of(self, reseller_id: str, currency: str) -> Exposure:
        raw = self.exposure.get(reseller_id)
        if raw is None:
            return Exposure(reseller_id=reseller_id, currency=currency)
        return Exposure.model_validate(raw)

    def put_exposure(self, exposure: Exposure) -> None:
        self.exposure[exposure.reseller_id] = exposure.model_dump(mode="json")

    def order(self, key: str) -> OrderRecord | None:
        raw = self.orders.get(key)
        return None if raw is None else OrderRecord.model_validate(raw)

    def put_order(self, key: str, record: OrderRecord) -> None:
        self.orders[key] = record.model_dump(mode="json")

    def subscription(self, subscription_id: str) -> SubscriptionRecord | None:
        raw = self.subscriptions.get(subscription_id)
        return None if raw is None else SubscriptionRecord.model_validate(raw)

    def put_subscription(self, record: SubscriptionRecord) -> None:
        self.subscriptions[record.subscription.subscription_id] = record.model_dump(mode="json")


def restore(stored: Sequence[StoredEvent]) -> list[Event]:
    return [item.event() for item in stored]
