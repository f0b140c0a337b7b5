"""``follow`` reads every record written from its start time on, including one that lands while
it is still looking up where to start (a CLI's request answered within milliseconds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hub.connectors.kafka_io import follow
from tests.integration.test_broker_roundtrip import create_topics
from tests.support.broker import BrokerInfo


async def test_a_record_written_between_the_start_lookups_is_still_followed(
    kafka: BrokerInfo, topic_name: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = topic_name("answers")
    await create_topics(kafka.bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    await producer.start()
    await producer.send_and_wait(topic, key=b"k", value=b"before")
    since = int(time.time() * 1000) + 1
    time.sleep(0.01)
    written: list[str] = []
    offsets_for_times = AIOKafkaConsumer.offsets_for_times
    end_offsets = AIOKafkaConsumer.end_offsets

    async def answer_once() -> None:
        # The fault: the answer lands right after follow's first start lookup, whichever it is.
        if not written:
            await producer.send_and_wait(topic, key=b"k", value=b"answer")
            written.append("answer")

    async def timed(self: AIOKafkaConsumer, *args: Any) -> Any:
        found = await offsets_for_times(self, *args)
        await answer_once()
        return found

    async def ended(self: AIOKafkaConsumer, *args: Any) -> Any:
        ends = await end_offsets(self, *args)
        await answer_once()
        return ends

    monkeypatch.setattr(AIOKafkaConsumer, "offsets_for_times", timed)
    monkeypatch.setattr(AIOKafkaConsumer, "end_offsets", ended)
    seen: list[bytes] = []
    polls = 0
    try:
        async for record in follow(kafka.bootstrap, [topic], since_ms=since):
            if record is not None:
                seen.append(record.value or b"")
                break
            polls += 1
            if polls > 10:
                break
    finally:
        await producer.stop()
    assert written == ["answer"]
    assert seen == [b"answer"]
