"""A fix to aiokafka's client that every producer of the hub runs with.

aiokafka (0.14) refreshes metadata for the topics its client tracks and replaces what it knew with
the answer. A producer learns a topic's partitions either by tracking it (its first send to a
topic it does not know) or from a refresh while it tracks no topic at all, which asks for every
topic; a topic learnt the second way is never tracked. Once the client tracks any topic, the next
refresh (a new topic, an error, the periodic one) forgets that topic's leaders, and a record
already waiting for it has no leader: the sender asks for metadata again and again, the answer
never names the topic, and ``flush`` waits forever. Nothing else sends to that topic while a
commit waits on the flush, so a worker stopped there until it was killed
(``tests/integration/test_producer_metadata.py`` shows it).

The fix tracks every topic a record is sent to, before the client looks it up. It is a patch of
one method rather than a subclass because faust builds its own ``AIOKafkaProducer`` (and with it
the client) inside its transport; kept until aiokafka tracks the topics it sends to itself.
"""

from __future__ import annotations

from typing import Any

from aiokafka.client import AIOKafkaClient

_untracked_wait = AIOKafkaClient._wait_on_metadata


async def _wait_on_tracked_metadata(self: AIOKafkaClient, topic: str) -> Any:
    if topic not in self._topics:
        self.add_topic(topic)  # the refresh it starts is awaited below if the topic is unknown
    return await _untracked_wait(self, topic)


def track_produced_topics() -> None:
    """Make every aiokafka client track each topic it sends to (idempotent)."""
    AIOKafkaClient._wait_on_metadata = _wait_on_tracked_metadata
