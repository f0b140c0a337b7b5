"""Drives one measured run: pre-encoded events in, arrivals watched on the sink topics.

Every input carries a unique correlation id; every hub output keeps its cause's correlation id
(``caused_by``) and names its type in the ``hub.event-type`` header, so arrivals are matched from
headers alone and the observer never decodes. Workers and relays are child processes whose CPU
and peak RSS are read from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from bench.baseline import PRODUCER_TUNING, Run, paced
from bench.proc import Usage, usage
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, producer, publish
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, new_event_id
from hub.topics import TopicCatalog
from tests.support.broker import session_broker

CODEC = Codec()
TYPE_HEADER, CORRELATION_HEADER = "hub.event-type", "hub.correlation-id"


@dataclass(frozen=True)
class Message:
    """One input, encoded before the clock starts so the sender measures Kafka, not Avro."""

    id: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def message(event: Event, correlation_id: str) -> Message:
    """``event`` re-tagged with a unique correlation id, keyed by its reseller like the hub's."""
    tagged = event.model_copy(update={"correlation_id": correlation_id})
    return Message(
        correlation_id,
        (tagged.reseller_id or "").encode(),
        CODEC.encode(tagged),
        list(event_headers(tagged)),
    )


def envelope(reseller_id: str | None) -> dict[str, Any]:
    """The envelope fields of a bench input: a new event id, now, a bench correlation id."""
    return {
        "event_id": new_event_id(),
        "event_time": datetime.now(UTC),
        "correlation_id": f"bench-{uuid.uuid4().hex[:8]}",
        "reseller_id": reseller_id,
    }


def by_correlation(record: ConsumerRecord[bytes, bytes]) -> tuple[str, str]:
    """An output's (event type, correlation id), from its headers alone."""
    headers = dict(record.headers or ())
    return headers.get(TYPE_HEADER, b"").decode(), headers.get(CORRELATION_HEADER, b"").decode()


class Arrivals:
    """Reads sink topics from the start (or from their current end, ``from_end``); notes when
    each ``(event type, id)`` shows, the id by default an output's correlation id."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        partitions: int,
        *,
        from_end: bool = False,
        key: Callable[[ConsumerRecord[bytes, bytes]], tuple[str, str]] = by_correlation,
    ) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        self._from_end, self._key = from_end, key
        self.seen: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._consumer.assign(self._partitions)
        if self._from_end:
            await self._consumer.seek_to_end(*self._partitions)
        else:
            await self._consumer.seek_to_beginning(*self._partitions)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    self.seen.setdefault(self._key(record), now)

    async def wait(self, kind: str, ids: Sequence[str], timeout_s: float) -> float:
        """When the last of ``ids`` arrived as ``kind``; ``TimeoutError`` says how many did not."""
        deadline = time.monotonic() + timeout_s
        while True:
            missing = [i for i in ids if (kind, i) not in self.seen]
            if not missing:
                return max(self.seen[(kind, i)] for i in ids)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(missing)} of {len(ids)} never arrived as {kind}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


class Child:
    """A measured child process (relay, faust app, hub worker), output kept in a log file."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.argv, self.env, self.log_path = list(argv), dict(env), log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Child:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}


@contextlib.contextmanager
def given_or_session_broker(given: str | None) -> Iterator[str]:
    """``given`` if set, else a local broker for as long as the block runs."""
    if given:
        yield given
        return
    with session_broker(os.environ) as broker:
        yield broker.bootstrap


async def send_timed(
    bootstrap: str,
    topic: str,
    key: bytes,
    ids: Sequence[str],
    make: Callable[[str], Event],
    rate: float | None,
) -> tuple[float, dict[str, float]]:
    """Send ``make(id)`` for each id (at ``rate`` per second, or a burst): the start time and
    when each id was sent."""
    sent: dict[str, float] = {}
    async with producer(bootstrap) as client:
        start = time.monotonic()

        async def send(index: int) -> None:
            event = make(ids[index])
            sent[ids[index]] = time.monotonic()
            await client.send(
                topic, key=key, value=CODEC.encode(event), headers=event_headers(event)
            )

        await paced(len(ids), rate, send)
        await client.flush()
    return start, sent


