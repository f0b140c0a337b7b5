"""Fixtures of the reliability tests that take a broker away: it must be one of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.ops import local_kafka


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A local broker of this test's own (free ports, data in ``tmp_path``), never the
    session's: stop it with ``local_kafka.stop_broker(own_broker.data_dir)``."""
    data_dir = tmp_path / "kafka"
    handle = local_kafka.start_broker(
        data_dir,
        port=local_kafka.free_port(),
        controller_port=local_kafka.free_port(),
        die_with_parent=True,
    )
    try:
        yield handle
    finally:
        local_kafka.stop_broker(data_dir)
