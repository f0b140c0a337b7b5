"""A record fetched before a seek neither acks for nor hides the records fetched after it.

The broker-level proof is tests/reliability/test_crash_money_flows.py (before this fix a restart
after SIGKILL could leave a partition's commit stuck with lag forever); these pin the rules on
the consumer itself, without a broker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer.subscription_state import TopicPartitionState
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types.tuples import TP, ConsumerMessage

from hub.runtime.faust_transport import HubApp, is_stale

TOPIC = "hub.subscriptions.events"
PART = TP(TOPIC, 0)
OTHER = TP(TOPIC, 1)


def message(offset: int, generation: int | None, partition: int = 0) -> ConsumerMessage:
    return ConsumerMessage(
        topic=TOPIC,
        partition=partition,
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
def app() -> HubApp:
    app = HubApp("transport-test", broker="kafka://127.0.0.1:1")
    topics: Any = app.topics
    topics._acking_topics.add(TOPIC)
    app.consumer_generation_id = 3
    app.flow_control.resume()  # as after recovery: a worker's normal state
    return app


Batch = dict[TP, list[ConsumerRecord[bytes, bytes]]]


def consumer_of(app: HubApp) -> Any:
    """The app's consumer with its private bookkeeping visible (faust types only its API)."""
    return app.consumer


def record(offset: int, partition: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, b"k", b"v", None, 1, 1, [])


def drain(
    app: HubApp,
    batches: list[Batch],
    during: Callable[[Any], Awaitable[None]],
    before_fetch: Callable[[], None] = lambda: None,
) -> list[tuple[int, int, int | None]]:
    """Run the consumer's delivery loop (faust's getmany included) over fetched ``batches``;
    ``during(message)`` runs inside each delivery, where a rebalance or the end of recovery
    would seek; ``before_fetch()`` before each fetch. Returns what was delivered as
    (partition, offset, generation)."""
    consumer: Any = app.consumer
    delivered: list[tuple[int, int, int | None]] = []
    fetcher = SimpleNamespace(_stopped=asyncio.Event())

    async def fetch(active_partitions: Any, timeout: float) -> Batch:  # noqa: ASYNC109
        before_fetch()
        batch = batches.pop(0)
        if not batches:
            fetcher._stopped.set()
        for tp, records in batch.items():  # the client hands them over: its position moves
            positions(app)[tp] = records[-1].offset + 1
        return batch

    async def callback(m: ConsumerMessage) -> None:
        delivered.append((m.partition, m.offset, m.generation_id))
        await during(m)

    consumer._getmany = fetch
    consumer.highwater = lambda tp: 1000
    consumer._active_partitions = {PART, OTHER}
    consumer.resume_flow()
    consumer.callback = callback
    # On the consumer's own loop: faust's services schedule their waits there.
    consumer.loop.run_until_complete(consumer._drain_messages(fetcher))
    return delivered


async def seek_back(app: HubApp, tps: list[TP], to: int | None, start: int = 0) -> list[TP]:
    """faust's perform_seek; the consumer thread (the broker's side) is answered here, with
    ``start`` as every partition's log start offset.

    Returns the partitions sent to their start."""
    consumer: Any = app.consumer
    to_start: list[TP] = []

    async def seek_to_committed() -> dict[TP, int | None]:
        return dict.fromkeys(tps, to)

    async def seek_to_beginning(*partitions: TP) -> None:
        to_start.extend(partitions)
        positions(app).update(dict.fromkeys(partitions, start))

    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        return dict.fromkeys(partitions, start)

    consumer._thread.seek_to_committed = seek_to_committed
    consumer._thread.seek_to_beginning = seek_to_beginning
    consumer._thread.earliest_offsets = earliest_offsets
    await consumer.perform_seek()
    return to_start


def test_is_stale_compares_generations() -> None:
    assert is_stale(message(1, 2), 3)
    assert not is_stale(message(1, 3), 3)
    assert not is_stale(message(1, None), 3)  # not fetched through a group: never stale


def test_an_old_generation_record_is_not_acked_nor_left_pending(app: HubApp) -> None:
    consumer: Any = app.consumer
    old = message(5, 2)
    consumer._unacked_messages.add(old)
    assert consumer.ack(old) is False
    assert old not in consumer._unacked_messages
    assert consumer.ack(message(6, 3)) is True
    assert list(consumer._acked[PART]) == [6]
    # The copy fetched again after the seek is acked normally.
    assert consumer.ack(message(5, 3)) is True
    assert sorted(consumer._acked[PART]) == [5, 6]


