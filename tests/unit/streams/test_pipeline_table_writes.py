"""A message is acked only once its table writes are in the Kafka client's hands."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hub.streams.pipeline import table_writes_handed_over


class StalledBuffer:
    """faust's producer buffer in miniature, with its background sender stalled or dead."""

    def __init__(self) -> None:
        self.pending: asyncio.Queue[str] = asyncio.Queue()
        self.handed_over: list[str] = []
        self.message_sent = asyncio.Event()

    async def _send_pending(self, fut: str) -> None:
        await asyncio.sleep(0.15)  # slower than faust's own 0.1 s flush patience
        self.handed_over.append(fut)


def app_with(buffer: Any) -> Any:
    return SimpleNamespace(producer=SimpleNamespace(buffer=buffer), conf=SimpleNamespace())


async def test_every_buffered_write_is_handed_over_in_order_before_returning() -> None:
    buffer = StalledBuffer()
    for n in range(3):
        buffer.pending.put_nowait(f"write-{n}")
    await table_writes_handed_over(app_with(buffer))
    assert buffer.handed_over == ["write-0", "write-1", "write-2"]
    assert buffer.pending.empty()
    assert buffer.message_sent.is_set()


async def test_an_empty_buffer_returns_at_once() -> None:
    buffer = StalledBuffer()
    await asyncio.wait_for(table_writes_handed_over(app_with(buffer)), 0.05)
    assert buffer.handed_over == []


async def test_an_app_without_a_producer_buffer_is_left_alone() -> None:
    await table_writes_handed_over(SimpleNamespace())
