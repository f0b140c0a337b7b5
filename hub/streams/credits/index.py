"""The credits index: every subscription of a Microsoft service in the partition of that service.

``SubscriptionProvisioned`` (keyed by reseller) is re-keyed by subscription id onto
``hub.credits.subscriptions`` where it meets the subscription's lifecycle changes
(``hub.subscriptions.events``, keyed by subscription id): the link agent learns each
subscription's service there, holds changes that arrive before their provisioning, and forwards
both onto ``hub.credits.index`` keyed by service. The index agent keeps ``<service>|<sub id>``
entries, so an approval of that service (re-keyed onto the same topic) finds them all in its own
partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any

from hub.domain.claims import IndexEntry
from hub.domain.orders import ReferenceView
from hub.errors import RetriableError, ValidationFailed
from hub.metrics import child
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.schemas.envelope import Event
from hub.schemas.events.orders import ProvisioningFailed, SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged, SubscriptionChangeRejected
from hub.streams.credits import metrics
from hub.topics import Topic, TopicCatalog

Table = MutableMapping[str, Any]


def index_key(service: str, subscription_id: str) -> str:
    # Services and subscription ids never contain "|": Partner Center ids are GUIDs and
    # services are catalogue slugs.
    return f"{service}|{subscription_id}"


def service_of(reference: ReferenceView, event: SubscriptionProvisioned) -> str:
    """The Microsoft service the provisioned product runs on, from the catalogue."""
    item_id = f"{event.product_id}:{event.sku_id}:{event.availability_id}"
    item = reference.catalogue.get(item_id)
    if item is None:
        # Reference data loads alongside: a product unknown now is most likely still loading.
        raise RetriableError(f"catalogue item {item_id} unknown (reference data not loaded?)")
    return item.service


def entries_of(index: Table, service: str) -> Iterator[IndexEntry]:
    """Every indexed subscription of ``service`` (a prefix scan of the partition's store)."""
    for _, raw in scan(index, f"{service}|"):
        yield IndexEntry.model_validate(raw)


class CreditIndex:
    """Handlers of the route, link and index agents; tables are dicts in unit tests."""

    def __init__(
        self,
        catalog: TopicCatalog,
        reference: Callable[[], ReferenceView],
        links: Table,
        index: Table,
    ) -> None:
        self._reference = reference
        self.links = links
        self.index = index
        self._subscriptions = catalog.name(Topic.CREDITS_SUBSCRIPTIONS)
        self._index_topic = catalog.name(Topic.CREDITS_INDEX)

    async def route(self, event: Event) -> Sequence[Emit]:
        """``hub.orders.provisioning`` -> ``hub.credits.subscriptions`` by subscription id."""
        if isinstance(event, SubscriptionProvisioned):
            return [Emit(self._subscriptions, event.subscription_id, event)]
        if isinstance(event, ProvisioningFailed):
            return []  # nothing was provisioned, nothing can be hit by an incident
        raise ValidationFailed("event", type(event).__name__, "not a provisioning fact")

    async def link(self, event: Event) -> Sequence[Emit]:
        """Meet provisioning and changes by subscription id; forward both keyed by service."""
        if isinstance(event, SubscriptionChangeRejected):
            return []  # nothing changed
        if isinstance(event, SubscriptionProvisioned):
            service = service_of(self._reference(), event)
            doc = self.links.get(event.subscription_id) or {}
            # The changes held for it are released with it (a replay after a crash re-sends
            # the outputs the journal kept; the index applies each change once).
            held = doc.get("pending") or []
            pending = [SubscriptionChanged.model_validate(p) for p in held]
            self.links[event.subscription_id] = {"service": service, "pending": []}
            return [
                Emit(self._index_topic, service, event),
                *(Emit(self._index_topic, service, change) for change in pending),
            ]
        if isinstance(event, SubscriptionChanged):
            doc = self.links.get(event.subscription_id) or {"service": None, "pending": []}
            if doc.get("service"):
                return [Emit(self._index_topic, str(doc["service"]), event)]
            held = [p for p in doc["pending"] if p["event_id"] != str(event.event_id)]
            held.append(event.model_dump(mode="json"))
            self.links[event.subscription_id] = {"service": None, "pending": held}
            return []
        raise ValidationFailed("event", type(event).__name__, "not a subscription fact")

    def apply(self, event: SubscriptionProvisioned | SubscriptionChanged, service: str) -> None:
        """Fold one subscription fact into the index entry of ``service``.

        A change whose subscription is not indexed yet is held until its provisioning is: the
        link agent reads two topics, and after a crash a change can reach the index before the
        replay of the link that forwards the provisioning.
        """
        key = index_key(service, event.subscription_id)
        held_key = f"held|{key}"  # not under "<service>|": entries_of never sees it
        raw = self.index.get(key)
        if isinstance(event, SubscriptionProvisioned):
            if raw is not None:
                entry = IndexEntry.model_validate(raw)  # a redelivery: it may carry later changes
            else:
                entry = IndexEntry.provisioned(
                    subscription_id=event.subscription_id,
                    customer_id=event.customer_id,
                    reseller_id=event.reseller_id,
                    service=service,
                    product_id=event.product_id,
                    quantity=event.quantity,
                    unit_price_minor=event.unit_price_minor,
                    billing_cycle=event.billing_cycle,
                    currency=event.currency,
                    term_start=event.term_start,
                    term_end=event.term_end,
                    auto_renew=event.auto_renew,
                )
                child(metrics.INDEXED, kind="provisioned").inc()
        elif raw is None:
            held = [
                d for d in self.index.get(held_key) or [] if d["event_id"] != str(event.event_id)
            ]
            self.index[held_key] = [*held, event.model_dump(mode="json")]
            return
        else:
            entry = _changed(IndexEntry.model_validate(raw), event)
        waiting = self.index.get(held_key)
        for doc in waiting or []:
            entry = _changed(entry, SubscriptionChanged.model_validate(doc))
        self.index[key] = entry.model_dump(mode="json")
        if waiting is not None:
            self.index.pop(held_key, None)


def _changed(entry: IndexEntry, event: SubscriptionChanged) -> IndexEntry:
    metrics.INDEXED.labels(kind="changed").inc()
    return entry.changed(
        change_id=event.change_id,
        at=event.effective_at,
        status=event.status,
        quantity=event.new_quantity,
        auto_renew=event.auto_renew,
    )
