"""The README's path for your own experiments, typed as a user types it.

``hub kafka start`` -> ``hub worker`` -> ``hub topics apply`` -> ``hub reference load
ops/sample/reference.yaml``, then a reseller's system publishes an order with
confluent-kafka's default producer and reads the decision. Before the worker applied the
catalogue at its start, its subscriptions left the topics to be created by whoever came
first: reference data was dead-lettered ``PartitionsMismatch`` and orders were rejected.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.connectors.kafka_io import read_all
from hub.domain.enums import BillingCycle, Term
from hub.ops.local_service import free_port
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.envelope import new_event_id
from hub.schemas.events.orders import OrderAccepted, OrderLine, OrderRequested
from tests.support.hub_cli import explain, hub, user_env

REFERENCE = Path(__file__).resolve().parents[2] / "ops" / "sample" / "reference.yaml"
CODEC = Codec()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    """``hub kafka start`` on free ports with its own data directory; stopped afterwards."""
    port, controller = free_port(), free_port()
    data_dir = tmp_path / "kafka"
    env = user_env(tmp_path / "state", kafka_bootstrap_servers=f"127.0.0.1:{port}")
    started = hub(
        "kafka", "start", "--port", str(port), "--controller-port", str(controller),
        "--data-dir", str(data_dir), env=env,
    )  # fmt: skip
    assert started.returncode == 0, explain(started)
    assert started.stdout.strip() == f"127.0.0.1:{port}"
    try:
        yield f"127.0.0.1:{port}", env, data_dir
    finally:
        hub("kafka", "stop", "--data-dir", str(data_dir), env=env)


def _order(reseller_id: str, customer_id: str) -> OrderRequested:
    """Five seats of Microsoft 365 Business Basic, as in ops/sample/reference.yaml."""
    line = OrderLine(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=5,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
    )
    return OrderRequested(
        event_id=new_event_id(),
        event_time=datetime.now(UTC),
        correlation_id=f"readme-{uuid.uuid4().hex[:8]}",
        reseller_id=reseller_id,
        order_id=f"PO-{uuid.uuid4().hex[:8]}",
        customer_id=customer_id,
        lines=(line,),
        requested_at=datetime.now(UTC),
    )


def _publish_as_a_reseller(bootstrap: str, topic: str, key: str, order: OrderRequested) -> None:
    """confluent-kafka's default producer (librdkafka's partitioner), as resellers write."""
    from confluent_kafka import KafkaError, Message, Producer

    errors: list[KafkaError] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            errors.append(error)

    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=key, value=CODEC.encode(order), on_delivery=delivered)
    assert producer.flush(30) == 0
    assert errors == []


async def _decision(bootstrap: str, topic: str, order_id: str, worker: WorkerProcess) -> object:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for record in await read_all(bootstrap, topic):
            event = CODEC.decode(record.value or b"")
            if getattr(event, "order_id", None) == order_id:
                return event
        assert worker.running(), worker.log_tail()
        await asyncio.sleep(1)
    raise AssertionError(f"no decision for {order_id} on {topic}:\n{worker.log_tail()}")


async def test_the_readme_experiment_path_gets_an_order_accepted(
    broker: tuple[str, dict[str, str], Path], tmp_path: Path
) -> None:
    bootstrap, env, data_dir = broker
    worker = WorkerProcess(bootstrap, tmp_path / "state", topic_prefix="", app_id="hub")
    worker.start()
    try:
        # The worker applies the catalogue before it subscribes to anything.
        deadline = time.monotonic() + 90
        while "worker hub #0" not in worker.log_text():
            assert worker.running(), worker.log_tail()
            assert time.monotonic() < deadline, worker.log_tail()
            time.sleep(0.3)
        assert re.search(r"created \d+ missing topic\(s\) of the catalogue", worker.log_text())

        # So the README's `hub topics apply` finds everything in place, and says so each time.
        for _ in range(2):
            applied = hub("topics", "apply", env=env)
            assert applied.returncode == 0, explain(applied)
            assert "nothing changed" in applied.stderr, explain(applied)
            assert applied.stdout == ""

        loaded = hub("reference", "load", str(REFERENCE), env=env)
        assert loaded.returncode == 0, explain(loaded)
        worker.wait_ready()

        order = _order("contoso-de", "muenchen-bau")
        _publish_as_a_reseller(bootstrap, "reseller.orders", "contoso-de", order)

        status = await _decision(bootstrap, "partner.contoso-de.status", order.order_id, worker)
        assert isinstance(status, OrderAccepted), status
        decision = await _decision(bootstrap, "hub.orders.decisions", order.order_id, worker)
        assert isinstance(decision, OrderAccepted), decision
        assert "PartitionsMismatch" not in worker.log_text()
    finally:
        worker.stop()

    # A second start on another port does not pass the running broker off as the one asked for.
    other = hub("kafka", "start", "--port", str(free_port()), "--data-dir", str(data_dir), env=env)
    assert other.returncode == 3, explain(other)
    assert f"already runs at {bootstrap}" in other.stderr, explain(other)
    same = hub("kafka", "start", "--data-dir", str(data_dir), env=env)
    assert same.returncode == 0, explain(same)
    assert "a broker already runs" in same.stderr
    assert same.stdout.strip() == bootstrap

    # A partition count the hub cannot change: apply fails saying both fixes; a worker refuses.
    other_count = env | {"HUB_KAFKA_PARTITIONS": "3"}
    refused = hub("topics", "apply", env=other_count)
    assert refused.returncode == 1, explain(refused)
    assert "delete and recreate" in refused.stderr, explain(refused)
    assert "HUB_KAFKA_PARTITIONS=12" in refused.stderr, explain(refused)
    assert "nothing changed" in refused.stderr, explain(refused)
    refusing_worker = hub("worker", env=other_count | {"HUB_WORKER_WEB_PORT": str(free_port())})
    assert refusing_worker.returncode == 3, explain(refusing_worker)
    assert refusing_worker.stderr.count("error:") == 1, explain(refusing_worker)
    assert "HUB_KAFKA_PARTITIONS=12" in refusing_worker.stderr, explain(refusing_worker)
