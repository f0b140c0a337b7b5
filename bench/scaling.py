"""Orders and tickets spread over many resellers, for the scaling scenario (1, 2, 3 workers).

The orders flow bench (bench/orders.py) has one reseller, so every order lands on one partition
and one worker does all the work however many there are. Here the resellers are picked so that
each partition of the hub's keyed topics is the home of exactly ``PER_PARTITION`` of them, and
orders go to them in turn: every partition gets the same share of the load.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.harness import envelope
from bench.orders import order as orders_order
from bench.orders import reference as orders_reference
from bench.runs import PARTITIONS
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import Severity, TicketCategory
from hub.schemas.events.orders import OrderRequested
from hub.schemas.events.support import TicketOpened
from hub.streams.ingress import home_partition
from hub.topics import TopicCatalog

PER_PARTITION = 2


def pick_resellers(partitions: int, per_partition: int, stem: str = "benchscale") -> list[str]:
    """``per_partition`` reseller ids for each of ``partitions`` (by the producer's murmur2),
    the first names of ``<stem><n>`` that fill each partition, in partition order."""
    chosen: dict[int, list[str]] = {p: [] for p in range(partitions)}
    n = 0
    while any(len(ids) < per_partition for ids in chosen.values()):
        rid = f"{stem}{n}"
        ids = chosen[home_partition(rid, partitions)]
        if len(ids) < per_partition:
            ids.append(rid)
        n += 1
    return [rid for p in range(partitions) for rid in chosen[p]]


RESELLERS = tuple(pick_resellers(PARTITIONS, PER_PARTITION))


def customer_of(reseller_id: str) -> str:
    return f"{reseller_id}-customer"


def reference(topics: TopicCatalog) -> list[Outgoing]:
    """Every reseller with one customer, plus the orders bench's catalogue item and price."""
    return orders_reference(topics, [(rid, customer_of(rid)) for rid in RESELLERS])


def order(index: int, resellers: Sequence[str] = RESELLERS) -> OrderRequested:
    """The ``index``-th order: resellers in turn, so consecutive orders hit every partition."""
    rid = resellers[index % len(resellers)]
    return orders_order(f"S-{index}", rid, customer_of(rid))


def ticket(index: int, resellers: Sequence[str] = RESELLERS) -> TicketOpened:
    """The ``index``-th ticket, resellers in turn (each reseller handles its own support)."""
    rid = resellers[index % len(resellers)]
    return TicketOpened(
        **envelope(rid),
        ticket_id=f"T-{index}",
        customer_id=customer_of(rid),
        title="How do I add a licence?",
        description="We need five more seats.",
        category=TicketCategory.QUESTIONS,
        severity=Severity.MINIMAL,
        language="en",
        service="m365",
    )
