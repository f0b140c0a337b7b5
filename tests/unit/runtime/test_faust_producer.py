"""The producer buffer hands over every table write before a commit, in the order written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from hub.runtime.faust_producer import OrderedProducerBuffer


class Channel:
    """A changelog topic whose client takes ``delay`` seconds to accept each record."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.handed_over: list[str] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.delay)
        self.handed_over.append(fut.name)


def record(channel: Channel, name: str) -> Any:
    return SimpleNamespace(name=name, message=SimpleNamespace(channel=channel))


async def started(buffer: ProducerBuffer) -> ProducerBuffer:
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    return buffer


@pytest.fixture
async def ordered() -> AsyncIterator[ProducerBuffer]:
    buffer = await started(OrderedProducerBuffer())
    yield buffer
    await buffer.stop()


async def test_flush_waits_for_a_slow_client_and_keeps_the_order(ordered: ProducerBuffer) -> None:
    channel = Channel(delay=0.15)  # slower than faust's 0.1 s flush patience
    for n in range(4):
        ordered.put(record(channel, f"w{n}"))
    await ordered.flush()
    assert channel.handed_over == ["w0", "w1", "w2", "w3"]


async def test_fausts_own_buffer_gives_up_on_the_same_client() -> None:
    """Why the hub replaces it: faust's flush returns with records still queued."""
    buffer = await started(ProducerBuffer())
    channel = Channel(delay=0.15)
    for n in range(4):
        buffer.put(record(channel, f"w{n}"))
    await buffer.flush()
    assert len(channel.handed_over) < 4
    channel.delay = 0
    await asyncio.sleep(0.5)  # its background task hands over the rest before it may stop
    await buffer.stop()


async def test_flush_waits_for_the_record_the_background_task_is_handing_over(
    ordered: ProducerBuffer,
) -> None:
    channel = Channel(delay=0.3)
    ordered.put(record(channel, "in-flight"))
    await asyncio.sleep(0.05)  # the background task has taken it and is in the client's send
    assert ordered.pending.empty()
    ordered.put(record(channel, "queued"))
    await ordered.flush()
    assert channel.handed_over == ["in-flight", "queued"]


async def test_the_background_task_hands_over_without_a_flush(ordered: ProducerBuffer) -> None:
    channel = Channel(delay=0)
    for n in range(3):
        ordered.put(record(channel, f"w{n}"))
    for _ in range(50):
        if len(channel.handed_over) == 3:
            break
        await asyncio.sleep(0.01)
    assert channel.handed_over == ["w0", "w1", "w2"]


async def test_flush_does_not_wait_for_records_written_after_it_began(
    ordered: ProducerBuffer,
) -> None:
    channel = Channel(delay=0.05)
    ordered.put(record(channel, "before"))
    flush = asyncio.ensure_future(ordered.flush())
    await asyncio.sleep(0)
    for n in range(20):
        ordered.put(record(channel, f"after-{n}"))
    await asyncio.wait_for(flush, 0.5)
    assert channel.handed_over[0] == "before"
    assert len(channel.handed_over) < 21


async def test_an_empty_buffer_flushes_at_once(ordered: ProducerBuffer) -> None:
    await asyncio.wait_for(ordered.flush(), 0.05)