def test_no_ack_counts_while_flow_is_suspended(app: HubApp) -> None:
    """Streams ack the records they skip during a rebalance; those were never processed."""
    app.flow_control.suspend()
    assert app.consumer.ack(message(7, 3)) is False
    app.flow_control.resume()
    assert app.consumer.ack(message(7, 3)) is True


def test_a_delivery_across_a_rebalance_leaves_the_read_offset_to_the_seek(app: HubApp) -> None:
    """faust's own loop set the read offset to 180 here, then dropped 171..179 as read."""

    async def rebalance(m: ConsumerMessage) -> None:
        if m.offset == 180:  # the rebalance completes while 180 waits on flow control
            app.consumer_generation_id = 4
            await seek_back(app, [PART], 171)

    delivered = drain(
        app,
        [{PART: [record(180), record(181)]}, {PART: [record(171), record(172)]}],
        rebalance,
    )
    assert delivered == [(0, 180, 3), (0, 171, 4), (0, 172, 4)]  # 181 is fetched again
    assert consumer_of(app)._read_offset[PART] == 172


def test_a_delivery_across_the_end_of_recovery_leaves_the_read_offset_to_the_seek(
    app: HubApp,
) -> None:
    """Recovery seeks back without a new generation; partitions it did not seek go on."""

    async def recovery_ends(m: ConsumerMessage) -> None:
        if m.offset == 180:
            await seek_back(app, [PART], 171)

    delivered = drain(
        app,
        [
            {PART: [record(180), record(181)], OTHER: [record(50, partition=1)]},
            {PART: [record(171), record(172)]},
        ],
        recovery_ends,
    )
    assert sorted(delivered) == [(0, 171, 3), (0, 172, 3), (0, 180, 3), (1, 50, 3)]
    assert consumer_of(app)._read_offset[PART] == 172
    assert consumer_of(app)._read_offset[OTHER] == 50


def test_a_batch_fetched_after_the_seek_is_delivered(app: HubApp) -> None:
    """The seek marks are taken when a batch comes back: a seek before the fetch hides nothing."""

    async def nothing(m: ConsumerMessage) -> None:
        return None

    app.consumer.loop.run_until_complete(seek_back(app, [PART], 171))
    delivered = drain(app, [{PART: [record(171), record(172)]}], nothing)
    assert delivered == [(0, 171, 3), (0, 172, 3)]


def test_a_partition_never_committed_is_sent_to_its_start(app: HubApp) -> None:
    """aiokafka leaves such a partition where it is, so records dropped from the streams'
    buffers by a rebalance would never come again."""
    consumer: Any = app.consumer
    assert consumer.loop.run_until_complete(seek_back(app, [PART, OTHER], None)) == [PART, OTHER]
    assert consumer.seeked_since(PART, 0)
    assert consumer._read_offset[PART] is None  # everything from the start is delivered
    assert consumer.loop.run_until_complete(seek_back(app, [PART], 171)) == []
    assert consumer._read_offset[PART] == 171


def positions(app: HubApp) -> dict[TP, int]:
    """The Kafka client's position per partition, as the consumer reads it (``_position``)."""
    consumer: Any = app.consumer
    if not hasattr(consumer, "client_positions"):
        consumer.client_positions = {}
        consumer._position = consumer.client_positions.get
    return consumer.client_positions  # type: ignore[no-any-return]


