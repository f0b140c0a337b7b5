"""``hub webhooks run``: the bridge process.

It is a plain aiokafka consumer group, not a faust agent: it keeps no table, its input is a
pattern over topics created while it runs (``partner.<id>.*``), and it must commit an offset only
after a delivery reached a final outcome or was parked, which a faust agent's commit-on-ack does
not let it choose. One group reads both the partner topics and the bridge's retry topic:

- a partner record becomes one parked delivery per subscribed endpoint (``hub.webhooks.retries``,
  due now); once the broker has them, the record's offset is committed. Nothing on this path
  waits for an HTTP endpoint, so a slow endpoint never holds another reseller's events back.
- a parked delivery waits in memory until it is due, then is attempted (many at once). Its
  outcome is logged (``hub.webhooks.deliveries``) and a failure is parked again with its next
  due time; the retry topic's offset is committed only below the oldest delivery still open.

A crash therefore repeats work, never loses it: a delivery may be attempted again, with the same
``webhook-id`` and the same body (kept in the parked record), which receivers deduplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from hub.connectors.kafka_auth import auth_from_settings, client_kwargs
from hub.errors import ConfigError, SchemaError
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.settings import Settings
from hub.topics import PartnerTopic, Topic
from hub.webhooks import metrics, policy, signing
from hub.webhooks.notice import WebhookEndpointDisabled, notice_id
from hub.webhooks.records import Delivery, Endpoint, Outcome, Parked, Source
from hub.webhooks.sender import send
from hub.webhooks.store import fold_endpoints

log = logging.getLogger(__name__)

# A delivery whose outcome could not be written (the broker failed) is tried again this much
# later; it stays open meanwhile, so its retry-topic offset is not committed.
_AGAIN_S = 5.0


def partner_pattern(settings: Settings) -> re.Pattern[str]:
    """Every reseller's partner topics and the bridge's retry topic, under the hub's prefix."""
    prefix = re.escape(settings.topic_prefix)
    kinds = "|".join(re.escape(k.value) for k in PartnerTopic)
    retries = re.escape(Topic.WEBHOOK_RETRIES.value)
    return re.compile(rf"^{prefix}(partner\.[A-Za-z0-9_-]{{1,64}}\.({kinds})|{retries})$")


def decode_event(codec: Codec, value: bytes) -> Event:
    """A partner-topic event (the bridge's own notice among them)."""
    return codec.decode(value)


