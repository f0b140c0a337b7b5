"""How the hub logs: text for people (default) or one JSON object a line (``HUB_LOG_FORMAT``),
at ``HUB_LOG_LEVEL``, for the worker and the ``hub`` command alike.

A JSON line holds time, level, logger and message; the message's flow, topic, partition, offset,
event id and correlation id where known (``log_context``, set by the pipeline per message); and
every ``extra=`` field. Secrets never appear: ``SecretStr`` prints as stars, and the values of
the settings' secrets are replaced wherever they would appear (a URL, an exception's message).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any, Literal

from pydantic import BaseModel, SecretBytes, SecretStr

from hub.errors import ConfigError

LogFormat = Literal["text", "json"]
LEVELS = ("debug", "info", "warning", "error", "critical")
CONTEXT_FIELDS = ("flow", "topic", "partition", "offset", "event_id", "correlation_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "**********"

# The message being handled, as far as it is known (hub/runtime/pipeline.py sets it).
_context: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar(
    "hub_log_context", default=None
)
# A standard LogRecord's own attributes: anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
# Secrets shorter than this are not searched for: replacing "a" everywhere would say nothing.
_MIN_SECRET = 4
_secrets: set[str] = set()


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Within the block, every log line also says ``fields`` (those of CONTEXT_FIELDS)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def add_log_context(**fields: object) -> None:
    """Add to the current block's context (e.g. the event id once the message is decoded)."""
    _context.set({**(_context.get() or {}), **fields})


def register_secrets(values: Iterable[SecretStr | SecretBytes | None]) -> None:
    """Values that never appear in a log line, whatever logs them."""
    for value in values:
        if value is None:
            continue
        raw = value.get_secret_value()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if len(text) >= _MIN_SECRET:
            _secrets.add(text)


def secrets_of(model: BaseModel) -> list[SecretStr | SecretBytes]:
    """The secret fields of a settings object."""
    found = (getattr(model, name) for name in type(model).model_fields)
    return [v for v in found if isinstance(v, SecretStr | SecretBytes)]


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"  # payloads are not logged, only their size
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in (_context.get() or {}).items():
            if name in CONTEXT_FIELDS and value is not None:
                doc[name] = value
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                doc[name] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exception"] = record.exc_text
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(doc, default=_jsonable, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """The usual line for people, with known secrets replaced."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def level_of(name: str | int) -> int:
    """The logging level named ``name`` (any case); ConfigError for another name."""
    if isinstance(name, int):
        return name
    if name.lower() not in LEVELS:
        raise ConfigError(f"log level {name!r} (HUB_LOG_LEVEL): use one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name.upper()]


def setup_logging(level: str | int, fmt: LogFormat, stream: IO[str] | None = None) -> None:
    """The root logger at ``level``, one handler writing ``fmt`` to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(handler)
    root.setLevel(level_of(level))


def reformat_handlers(logger: logging.Logger, fmt: LogFormat) -> None:
    """Every handler of ``logger`` writes ``fmt``: for a logger another library configured (the
    worker's root logger, which faust sets up itself)."""
    for handler in logger.handlers:
        handler.setFormatter(formatter(fmt))
