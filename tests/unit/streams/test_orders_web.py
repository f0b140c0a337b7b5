"""The worker's web pages: where they listen, the token they ask, the held-order pages.

Served in process by faust's own aiohttp application (no broker): the real composition root for
the bind address and the token, and the order pages registered on a faust app over plain dicts.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.schemas.codec import Codec
from hub.settings import Settings
from hub.streams import reference
from hub.streams.context import Context
from hub.streams.ingress import home_partition
from hub.streams.orders import held, web
from hub.streams.orders.state import FulfilmentState, IntakeState
from hub.web_access import authorized, is_loopback, web_application_options, web_bind

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PARTITIONS = 12


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(state_dir=tmp_path, kafka_partitions=PARTITIONS, **changes)


# --- where the server listens ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_the_loopback_needs_no_token(tmp_path: Path, host: str) -> None:
    assert is_loopback(host)
    assert web_bind(_settings(tmp_path, worker_web_host=host)) == host


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "10.0.0.5", "hub-worker-0"])
def test_a_worker_beyond_the_loopback_refuses_to_start_without_a_token(
    tmp_path: Path, host: str
) -> None:
    with pytest.raises(ConfigError, match="set HUB_WORKER_WEB_TOKEN"):
        web_bind(_settings(tmp_path, worker_web_host=host))
    token = SecretStr(TOKEN)
    assert web_bind(_settings(tmp_path, worker_web_host=host, worker_web_token=token)) == host


def test_a_bearer_header_must_carry_the_token_exactly() -> None:
    assert authorized(f"Bearer {TOKEN}", TOKEN)
    assert authorized(f"bearer {TOKEN}", TOKEN)
    assert not authorized(None, TOKEN)
    assert not authorized(TOKEN, TOKEN)
    assert not authorized(f"Basic {TOKEN}", TOKEN)
    assert not authorized(f"Bearer {TOKEN}x", TOKEN)


@pytest.fixture(scope="module")
async def real_worker_web(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[faust.App, TestClient[Any, Any]]]:
    """The composition root's app (``build_app``, built once: its Prometheus sensor registers
    process-wide), bound beyond the loopback with a token, its pages served in process."""
    from hub.app import build_app

    settings = _settings(
        tmp_path_factory.mktemp("worker"),
        worker_web_host="0.0.0.0",
        worker_web_token=SecretStr(TOKEN),
    )
    app = build_app(settings, modules=[])
    app.web.init_server()
    client: TestClient[Any, Any] = TestClient(TestServer(app.web.web_app))
    await client.start_server()
    yield app, client
    await client.close()


async def test_the_web_server_binds_to_the_configured_host(
    real_worker_web: tuple[faust.App, TestClient[Any, Any]],
) -> None:
    app, _ = real_worker_web
    assert app.conf.web_bind == "0.0.0.0"
    assert app.conf.web_host == "0.0.0.0"


async def test_the_worker_monitor_skips_table_operations(
    real_worker_web: tuple[faust.App, TestClient[Any, Any]],
) -> None:
    from hub.runtime.sensors import HubPrometheusMonitor

    app, _ = real_worker_web
    assert isinstance(app.monitor, HubPrometheusMonitor)


async def test_state_pages_answer_401_without_the_token_and_200_with_it(
    real_worker_web: tuple[faust.App, TestClient[Any, Any]],
) -> None:
    _, client = real_worker_web
    for path in ("/router/", "/table/", "/"):
        refused = await client.get(path)
        assert refused.status == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401, path
    assert (await client.get("/router/", headers=BEARER)).status == 200


async def test_metrics_and_probes_stay_open(
    real_worker_web: tuple[faust.App, TestClient[Any, Any]],
) -> None:
    _, client = real_worker_web
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert "faust_" in await metrics.text()
    assert (await client.get("/livez")).status == 200
    assert (await client.get("/readyz")).status in (200, 503)  # not ready: no group yet


# --- the order pages ---------------------------------------------------------------------------


def _record(status: str, order_id: str, reseller_id: str) -> dict[str, Any]:
    return {
        "status": status,
        "request": {"order_id": order_id, "customer_id": f"{reseller_id}-c1"},
        "decision": {
            "type": "OrderHeld" if status == "held" else "OrderAccepted",
            "doc": {
                "event_time": "2026-12-01T10:00:00Z",
                "reason_code": "over_credit_limit",
                "message": "over the limit",
                "order_commitment_minor": 1200,
                "exposure_minor": 5200,
                "credit_limit_minor": 5000,
                "currency": "EUR",
            },
        },
    }


def _book(resellers: dict[str, tuple[int, set[int]]]) -> dict[str, Any]:
    """reseller -> (orders, indexes of the held ones): the intake state's order entries."""
    book = {}
    for rid, (count, held_ones) in resellers.items():
        for i in range(count):
            status = "held" if i in held_ones else "accepted"
            book[f"{rid}|PO-{i:06d}"] = _record(status, f"PO-{i:06d}", rid)
    return book


