"""A faust stream taken in batches: a partition's messages share one journal entry.

``messages`` yields a stream's messages one by one, so every driver keeps its plain loop, but it
takes them from faust in batches (``Stream.take_events``: as many as have arrived, up to
``size``, waiting at most ``within`` seconds for more) and, with a journal, opens one journal
batch per partition around that partition's messages (``hub.runtime.journal``). Each
partition's entry is written after its messages; once all of the take's entries are delivered,
their sends and dead letters go out, partition by partition in message order, before faust acks
any of them. A batch of one is the degenerate case; with light
traffic a message waits at most ``within``. A take of large messages (a month end's pages) is
cut into several entries: once what it holds reaches ``MAX_TAKE_BYTES``, the entries so far are
written and their sends made before the next message is handled.

faust sets its "current event" (which table partition a write goes to) only for a stream read
one event at a time; in batches it is set here, per partition group, to one of that group's
events (``_current_event`` is faust's context variable for it: there is no public setter).
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.runtime.dead_letter import SourceMessage

if TYPE_CHECKING:
    from hub.runtime.journal import Delivery, Journal


class _InFlight:
    """How many messages or takes the worker's pipelines are handling right now.

    Process-wide, as faust's consumer is: a rebalance waits for the messages handed to streams
    to be acknowledged (``hub.runtime.faust_transport``, rule 5), and once no pipeline is inside
    a message or a take, nothing it waits for is being handled: what is left sits in channels
    faust cleared, or holds a reference a cancelled delivery never released."""

    count = 0


# What a take holds before its entries are written and its sends made, as the JSON of its writes
# and kept outputs: the objects behind it are several times that. A take of 200 month-end pages
# (each up to a few hundred kB of invoices) held them all at once: 1.1 GiB in the billing worker.
MAX_TAKE_BYTES = 4_000_000


def handling() -> int:
    """How many messages or takes are being handled now (0: every pipeline is between them)."""
    return _InFlight.count


@dataclass(frozen=True)
class BatchPolicy:
    """Up to ``size`` messages at a time, waiting at most ``within_s`` for more."""

    size: int = 1
    within_s: float = 0.005


def _groups(events: list[Any]) -> list[tuple[int, list[Any]]]:
    """The events by partition, each group in arrival order, groups in order of first arrival."""
    groups: dict[int, list[Any]] = {}
    for event in events:
        groups.setdefault(int(event.message.partition), []).append(event)
    return list(groups.items())


async def messages(
    stream: Any, journal: Journal | None, policy: BatchPolicy
) -> AsyncIterator[SourceMessage]:
    """``stream``'s messages, in journal batches per partition when ``policy.size > 1``."""
    if policy.size <= 1 or journal is None:
        async for event in stream.events():
            _InFlight.count += 1
            try:
                yield SourceMessage.from_faust(event.message)
            finally:
                _InFlight.count -= 1
        return
    from faust.streams import _current_event

    async for events in stream.take_events(policy.size, policy.within_s):
        _InFlight.count += 1
        try:
            # Every partition's entry first, then one wait for them all to be delivered, then
            # every output (hub.runtime.journal: outputs wait for their entry): one producer
            # round trip per take, not one per partition.
            deliveries: list[Delivery] = []
            pending = 0  # the JSON size of the entries whose sends wait in ``deliveries``
            for partition, group in _groups(list(events)):
                token = _current_event.set(weakref.ref(group[-1]))
                try:
                    batch = journal.open_batch(partition)
                    for event in group:
                        yield SourceMessage.from_faust(event.message)
                        if pending + batch.size >= MAX_TAKE_BYTES:
                            # Large messages (a close's pages): their entry now, their sends
                            # now, and the rest of the take in a new batch.
                            deliveries += journal.end_batch(batch)
                            await journal.deliver_all(deliveries)
                            deliveries, pending = [], 0
                            batch = journal.open_batch(partition)
                    deliveries += journal.end_batch(batch)
                    pending += batch.size
                finally:
                    _current_event.reset(token)
            await journal.deliver_all(deliveries)
        finally:
            _InFlight.count -= 1
