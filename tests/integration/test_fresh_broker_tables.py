"""A worker's local tables after its broker's data was wiped: rebuilt, never a crash.

faust keeps each table's changelog offset in its local store. Against a wiped broker the
changelogs are empty, and faust refused to start (``ConsistencyError: persisted offset ...
higher than the last offset (2 > -1)``) until someone found and deleted the tables by hand.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish, read_all
from hub.ops import local_kafka
from hub.ops.local_service import free_port
from hub.ops.worker_process import WorkerProcess
from hub.runtime.local_state import CLUSTER_STAMP
from hub.schemas.codec import Codec
from hub.schemas.events.orders import OrderAccepted
from hub.topic_plan import every_topic
from hub.topics import Topic, TopicCatalog
from tests.support.hub_cli import explain, hub, user_env
from tests.support.ingress_world import order, reference

CODEC = Codec()
RESELLER = "fresh-r1"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[Path, int, int]]:
    """A broker of this test's own (it is wiped twice): data dir, port, controller port."""
    data_dir, port, controller = tmp_path / "kafka", free_port(), free_port()
    local_kafka.start_broker(data_dir, port=port, controller_port=controller)
    try:
        yield data_dir, port, controller
    finally:
        local_kafka.stop_broker(data_dir)


def _wipe(data_dir: Path, port: int, controller: int) -> None:
    """What ``hub kafka start --fresh`` does to the broker, without touching any tables."""
    local_kafka.stop_broker(data_dir)
    local_kafka.start_broker(data_dir, port=port, controller_port=controller, fresh=True)


async def _order_accepted(bootstrap: str, catalog: TopicCatalog, worker: WorkerProcess) -> None:
    """Reference data and one order: the worker's tables now hold offsets past 0."""
    await apply_topics(bootstrap, every_topic(catalog, [RESELLER]))
    await publish(bootstrap, CODEC, reference(catalog, [RESELLER]))
    placed = order(RESELLER)
    worker.wait_ready()
    await publish(bootstrap, CODEC, [Outgoing(catalog.name(Topic.ORDERS), RESELLER, placed)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        records = await read_all(bootstrap, catalog.name(Topic.ORDER_DECISIONS))
        events = [CODEC.decode(r.value or b"") for r in records]
        if any(isinstance(e, OrderAccepted) and e.order_id == placed.order_id for e in events):
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"order not accepted:\n{worker.log_tail()}")


async def test_tables_of_a_wiped_broker_are_rebuilt_from_the_changelogs(
    own_broker: tuple[Path, int, int], tmp_path: Path
) -> None:
    data_dir, port, controller = own_broker
    bootstrap = f"127.0.0.1:{port}"
    prefix = f"f{uuid.uuid4().hex[:6]}."
    catalog = TopicCatalog(prefix)
    state = tmp_path / "state"
    worker = WorkerProcess(bootstrap, state, topic_prefix=prefix, app_id="fresh")
    slot = state / "tables" / "fresh" / "worker-0"

    worker.start()
    try:
        await _order_accepted(bootstrap, catalog, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    assert (slot / CLUSTER_STAMP).exists()

    # 1. Tables whose broker is unknown (no stamp, as before stamps): faust's ConsistencyError
    # at start leads to a rebuild with a message, and the worker comes up.
    (slot / CLUSTER_STAMP).unlink()
    _wipe(data_dir, port, controller)
    worker.start()
    try:
        worker.wait_ready(240)
        await _order_accepted(bootstrap, catalog, worker)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    log = worker.log_text().split("--- start 2 ---")[1]
    assert "are ahead of their changelogs" in log, log[-4000:]
    assert "rebuilding them from the changelogs" in log
    assert "Crashed reason=ConsistencyError" in log  # faust's one line, without its traceback
    assert "raise ConsistencyError(" not in log

    # 2. Tables stamped with another cluster's id: dropped before faust starts, no crash.
    _wipe(data_dir, port, controller)
    worker.start()
    try:
        worker.wait_ready(240)
    finally:
        assert worker.stop() == 0, worker.log_tail()
    log = worker.log_text().split("--- start 3 ---")[1]
    assert "came from another Kafka cluster" in log, log[-4000:]
    assert "ConsistencyError" not in log

    # 3. `hub kafka start --fresh` drops every worker's tables of the state dir itself.
    assert any(slot.iterdir())
    env = user_env(state)
    assert hub("kafka", "stop", "--data-dir", str(data_dir), env=env).returncode == 0
    fresh = hub(
        "kafka", "start", "--fresh", "--port", str(port), "--controller-port", str(controller),
        "--data-dir", str(data_dir), env=env,
    )  # fmt: skip
    assert fresh.returncode == 0, explain(fresh)
    assert "dropped the workers' local tables" in fresh.stderr, explain(fresh)
    assert not slot.exists()
