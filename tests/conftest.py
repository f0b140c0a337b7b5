"""Shared fixtures: one real Kafka broker per test session, unique topic names per test."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.testing.broker import BrokerInfo, session_broker

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


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Topic names unique to this test: ``topic_name("orders")`` -> ``t.<test>.<rand>.orders``."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60].strip("-")
    salt = uuid.uuid4().hex[:8]

    def make(suffix: str) -> str:
        return f"t.{stem}.{salt}.{suffix}"

    return make
