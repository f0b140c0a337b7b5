"""Two workers of one hub on one host: each its own tables in a shared state dir, the
partitions split between them, and a query asked of either answered by the worker that owns
the reseller's partition."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderAccepted
from hub.streams.ingress import home_partition
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import read_events, wait_until
from tests.support.ingress_world import order, reference

CODEC = Codec()
RESELLERS = tuple(f"grp{i}" for i in range(8))


# The workers' pages ask for it; a worker forwarding a query to the owner passes it on.
TOKEN = "group-web-token"


def _get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"null")


def _port(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def _owners(worker: WorkerProcess, app_id: str) -> dict[int, int]:
    """Partition of the orders state -> the web port of the worker that owns it (faust's router
    page: every worker's URL and its active table partitions)."""
    _, doc = _get(worker.web_port, "/router/")
    owners = {}
    for url, tables in doc.items():
        port = _port(url)
        for partition in tables.get(f"{app_id}-orders-state-changelog", []):
            owners[partition] = port
    return owners


def test_two_workers_split_the_partitions_and_answer_for_each_others_resellers(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    prefix = f"t.group.{uuid.uuid4().hex[:8]}."
    catalog = TopicCatalog(prefix)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.all(RESELLERS)))
    asyncio.run(publish(kafka.bootstrap, CODEC, reference(catalog, RESELLERS)))
    app_id = f"group-{uuid.uuid4().hex[:8]}"
    # One state dir for both: each claims its own slot of it (tables/<app>/worker-<n>).
    workers = [
        WorkerProcess(
            kafka.bootstrap,
            tmp_path,
            topic_prefix=prefix,
            app_id=app_id,
            name=str(n),
            env={"HUB_WORKER_WEB_TOKEN": TOKEN},
        )
        for n in range(2)
    ]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.wait_ready()
        first, second = workers
        slots = sorted(
            p.name for p in (tmp_path / "tables" / app_id).glob("worker-*") if p.is_dir()
        )
        assert slots == ["worker-0", "worker-1"]

        orders = [order(rid) for rid in RESELLERS]
        outgoing = [Outgoing(catalog.name(Topic.ORDERS), o.reseller_id or "", o) for o in orders]
        asyncio.run(publish(kafka.bootstrap, CODEC, outgoing))

        def decided() -> bool:
            found = read_events(kafka.bootstrap, catalog.name(Topic.ORDER_DECISIONS))
            return len({e.order_id for e in found if isinstance(e, OrderAccepted)}) == len(orders)

        wait_until("a decision for every order", decided, first, timeout_s=120)
        wait_until(
            "the group settled",
            lambda: first.ready() and second.ready() and len(_owners(first, app_id)) == 12,
            first,
        )
        owners = _owners(first, app_id)
        assert set(owners.values()) == {first.web_port, second.web_port}  # split, not one

        asked_of_the_other = 0
        for placed in orders:
            rid = placed.reseller_id or ""
            owner = owners[home_partition(rid, 12)]
            for worker in workers:
                status, doc = _get(worker.web_port, f"/orders/{rid}/{placed.order_id}/")
                assert status == 200, (worker.web_port, rid, doc)
                assert doc["request"]["order_id"] == placed.order_id
                # Answered by the owner from its own tables, whichever worker was asked.
                assert _port(doc["served_by"]) == owner, (worker.web_port, rid, doc["served_by"])
                asked_of_the_other += worker.web_port != owner
        assert asked_of_the_other == len(orders)
        rid = RESELLERS[0]
        assert _get(first.web_port, f"/orders/{rid}/{orders[0].order_id}/", token=None)[0] == 401
        status, doc = _get(first.web_port, f"/orders/{RESELLERS[0]}/no-such-order/")
        assert status == 404
        assert _port(doc["served_by"]) == owners[home_partition(RESELLERS[0], 12)]
    finally:
        for worker in workers:
            worker.stop()
