"""The webhook bridge against a real local HTTP receiver that fails, times out and recovers.

The receiver verifies every delivery with the stock ``standardwebhooks`` library. The bridge
runs in-process (its own event loop in a thread) with a compressed retry schedule; endpoints,
the test delivery, replay and the delivery log go through ``hub webhooks`` as a user types it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter, defaultdict

import pytest
from prometheus_client import REGISTRY

from hub.cli import main
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.schemas.codec import Codec
from hub.settings import Settings, load_settings
from hub.topics import PartnerTopic
from hub.webhooks.bridge import Bridge
from hub.webhooks.notice import WebhookEndpointDisabled
from hub.webhooks.store import ensure_webhook_topics, load_endpoints
from tests.support.broker import BrokerInfo
from tests.support.webhooks import (
    RESELLER,
    Background,
    Receiver,
    background,
    rejections,
    serve,
    wait,
)

DISABLE_AFTER = 5


def _bridge(settings: Settings) -> Background:
    return background(lambda stop: Bridge(settings, metadata_max_age_ms=2000).run(stop))


_METRICS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("hub_webhook_deliveries_total", (("outcome", "delivered"),)),
    ("hub_webhook_deliveries_total", (("outcome", "retry_scheduled"),)),
    ("hub_webhook_attempts_total", (("result", "http_error"),)),
    ("hub_webhook_attempts_total", (("result", "timeout"),)),
    ("hub_webhook_endpoints_disabled_total", ()),
)


def _metric(name: str, labels: tuple[tuple[str, str], ...]) -> float:
    return REGISTRY.get_sample_value(name, dict(labels)) or 0.0


class _LogLines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _hub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["webhooks", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def settings(kafka: BrokerInfo, monkeypatch: pytest.MonkeyPatch) -> Settings:
    prefix = f"t.webhooks.{uuid.uuid4().hex[:8]}."
    env = {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "HUB_TOPIC_PREFIX": prefix,
        "HUB_KAFKA_PARTITIONS": "3",
        "HUB_WEBHOOK_GROUP": f"{prefix}webhooks",
        "HUB_WEBHOOK_RETRY_SCHEDULE_S": "[0.3, 0.6]",
        "HUB_WEBHOOK_RETRY_FOR_S": "60",
        "HUB_WEBHOOK_TIMEOUT_S": "1",
        "HUB_WEBHOOK_DISABLE_AFTER": str(DISABLE_AFTER),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings()


def test_signed_deliveries_retry_through_failures_replay_test_and_auto_disable(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its own handler on the bridge's logger: `hub` commands run in-process set up logging.
    lines = _LogLines()
    logging.getLogger("hub.webhooks.bridge").addHandler(lines)
    catalog = settings.catalog
    asyncio.run(apply_topics(settings.kafka_bootstrap_servers, catalog.for_reseller(RESELLER)))
    asyncio.run(ensure_webhook_topics(settings))
    receiver = Receiver()
    server = serve(receiver)
    bridge: Background | None = None
    base = f"http://127.0.0.1:{receiver.port}"
    before = {k: _metric(*k) for k in _METRICS}
    try:
        for path, extra in (("a", []), ("b", ["--event-type", "OrderAccepted"]), ("c", [])):
            code, out = _hub(
                capsys, "add", RESELLER, f"{base}/{path}", "--id", f"ep-{path}", *extra
            )
            assert code == 0, out
            receiver.secrets[path] = out.rsplit(": ", 1)[1].strip()
            assert receiver.secrets[path].startswith("whsec_")
        bridge = _bridge(settings)

        events = rejections(5)
        ids = {str(e.event_id) for e in events}
        status = catalog.partner(RESELLER, PartnerTopic.STATUS)
        outgoing = [Outgoing(status, str(e.event_id), e) for e in events]
        asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing))

        # Every event reaches /a once, through two 500s and a timeout.
        wait("every event delivered to ep-a", lambda: ids <= set(receiver.ids("a")))
        assert receiver.requests["a"] >= len(ids) + 3
        assert receiver.unverified == []
        bodies: dict[str, set[str]] = defaultdict(set)
        for message_id, body in receiver.accepted["a"]:
            bodies[message_id].add(body)
            assert json.loads(body)["data"]["event_id"] == message_id
        assert all(len(b) == 1 for b in bodies.values()), "one id, one payload"
        duplicates = sum(n - 1 for i, n in receiver.ids("a").items() if i in ids)
        assert duplicates == 0, f"{duplicates} duplicate deliveries of one event id"
        # /b subscribed to OrderAccepted only.
        assert receiver.requests["b"] == 0

        # /c failed DISABLE_AFTER times in a row: disabled, with a notice on the status topic.
        wait(
            "ep-c disabled",
            lambda: not asyncio.run(load_endpoints(settings))["ep-c"].enabled,
        )
        notices = [
            Codec().decode_as(r.value, WebhookEndpointDisabled)
            for r in asyncio.run(read_all(settings.kafka_bootstrap_servers, status))
            if r.value is not None
            and r.value[:2] == b"\xc3\x01"
            and dict(r.headers).get("hub.event-type") == b"WebhookEndpointDisabled"
        ]
        assert [(n.endpoint_id, n.failures) for n in notices] == [("ep-c", DISABLE_AFTER)]
        assert any("ep-c" in m and "disabled after 5" in m for m in lines.messages)
        # ep-a is subscribed to every event of the status topic: it hears of the notice too.
        wait(
            "the notice delivered to ep-a",
            lambda: str(notices[0].event_id) in receiver.ids("a"),
        )

        # The delivery log shows the retries and the final outcomes.
        code, out = _hub(capsys, "deliveries", "--endpoint", "ep-a", "--limit", "0", "-o", "json")
        assert code == 0
        log = json.loads(out)
        outcomes = Counter(d["outcome"] for d in log if d["event_id"] in ids)
        assert outcomes["delivered"] == len(ids)
        assert outcomes["retry_scheduled"] >= 3
        code, out = _hub(capsys, "deliveries", "--endpoint", "ep-c", "--limit", "0", "--json")
        assert any(d["outcome"] == "failed" and "disabled" in d["error"] for d in json.loads(out))

        # A test delivery goes out at once, signed like the rest.
        code, out = _hub(capsys, "test", "ep-a")
        assert code == 0, out
        tests = [json.loads(body) for i, body in receiver.accepted["a"] if i.startswith("test_")]
        assert [t["type"] for t in tests] == ["webhook.test"]

        # A replay from offset 0 delivers every event again: same id, same body.
        code, _ = _hub(capsys, "replay", "ep-a", "--from-offset", "0", "--kind", "status")
        assert code == 0
        wait("the replay delivered", lambda: all(receiver.ids("a")[i] == 2 for i in ids))
        for message_id, body in receiver.accepted["a"]:
            bodies[message_id].add(body)
        assert all(len(b) == 1 for b in bodies.values()), "a replay sends the same payload"
        code, out = _hub(capsys, "deliveries", "--endpoint", "ep-a", "--limit", "0", "--json")
        replayed = {d["event_id"] for d in json.loads(out) if d["replay"]}
        assert ids <= replayed

        # Metrics count outcomes and attempts by bounded labels only.
        grown = {k: _metric(*k) - before[k] for k in _METRICS}
        assert grown[("hub_webhook_deliveries_total", (("outcome", "delivered"),))] >= 11
        assert grown[("hub_webhook_deliveries_total", (("outcome", "retry_scheduled"),))] >= 3
        assert grown[("hub_webhook_attempts_total", (("result", "http_error"),))] >= 2 + 5
        assert grown[("hub_webhook_attempts_total", (("result", "timeout"),))] >= 1
        assert grown[("hub_webhook_endpoints_disabled_total", ())] == 1

        # Disabled endpoints can be listed, enabled again and tested.
        code, out = _hub(capsys, "list", "--json")
        listed = {e["endpoint_id"]: e for e in json.loads(out)}
        assert listed["ep-c"]["enabled"] is False
        assert "secret" not in listed["ep-a"]
        assert _hub(capsys, "enable", "ep-c")[0] == 0
        assert asyncio.run(load_endpoints(settings))["ep-c"].enabled
    finally:
        logging.getLogger("hub.webhooks.bridge").removeHandler(lines)
        if bridge is not None:
            bridge.close()
        server.close()


def test_a_restart_finishes_parked_deliveries_and_repeats_none_already_made(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """/d is down, /e is up. /d's retries wait 8 s, so the retry topic's committed offset stays
    at them while /e's later deliveries are made: a restart reads those again and must not
    deliver them twice, and must still finish /d's."""
    monkeypatch.setenv("HUB_KAFKA_PARTITIONS", "1")  # both endpoints on one retry partition
    monkeypatch.setenv("HUB_WEBHOOK_RETRY_SCHEDULE_S", "[8.0]")
    settings = load_settings()
    asyncio.run(
        apply_topics(settings.kafka_bootstrap_servers, settings.catalog.for_reseller(RESELLER))
    )
    asyncio.run(ensure_webhook_topics(settings))
    receiver = Receiver(down={"d"})
    server = serve(receiver)
    bridge: Background | None = None
    status = settings.catalog.partner(RESELLER, PartnerTopic.STATUS)

    def send(n: int) -> set[str]:
        events = rejections(n)
        outgoing = [Outgoing(status, str(e.event_id), e) for e in events]
        asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing))
        return {str(e.event_id) for e in events}

    try:
        for path in ("d", "e"):
            url = f"http://127.0.0.1:{receiver.port}/{path}"
            code, out = _hub(capsys, "add", RESELLER, url, "--id", f"ep-{path}")
            assert code == 0, out
            receiver.secrets[path] = out.rsplit(": ", 1)[1].strip()
        bridge = _bridge(settings)
        first = send(2)
        wait("/d failed, /e delivered", lambda: receiver.requests["d"] >= 2)
        wait("/e delivered", lambda: first <= set(receiver.ids("e")))
        second = send(2)
        wait("/e delivered again", lambda: second <= set(receiver.ids("e")))
        wait("/d failed again", lambda: receiver.requests["d"] >= 4)
        bridge.close()  # /d's deliveries parked for 8 s, /e's made after them
        bridge = None
        assert receiver.accepted["d"] == []

        receiver.down.clear()
        bridge = _bridge(settings)
        ids = first | second
        wait("/d's deliveries after the restart", lambda: ids <= set(receiver.ids("d")))
        time.sleep(2)  # a delivery made again after the restart would have arrived by now
        assert receiver.ids("e") == Counter(dict.fromkeys(ids, 1))
        assert receiver.ids("d") == Counter(dict.fromkeys(ids, 1))
        assert receiver.unverified == []
    finally:
        if bridge is not None:
            bridge.close()
        server.close()
