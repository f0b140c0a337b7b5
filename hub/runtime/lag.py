"""Consumer lag per topic and partition, measured from the broker's side.

A timer compares the group's committed offsets with each partition's end offset through an
admin client and a group-less consumer, so the number is what ops would see with Kafka's own
tools, not what the worker believes about itself.
"""

from __future__ import annotations

import logging

import faust
from aiokafka.admin import AIOKafkaAdminClient

from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.connectors.kafka_io import open_consumer
from hub.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)


async def measure_lag(
    bootstrap: str, group_id: str, auth: KafkaAuth | None = None
) -> dict[tuple[str, int], int]:
    """Lag of every partition the group has committed on: end offset minus committed offset."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_kwargs(auth))
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    partitions = [tp for tp, meta in committed.items() if meta.offset >= 0]
    if not partitions:
        return {}
    async with open_consumer(bootstrap, auth=auth) as consumer:
        ends = await consumer.end_offsets(partitions)
    return {(tp.topic, tp.partition): max(0, ends[tp] - committed[tp].offset) for tp in partitions}


def register(
    app: faust.App, bootstrap: str, interval_s: float, auth: KafkaAuth | None = None
) -> None:
    async def report_lag() -> None:
        try:
            lags = await measure_lag(bootstrap, app.conf.id, auth)
        except Exception as exc:  # noqa: BLE001 - a missed sample must never stop the worker
            log.warning("consumer lag not measured: %s", exc)
            return
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(lag)

    app.timer(interval=interval_s, name="hub.consumer-lag")(report_lag)
