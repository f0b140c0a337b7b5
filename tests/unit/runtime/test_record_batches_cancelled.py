"""The worker's record batches without a broker: a publish cancelled half way (an agent
stopped at shutdown) loses no record and keeps each partition's order."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hub.runtime.record_batches import RecordBatches


class _Builder:
    def __init__(self) -> None:
        self.values: list[bytes | None] = []

    def append(self, *, timestamp: Any, key: Any, value: bytes | None, headers: Any) -> Any:
        self.values.append(value)
        return object()

    def record_count(self) -> int:
        return len(self.values)


class _SlowProducer:
    """Hands each batch over after a pause, as a client waits for a partition's last batch."""

    def __init__(self) -> None:
        self.client = SimpleNamespace(_wait_on_metadata=self._metadata)
        self.sent: list[tuple[str, int, list[bytes | None]]] = []

    async def _metadata(self, topic: str) -> None:
        return None

    def _partition(self, topic: str, partition: int | None, *_: Any) -> int:
        return 0 if partition is None else partition

    def create_batch(self) -> _Builder:
        return _Builder()

    async def send_batch(self, builder: _Builder, topic: str, *, partition: int) -> Any:
        await asyncio.sleep(0.01)
        self.sent.append((topic, partition, builder.values))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(SimpleNamespace(offset=0))
        return done


async def test_a_publish_cancelled_half_way_still_hands_every_record_over_in_order() -> None:
    producer = _SlowProducer()
    batches = RecordBatches(lambda: producer)
    for p in range(4):
        batches.add("changelog", p, b"k", f"{p}-first".encode())
    publishing = asyncio.ensure_future(batches.publish())
    await asyncio.sleep(0.015)  # the first partition's batch is handed over, not the rest
    publishing.cancel()
    await asyncio.sleep(0)
    assert publishing.cancelled()
    for p in range(4):
        batches.add("changelog", p, b"k", f"{p}-second".encode())
    await batches.publish()
    assert batches.pending() == 0
    for p in range(4):
        values = [v for _, part, vs in producer.sent if part == p for v in vs]
        assert values == [f"{p}-first".encode(), f"{p}-second".encode()]
