"""Records fetched before a rebalance neither ack nor hide the records fetched after it.

The broker-level proof is tests/reliability/test_crash_money_flows.py (before this fix a restart
after SIGKILL could leave a partition's commit stuck with lag forever); these pin the two rules
on the consumer itself, without a broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types.tuples import TP, ConsumerMessage

from hub.streams.faust_transport import HubApp, is_stale

TOPIC = "hub.subscriptions.events"
PART = TP(TOPIC, 0)


def message(offset: int, generation: int | None) -> ConsumerMessage:
    return ConsumerMessage(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=0.0,
        timestamp_type=0,
        headers=[],
        key=b"k",
        value=b"v",
        checksum=None,
        generation_id=generation,
    )


@pytest.fixture
def app() -> Iterator[HubApp]:
    app = HubApp("transport-test", broker="kafka://127.0.0.1:1")
    app.topics._acking_topics.add(TOPIC)
    app.consumer_generation_id = 3
    yield app


def test_is_stale_compares_generations() -> None:
    assert is_stale(message(1, 2), 3)
    assert not is_stale(message(1, 3), 3)
    assert not is_stale(message(1, None), 3)  # not fetched through a group: never stale


def test_an_old_generation_record_is_not_acked(app: HubApp) -> None:
    consumer = app.consumer
    assert consumer.ack(message(5, 2)) is False
    assert consumer.ack(message(6, 3)) is True
    assert list(consumer._acked[PART]) == [6]
    # The copy fetched again after the seek is acked normally.
    assert consumer.ack(message(5, 3)) is True
    assert sorted(consumer._acked[PART]) == [5, 6]


def test_a_record_delivered_across_a_rebalance_leaves_the_read_offset_to_the_seek(
    app: HubApp,
) -> None:
    """faust's own loop set the read offset to 180 here, then dropped 171..179 as read."""
    consumer: Any = app.consumer
    delivered: list[tuple[int, int | None]] = []
    fetcher = SimpleNamespace(_stopped=asyncio.Event())
    batches = [
        [message(180, 3), message(181, 3)],  # generation 3; a rebalance happens during 180
        [message(171, 4), message(172, 4)],  # after the seek to the committed offset 171
    ]

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, ConsumerMessage]]:
        batch = batches.pop(0)
        if not batches:
            fetcher._stopped.set()
        for m in batch:
            yield PART, m

    async def callback(m: ConsumerMessage) -> None:
        delivered.append((m.offset, m.generation_id))
        if m.offset == 180:  # the rebalance completes while 180 waits on flow control
            app.consumer_generation_id = 4
            consumer._read_offset[PART] = 171  # what faust's perform_seek does

    consumer.getmany = getmany
    consumer.callback = callback
    # On the consumer's own loop: faust's services schedule their waits there.
    consumer.loop.run_until_complete(consumer._drain_messages(fetcher))

    assert delivered == [(180, 3), (171, 4), (172, 4)]  # 181 (generation 3) is not delivered
    assert consumer._read_offset[PART] == 172
