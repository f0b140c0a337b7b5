"""JSON logs: one object a line, with the message's context and ``extra=`` fields, never a
secret; HUB_LOG_LEVEL and HUB_LOG_FORMAT take effect in the hub command."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from hub import cli
from hub.logging_setup import (
    JsonFormatter,
    TextFormatter,
    add_log_context,
    log_context,
    register_secrets,
    secrets_of,
    setup_logging,
)
from hub.settings import Settings

SECRET = "s3cr3t-token-value"


@pytest.fixture(autouse=True)
def _root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _lines(fmt: str = "json") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    setup_logging("debug", fmt, stream)  # type: ignore[arg-type]
    return logging.getLogger("hub.test"), stream


def _json(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_holds_level_logger_message_context_and_extra_fields() -> None:
    log, stream = _lines()
    with log_context(flow="orders", topic="reseller.orders", partition=3, offset=17):
        add_log_context(event_id="e-1", correlation_id="c-1")
        log.info("held %s", "PO-1", extra={"order_id": "PO-1", "attempt": 2})
    log.warning("outside")
    first, second = _json(stream)
    assert first["level"] == "info"
    assert first["logger"] == "hub.test"
    assert first["message"] == "held PO-1"
    assert str(first["time"]).endswith("+00:00")
    assert {k: first[k] for k in ("flow", "topic", "partition", "offset")} == {
        "flow": "orders",
        "topic": "reseller.orders",
        "partition": 3,
        "offset": 17,
    }
    assert (first["event_id"], first["correlation_id"]) == ("e-1", "c-1")
    assert (first["order_id"], first["attempt"]) == ("PO-1", 2)
    assert "flow" not in second  # the context ends with its block


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    log, stream = _lines()
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    (line,) = _json(stream)
    assert "ValueError: boom" in str(line["exception"])


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_secret_reaches_a_log_line(fmt: str) -> None:
    settings = Settings(partner_center_token=SecretStr(SECRET), worker_web_token=SecretStr(SECRET))
    register_secrets(secrets_of(settings))
    log, stream = _lines(fmt)
    log.info("settings: %s", settings)
    log.info(
        "settings repr: %r",
        settings,
        extra={"settings": settings, "token": settings.partner_center_token},
    )
    try:
        raise RuntimeError(f"call to https://pc.example/?token={SECRET} failed", SecretStr(SECRET))
    except RuntimeError:
        log.exception("partner center")
    log.info("raw %s", SECRET)
    out = stream.getvalue()
    assert out.count("\n") == 4 or fmt == "text"
    assert SECRET not in out
    assert "**********" in out


def test_text_stays_the_default_format_for_people() -> None:
    assert Settings().log_format == "text"
    log, stream = _lines("text")
    log.warning("plain")
    assert stream.getvalue().rstrip().endswith("WARNING hub.test: plain")


def test_hub_log_level_and_format_reach_the_hub_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_LOG_LEVEL", "debug")
    monkeypatch.setenv("HUB_LOG_FORMAT", "json")
    assert cli.main(["completion", "bash"]) == 0
    root = logging.getLogger()
    assert root.level == logging.DEBUG
    assert isinstance(root.handlers[0].formatter, JsonFormatter)


def test_the_hub_command_logs_warnings_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_LOG_LEVEL", raising=False)
    monkeypatch.delenv("HUB_LOG_FORMAT", raising=False)
    assert cli.main(["completion", "zsh"]) == 0
    root = logging.getLogger()
    assert root.level == logging.WARNING
    assert isinstance(root.handlers[0].formatter, TextFormatter)


def test_a_wrong_log_level_is_one_line_and_a_hub_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_LOG_LEVEL", "loud")
    code = cli.main(["completion", "bash"])
    assert code == 3
    assert "log level 'loud'" in capsys.readouterr().err


def test_the_worker_takes_the_hub_format_after_faust_sets_up_its_handlers() -> None:
    from hub.runtime.diagnostics import ReportingWorker

    logger = logging.Logger("root-like")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    worker = ReportingWorker.__new__(ReportingWorker)
    worker.log_format = "json"
    worker.spinner = None
    worker.on_setup_root_logger(logger, logging.INFO)
    assert isinstance(handler.formatter, JsonFormatter)


async def test_a_line_logged_while_the_pipeline_handles_a_message_names_that_message() -> None:
    from collections.abc import Sequence

    from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
    from hub.runtime.emit import Emit
    from hub.runtime.pipeline import Pipeline
    from hub.schemas.codec import Codec
    from hub.schemas.envelope import Event
    from tests.support.samples import sample

    log, stream = _lines()
    codec = Codec()
    event = sample("IngressRejected")

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        return None

    async def handler(decoded: Event) -> Sequence[Emit]:
        log.info("handling")
        return []

    source = SourceMessage("reseller.orders", 5, 99, b"k", codec.encode(event), [])
    await Pipeline("orders", codec, send, DeadLetters(send)).process(source, handler)
    log.info("after")
    inside, after = _json(stream)
    assert (inside["flow"], inside["topic"], inside["partition"], inside["offset"]) == (
        "orders",
        "reseller.orders",
        5,
        99,
    )
    assert inside["event_id"] == str(event.event_id)
    assert inside["correlation_id"] == event.correlation_id
    assert "flow" not in after
