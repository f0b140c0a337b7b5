"""What a worker's consumer is doing, for the moment lag stops going down.

``kill -USR2 <worker pid>`` writes one report to the worker's log: per assigned partition the
Kafka client's position and pause state, faust's read, acked and committed offsets, the
partitions faust has taken out of fetching (flow control, full buffers), each stream's queue
depth and whether recovery is running. Reading it answers "is the record fetched, queued,
processed or acked?" without a debugger. Best-effort: a field that cannot be read says so.

The worker class here also gives its stop a deadline (hub/runtime/shutdown.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

import faust

from hub.logging_setup import LogFormat, reformat_handlers
from hub.runtime.shutdown import start_deadline

log = logging.getLogger(__name__)


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _client_states(app: Any) -> dict[tuple[str, int], str]:
    """Position and pause state of each partition in the Kafka client (aiokafka)."""
    client = _get(app, "consumer", "_thread", "_consumer")
    assignment = _get(client, "_subscription", "subscription", "assignment")
    states: dict[tuple[str, int], str] = {}
    if assignment is None:
        return states
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        status = getattr(getattr(state, "_status", None), "name", "?")
        states[(tp.topic, tp.partition)] = (
            f"position={getattr(state, '_position', None)} paused={state.paused} status={status}"
        )
    return states


def report_lines(app: Any) -> Iterator[str]:
    consumer = app.consumer
    yield (
        f"generation={getattr(app, 'consumer_generation_id', None)} "
        f"in_recovery={getattr(app, 'in_recovery', None)} "
        f"rebalancing={getattr(app, 'rebalancing', None)} "
        f"flow_control_active={app.flow_control.is_active()} "
        f"consumer_flow_active={getattr(consumer, 'flow_active', None)} "
        f"unacked={len(getattr(consumer, '_unacked_messages', ()))}"
    )
    active = getattr(consumer, "_active_partitions", None) or set()
    paused = getattr(consumer, "_paused_partitions", None) or set()
    buffered = getattr(consumer, "_buffered_partitions", None) or set()
    read = getattr(consumer, "_read_offset", {})
    committed = getattr(consumer, "_committed_offset", {})
    acked = getattr(consumer, "_acked", {})
    gaps = getattr(consumer, "_gap", {})
    expected = getattr(consumer, "_expected", {})  # the hub's consumer: next to deliver
    client = _client_states(app)
    try:
        assignment = sorted(consumer.assignment())
    except Exception as exc:  # noqa: BLE001 - a report must not fail
        yield f"assignment unreadable: {exc!r}"
        assignment = []
    unacked: dict[Any, list[int]] = {}
    for message in list(getattr(consumer, "_unacked_messages", ()) or ()):
        unacked.setdefault(message.tp, []).append(message.offset)
    for tp in assignment:
        if tp.topic.endswith("-changelog"):
            continue
        pending = acked.get(tp) or []
        waiting = sorted(unacked.get(tp, []))[:5]
        yield (
            f"{tp.topic}[{tp.partition}] active={tp in active} paused={tp in paused} "
            f"buffered={tp in buffered} read={read.get(tp)} next={expected.get(tp)} "
            f"committed={committed.get(tp)} "
            f"acked_pending={len(pending)} "
            f"(min {min(pending) if pending else None}, max {max(pending) if pending else None}) "
            f"unacked={waiting} "
            f"gaps={len(gaps.get(tp) or ())} client: {client.get((tp.topic, tp.partition), '?')}"
        )
    for channel in getattr(app.topics, "_topics", ()) or ():
        queue = getattr(channel, "queue", None)
        size = queue.qsize() if queue is not None else None
        yield f"channel {channel!r}: queued={size}"
    pending_sends = _get(app, "producer", "buffer", "pending")
    if pending_sends is not None:
        yield f"producer buffer pending={pending_sends.qsize()}"


def log_report(app: Any) -> None:
    lines = list(report_lines(app))
    log.warning("consumer report:\n  %s", "\n  ".join(lines))


class ReportingWorker(faust.Worker):
    """faust's worker, except that SIGUSR2 logs the consumer report, and its log lines take the
    hub's format (``log_format``: text or JSON, hub/logging_setup.py).

    mode's worker opens pdb on SIGUSR2: a worker in production has no terminal, so that only
    raised ``BdbQuit`` in the event loop. SIGUSR1 still logs every task's stack (mode's).
    """

    log_format: LogFormat = "text"
    # A stop that takes longer ends the process (hub/runtime/shutdown.py; HUB_SHUTDOWN_GRACE_S).
    shutdown_grace_s: float = 45.0
    stopped_in_time: threading.Event | None = None

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        # mode replaces the root logger's handlers at start (colour, its own format): the
        # hub's format is put on whatever handlers it made, then faust adds its spinner's.
        reformat_handlers(logger, self.log_format)
        super().on_setup_root_logger(logger, level)

    def _on_sigusr2(self) -> None:
        log_report(self.app)

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        first = not self._signal_stop_time
        super()._schedule_shutdown(signum)
        if first:
            self.stopped_in_time = threading.Event()
            start_deadline(self.shutdown_grace_s, signum.name, stopped=self.stopped_in_time)

    def execute_from_commandline(self) -> NoReturn:
        try:
            super().execute_from_commandline()
        finally:  # however the worker ended, its stop did not outlive the deadline
            if self.stopped_in_time is not None:
                self.stopped_in_time.set()