@dataclass(order=True)
class _Due:
    due_at: float
    seq: int
    tp: TopicPartition = field(compare=False)
    offset: int = field(compare=False)
    parked: Parked = field(compare=False)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.bridge.commit_retries(revoked)
        self.bridge.forget(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class Bridge:
    """Delivers partner-topic events to webhook endpoints until ``stop`` is set."""

    def __init__(self, settings: Settings, *, metadata_max_age_ms: int = 30_000) -> None:
        schedule = settings.webhook_retry_schedule_s
        if not schedule or any(pause < 0 for pause in schedule):
            raise ConfigError(
                f"HUB_WEBHOOK_RETRY_SCHEDULE_S={list(schedule)}: give at least one pause in "
                "seconds and none negative, e.g. [5, 300, 1800]"
            )
        self.settings = settings
        self.metadata_max_age_ms = metadata_max_age_ms
        self.endpoints: dict[str, Endpoint] = {}
        self.failures: dict[str, int] = {}
        self.retries_topic = settings.catalog.name(Topic.WEBHOOK_RETRIES)
        self._heap: list[_Due] = []
        self._seq = 0
        self._open: dict[TopicPartition, set[int]] = {}
        self._chains: dict[TopicPartition, dict[tuple[str, str, bool], list[int]]] = {}
        self._running: set[tuple[TopicPartition, int]] = set()
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._endpoints_ready = asyncio.Event()
        self._follower: AIOKafkaConsumer | None = None
        self._endpoints_read = 0  # the follower's position in the endpoints topic
        self._read_moved = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._session: aiohttp.ClientSession | None = None
        self._codec = Codec()  # the worker's codec once running (registry framing if configured)

    # -- running -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        from hub.app import build_codec  # the worker's codec: registry framing when configured

        codec = self._codec = build_codec(self.settings)
        metrics.start_at_zero()
        kwargs = client_kwargs(auth_from_settings(self.settings))
        bootstrap = self.settings.kafka_bootstrap_servers
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **kwargs
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=self.settings.webhook_group,
            enable_auto_commit=False,
            # A partner topic the group has never read is read from its start: events written
            # before an endpoint existed are filtered by the endpoint's created_at instead.
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            metadata_max_age_ms=self.metadata_max_age_ms,
            **kwargs,
        )
        follower = asyncio.create_task(self._follow_endpoints(stop))
        try:
            await self._producer.start()
            ready = asyncio.create_task(self._endpoints_ready.wait())
            await asyncio.wait({follower, ready}, return_when=asyncio.FIRST_COMPLETED)
            if not ready.done():
                ready.cancel()
                await follower  # it ended before the endpoints were read: raises why
                return
            self._consumer.subscribe(
                pattern=partner_pattern(self.settings).pattern, listener=_Rebalance(self)
            )
            await self._consumer.start()
            async with aiohttp.ClientSession() as session:
                self._session = session
                log.info("webhook bridge started (group %s)", self.settings.webhook_group)
                while not stop.is_set():
                    await self._step(codec)
                if self._tasks:
                    await asyncio.wait(self._tasks, timeout=self.settings.webhook_timeout_s + 5)
                await self.commit_retries(list(self._next))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            for task in self._tasks:
                task.cancel()
            await self._consumer.stop()
            await self._producer.stop()

    async def _step(self, codec: Codec) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=200, max_records=500)
        if any(tp.topic != self.retries_topic for tp in batch):
            # An endpoint added a moment ago must be known before its first events fan out.
            await self._endpoints_caught_up()
        partner: dict[TopicPartition, int] = {}
        parked: list[Parked] = []
        for tp, records in batch.items():
            for r in records:
                if tp.topic == self.retries_topic:
                    self._hold(tp, r.offset, r.value)
                else:
                    parked.extend(
                        self._fan_out(codec, r.topic, r.partition, r.offset, r.value, r.timestamp)
                    )
                    partner[tp] = r.offset + 1
        if parked:
            await self._send(
                [(self.retries_topic, p.endpoint_id, p.to_bytes(), []) for p in parked]
            )
        if partner:
            try:
                await self._consumer.commit(partner)
            except KafkaError as exc:  # a rebalance took them: the next owner fans out again
                log.warning("webhook bridge: commit of partner offsets failed (%s)", exc)
        self._launch_due()
        await self.commit_retries(list(self._next))

    def _fan_out(
        self,
        codec: Codec,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        timestamp_ms: int,
    ) -> list[Parked]:
        reseller_id = self.settings.catalog.partner_owner(topic)
        if value is None or reseller_id is None:
            return []
        try:
            event = decode_event(codec, value)
        except SchemaError as exc:
            log.warning("webhook bridge: %s[%d]@%d skipped: %s", topic, partition, offset, exc)
            return []
        event_type = type(event).__name__
        written_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        targets = policy.recipients(self.endpoints.values(), reseller_id, event_type, written_at)
        if not targets:
            return []
        body = signing.event_body(event)
        now = time.time()
        return [
            Parked(
                endpoint_id=e.endpoint_id,
                reseller_id=reseller_id,
                event_id=str(event.event_id),
                event_type=event_type,
                body=body,
                attempt=1,
                due_at=now,
                source=Source(topic=topic, partition=partition, offset=offset),
            )
            for e in targets
        ]

    def _hold(self, tp: TopicPartition, offset: int, value: bytes | None) -> None:
        self._next[tp] = offset + 1
        if value is None:
            return
        try:
            parked = Parked.from_bytes(value)
        except SchemaError as exc:
            log.warning("webhook bridge: retry record %s@%d skipped: %s", tp, offset, exc)
            return
        # Entries are read in offset order per partition, and one endpoint's are all on one
        # partition: a later attempt or a closing marker ends the earlier entries of its chain,
        # so a restart that reads them again neither forks the chain nor delivers twice.
        chain = self._chains.setdefault(tp, {})
        earlier = chain.pop(parked.chain, [])
        open_ = self._open.setdefault(tp, set())
        for older in earlier:
            if (tp, older) not in self._running:
                open_.discard(older)
        if parked.closed:
            return
        chain[parked.chain] = [offset]
        open_.add(offset)
        self._seq += 1
        heapq.heappush(self._heap, _Due(parked.due_at, self._seq, tp, offset, parked))

    def _launch_due(self) -> None:
        now = time.time()
        while (
            self._heap
            and self._heap[0].due_at <= now
            and len(self._tasks) < self.settings.webhook_concurrency
        ):
            due = heapq.heappop(self._heap)
            if due.offset not in self._open.get(due.tp, ()):
                continue  # its partition went to another instance
            self._running.add((due.tp, due.offset))
            task = asyncio.create_task(self._deliver(due))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._open.pop(tp, None)
            self._chains.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)

    async def commit_retries(self, partitions: Iterable[TopicPartition]) -> None:
        """Commit each retry partition below its oldest open delivery."""
        if self._consumer is None:
            return
        offsets = {}
        for tp in partitions:
            if tp not in self._next:
                continue
            open_ = self._open.get(tp)
            safe = min(open_) if open_ else self._next[tp]
            if self._committed.get(tp) != safe:
                offsets[tp] = safe
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            log.warning("webhook bridge: commit of retry offsets failed (%s)", exc)
            return
        self._committed.update(offsets)

    # -- one delivery ------------------------------------------------------------------------

    async def _deliver(self, due: _Due) -> None:
        try:
            await self._attempt(due.parked)
        except Exception:  # the broker failed us, not the endpoint: try again
            log.exception("webhook bridge: delivery of %s failed", due.parked.event_id)
            self._running.discard((due.tp, due.offset))
            if due.offset in self._open.get(due.tp, ()):
                self._seq += 1
                later = _Due(time.time() + _AGAIN_S, self._seq, due.tp, due.offset, due.parked)
                heapq.heappush(self._heap, later)
            return
        self._running.discard((due.tp, due.offset))
        open_ = self._open.get(due.tp)
        if open_ is not None:
            open_.discard(due.offset)

    async def _attempt(self, parked: Parked) -> None:
        assert self._session is not None
        endpoint = self.endpoints.get(parked.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            why = "endpoint removed" if endpoint is None else "endpoint disabled"
            await self._log(parked, Outcome.SKIPPED, error=why)
            return
        now = time.time()
        first = parked.first_attempt_at or now
        attempt = await send(
            self._session,
            endpoint,
            parked.event_id,
            parked.body,
            timeout_s=self.settings.webhook_timeout_s,
        )
        common = {"status": attempt.status, "duration_ms": attempt.duration_ms}
        if attempt.ok:
            self.failures[endpoint.endpoint_id] = 0
            await self._log(parked, Outcome.DELIVERED, **common)
            return
        failures = self.failures.get(endpoint.endpoint_id, 0) + 1
        self.failures[endpoint.endpoint_id] = failures
        error = attempt.error or "failed"
        if policy.should_disable(failures, self.settings.webhook_disable_after):
            await self._disable(endpoint, failures, error)
            await self._log(parked, Outcome.FAILED, error=f"{error}; endpoint disabled", **common)
            return
        delay = policy.retry_delay(
            self.settings.webhook_retry_schedule_s,
            parked.attempt,
            elapsed_s=time.time() - first,
            retry_for_s=self.settings.webhook_retry_for_s,
        )
        if delay is None:
            await self._log(parked, Outcome.FAILED, error=f"{error}; retries over", **common)
            return
        due_at = time.time() + delay
        again = parked.model_copy(
            update={"attempt": parked.attempt + 1, "due_at": due_at, "first_attempt_at": first}
        )
        await self._send([(self.retries_topic, again.endpoint_id, again.to_bytes(), [])])
        await self._log(
            parked,
            Outcome.RETRY_SCHEDULED,
            error=error,
            next_attempt_at=datetime.fromtimestamp(due_at, UTC),
            **common,
        )

    async def _disable(self, endpoint: Endpoint, failures: int, error: str) -> None:
        current = self.endpoints.get(endpoint.endpoint_id)
        if current is None or not current.enabled:
            return  # another delivery disabled it first
        now = datetime.now(UTC)
        reason = f"disabled after {failures} failed attempts in a row (last: {error})"
        disabled = current.model_copy(
            update={"enabled": False, "disabled_reason": reason, "updated_at": now}
        )
        self.endpoints[endpoint.endpoint_id] = disabled
        notice = WebhookEndpointDisabled(
            event_id=notice_id(endpoint.endpoint_id, now.isoformat()),
            event_time=now,
            correlation_id=f"webhook-{endpoint.endpoint_id}",
            reseller_id=endpoint.reseller_id,
            endpoint_id=endpoint.endpoint_id,
            url=endpoint.url,
            failures=failures,
            last_error=error[:4000],
            disabled_at=now,
        )
        status = self.settings.catalog.partner(endpoint.reseller_id, PartnerTopic.STATUS)
        endpoints_topic = self.settings.catalog.name(Topic.WEBHOOK_ENDPOINTS)
        await self._send(
            [
                (endpoints_topic, endpoint.endpoint_id, disabled.to_bytes(), []),
                (
                    status,
                    endpoint.endpoint_id,
                    self._codec.encode(notice),
                    event_headers(notice),
                ),
            ]
        )
        metrics.ENDPOINTS_DISABLED.inc()
        log.warning(
            "webhook endpoint %s of reseller %s disabled after %d failed attempts in a row; "
            "notice sent to %s",
            endpoint.endpoint_id,
            endpoint.reseller_id,
            failures,
            status,
        )

    async def _log(self, parked: Parked, outcome: Outcome, **fields: object) -> None:
        delivery = Delivery.model_validate(
            {
                "endpoint_id": parked.endpoint_id,
                "reseller_id": parked.reseller_id,
                "event_id": parked.event_id,
                "event_type": parked.event_type,
                "attempt": parked.attempt,
                "outcome": outcome,
                "source": parked.source,
                "replay": parked.replay,
                **fields,
            }
        )
        topic = self.settings.catalog.name(Topic.WEBHOOK_DELIVERIES)
        items: list[tuple[str, str, bytes, list[tuple[str, bytes]]]] = [
            (topic, parked.endpoint_id, delivery.to_bytes(), [])
        ]
        if outcome is not Outcome.RETRY_SCHEDULED:
            closed = parked.model_copy(update={"closed": True, "body": ""})
            items.append((self.retries_topic, parked.endpoint_id, closed.to_bytes(), []))
        await self._send(items)
        metrics.DELIVERIES.labels(outcome.value).inc()

    async def _send(self, items: list[tuple[str, str, bytes, list[tuple[str, bytes]]]]) -> None:
        assert self._producer is not None
        futures = [
            await self._producer.send(t, key=k.encode(), value=v, headers=h or None)
            for t, k, v, h in items
        ]
        await asyncio.gather(*futures)

    # -- endpoints ---------------------------------------------------------------------------

    async def _endpoints_caught_up(self, timeout_s: float = 10.0) -> None:
        """Wait until the endpoints read include every record the topic holds now."""
        follower = self._follower
        if follower is None:
            return
        tp = TopicPartition(self.settings.catalog.name(Topic.WEBHOOK_ENDPOINTS), 0)
        end = (await follower.end_offsets([tp]))[tp]
        async with self._read_moved:
            with contextlib.suppress(TimeoutError):  # a stuck follower delays, never stops us
                await asyncio.wait_for(
                    self._read_moved.wait_for(lambda: self._endpoints_read >= end), timeout_s
                )

    async def _follow_endpoints(self, stop: asyncio.Event) -> None:
        """Keep ``self.endpoints`` equal to the compacted endpoints topic, as it changes."""
        from hub.connectors.kafka_io import Record

        topic = self.settings.catalog.name(Topic.WEBHOOK_ENDPOINTS)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **client_kwargs(auth_from_settings(self.settings)),
        )
        await consumer.start()
        self._follower = consumer
        try:
            tp = TopicPartition(topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            if end == 0:
                self._endpoints_ready.set()
            while not stop.is_set():
                batch = await consumer.getmany(tp, timeout_ms=500)
                for r in batch.get(tp, []):
                    record = Record(r.topic, r.partition, r.offset, r.key, r.value, [])
                    key = r.key.decode() if r.key is not None else None
                    folded = fold_endpoints([record])
                    if key is not None and r.value is None:
                        self.endpoints.pop(key, None)
                    elif key is not None and key in folded:
                        before = self.endpoints.get(key)
                        if folded[key].enabled and (before is None or not before.enabled):
                            self.failures.pop(key, None)  # enabled again: a fresh start
                        self.endpoints[key] = folded[key]
                async with self._read_moved:
                    self._endpoints_read = await consumer.position(tp)
                    self._read_moved.notify_all()
                if not self._endpoints_ready.is_set() and self._endpoints_read >= end:
                    self._endpoints_ready.set()
        finally:
            self._follower = None
            await consumer.stop()
