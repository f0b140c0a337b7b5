"""A worker configured with a schema registry looks every contract's id up when it starts."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.schema_registry import SchemaRegistryClient, register_contracts
from hub.ops.worker_process import WorkerProcess
from hub.topics import TopicCatalog
from tests.support.broker import BrokerInfo


def _worker(kafka: BrokerInfo, state_dir: Path, registry_url: str) -> WorkerProcess:
    prefix = f"t.registry.{uuid.uuid4().hex[:8]}."
    asyncio.run(apply_topics(kafka.bootstrap, TopicCatalog(prefix).all()))
    return WorkerProcess(
        kafka.bootstrap,
        state_dir,
        topic_prefix=prefix,
        app_id=f"reg-{uuid.uuid4().hex[:8]}",
        env={"HUB_SCHEMA_REGISTRY_URL": registry_url},
    )


def test_a_worker_whose_registry_is_unreachable_stops_at_start_saying_so(
    kafka: BrokerInfo, tmp_path: Path
) -> None:
    worker = _worker(kafka, tmp_path, "http://127.0.0.1:9/apis/ccompat/v7").start()
    deadline = time.monotonic() + 120
    while worker.running():
        assert time.monotonic() < deadline, worker.log_tail()
        time.sleep(0.5)
    log = worker.log_text()
    assert worker.stop() != 0
    assert "the schema registry at http://127.0.0.1:9/apis/ccompat/v7 is unreachable" in log
    assert "Traceback" not in log


def test_a_worker_with_a_filled_registry_starts(
    kafka: BrokerInfo, schema_registry: str, tmp_path: Path
) -> None:
    register_contracts(SchemaRegistryClient(schema_registry))
    worker = _worker(kafka, tmp_path, schema_registry).start()
    try:
        worker.wait_ready()
    finally:
        assert worker.stop() == 0, worker.log_tail()
