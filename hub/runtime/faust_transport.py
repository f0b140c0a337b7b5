"""The hub's faust app class: faust's aiokafka transport with four fixes the hub depends on.

1. **A short fetch long-poll** (``FETCH_MAX_WAIT_MS``; ``FETCH_MIN_BYTES`` beside it). faust
   hard-codes 1,500 ms, and aiokafka keeps one fetch in flight per broker: once a busy
   partition's records sit unconsumed for 100 ms (aiokafka's prefetch backoff), a fetch for the
   idle partitions goes out and long-polls, and the busy partition cannot be fetched again until
   it returns. On one broker that stalled
   bursts for up to 1.5 s per round (bench/PROFILE.md). 50 ms bounds the stall; each idle poll
   costs a little CPU (an idle hub worker: 0.8% of a core at 1,500 ms, 5% at 50, 18% at 10).

2. **A record fetched before a seek never hides the records fetched after it.** After every
   rebalance, and when table recovery ends, faust seeks each partition back to its committed
   offset and fetches again, and it drops a fetched record whose offset is below the partition's
   read offset (the last record it delivered) as already read. In faust 0.15.3 recovery resumes
   the partitions before that seek, so records fetched from the old position wait on flow
   control; when one is delivered after the seek it moves the read offset past the records
   about to be fetched again: faust drops them, nobody processes or acks them, and the
   partition's committed offset stops for good (the worker sits idle with lag). Here a record
   fetched before its partition's latest seek is not delivered (it is fetched again), a delivery
   that outlived a seek leaves the read offset to the seek, and an ack counts only for a record
   of the current consumer generation while flow is active (streams ack the records they skip
   during a rebalance). Ignoring an ack is always safe: the record is fetched again and
   processing is idempotent. tests/reliability/test_crash_money_flows.py found this (restarts
   after SIGKILL); tests/unit/runtime/test_faust_transport.py pins the rules.

3. **No commit passes a record that was never processed.** faust drops fetched records when a
   partition is paused or flow stops mid-batch, and when the next delivered record jumps past
   them it counted the offsets between as done (a "gap"); and it commits past a single record
   missing at the committed offset. Here a jump fetches the partition again from the missing
   record (a gap is only what a second fetch confirms empty); after each batch, a partition
   whose client position is past the next record to deliver is fetched again from it (nothing
   may come after a partition's last records to jump past them, and a batch fetched just after
   a seek but before its mark is skipped whole); and the committed offset's own record must be
   done first. A partition never committed counts its log start offset as committed (it had
   no offset to expect, so a dropped record 0 went unnoticed and the commit passed it: a
   two-worker trial lost an order so). The crash test lost in-flight records and stalled this way.
   And an idle consumer fetches again from a committed offset whose record was delivered but
   will never be acknowledged (``_unacknowledged_at``; the cluster crash test stalled so), the
   start of a partition never committed counting as its committed offset here too.

4. **A commit covers only table writes already handed to Kafka** (``hub/runtime/faust_producer``).

5. **A rebalance does not wait for ever for a message nobody will acknowledge.** Before it gives
   up its partitions faust waits until every message handed to a stream is acknowledged
   (``wait_empty``), with no limit. A message delivered to several agents' channels counts one
   reference per channel; when flow stops for the rebalance faust clears the channels and
   cancels the deliveries still waiting for room in a full one, and the reference such a
   delivery took is never released: the rebalance then waited for ever while every agent waited
   for it to end (seen in the worker group test on a cluster: a ``hub.orders.provisioning``
   record, read by three agents, held a rebalance for ten minutes). Here the wait ends as soon
   as no pipeline is handling a message (``hub.runtime.batching.handling``: flow has stopped
   and the channels are cleared, so nothing else will be acknowledged), and after
   ``WAIT_EMPTY_PATIENCE_S`` at the most (the patience alone held a failover for 40 s); what is
   still unacknowledged is fetched again from the committed offset by whichever worker gets its
   partition (no commit passes it, rule 3), and processing it again is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, cast

import aiokafka
import aiokafka.errors
import faust
from faust.transport.consumer import CONSUMER_FETCHING, CONSUMER_WAIT_EMPTY
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT
from faust.types.tuples import TP, Message
from mode import Service

from hub.runtime.batching import handling
from hub.runtime.faust_producer import OrderedBufferProducer

FETCH_MAX_WAIT_MS = 50
# A fetch answers once this much is ready or FETCH_MAX_WAIT_MS has passed. Every fetch request
# and response names each of the worker's partitions (aiokafka has no incremental fetch
# sessions): a worker of every flow reads some 70 topics x 12 partitions, and with aiokafka's 1
# byte each record that arrived got a fetch of its own, the whole list encoded and decoded in
# Python each time (a profile of the order bench: 12% of the worker in aiokafka's protocol
# code, 13% in socket writes). 64 KiB lets a burst come in fewer, fuller fetches (order bench:
# intake 241 -> 391/s, provisioning 23 -> 34/s, worker CPU per order 39 -> 25 ms; ticket
# routing at 1,000/s offered 497 -> 568/s); a quiet partition's records wait at most the 50 ms.
FETCH_MIN_BYTES = 64 * 1024
# How often an idle consumer checks its partitions for records handed over but never delivered.
SWEEP_S = 2.0
# How long a rebalance waits for the messages in flight to be acknowledged (rule 5).
WAIT_EMPTY_PATIENCE_S = 30.0


def is_stale(message: Message, current_generation: int) -> bool:
    """True if ``message`` was fetched in a consumer generation before the current one."""
    generation = message.generation_id
    return generation is not None and generation != current_generation


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads this when the consumer starts (it builds its fetcher then).
        consumer._fetch_max_wait_ms = cast(HubApp, self.app).fetch_max_wait_ms
        consumer._fetch_min_bytes = cast(HubApp, self.app).fetch_min_bytes
        return consumer

    def verify_event_path(self, now: float, tp: TP) -> None:
        """faust's livelock check (every few seconds, per partition) reads the partition's
        position, which aiokafka asserts is known: a partition whose offset was still being
        looked up (its leader's broker had just died) crashed the consumer and the worker (the
        worker group test on a cluster). Such a partition, or one no longer assigned, has
        nothing to check yet."""
        fetcher = getattr(self._consumer, "_fetcher", None)
        if fetcher is not None:
            subscription = fetcher._subscriptions.subscription
            assignment = None if subscription is None else subscription.assignment
            aiotp = aiokafka.TopicPartition(tp.topic, tp.partition)
            state = None if assignment is None else assignment.state_value(aiotp)
            if state is None or not state.has_valid_position:
                return
        super().verify_event_path(now, tp)


class _Consumer(faust_aiokafka.Consumer):
    # Seeks so far, and the count at each partition's latest seek (see the module docstring).
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seeks = 0  # seeks completed so far
        self._seeked_at: dict[TP, int] = {}  # the value of _seeks after each partition's last
        self._batch_mark = 0  # the value of _seeks when the batch being delivered came back
        # The offset each partition's next delivered record must have (see _check_next).
        self._expected: dict[TP, int] = {}
        self._refetched_from: dict[TP, int] = {}  # where a partition was last fetched again
        # The first offset of each partition in the batch being delivered.
        self._batch_firsts: dict[TP, int] = {}
        self._swept_at = 0.0  # when idle partitions were last checked for undelivered records
        # Where each partition never committed starts: no commit may pass it unprocessed.
        self._commit_floor: dict[TP, int] = {}

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _mark_seek(self, tps: Iterable[TP]) -> None:
        self._seeks += 1
        for tp in tps:
            self._seeked_at[tp] = self._seeks

    def seeked_since(self, tp: TP, mark: int) -> bool:
        """True if ``tp`` was seeked after the moment ``mark`` (a value of ``_seeks``)."""
        return self._seeked_at.get(tp, -1) > mark

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned stream partition: to its committed offset, else to its start.

        aiokafka seeks only partitions whose committed offset is above 0 and leaves the others
        where they are; but records fetched there before a rebalance may have been dropped from
        the streams' buffers unprocessed, and only a seek brings them again. A partition's start
        then counts as its committed offset (module docstring, 3). (Changelog partitions are
        left to table recovery.)
        """
        committed = await super().seek_to_committed()
        changelogs = self.app.tables.changelog_topics
        fresh = [
            tp
            for tp, offset in committed.items()
            if not (offset and offset > 0) and tp.topic not in changelogs
        ]
        starts: Mapping[TP, int] = {}
        if fresh:
            await self._thread.seek_to_beginning(*fresh)
            starts = await self._log_starts(fresh)
        for tp, offset in committed.items():
            if offset and offset > 0:
                self._expected[tp] = offset
                self._commit_floor.pop(tp, None)
            elif tp in starts:
                self._expected[tp] = self._commit_floor[tp] = starts[tp]
            else:
                self._expected.pop(tp, None)  # a changelog: table recovery reads it
                self._commit_floor.pop(tp, None)
        # Marked once the positions moved: a delivery that ends before this has its read
        # offset overwritten by perform_seek's; one that ends after sees the mark.
        self._mark_seek(tp for tp in committed if tp.topic not in changelogs)
        return committed

    async def _log_starts(self, tps: list[TP]) -> Mapping[TP, int]:
        """The log start offset of each of ``tps`` (retention may have moved it past 0).

        If the broker does not answer, 0: a start above it then looks like a jump, which is
        fetched again and, confirmed empty, counted as a gap (``_check_next``).
        """
        try:
            starts = await self._thread.earliest_offsets(*tps)
        except Exception as exc:  # noqa: BLE001 - logged; 0 is safe, only slower
            self.log.warning("could not read where %s start (%r): expecting 0", tps, exc)
            starts = {}
        return {tp: max(0, starts.get(tp) or 0) for tp in tps}

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        self._seeked(partition, offset)

    def _seeked(self, tp: TP, offset: int) -> None:
        """Bookkeeping once ``tp`` was sought to ``offset``: next expected record, seek mark."""
        self._expected[tp] = offset
        self._mark_seek([tp])

    async def _check_next(self, tp: TP, offset: int) -> bool:
        """True if the record at ``offset`` is the next of ``tp``; else fetch from the next.

        faust drops fetched records on the floor when a partition is paused or flow stops
        mid-batch (``Consumer.getmany``), and counted the offsets it then jumped over as done
        (a gap), so a commit could pass records nobody processed. A jump is fetched again from
        the expected offset; only if the records fetched then still start above it are the
        offsets between empty (compaction, transaction markers) and counted as a gap.
        """
        expected = self._expected.get(tp)
        if expected is None or offset <= expected:
            return True
        if self._refetched_from.get(tp) != expected:
            self._refetched_from[tp] = expected
            self.log.warning(
                "%s: records %d..%d were fetched but never delivered: fetching them again",
                tp,
                expected,
                offset - 1,
            )
            if not await self._fetch_again(tp, expected):
                del self._refetched_from[tp]  # not fetched again: the jump proves nothing yet
            return False
        gap = self._gap[tp]
        gap.addi(expected, offset)  # [expected, offset): no records there
        gap.merge_overlaps()
        return True

    async def _fetch_again(self, tp: TP, offset: int) -> bool:
        """Seek ``tp`` back to ``offset`` so its records from there are fetched again.

        Through the consumer's thread, and waited for: a batch fetched before it is dropped.
        False if the seek failed (e.g. the partition was revoked meanwhile: its seek comes).
        """
        try:
            await self.seek_wait({tp: offset})
        except Exception as exc:  # noqa: BLE001 - logged; the caller's records stay unacked
            self.log.warning("%s: could not fetch again from %d: %r", tp, offset, exc)
            return False
        self._read_offset[tp] = offset
        self._seeked(tp, offset)
        return True

    def _position(self, tp: TP) -> int | None:
        """The Kafka client's position in ``tp``: the offset after the last record it handed
        to faust (it moves only when faust takes a batch, or on a seek). None if unknown."""
        client = getattr(self._thread, "_consumer", None)
        assignment = getattr(getattr(client, "_subscription", None), "subscription", None)
        state = None if assignment is None else assignment.assignment.state_value(tp)
        if state is None or not state.has_valid_position:
            return None
        position: int = state.position
        return position

    async def _fetch_undelivered(self) -> None:
        """Fetch again the records the client handed over in the last batch but no stream got.

        faust stops delivering a batch when flow stops, skips the records of a partition paused
        meanwhile, and here a record that looks fetched before its partition's latest seek is
        skipped too (module docstring, 2; a batch fetched just after a seek but before its mark
        looks so). The client's position is past them all the same. A jump in the next delivery
        would catch it (``_check_next``), but when they were a partition's last records nothing
        comes after them: they would sit uncommitted until the next rebalance. So after each
        batch a partition whose position is past the next record to deliver is fetched again
        from that record (at worst a record is delivered twice: processing is idempotent).
        During a rebalance the seek to the committed offsets that ends it does this instead.
        """
        firsts, self._batch_firsts = self._batch_firsts, {}
        if self.should_stop or not self.app.flow_control.is_active():
            return
        if not firsts:
            # An idle fetch: every SWEEP_S, every active partition. A batch skipped during a
            # rebalance (flow stopped, so not fetched again above) whose partition's seek at the
            # end of the rebalance did not move the client back left the partition with its
            # client position past records nobody delivered, and nothing after them to show it
            # (seen in the worker group test: 24 orders of a fresh partition never handled).
            now = self.loop.time()
            if now - self._swept_at < SWEEP_S:
                return
            self._swept_at = now
            active = getattr(self, "_active_partitions", None) or set()
            firsts = {tp: self._expected[tp] for tp in active if tp in self._expected}
            for tp in active:
                stuck = self._unacknowledged_at(tp)
                if stuck is not None:
                    self.log.warning(
                        "%s: record %d was delivered but never acknowledged, and records after "
                        "it were: fetching again from it",
                        tp,
                        stuck,
                    )
                    await self._fetch_again(tp, stuck)
        acks_enabled_for = self.app.topics.acks_enabled_for
        for tp, first in firsts.items():
            if not acks_enabled_for(tp.topic):
                continue
            position = self._position(tp)
            missing = self._expected.get(tp, first)
            if position is not None and missing < position:
                self.log.warning(
                    "%s: records %d..%d were handed over but never delivered: fetching them again",
                    tp,
                    missing,
                    position - 1,
                )
                await self._fetch_again(tp, missing)

    def _unacknowledged_at(self, tp: TP) -> int | None:
        """The committed offset of ``tp`` when the record there will never be acknowledged:
        records after it were, none of the partition's messages is with a stream, and the
        consumer is idle. Its ack was refused as stale (rule 2) or its message was cleared when a
        rebalance stopped waiting (rule 5), each expecting a seek back to the committed offset;
        when the consumer stayed in its group without one (a coordinator lost and found again
        in the cluster crash test), nothing fetched it again, and rule 3 held the partition's
        commit at it for good. Fetching again from it delivers the acknowledged records after it
        a second time too; processing is idempotent. A partition never committed counts its
        start as its committed offset, as ``_new_offset`` does (the cluster crash test: record
        0 of a partition delivered, never acknowledged, records 1..200 acknowledged, nothing
        ever committed)."""
        committed = self._committed_offset.get(tp)
        if committed is None:
            committed = self._commit_floor.get(tp)
        acked = self._acked.get(tp)
        if committed is None or not acked or min(acked) <= committed:
            return None
        if handling() or any(m.tp == tp for m in self._unacked_messages):
            return None
        return committed

    def _new_offset(self, tp: TP) -> int | None:
        """faust's, except that nothing is committed while the committed offset's own record is
        not done: faust 0.15.3 commits past a single missing record (``min(acked) - committed
        > 1``), and past any records missing at the start of a partition never committed (for
        which the start stands in for the committed offset here)."""
        committed = self._committed_offset[tp]
        if committed is None:
            committed = self._commit_floor.get(tp)
        acked = self._acked[tp]
        if committed is not None and acked:
            gap = self._gap[tp]
            head = min(min(acked), gap.begin()) if gap else min(acked)
            if head > committed:
                return None
        new: int | None = super()._new_offset(tp)
        return new

    async def _wait_next_records(self, timeout: float) -> Any:  # noqa: ASYNC109 - faust's
        # The fetch and the seek both run on the consumer's thread and hand their results back
        # in order: a batch fetched before a seek comes back before that seek is marked done.
        records = await super()._wait_next_records(timeout)
        self._batch_mark = self._seeks
        batch = records[0] if records else None
        self._batch_firsts = {tp: got[0].offset for tp, got in (batch or {}).items() if got}
        return records

    @Service.transitions_to(CONSUMER_WAIT_EMPTY)
    async def wait_empty(self) -> None:
        """faust's, but bounded by ``WAIT_EMPTY_PATIENCE_S`` (the module docstring, rule 5)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_EMPTY_PATIENCE_S
        while not self.should_stop and self._unacked_messages:
            await self.commit()
            if not self._unacked_messages:
                break
            if not handling() and not self.app.flow_control.is_active():
                # Every pipeline is between messages while flow is stopped: what is left will
                # not be acknowledged here (rule 5).
                self.log.info(
                    "rebalance: %d message(s) handed to streams but not being handled, left to "
                    "be fetched again",
                    len(self._unacked_messages),
                )
                self._unacked_messages.clear()
                break
            if loop.time() >= deadline:
                self.log.warning(
                    "rebalance: %d message(s) still unacknowledged after %.0f s, left to be "
                    "fetched again: %r",
                    len(self._unacked_messages),
                    WAIT_EMPTY_PATIENCE_S,
                    sorted((m.tp, m.offset) for m in self._unacked_messages)[:10],
                )
                self._unacked_messages.clear()
                break
            await self._wait_for_ack(timeout=1)
            self._clean_unacked_messages()
        await self.commit_and_end_transactions()

    def ack(self, message: Message) -> bool:
        app = self.app
        if is_stale(message, app.consumer_generation_id) or not app.flow_control.is_active():
            # Fetched again after the coming seek, and that copy is acked. Not pending either:
            # a rebalance or shutdown waiting for pending records need not wait for this one.
            self._unacked_messages.discard(message)
            return False
        return bool(super().ack(message))

    async def _drain_messages(self, fetcher: Any) -> None:
        """faust 0.15.3's loop (``Consumer._drain_messages``) with the seek rules above.

        Kept line for line with faust's except for the ``is_stale`` and ``seeked_since`` tests.
        """
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        seeked_since = self.seeked_since
        expected = self._expected
        app = self.app
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        if seeked_since(tp, self._batch_mark) or is_stale(
                            message, app.consumer_generation_id
                        ):
                            continue  # its partition was seeked back: it is fetched again
                        offset = message.offset
                        if acks_enabled_for(message.topic) and not await self._check_next(
                            tp, offset
                        ):
                            continue  # fetched again from the missing record
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            delivered_at = self._seeks
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                            if not seeked_since(tp, delivered_at):
                                set_read_offset(tp, offset)
                                expected[tp] = offset + 1
                        else:  # delivered before (faust's "already read"): accounted there
                            expected[tp] = max(expected.get(tp, 0), offset + 1)
                    await self._fetch_undelivered()
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


# How long creating an internal topic keeps trying while a cluster settles after a broker died.
CREATE_TOPIC_PATIENCE_S = 120.0
_NOT_RETRIED = (
    aiokafka.errors.TopicAuthorizationFailedError,
    aiokafka.errors.ClusterAuthorizationFailedError,
)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = OrderedBufferProducer

    async def _create_topic(
        self,
        owner: Any,
        client: Any,
        topic: str,
        partitions: int,
        replication: int,
        **kwargs: Any,
    ) -> None:
        """faust's topic creation, tried again while the cluster settles.

        faust asks the first broker in its metadata for the controller and sends the request
        to the controller it names, with no other try: right after a broker of a cluster dies
        (before the cluster fences it) either can be the dead node, and the worker exited at
        start with ``NodeNotReadyError`` (the cluster crash test). Here the attempt is repeated
        with fresh metadata for up to ``CREATE_TOPIC_PATIENCE_S``; a refusal by the authorizer
        is final at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CREATE_TOPIC_PATIENCE_S
        delay = 0.5
        while True:
            try:
                await super()._create_topic(owner, client, topic, partitions, replication, **kwargs)
                return
            except _NOT_RETRIED:
                raise
            except Exception as exc:
                if loop.time() + delay > deadline or getattr(owner, "should_stop", False):
                    raise
                owner.log.warning("creating topic %r failed (%r); trying again", topic, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            try:
                await client.force_metadata_update()
            except Exception:  # noqa: BLE001 - the next attempt says what is wrong
                owner.log.debug("metadata refresh failed before creating %r", topic)


class HubApp(faust.App):
    """faust.App on the transport above (see the module docstring)."""

    fetch_max_wait_ms: ClassVar[int] = FETCH_MAX_WAIT_MS
    fetch_min_bytes: ClassVar[int] = FETCH_MIN_BYTES

    def _new_transport(self) -> TransportT:
        return _Transport(self.conf.broker_consumer, self)
