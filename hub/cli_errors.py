"""What ``hub`` says, and which exit code it returns, when a command fails.

One line saying what is wrong and what to do; tracebacks only for the hub's own bugs. Exit codes:
0 ok, 1 not found or a check failed (returned by the command itself), 2 usage (a value given
is wrong), 3 a hub error (broker unreachable, settings, local tooling), 130 interrupted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from hub.errors import BrokerUnreachable, ExternalServiceError, HubError, ValidationFailed

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_HUB_ERROR = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Failure:
    code: int
    message: str


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside exception groups (asyncio.TaskGroup wraps them)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _is_unreachable(exc: BaseException) -> bool:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable

    if isinstance(exc, KafkaConnectionError | NoBrokersAvailable | KafkaTimeoutError):
        return True
    if isinstance(exc, ExternalServiceError) and exc.service == "kafka":
        cause = exc.__cause__
        return "cannot reach Kafka" in str(exc) or (cause is not None and _is_unreachable(cause))
    return False


def describe(exc: BaseException, bootstrap: str) -> Failure | None:
    """The line and exit code for a failure a user can act on; None for the hub's own bugs."""
    from aiokafka.errors import KafkaError

    exc = _leaf(exc)
    if isinstance(exc, KeyboardInterrupt):
        return Failure(EXIT_INTERRUPTED, "interrupted")
    if isinstance(exc, BrokerUnreachable):
        return Failure(EXIT_HUB_ERROR, str(exc))
    if _is_unreachable(exc):
        return Failure(EXIT_HUB_ERROR, str(BrokerUnreachable(bootstrap)))
    if isinstance(exc, ValidationFailed):
        return Failure(EXIT_USAGE, str(exc))
    if isinstance(exc, HubError):
        return Failure(EXIT_HUB_ERROR, str(exc))
    if isinstance(exc, ValidationError):
        # Settings from HUB_* variables that do not validate.
        first = exc.errors()[0] if exc.errors() else None
        where = ".".join(str(p) for p in first["loc"]) if first else exc.title
        why = first["msg"] if first else str(exc)
        return Failure(EXIT_HUB_ERROR, f"{exc.title}: {where}: {why} (check the HUB_* variables)")
    if isinstance(exc, KafkaError):
        return Failure(EXIT_HUB_ERROR, f"Kafka at {bootstrap} refused: {exc}")
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
        return Failure(EXIT_USAGE, f"{exc.strerror}: {exc.filename}")
    return None


def collect_failed_clients() -> None:
    """Free the clients a failed command left unclosed, without their "Unclosed ..." warnings.

    The failure was already said in one line; aiokafka's complaint, as each client whose start
    failed is freed, that it was never closed adds nothing for the person reading it. Call it
    once the exception (whose frames hold those clients) is gone.
    """
    import gc
    import warnings

    asyncio_log = logging.getLogger("asyncio")
    level = asyncio_log.level
    asyncio_log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
    finally:
        asyncio_log.setLevel(level)
