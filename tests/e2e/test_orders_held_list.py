"""Held orders as finance finds and decides them, against a real worker guarded by a token:
``/orders-held/`` page by page from the worker's RocksDB state, ``hub orders list --held``, and
``hub orders reject`` refusing what is not there or not held."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderHeld
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import read_events, wait_until
from tests.support.ingress_world import order, reference

CODEC = Codec()
TOKEN = "e2e-held-token"
RESELLERS = ("heldA", "heldB")


def _get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            kind = response.headers.get_content_type()
            return int(response.status), json.loads(body) if kind == "application/json" else body
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"null")


def _hub(worker: WorkerProcess, *args: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    env = {k: v for k, v in worker.env.items() if k != "HUB_WORKER_WEB_TOKEN"}
    if token is not None:
        env["HUB_WORKER_WEB_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def test_held_orders_are_listed_page_by_page_and_only_held_ones_are_decided(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.held.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all(RESELLERS)))
    # On credit hold: every order is held for review, none goes to Partner Center.
    asyncio.run(publish(kafka.bootstrap, CODEC, reference(catalog, RESELLERS, on_hold=RESELLERS)))
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp_path,
        topic_prefix=prefix,
        app_id=f"held-{uuid.uuid4().hex[:8]}",
        env={"HUB_WORKER_WEB_TOKEN": TOKEN},
    )
    try:
        worker.start().wait_ready()
        placed = {"heldA": [order("heldA") for _ in range(7)], "heldB": [order("heldB")]}
        outgoing = [
            Outgoing(catalog.name(Topic.ORDERS), rid, o) for rid, os_ in placed.items() for o in os_
        ]
        asyncio.run(publish(kafka.bootstrap, CODEC, outgoing))

        def held() -> set[str]:
            found = read_events(kafka.bootstrap, catalog.name(Topic.ORDER_DECISIONS))
            return {e.order_id for e in found if isinstance(e, OrderHeld)}

        wait_until("every order held", lambda: len(held()) == 8, worker, timeout_s=120)

        # The token guards the pages; metrics and probes stay open.
        assert _get(worker.web_port, "/orders-held/", token=None)[0] == 401
        assert _get(worker.web_port, "/orders-held/", token="wrong")[0] == 401
        assert _get(worker.web_port, "/metrics", token=None)[0] == 200
        # Ready again first: on a loaded machine a missed heartbeat rejoins the group, and a
        # worker in a rebalance answers 503 (the probe is open either way: never 401).
        wait_until("the worker ready", worker.ready, worker)
        assert _get(worker.web_port, "/readyz", token=None)[0] == 200

        # One reseller's, three at a time, from its partition's RocksDB.
        seen: list[str] = []
        query: dict[str, str] = {"reseller": "heldA", "limit": "3"}
        pages = 0
        while True:
            status, page = _get(worker.web_port, f"/orders-held/?{urllib.parse.urlencode(query)}")
            assert status == 200, page
            assert len(page["orders"]) <= 3
            seen += [o["order_id"] for o in page["orders"]]
            pages += 1
            if page["next"] is None:
                break
            query = {"reseller": "heldA", "limit": "3", "after": page["next"]["after"]}
        assert sorted(seen) == sorted(o.order_id for o in placed["heldA"])
        assert pages >= 3

        # Every reseller's, through the command, which sends the token.
        code, out, err = _hub(worker, "orders", "list", "--held", "--json")
        assert code == 0, err
        listed = [json.loads(line) for line in out.splitlines()]
        assert {(o["reseller_id"], o["order_id"]) for o in listed} == {
            (rid, o.order_id) for rid, os_ in placed.items() for o in os_
        }
        assert {o["reason_code"] for o in listed} == {"reseller_on_credit_hold"}
        assert _hub(worker, "orders", "list", "--held", token=None)[0] == 3

        # Deciding: nothing for an order that is not there, then a held one, then not again.
        target = placed["heldB"][0].order_id
        code, _, err = _hub(
            worker, "orders", "reject", "--reseller", "heldB", "nope", "--reason", "x"
        )
        assert (code, err.strip()) == (1, "hub: no order nope of reseller heldB: nothing was sent")
        code, _, err = _hub(
            worker, "orders", "reject", "--reseller", "heldB", target, "--reason", "x"
        )
        assert code == 0, err

        def status_of_target() -> str:
            return str(_get(worker.web_port, f"/orders/heldB/{target}/")[1]["status"])

        wait_until("the rejection applied", lambda: status_of_target() == "rejected", worker)
        code, _, err = _hub(
            worker, "orders", "reject", "--reseller", "heldB", target, "--reason", "x"
        )
        assert code == 1
        assert f"order {target} of reseller heldB is rejected, not held" in err
        code, out, _ = _hub(worker, "orders", "list", "--held", "--reseller", "heldB")
        assert (code, out) == (0, "")
    finally:
        worker.stop()


def test_a_worker_bound_beyond_the_loopback_without_a_token_refuses_to_start(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.bind.{uuid.uuid4().hex[:8]}."
    asyncio.run(apply_topics(kafka.bootstrap, TopicCatalog(prefix).all(())))
    worker = WorkerProcess(
        kafka.bootstrap,
        tmp_path,
        topic_prefix=prefix,
        app_id=f"bind-{uuid.uuid4().hex[:8]}",
        env={"HUB_WORKER_WEB_HOST": "0.0.0.0"},
    )
    worker.start()
    assert worker.proc is not None
    try:
        assert worker.proc.wait(timeout=120) != 0
    finally:
        worker.stop()
    assert "HUB_WORKER_WEB_HOST=0.0.0.0 serves order pages beyond this machine" in (
        worker.log_text()
    )
