"""A producer never loses the leaders of a topic it has records for.

aiokafka's client refreshes metadata for the topics it tracks and replaces what it knew with the
answer; a topic the producer learnt of from a fetch of every topic (its first refresh, before it
tracked any) is never tracked, so once it tracks another topic the next refresh forgets the
first topic's leaders. A record already waiting for that topic then has no leader: the sender
asks for metadata again and again, the answer never names the topic, and ``flush`` waits
forever. In a worker that is a commit, and so every flow, stuck until the process is killed
(the two-worker test caught it: one worker decided no order for two minutes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaProducer

from hub.runtime.kafka_client import track_produced_topics
from tests.integration.test_broker_roundtrip import consume, create_topics
from tests.support.broker import BrokerInfo


async def test_a_record_waiting_for_a_known_topic_is_delivered_after_another_topic_is_added(
    kafka: BrokerInfo, topic_name: Callable[[str], str]
) -> None:
    track_produced_topics()
    known, later = topic_name("md-known"), topic_name("md-later")
    await create_topics(kafka.bootstrap, known)
    # A long linger keeps the first record in the accumulator while the second topic is added.
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=1000)
    await producer.start()
    try:
        # A refresh while the client tracks no topic asks for every topic: now it knows `known`
        # (once the broker's metadata lists the new topic: under load that lags its creation).
        for _ in range(60):
            await producer.client.force_metadata_update()
            if producer.client.cluster.partitions_for_topic(known) is not None:
                break
            await asyncio.sleep(0.5)
        assert producer.client.cluster.partitions_for_topic(known) is not None
        assert not producer.client._topics  # learnt from the fetch of every topic, untracked
        waiting = await producer.send(known, key=b"k", value=b"waiting")
        await create_topics(kafka.bootstrap, later)
        await producer.send(later, key=b"k", value=b"new topic")
        assert later in producer.client._topics  # refreshes now ask for tracked topics only
        await producer.client.force_metadata_update()  # as any error or new topic would ask
        await asyncio.wait_for(producer.flush(), timeout=15)
        assert (await waiting).offset == 0
    finally:
        await producer.stop()
    assert await consume(kafka.bootstrap, known, 1, 15) == [(b"k", b"waiting")]
