"""Deterministic identifiers: the same inputs give the same id on every replay and every host."""

from __future__ import annotations

import uuid

# Fixed for the life of the hub: changing it would give every replayed event a new id and
# defeat de-duplication downstream. Generated once with uuid4.
HUB_NAMESPACE = uuid.UUID("8c1f7e3a-5d2b-4f6e-9a41-0b7d3c2e9f15")


def _encode(namespace: str, parts: tuple[str, ...]) -> str:
    # Length-prefixing each part keeps ("ab", "c") and ("a", "bc") apart; a separator
    # character alone would not, since a part could contain it.
    return "".join(f"{len(p)}:{p}" for p in (namespace, *parts))


def derive_event_id(namespace: str, *parts: str) -> uuid.UUID:
    """Return the UUIDv5 of ``parts`` under ``namespace`` (e.g. "OrderAccepted", order_id).

    An event derived from another (same namespace, same source ids) always gets the same id, so
    a replay or redelivery produces an event consumers already recognise.
    """
    if not namespace:
        raise ValueError("namespace must be a non-empty event or purpose name")
    return uuid.uuid5(HUB_NAMESPACE, _encode(namespace, parts))


def idempotency_key_for_order(order_id: str) -> str:
    """The request id the Partner Center adapter sends when placing ``order_id``.

    Partner Center treats a repeated ``MS-RequestId`` as the same request, so every retry of one
    hub order carries the same GUID and can never create a second Microsoft order.
    """
    if not order_id:
        raise ValueError("order_id must be non-empty")
    return str(derive_event_id("PartnerCenterOrderPlacement", order_id))


def idempotency_key_for_customer(customer_id: str) -> str:
    """The request id used when creating ``customer_id``'s tenant at Microsoft: one tenant ever."""
    if not customer_id:
        raise ValueError("customer_id must be non-empty")
    return str(derive_event_id("PartnerCenterCustomerCreation", customer_id))