async def fresh_topics(
    bootstrap: str,
    prefix: str,
    resellers: Sequence[str],
    reference: Callable[[TopicCatalog], list[Outgoing]],
) -> tuple[TopicCatalog, int]:
    """The hub's topics under ``prefix``, created, with the reference data published: the
    catalogue and how many reference events went in."""
    topics = TopicCatalog(prefix)
    await apply_topics(bootstrap, topics.all(list(resellers)))
    events = reference(topics)
    await publish(bootstrap, CODEC, events)
    return topics, len(events)


@dataclass(frozen=True)
class Measured:
    """One milestone of one run, and what the workers spent over the whole run: ``cpu_s`` summed
    over them, ``worker`` their sum of CPU and highest peak RSS, ``workers`` each one's usage."""

    run: Run
    cpu_s: float
    worker: Usage
    workers: tuple[Usage, ...] = ()


def combined(each: Sequence[Usage]) -> Usage:
    """Several processes as one: CPU seconds summed, the highest peak RSS."""
    return Usage(sum(u.cpu_s for u in each), max(u.peak_rss_bytes for u in each))


def _dump_latencies(
    kinds: Sequence[str], start: float, sent: Mapping[str, float], seen: Mapping[Any, float]
) -> None:
    """With ``BENCH_DUMP_LATENCIES=<file>``: each message's send time (from the run's start) and
    latency per kind, in send order, appended to the file (bench/PROFILE.md: latency over time)."""
    dump = os.environ.get("BENCH_DUMP_LATENCIES", "").strip()
    if not dump:
        return
    with open(dump, "a") as out:
        out.write(f"start {time.time() - (time.monotonic() - start):.3f} 0\n")
        for kind in kinds:
            for i in sent:
                out.write(f"{kind} {sent[i] - start:.4f} {seen[(kind, i)] - sent[i]:.4f}\n")


class Driver:
    """Sends into one source topic and waits for milestones on the sinks ``arrivals`` watches;
    CPU and peak RSS are those of ``pids``: one process, or the workers of one group."""

    def __init__(self, bootstrap: str, arrivals: Arrivals, pids: int | Sequence[int]) -> None:
        self.bootstrap = bootstrap
        self.arrivals = arrivals
        self.pids = (pids,) if isinstance(pids, int) else tuple(pids)
        if not self.pids:
            raise ValueError("a Driver measures at least one process")
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_TUNING)

    async def __aenter__(self) -> Driver:
        await asyncio.gather(self._producer.start(), self.arrivals.start())
        return self

    async def __aexit__(self, *_: object) -> None:
        await asyncio.gather(self._producer.stop(), self.arrivals.stop())

    async def send(
        self, topic: str, messages: Sequence[Message], rate: float | None
    ) -> dict[str, float]:
        sent: dict[str, float] = {}

        async def one(index: int) -> None:
            item = messages[index]
            sent[item.id] = time.monotonic()
            await self._producer.send(topic, key=item.key, value=item.value, headers=item.headers)

        await paced(len(messages), rate, one)
        await self._producer.flush()
        return sent

    async def measure(
        self,
        topic: str,
        messages: Sequence[Message],
        kinds: Sequence[str],
        rate: float | None = None,
        timeout_s: float | None = None,
    ) -> list[Measured]:
        """Send ``messages``, wait until each reached every kind; one ``Measured`` per kind."""
        timeout = timeout_s if timeout_s is not None else 90 + len(messages) / 20
        before = [usage(pid) for pid in self.pids]
        start = time.monotonic()
        sent = await self.send(topic, messages, rate)
        ends = [await self.arrivals.wait(kind, list(sent), timeout) for kind in kinds]
        after = tuple(usage(pid) for pid in self.pids)
        cpu = sum(a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True))
        seen = self.arrivals.seen
        _dump_latencies(kinds, start, sent, seen)
        return [
            Measured(
                Run(len(messages), end - start, tuple(seen[(kind, i)] - sent[i] for i in sent)),
                cpu,
                combined(after),
                after,
            )
            for kind, end in zip(kinds, ends, strict=True)
        ]