def _page_app(
    tmp_path: Path, orders: dict[str, Any], name: str, port: int, token: str | None = TOKEN
) -> faust.App:
    """A faust app with the order pages over ``orders`` and the web options of ``build_app``."""
    settings = _settings(
        tmp_path / name,
        worker_web_port=port,
        worker_web_token=None if token is None else SecretStr(token),
    )
    app = faust.App(
        name,
        web_port=port,
        canonical_url=f"http://127.0.0.1:{port}",
        web_application_options=web_application_options(settings),
        autodiscover=False,
    )
    ctx = Context(app, settings, Codec(), settings.catalog, reference.ReferenceTables())
    table = SimpleNamespace(
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "hub-orders-state-changelog")
    )
    intake = IntakeState(exposure={}, orders=orders, applied={})
    fulfilment = FulfilmentState(customers={}, placed={}, subscriptions={}, changes={})
    web.register_pages(app, intake, fulfilment, ctx, table)
    return app


async def _client(app: faust.App) -> TestClient[Any, Any]:
    app.web.init_server()
    client: TestClient[Any, Any] = TestClient(TestServer(app.web.web_app))
    await client.start_server()
    return client


async def _json(client: TestClient[Any, Any], path: str, **params: Any) -> tuple[int, Any]:
    answer = await client.get(path, params=params, headers=BEARER)
    return answer.status, await answer.json()


async def test_order_pages_ask_for_the_token(tmp_path: Path) -> None:
    client = await _client(_page_app(tmp_path, _book({"r1": (1, {0})}), "tok", 7101))
    try:
        assert (await client.get("/orders/r1/PO-000000/")).status == 401
        assert (await client.get("/orders-held/")).status == 401
        status, doc = await _json(client, "/orders/r1/no-such-order/")
        assert status == 404
        assert doc["error"] == "no order no-such-order of r1"
    finally:
        await client.close()


async def test_a_resellers_held_orders_come_a_bounded_page_at_a_time(tmp_path: Path) -> None:
    book = _book({"big": (50, {3, 17, 18, 49}), "other": (5, {0, 1})})
    client = await _client(_page_app(tmp_path, book, "pages", 7102))
    try:
        seen: list[dict[str, Any]] = []
        params: dict[str, Any] = {"reseller": "big", "limit": 2}
        pages = 0
        while True:
            status, page = await _json(client, "/orders-held/", **params)
            assert status == 200, page
            assert len(page["orders"]) <= 2
            assert page["partition"] == home_partition("big", PARTITIONS)
            assert {o["reseller_id"] for o in page["orders"]} <= {"big"}
            seen += page["orders"]
            pages += 1
            if page["next"] is None:
                break
            params = {"reseller": "big", "limit": 2, "after": page["next"]["after"]}
        assert [o["order_id"] for o in seen] == ["PO-000003", "PO-000017", "PO-000018", "PO-000049"]
        assert pages >= 2
        first = seen[0]
        assert first["reason_code"] == "over_credit_limit"
        assert (first["order_commitment_minor"], first["currency"]) == (1200, "EUR")
    finally:
        await client.close()


async def test_every_held_order_is_listed_partition_by_partition(tmp_path: Path) -> None:
    resellers = {f"r{i}": (3, {i % 3}) for i in range(10)}
    client = await _client(_page_app(tmp_path, _book(resellers), "all", 7103))
    try:
        found: list[tuple[str, str]] = []
        params: dict[str, Any] = {}
        partitions_read = []
        while True:
            status, page = await _json(client, "/orders-held/", **params)
            assert status == 200, page
            partitions_read.append(page["partition"])
            found += [(o["reseller_id"], o["order_id"]) for o in page["orders"]]
            if page["next"] is None:
                break
            params = {k: v for k, v in page["next"].items() if v is not None}
        assert sorted(found) == sorted((f"r{i}", f"PO-{i % 3:06d}") for i in range(10))
        assert partitions_read == list(range(PARTITIONS))
    finally:
        await client.close()


