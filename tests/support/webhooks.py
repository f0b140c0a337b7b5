"""A local webhook receiver that verifies with the stock ``standardwebhooks`` library, and
helpers to run it (and a bridge) on their own event loop beside a synchronous test."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.schemas.envelope import derived_event_id
from hub.schemas.events.ingress import IngressRejected

RESELLER = "contoso"


@dataclass
class Receiver:
    """Three paths: ``/a`` fails twice (500), then hangs past the timeout once, then accepts;
    ``/b`` always accepts; ``/c`` always fails; a path in ``down`` fails until taken out.
    Every accepted body is verified first."""

    secrets: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    unverified: list[str] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.requests[path] += 1
        n = self.requests[path]
        body = await request.read()
        if path == "c" or path in self.down or (path == "a" and n <= 2):
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
class Background:
    """A coroutine running on its own event loop in a thread until ``close``."""

    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event
    thread: threading.Thread

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)
        assert not self.thread.is_alive()


def background(run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> Background:
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = stop = asyncio.Event()
        ready.set()
        await run(stop)

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    return Background(holder["loop"], holder["stop"], thread)


def serve(receiver: Receiver) -> Background:
    up = threading.Event()

    async def serve(stop: asyncio.Event) -> None:
        app = web.Application()
        app.router.add_post("/{path}", receiver.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        receiver.port = runner.addresses[0][1]
        up.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    server = background(serve)
    assert up.wait(10)
    return server


def wait(what: str, check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def rejections(n: int) -> list[IngressRejected]:
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
