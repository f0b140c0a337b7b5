"""`hub orders list/release/reject/show` against a fake worker page: what is sent, what is said.

The fake answers as the worker's order pages do (``hub/streams/orders/web.py``); publishing to
Kafka is replaced by a list, so a test sees exactly which review commands went out.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import hub.commands.orders as orders_command
from hub.cli import main
from hub.ops.local_kafka import free_port
from hub.schemas.events.orders import OrderReviewDecided

TOKEN = "t0ken"


class FakeWorker:
    """Order pages from a dict: ``orders`` (reseller, order) -> status, ``held_pages`` in order."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.orders: dict[tuple[str, str], str] = {}
        self.held_pages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], str | None]] = []
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                auth = self.headers.get("Authorization")
                worker.requests.append((url.path, query, auth))
                if worker.token is not None and auth != f"Bearer {worker.token}":
                    return self._answer(401, {"error": "token"})
                parts = [p for p in url.path.split("/") if p]
                if parts[:1] == ["orders"] and len(parts) == 3:
                    status = worker.orders.get((parts[1], parts[2]))
                    if status is None:
                        return self._answer(404, {"error": "no order"})
                    return self._answer(200, {"status": status, "request": {}})
                if parts == ["orders-held"]:
                    page = worker.held_pages[len(worker.seen_held()) - 1]
                    return self._answer(200, page)
                return self._answer(404, {})

            def _answer(self, status: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]

    def seen_held(self) -> list[dict[str, str]]:
        return [q for path, q, _ in self.requests if path == "/orders-held/"]


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorker]:
    fake = FakeWorker()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HUB_WORKER_WEB_HOST", "127.0.0.1")
    monkeypatch.setenv("HUB_WORKER_WEB_PORT", str(fake.port))
    monkeypatch.delenv("HUB_WORKER_WEB_TOKEN", raising=False)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``release``/``reject`` publish, instead of Kafka."""
    published: list[Any] = []

    async def publish(bootstrap: str, codec: Any, outgoing: list[Any], **_: Any) -> int:
        published.extend(item.event for item in outgoing)
        return len(outgoing)

    monkeypatch.setattr(orders_command, "publish", publish)
    return published


def test_releasing_an_order_that_does_not_exist_says_so_and_sends_nothing(
    worker: FakeWorker, sent: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["orders", "release", "--reseller", "contoso-de", "no-such-order"]) == 1
    err = capsys.readouterr().err
    assert err == "hub: no order no-such-order of reseller contoso-de: nothing was sent\n"
    assert sent == []


@pytest.mark.parametrize("status", ["accepted", "provisioned", "rejected"])
def test_releasing_an_order_that_is_not_held_names_its_status(
    worker: FakeWorker, sent: list[Any], capsys: pytest.CaptureFixture[str], status: str
) -> None:
    worker.orders[("contoso-de", "PO-1")] = status
    assert main(["orders", "release", "--reseller", "contoso-de", "PO-1"]) == 1
    assert f"order PO-1 of reseller contoso-de is {status}, not held" in capsys.readouterr().err
    assert sent == []


def test_a_held_order_is_released_and_rejected_with_its_command(
    worker: FakeWorker, sent: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    worker.orders[("contoso-de", "PO-1")] = "held"
    assert main(["orders", "release", "--reseller", "contoso-de", "PO-1"]) == 0
    assert main(["orders", "reject", "--reseller", "contoso-de", "PO-1", "--reason", "no"]) == 0
    assert [(type(e), e.order_id, e.decision) for e in sent] == [
        (OrderReviewDecided, "PO-1", "release"),
        (OrderReviewDecided, "PO-1", "reject"),
    ]
    assert "release of order PO-1 sent" in capsys.readouterr().err


def test_no_worker_listening_is_exit_3_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, sent: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUB_WORKER_WEB_HOST", "127.0.0.1")
    monkeypatch.setenv("HUB_WORKER_WEB_PORT", str(free_port()))
    assert main(["orders", "reject", "--reseller", "r", "PO-1", "--reason", "x"]) == 3
    assert main(["orders", "list", "--held"]) == 3
    assert main(["orders", "show", "--reseller", "r", "PO-1"]) == 3
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3
    assert all("cannot reach the worker at http://127.0.0.1:" in line for line in lines)
    assert all("is a worker running?" in line for line in lines)
    assert sent == []


def test_the_token_is_sent_and_a_refusal_is_a_clear_line(
    worker: FakeWorker,
    sent: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker.token = TOKEN
    worker.orders[("r", "PO-1")] = "held"
    assert main(["orders", "show", "--reseller", "r", "PO-1"]) == 3
    assert capsys.readouterr().err == (
        "hub: the worker asks for a token: set HUB_WORKER_WEB_TOKEN to the worker's\n"
    )
    monkeypatch.setenv("HUB_WORKER_WEB_TOKEN", TOKEN)
    assert main(["orders", "show", "--reseller", "r", "PO-1"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "held"
    assert main(["orders", "release", "--reseller", "r", "PO-1"]) == 0
    assert worker.requests[-1][2] == f"Bearer {TOKEN}"
    assert len(sent) == 1


def _held(rid: str, order_id: str) -> dict[str, Any]:
    return {
        "reseller_id": rid,
        "order_id": order_id,
        "customer_id": f"{rid}-c",
        "reason_code": "over_credit_limit",
        "order_commitment_minor": 1200,
        "currency": "EUR",
        "held_at": "2026-12-01T10:00:00Z",
    }


def test_list_held_follows_the_pages_the_worker_hands_out(
    worker: FakeWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.held_pages = [
        {
            "orders": [_held("a", "PO-1")],
            "partition": 0,
            "next": {"partition": 0, "after": "a|PO-1"},
        },
        {"orders": [], "partition": 0, "next": {"partition": 1, "after": None}},
        {"orders": [_held("b", "PO-7"), _held("b", "PO-8")], "partition": 1, "next": None},
    ]
    assert main(["orders", "list", "--held"]) == 0
    out, err = capsys.readouterr()
    rows = out.splitlines()
    assert rows[0].split("\t") == list(orders_command._COLUMNS)
    assert [r.split("\t")[:2] for r in rows[1:]] == [["a", "PO-1"], ["b", "PO-7"], ["b", "PO-8"]]
    assert "1200 EUR" in rows[1]
    assert worker.seen_held() == [{}, {"partition": "0", "after": "a|PO-1"}, {"partition": "1"}]
    assert err == "hub: 3 held order(s); decide with hub orders release/reject\n"


def test_list_held_of_one_reseller_asks_for_that_reseller_only(
    worker: FakeWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    worker.held_pages = [
        {
            "orders": [_held("a", "PO-1")],
            "partition": 4,
            "next": {"partition": 4, "after": "a|PO-1"},
        },
        {"orders": [], "partition": 4, "next": None},
    ]
    assert main(["orders", "list", "--held", "--reseller", "a", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["order_id"] for line in out.splitlines()] == ["PO-1"]
    assert worker.seen_held() == [
        {"reseller": "a"},
        {"reseller": "a", "partition": "4", "after": "a|PO-1"},
    ]
    assert err == "hub: 1 held order(s) of reseller a; decide with hub orders release/reject\n"


def test_list_without_held_says_what_it_lists(
    worker: FakeWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["orders", "list"]) == 2
    assert "add --held" in capsys.readouterr().err
    assert worker.requests == []
