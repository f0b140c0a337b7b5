"""Shared fixtures: one real Kafka broker per test session, unique topic names per test."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.broker import BrokerInfo, BrokerSource, session_broker

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if TESTS / "integration" in path.parents:
            item.add_marker(pytest.mark.integration)
        elif TESTS / "e2e" in path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def kafka() -> Iterator[BrokerInfo]:
    """The session's real broker (started on first use, stopped at the end if started here)."""
    with session_broker(os.environ) as broker:
        yield broker


async def _topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def _delete(bootstrap: str, topics: set[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(sorted(topics))
    finally:
        await admin.close()


@pytest.fixture(scope="module", autouse=True)
def _drop_the_modules_topics(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test module on the session's own local broker, delete the topics it created.

    Every worker a test starts applies the whole topic catalogue (some 400 partitions, plus its
    tables' changelogs), and the broker keeps about one open file and two memory maps per
    partition: left in place, a whole suite's topics reached the file limit (20,000 here) and the
    broker died mid-suite, failing every test after it. Per module, not per test: a module's
    fixtures (a worker shared by its tests) may create topics its later tests need, and this
    fixture, set up before them, is torn down after them. A broker given from outside
    (KAFKA_BOOTSTRAP_SERVERS) is left alone: others may create topics there meanwhile."""
    module = request.module
    uses_kafka = any(
        "kafka" in getattr(item, "fixturenames", ())
        for item in request.session.items
        if getattr(item, "module", None) is module
    )
    if not uses_kafka:
        yield
        return
    broker: BrokerInfo = request.getfixturevalue("kafka")
    if broker.source is not BrokerSource.LOCAL:
        yield
        return
    before = asyncio.run(_topics(broker.bootstrap))
    yield
    try:
        created = asyncio.run(_topics(broker.bootstrap)) - before
        created = {t for t in created if not t.startswith("_")}  # never the broker's own
        if created:
            asyncio.run(_delete(broker.bootstrap, created))
    except Exception:  # noqa: BLE001 - a broker a test stopped; nothing to clean
        pass


@pytest.fixture(scope="session")
def schema_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Confluent-compatible registry: ``HUB_TEST_REGISTRY_URL``, else local Apicurio."""
    given = os.environ.get("HUB_TEST_REGISTRY_URL")
    if given:
        yield given
        return
    from hub.ops.local_registry import start_registry, stop_registry

    data_dir = tmp_path_factory.mktemp("registry")
    handle = start_registry(data_dir, die_with_parent=True)
    try:
        yield handle.url
    finally:
        stop_registry(data_dir)


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Topic names unique to this test: ``topic_name("orders")`` -> ``t.<test>.<rand>.orders``."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")
    salt = uuid.uuid4().hex[:8]

    def make(suffix: str) -> str:
        return f"t.{stem}.{salt}.{suffix}"

    return make


@pytest.fixture(autouse=True)
def _relationship_books_not_read() -> Iterator[None]:
    """Building an app (``hub.app.build_app``) marks the process-wide relationship books as read
    by this worker (``register_books``): a test that built one must not leave a later test's
    checks waiting for books no reader will load."""
    yield
    from hub.streams.relationships.agreements import AGREEMENTS
    from hub.streams.relationships.gdap_book import GDAP

    for book in (AGREEMENTS, GDAP):
        book.reading = False
        book.loaded = asyncio.Event()