def answer_seeks(app: HubApp) -> list[tuple[TP, int]]:
    """The consumer thread's side of a seek; returns the seeks asked for."""
    seeks: list[tuple[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        seeks.extend(partitions.items())
        positions(app).update(partitions)

    app.consumer._thread.seek_wait = seek_wait  # type: ignore[attr-defined]
    return seeks


async def nothing(m: ConsumerMessage) -> None:
    return None


def test_records_dropped_between_deliveries_are_fetched_again(app: HubApp) -> None:
    """faust 0.15.3 counted 12 and 13 as done (a gap) and a commit passed them unprocessed."""
    seeks = answer_seeks(app)
    delivered = drain(
        app,
        [
            {PART: [record(10), record(11)]},
            {PART: [record(14), record(15)]},  # 12 and 13 were dropped by faust's getmany
            {PART: [record(12), record(13), record(14), record(15)]},
        ],
        nothing,
    )
    assert [offset for _, offset, _ in delivered] == [10, 11, 12, 13, 14, 15]
    assert seeks == [(PART, 12)]
    assert not consumer_of(app)._gap[PART]


def test_offsets_a_second_fetch_confirms_empty_are_a_gap(app: HubApp) -> None:
    """Compaction or transaction markers: no records at 11 and 12, and the commit passes them."""
    seeks = answer_seeks(app)
    delivered = drain(
        app,
        [{PART: [record(10)]}, {PART: [record(13)]}, {PART: [record(13), record(14)]}],
        nothing,
    )
    assert [offset for _, offset, _ in delivered] == [10, 13, 14]
    assert seeks == [(PART, 11)]
    consumer: Any = app.consumer
    for offset in (10, 13, 14):
        consumer.ack(message(offset, 3))
    assert consumer._new_offset(PART) == 15


def test_no_commit_passes_a_missing_record_at_the_committed_offset(app: HubApp) -> None:
    consumer: Any = app.consumer
    consumer._committed_offset[PART] = 5
    for offset in (6, 7):
        consumer.ack(message(offset, 3))
    assert consumer._new_offset(PART) is None  # faust 0.15.3 answered 8: record 5 lost
    consumer.ack(message(5, 3))
    assert consumer._new_offset(PART) == 8


def test_a_fresh_partition_commits_nothing_past_its_unprocessed_start(app: HubApp) -> None:
    """A partition never committed has no committed offset to hold the commit back: faust
    0.15.3 committed 3 here, past record 0 that nobody processed."""
    consumer: Any = app.consumer
    consumer.loop.run_until_complete(seek_back(app, [PART], None))
    for offset in (1, 2):
        consumer.ack(message(offset, 3))
    assert consumer._new_offset(PART) is None
    consumer.ack(message(0, 3))
    assert consumer._new_offset(PART) == 3


def test_a_fresh_partition_starts_where_its_log_starts(app: HubApp) -> None:
    """Retention may have moved the log's start past 0: the records before it are no gap to
    wait for, and a record missing at the start holds the commit back all the same."""
    consumer: Any = app.consumer
    consumer.loop.run_until_complete(seek_back(app, [PART], None, start=500))
    consumer.ack(message(501, 3))
    assert consumer._new_offset(PART) is None
    consumer.ack(message(500, 3))
    assert consumer._new_offset(PART) == 502


def test_a_dropped_first_record_of_a_fresh_partition_is_fetched_again(app: HubApp) -> None:
    """The two-worker trial's lost order: record 0 of a partition never committed was fetched,
    then dropped by faust's getmany (its partition paused by an assignment going on while the
    batch was delivered), and the records after it were delivered and acked: with no committed
    offset to expect, nothing noticed the jump, the commit passed 0 and nothing fetched it again.
    """
    seeks = answer_seeks(app)
    consumer: Any = app.consumer
    consumer.loop.run_until_complete(seek_back(app, [PART], None))

    async def assignment_starts(m: ConsumerMessage) -> None:
        if m.partition == 1:  # delivered before PART's record 0 in the same batch
            consumer.pause_partitions([PART])
            app.flow_control.suspend()
        else:
            consumer.ack(m)

    def assignment_ends() -> None:
        consumer.resume_partitions([PART])
        app.flow_control.resume()

    delivered = drain(
        app,
        [
            {OTHER: [record(50, partition=1)], PART: [record(0)]},  # 0 is dropped
            {PART: [record(1), record(2)]},
            {PART: [record(0), record(1), record(2)]},
        ],
        assignment_starts,
        before_fetch=assignment_ends,
    )
    assert seeks == [(PART, 0)]
    assert [offset for partition, offset, _ in delivered if partition == 0] == [0, 1, 2]
    assert consumer._new_offset(PART) == 3


def test_a_failed_refetch_does_not_make_the_jump_a_gap(app: HubApp) -> None:
    """The partition may have been revoked meanwhile; the next delivery tries again."""
    seeks: list[dict[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        seeks.append(partitions)
        if len(seeks) == 1:
            raise RuntimeError("IllegalStateError: no current assignment")
        positions(app).update(partitions)

    app.consumer._thread.seek_wait = seek_wait  # type: ignore[attr-defined]
    delivered = drain(
        app,
        [{PART: [record(10)]}, {PART: [record(13)]}, {PART: [record(13)]}, {PART: [record(11)]}],
        nothing,
    )
    # The one that failed; 13, undelivered at the end of its batch, from 11 again; the jump
    # to 13 in the batch that brings, since the failed seek proved nothing.
    assert seeks == [{PART: 11}, {PART: 11}, {PART: 11}]
    assert [offset for _, offset, _ in delivered] == [10, 11]
    assert not consumer_of(app)._gap[PART]


def test_the_undelivered_end_of_a_batch_is_fetched_again(app: HubApp) -> None:
    """A partition paused while its batch is delivered: faust skips the rest of the batch, and
    with no later record to jump past them 11 and 12 sat uncommitted (the crash test's lag 1)."""
    seeks = answer_seeks(app)
    consumer: Any = app.consumer

    async def pause_at_10(m: ConsumerMessage) -> None:
        if m.offset == 10:
            consumer.pause_partitions([PART])

    delivered = drain(
        app,
        [{PART: [record(10), record(11), record(12)]}, {PART: [record(11), record(12)]}],
        pause_at_10,
        before_fetch=lambda: consumer.resume_partitions([PART]),
    )
    assert [offset for _, offset, _ in delivered] == [10, 11, 12]
    assert seeks == [(PART, 11)]


def test_a_batch_delivered_to_its_end_is_not_fetched_again(app: HubApp) -> None:
    seeks = answer_seeks(app)
    delivered = drain(
        app,
        [{PART: [record(10), record(11)], OTHER: [record(3, partition=1)]}],
        nothing,
    )
    assert sorted(delivered) == [(0, 10, 3), (0, 11, 3), (1, 3, 3)]
    assert seeks == []


def test_a_batch_cut_short_by_a_rebalance_is_left_to_its_seek(app: HubApp) -> None:
    """The rebalance ends with a seek to the committed offsets, which fetches 11 again."""
    seeks = answer_seeks(app)
    consumer: Any = app.consumer

    async def rebalance_starts(m: ConsumerMessage) -> None:
        consumer.stop_flow()
        app.flow_control.suspend()

    delivered = drain(app, [{PART: [record(10), record(11)]}], rebalance_starts)
    assert [offset for _, offset, _ in delivered] == [10]
    assert seeks == []


def test_a_batch_fetched_after_a_seek_but_before_its_mark_is_fetched_again(app: HubApp) -> None:
    """The crash test's lag 1: recovery's seek to 900 reached the client, the client handed
    over 900..901, and only then was the seek marked. Both records looked fetched before the
    seek and were skipped, with the client's position past them: nothing fetched them again."""
    seeks = answer_seeks(app)
    consumer: Any = app.consumer

    async def seek_marked_late(m: ConsumerMessage) -> None:
        if m.offset == 900 and not seeks:
            consumer._expected[PART] = 900  # seek_to_committed's bookkeeping, after the fact
            consumer._mark_seek([PART])

    delivered = drain(
        app,
        [{PART: [record(900), record(901)]}, {PART: [record(900), record(901)]}],
        seek_marked_late,
    )
    assert [offset for _, offset, _ in delivered] == [900, 900, 901]
    assert seeks == [(PART, 900)]


class _Owner:
    should_stop = False

    class log:  # noqa: N801 - faust's owner.log, as a stand-in
        warnings: list[str] = []

        @classmethod
        def warning(cls, message: str, *args: object) -> None:
            cls.warnings.append(message % args)

        @staticmethod
        def debug(*args: object) -> None:
            return None


class _Client:
    def __init__(self) -> None:
        self.refreshed = 0

    async def force_metadata_update(self) -> None:
        self.refreshed += 1


async def test_an_internal_topic_is_created_once_the_cluster_has_settled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Right after a broker died faust asked it for the controller and the worker exited."""
    import aiokafka.errors
    from faust.transport.drivers import aiokafka as faust_aiokafka

    from hub.runtime import faust_transport

    calls: list[str] = []

    async def flaky(
        self: object, owner: object, client: object, topic: str, *a: object, **k: object
    ) -> None:
        calls.append(topic)
        if len(calls) < 3:
            raise aiokafka.errors.NodeNotReadyError("node id 1")

    async def no_sleep(_: float) -> None:
        return None

    monkeypatch.setattr(faust_aiokafka.Transport, "_create_topic", flaky)
    monkeypatch.setattr("hub.runtime.faust_transport.asyncio.sleep", no_sleep)
    transport = object.__new__(faust_transport._Transport)
    client = _Client()
    await transport._create_topic(_Owner(), client, "app-billing-state-changelog", 3, 3)
    assert calls == ["app-billing-state-changelog"] * 3
    assert client.refreshed == 2

    async def refused(self: object, *a: object, **k: object) -> None:
        calls.append("refused")
        raise aiokafka.errors.TopicAuthorizationFailedError("no")

    monkeypatch.setattr(faust_aiokafka.Transport, "_create_topic", refused)
    with pytest.raises(aiokafka.errors.TopicAuthorizationFailedError):
        await transport._create_topic(_Owner(), client, "t", 3, 3)
    assert calls[-1:] == ["refused"]
    assert calls.count("refused") == 1


def test_a_rebalance_stops_waiting_for_a_message_nobody_will_acknowledge(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faust waited for ever for a message whose channel delivery the rebalance cancelled; the
    wait now ends, and the message is left to be fetched again (nothing commits past it)."""
    from hub.runtime import faust_transport

    monkeypatch.setattr(faust_transport, "WAIT_EMPTY_PATIENCE_S", 0.05)
    consumer: Any = app.consumer
    orphan = message(7, 3)  # handed to a stream whose delivery was cancelled: never acked
    consumer._unacked_messages.add(orphan)
    commits: list[str] = []

    async def commit(*_: Any, **__: Any) -> bool:
        commits.append("commit")
        return False

    async def end(*_: Any, **__: Any) -> None:
        commits.append("end")

    consumer.commit = commit
    consumer.commit_and_end_transactions = end
    consumer.loop.run_until_complete(asyncio.wait_for(consumer.wait_empty(), 10))
    assert not consumer._unacked_messages
    assert commits[-1] == "end"
    assert not orphan.acked


def _waited_for_orphan(app: HubApp, handling: int, monkeypatch: pytest.MonkeyPatch) -> float:
    """Seconds a rebalance's wait_empty took, flow stopped, ``handling`` pipelines mid-message,
    one message handed to a stream and never acknowledged; patience 0.5 s."""
    from hub.runtime import batching, faust_transport

    monkeypatch.setattr(faust_transport, "WAIT_EMPTY_PATIENCE_S", 0.5)
    monkeypatch.setattr(batching._InFlight, "count", handling)
    consumer: Any = app.consumer
    orphan = message(7, 3)  # held here: the consumer's set of unacknowledged messages is weak
    consumer._unacked_messages.add(orphan)

    async def commit(*_: Any, **__: Any) -> bool:
        return False

    consumer.commit = commit
    consumer.commit_and_end_transactions = commit
    app.flow_control.suspend()
    started = time.monotonic()
    consumer.loop.run_until_complete(asyncio.wait_for(consumer.wait_empty(), 10))
    assert not consumer._unacked_messages
    assert not orphan.acked  # left to be fetched again
    return time.monotonic() - started


def test_a_rebalance_waits_no_longer_once_no_pipeline_is_handling_a_message(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flow stopped, channels cleared, every pipeline between messages: nothing left will be
    acknowledged, so the rebalance goes on at once (waiting out the patience held a failover
    for 40 s)."""
    assert _waited_for_orphan(app, 0, monkeypatch) < 0.4


def test_a_rebalance_waits_while_a_pipeline_is_handling_a_message(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take in hand may still write and send: the rebalance waits for it (up to the patience)."""
    assert _waited_for_orphan(app, 1, monkeypatch) >= 0.5


def test_an_idle_consumer_fetches_again_what_a_rebalance_left_undelivered(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch cut short while flow stops for a rebalance is not fetched again then; if the
    rebalance's seek did not move the client back, nothing later shows the missing record (the
    worker group test: 24 orders of a partition never handled). An idle fetch finds it."""
    from hub.runtime import faust_transport

    monkeypatch.setattr(faust_transport, "SWEEP_S", 0.0)
    seeks = answer_seeks(app)
    consumer: Any = app.consumer

    async def rebalance_at_0(m: ConsumerMessage) -> None:
        if m.offset == 0:
            consumer.pause_partitions([PART])
            app.flow_control.suspend()

    def rebalance_over() -> None:
        consumer.resume_partitions([PART])
        app.flow_control.resume()

    delivered = drain(
        app,
        [{PART: [record(0), record(1)]}, {}, {PART: [record(1)]}, {}],
        rebalance_at_0,
        before_fetch=rebalance_over,
    )
    assert seeks == [(PART, 1)]
    assert [offset for _, offset, _ in delivered] == [0, 1]


async def test_an_idle_consumer_fetches_again_a_delivered_record_never_acknowledged(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Record 581 was delivered, its ack refused as stale, and the seek that would have fetched
    it again never came (the consumer stayed in its group): 582 was acknowledged, nothing is
    with a stream, and the commit stayed at 581 for good (the cluster crash test, lag 2). An
    idle sweep fetches again from it."""
    from hub.runtime import faust_transport

    monkeypatch.setattr(faust_transport, "SWEEP_S", 0.0)
    seeks = answer_seeks(app)
    consumer: Any = app.consumer
    consumer._committed_offset[PART] = 581
    consumer.ack(message(581, 2))  # fetched in the generation before: refused
    consumer.ack(message(582, 3))
    consumer._active_partitions = {PART, OTHER}
    consumer._expected[PART] = 583
    positions(app)[PART] = 583
    assert consumer._new_offset(PART) is None  # rule 3: held at 581
    await consumer._fetch_undelivered()
    assert seeks == [(PART, 581)]

    # Once 581 is acknowledged nothing is fetched again.
    consumer.ack(message(581, 3))
    seeks.clear()
    await consumer._fetch_undelivered()
    assert seeks == []


async def test_an_idle_consumer_fetches_again_an_unacknowledged_first_record_never_committed(
    app: HubApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition never committed: its start (0) stands in for the committed offset. Record 0
    was delivered and its ack refused, 1..200 were acknowledged, and nothing was ever committed
    (the cluster crash test after a worker restart with its state deleted: lag 201 for good).
    An idle sweep fetches again from 0."""
    from hub.runtime import faust_transport

    monkeypatch.setattr(faust_transport, "SWEEP_S", 0.0)
    seeks = answer_seeks(app)
    consumer: Any = app.consumer
    consumer._committed_offset[PART] = None
    consumer._commit_floor[PART] = 0
    consumer.ack(message(0, 2))  # fetched in the generation before: refused
    for offset in range(1, 201):
        consumer.ack(message(offset, 3))
    consumer._active_partitions = {PART, OTHER}
    consumer._expected[PART] = 201
    positions(app)[PART] = 201
    assert consumer._new_offset(PART) is None  # rule 3: nothing passes record 0
    await consumer._fetch_undelivered()
    assert seeks == [(PART, 0)]


async def test_the_livelock_check_skips_a_partition_whose_position_is_being_looked_up(
    app: HubApp,
) -> None:
    """faust's livelock check read the position of a partition whose offset was still being
    looked up (its leader's broker had just died), aiokafka asserted it was known, and the
    worker crashed (the worker group test on a cluster)."""
    thread: Any = app.consumer._thread  # type: ignore[attr-defined]
    aiotp = TopicPartition(TOPIC, 0)
    state = TopicPartitionState(None)
    state.timestamp = time.time() * 1000  # fetched just now
    state.highwater = 10
    assignment = SimpleNamespace(active=True, state_value={aiotp: state}.get)
    subscriptions = SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
    thread._consumer = SimpleNamespace(_fetcher=SimpleNamespace(_subscriptions=subscriptions))
    thread.time_started = time.monotonic()
    now = time.monotonic()
    with pytest.raises(AssertionError):  # faust's own check, on the same partition
        faust_aiokafka.AIOKafkaConsumerThread.verify_event_path(thread, now, PART)
    thread.verify_event_path(now, PART)  # skipped: nothing to check yet
    state.seek(5)  # once the position is known, faust's check runs
    thread.verify_event_path(now, PART)
