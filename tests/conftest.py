"""Shared fixtures: one real Kafka broker per test session, unique topic names per test."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.broker import BrokerInfo, session_broker

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