async def test_a_bad_held_query_is_a_400_naming_the_problem(tmp_path: Path) -> None:
    client = await _client(_page_app(tmp_path, {}, "bad", 7104))
    try:
        wrong = (home_partition("r1", PARTITIONS) + 1) % PARTITIONS
        status, doc = await _json(client, "/orders-held/", reseller="r1", partition=wrong)
        assert status == 400
        assert "lives on partition" in doc["error"]
        status, doc = await _json(client, "/orders-held/", limit=0)
        assert (status, doc["error"]) == (400, f"limit is 1 to {held.MAX_PAGE_LIMIT}")
        status, doc = await _json(client, "/orders-held/", partition=PARTITIONS)
        assert status == 400
    finally:
        await client.close()


async def test_a_forwarded_request_carries_the_token_to_the_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker asked does not own the reseller: it asks the owner, with the token."""
    owner_app = _page_app(tmp_path, _book({"r1": (2, {1})}), "owner", 7106)
    asker_app = _page_app(tmp_path, {}, "asker", 7105)
    owner = await _client(owner_app)
    asker = await _client(asker_app)
    owner_url = f"http://127.0.0.1:{owner.port}"
    monkeypatch.setattr(web, "owner_url", lambda app, changelog, partition: owner_url)
    try:
        status, page = await _json(asker, "/orders-held/", reseller="r1")
        assert status == 200, page
        assert page["served_by"] == "http://127.0.0.1:7106"  # the owner's canonical URL
        assert [o["order_id"] for o in page["orders"]] == ["PO-000001"]
        assert (await asker.get("/orders-held/", params={"reseller": "r1"})).status == 401
    finally:
        await asker.close()
        await owner.close()
        await asker_app.http_client.close()


def test_a_held_page_reads_at_most_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """100,000 orders, none held: one page reads SCAN_BUDGET entries and says where to go on."""
    read = itertools.count()

    def entries() -> Iterator[tuple[str, Any]]:
        for i in range(100_000):
            next(read)
            yield f"big|PO-{i:06d}", {"status": "accepted"}

    page = held.held_page(entries(), limit=100)
    assert page.orders == []
    assert page.resume_after == f"big|PO-{held.SCAN_BUDGET - 1:06d}"
    assert next(read) == held.SCAN_BUDGET


class _FakeRocksDB:
    """A partition database as faust's RocksDB store hands it out: sorted bytes keys."""

    def __init__(self, data: dict[bytes, bytes]) -> None:
        self.data = data
        self.read: list[bytes] = []

    def items(self, from_key: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key in sorted(self.data):
            if key >= from_key:
                self.read.append(key)
                yield key, self.data[key]


def test_a_worker_seeks_the_partitions_database_to_the_resellers_orders() -> None:
    db = _FakeRocksDB(
        {
            b"applied|a|e1": b"1",
            b"orders|a|PO-1": b"held",
            b"orders|a|PO-2": b"accepted",
            b"orders|ab|PO-1": b"held",
            b"orders|b|PO-1": b"held",
            b"exposure|a": b"{}",
        }
    )
    opened: list[int] = []

    def db_for_partition(partition: int) -> _FakeRocksDB:
        opened.append(partition)
        return db

    data = SimpleNamespace(_db_for_partition=db_for_partition, _decode_value=bytes.decode)
    table = SimpleNamespace(data=data)
    found = list(held.partition_orders({}, table, 3, PARTITIONS, "a|", None))
    assert found == [("a|PO-1", "held"), ("a|PO-2", "accepted")]
    assert opened == [3]
    assert db.read == [b"orders|a|PO-1", b"orders|a|PO-2", b"orders|b|PO-1"]  # stops there
    after = list(held.partition_orders({}, table, 3, PARTITIONS, "a|", "a|PO-1"))
    assert after == [("a|PO-2", "accepted")]
    every = [key for key, _ in held.partition_orders({}, table, 3, PARTITIONS, "", None)]
    assert every == ["ab|PO-1", "a|PO-1", "a|PO-2", "b|PO-1"]  # bytes order: "b" < "|"
    rest = list(held.partition_orders({}, table, 3, PARTITIONS, "", "a|PO-2"))
    assert rest == [("b|PO-1", "held")]
