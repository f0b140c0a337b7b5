"""A worker told to stop ends within its grace period, whatever it was waiting for.

faust stops a worker by stopping each of its services in turn, with no limit on how long any may
take: committing offsets, flushing the producer and leaving the consumer group all wait for the
broker. With the broker gone (a lost network, a cluster stopped first), a ``hub worker`` sent
SIGTERM waited for ever, and only SIGKILL ended it. Here the first stop signal also starts a
deadline on a thread of its own, so it fires even if the stop then blocks the event loop (the
signal itself is handled on the loop: a loop stuck before the signal arrives starts no
deadline, and only a supervisor's SIGKILL ends it). Once the grace period has passed, the worker
says why on stderr and exits with ``EXIT_STOP_TIMED_OUT``. The line is written straight to file
descriptor 2, not through logging, whose handlers' locks a stuck thread may hold.

Ending so is a crash as far as the hub is concerned, and a crash is what every flow recovers
from (the journal, tests/reliability): the tables' running marker stays, so the next start
rebuilds them from their changelogs, and what was not committed is read again. The grace
(``HUB_SHUTDOWN_GRACE_S``, 45 s) sits below the 60 s that the Kubernetes manifest and
docker-compose give before their own SIGKILL, so the worker's last line says what it waited for.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

# What a worker exits with when its stop outlived the grace period (EX_SOFTWARE, sysexits.h).
EXIT_STOP_TIMED_OUT = 70


def _exit_now(code: int) -> None:  # pragma: no cover - replaced in tests
    os._exit(code)


def start_deadline(
    grace_s: float,
    reason: str,
    *,
    stopped: threading.Event,
    exit_now: Callable[[int], None] = _exit_now,
) -> threading.Thread:
    """After ``grace_s`` seconds, unless ``stopped`` is set by then, say why and exit the
    process (``exit_now``) with ``EXIT_STOP_TIMED_OUT``."""

    def wait_then_exit() -> None:
        if stopped.wait(grace_s):
            return
        message = (
            f"CRITICAL {__name__}: the worker did not stop within {grace_s:g} s of {reason} (is "
            f"the broker reachable? commits, the producer's flush and leaving the group wait "
            f"for it): exiting with {EXIT_STOP_TIMED_OUT}; its tables are rebuilt at the next "
            f"start\n"
        )
        with contextlib.suppress(OSError):  # a closed or broken pipe: exit all the same
            os.write(2, message.encode())
        exit_now(EXIT_STOP_TIMED_OUT)

    thread = threading.Thread(target=wait_then_exit, name="hub-stop-deadline", daemon=True)
    thread.start()
    return thread
