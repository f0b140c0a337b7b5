"""The webhook bridge against a real local HTTP receiver that fails, times out and recovers.

The receiver verifies every delivery with the stock ``standardwebhooks`` library. The bridge
runs in-process (its own event loop in a thread) with a compressed retry schedule; endpoints,
the test delivery, replay and the delivery log go through ``hub webhooks`` as a user types it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.cli import main
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.schemas.codec import Codec
from hub.schemas.envelope import derived_event_id
from hub.schemas.events.ingress import IngressRejected
from hub.settings import Settings, load_settings
from hub.topics import PartnerTopic
from hub.webhooks.bridge import Bridge
from hub.webhooks.notice import WebhookEndpointDisabled, notice_codec
from hub.webhooks.store import ensure_webhook_topics, load_endpoints
from tests.support.broker import BrokerInfo

RESELLER = "contoso"
DISABLE_AFTER = 5


@dataclass
class Receiver:
    """Three paths: ``/a`` fails twice (500), then hangs past the timeout once, then accepts;
    ``/b`` always accepts; ``/c`` always fails. Every accepted body is verified first."""

    secrets: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    unverified: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.requests[path] += 1
        n = self.requests[path]
        body = await request.read()
        if path == "c" or (path == "a" and n <= 2):
            return web.Response(status=500)
        if path == "a" and n == 3:
            await asyncio.sleep(2.5)  # past the bridge's 1 s timeout: it counts as a failure
            return web.Response(status=200)
        try:
            Webhook(self.secrets[path]).verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            self.unverified.append(f"{path}: {exc}")
            return web.Response(status=400)
        self.accepted[path].append((request.headers["webhook-id"], body.decode()))
        return web.Response(status=204)

    def ids(self, path: str) -> Counter[str]:
        return Counter(message_id for message_id, _ in self.accepted[path])


@dataclass
class Running:
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    thread: threading.Thread
    receiver: Receiver


def _start(settings: Settings, receiver: Receiver, bridge_up: threading.Event) -> Running:
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/{path}", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        receiver.port = runner.addresses[0][1]
        stop = asyncio.Event()
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop
        ready.set()
        try:
            await asyncio.to_thread(bridge_up.wait)
            await Bridge(settings, metadata_max_age_ms=2000).run(stop)
        finally:
            await runner.cleanup()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(10)
    return Running(holder["loop"], holder["stop"], thread, receiver)


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _hub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["webhooks", *args])
    return code, capsys.readouterr().out


def _events(n: int) -> list[IngressRejected]:
    run = uuid.uuid4()
    return [
        IngressRejected(
            event_id=derived_event_id(run, "refused", i),
            event_time=datetime.now(UTC),
            correlation_id=f"order-{i}",
            reseller_id=RESELLER,
            topic="reseller.orders",
            event_type="OrderRequested",
            rejected_event_id=derived_event_id(run, "order", i),
            code="ResellerIdentityMismatch",
            field="reseller_id",
            value="fabrikam-it",
            message="a reseller speaks only for itself",
        )
        for i in range(n)
    ]


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
    settings: Settings, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.webhooks.bridge")
    catalog = settings.catalog
    asyncio.run(apply_topics(settings.kafka_bootstrap_servers, catalog.for_reseller(RESELLER)))
    asyncio.run(ensure_webhook_topics(settings))
    receiver = Receiver()
    bridge_up = threading.Event()
    running = _start(settings, receiver, bridge_up)
    base = f"http://127.0.0.1:{receiver.port}"
    try:
        for path, extra in (("a", []), ("b", ["--event-type", "OrderAccepted"]), ("c", [])):
            code, out = _hub(
                capsys, "add", RESELLER, f"{base}/{path}", "--id", f"ep-{path}", *extra
            )
            assert code == 0, out
            receiver.secrets[path] = out.rsplit(": ", 1)[1].strip()
            assert receiver.secrets[path].startswith("whsec_")
        bridge_up.set()

        events = _events(5)
        ids = {str(e.event_id) for e in events}
        status = catalog.partner(RESELLER, PartnerTopic.STATUS)
        outgoing = [Outgoing(status, str(e.event_id), e) for e in events]
        asyncio.run(publish(settings.kafka_bootstrap_servers, Codec(), outgoing))

        # Every event reaches /a once, through two 500s and a timeout.
        _wait("every event delivered to ep-a", lambda: ids <= set(receiver.ids("a")))
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
        _wait(
            "ep-c disabled",
            lambda: not asyncio.run(load_endpoints(settings))["ep-c"].enabled,
        )
        notices = [
            notice_codec().decode_as(r.value, WebhookEndpointDisabled)
            for r in asyncio.run(read_all(settings.kafka_bootstrap_servers, status))
            if r.value is not None
            and r.value[:2] == b"\xc3\x01"
            and dict(r.headers).get("hub.event-type") == b"WebhookEndpointDisabled"
        ]
        assert [(n.endpoint_id, n.failures) for n in notices] == [("ep-c", DISABLE_AFTER)]
        assert any("ep-c" in m and "disabled" in m for m in caplog.messages)
        # ep-a is subscribed to every event of the status topic: it hears of the notice too.
        _wait(
            "the notice delivered to ep-a",
            lambda: str(notices[0].event_id) in receiver.ids("a"),
        )

        # The delivery log shows the retries and the final outcomes.
        code, out = _hub(capsys, "deliveries", "--endpoint", "ep-a", "--limit", "0", "--json")
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
        _wait("the replay delivered", lambda: all(receiver.ids("a")[i] == 2 for i in ids))
        for message_id, body in receiver.accepted["a"]:
            bodies[message_id].add(body)
        assert all(len(b) == 1 for b in bodies.values()), "a replay sends the same payload"
        code, out = _hub(capsys, "deliveries", "--endpoint", "ep-a", "--limit", "0", "--json")
        replayed = {d["event_id"] for d in json.loads(out) if d["replay"]}
        assert ids <= replayed

        # Disabled endpoints can be listed, enabled again and tested.
        code, out = _hub(capsys, "list", "--json")
        listed = {e["endpoint_id"]: e for e in json.loads(out)}
        assert listed["ep-c"]["enabled"] is False
        assert "secret" not in listed["ep-a"]
        assert _hub(capsys, "enable", "ep-c")[0] == 0
        assert asyncio.run(load_endpoints(settings))["ep-c"].enabled
    finally:
        bridge_up.set()
        running.loop.call_soon_threadsafe(running.stop.set)
        running.thread.join(30)
    assert not running.thread.is_alive()
