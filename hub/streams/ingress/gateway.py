"""The ingress gateway: each reseller's own ingress topics, forwarded with the writer they prove.

Kafka tells a consumer nothing about who wrote a record, but its ACLs decide who may write a
topic: only reseller ``<id>`` may write ``reseller.<id>.<kind>`` (hub/acl.py). The gateway reads
those topics (by pattern, so a newly onboarded reseller's topics are picked up) and forwards
each record, bytes unchanged, onto the shared ``reseller.<kind>`` topic keyed by ``<id>`` with
the header ``hub.ingress.writer: <id>`` (any ``hub.ingress.*`` header the writer set is dropped).
On an authenticating broker only the hub may write the shared topics, so that header is the
authenticated writer the flows' ingress gate compares the body with
(hub/streams/ingress/__init__.py).

At least once: a record's offset is committed after its forward is acknowledged, and a record
forwarded twice after a crash is the same event twice, which every flow already treats as a
redelivery.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import faust
import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from hub.connectors.kafka_auth import auth_from_settings, client_kwargs
from hub.runtime.dead_letter import Headers, normalise_headers
from hub.settings import Settings
from hub.streams.context import Context
from hub.streams.ingress import ORIGIN_HEADER, WRITER_HEADER
from hub.topics import TopicCatalog

log = logging.getLogger(__name__)

_OWN_HEADERS = "hub.ingress."
# New reseller topics are found when the client refreshes its metadata.
_METADATA_MAX_AGE_MS = 5_000


@dataclass(frozen=True)
class Forward:
    """Where one record of a reseller's own topic goes, and with what."""

    topic: str
    key: bytes
    value: bytes | None
    headers: Headers


def forward_of(
    topics: TopicCatalog,
    topic: str,
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Headers,
) -> Forward | None:
    """The forward of one record, or None if ``topic`` is no reseller's own ingress topic."""
    found = topics.ingress_of(topic)
    if found is None:
        return None
    reseller_id, shared = found
    kept = [(k, v) for k, v in headers if not k.startswith(_OWN_HEADERS)]
    return Forward(
        topics.name(shared),
        reseller_id.encode(),
        value,
        [
            *kept,
            (WRITER_HEADER, reseller_id.encode()),
            (ORIGIN_HEADER, f"{topic}/{partition}/{offset}".encode()),
        ],
    )


class Gateway:
    """The forwarding loop over one consumer and one idempotent producer."""

    def __init__(self, settings: Settings, topics: TopicCatalog) -> None:
        self.settings = settings
        self.topics = topics

    def _clients(self) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
        auth = client_kwargs(auth_from_settings(self.settings))
        bootstrap = self.settings.kafka_bootstrap_servers
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"{self.settings.worker_group}-ingress-gateway",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=_METADATA_MAX_AGE_MS,
            **auth,
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, **auth
        )
        return consumer, producer

    async def run(self, stopping: Callable[[], bool]) -> None:
        consumer, producer = self._clients()
        consumer.subscribe(pattern=self.topics.ingress_pattern().pattern)
        await producer.start()
        await consumer.start()
        try:
            while not stopping():
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    await self._forward(producer, records)
                    await consumer.commit({tp: records[-1].offset + 1})
        finally:
            await consumer.stop()
            await producer.stop()

    async def _forward(self, producer: AIOKafkaProducer, records: list[ConsumerRecord]) -> None:
        sent = []
        for record in records:
            headers = normalise_headers(record.headers)
            forward = forward_of(
                self.topics, record.topic, record.partition, record.offset, record.value, headers
            )
            if forward is None:
                continue
            sent.append(
                await producer.send(
                    forward.topic, forward.value, key=forward.key, headers=forward.headers
                )
            )
        await asyncio.gather(*sent)


def register(app: faust.App, ctx: Context) -> None:
    """Runs the gateway beside the worker's agents, for the worker's whole life."""
    gateway = Gateway(ctx.settings, ctx.topics)

    @app.service
    class IngressGateway(mode.Service):
        async def on_start(self) -> None:
            self.add_future(self._run())

        async def _run(self) -> None:
            while not self.should_stop:
                try:
                    await gateway.run(lambda: self.should_stop)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - keep forwarding after a broker outage
                    log.warning("ingress gateway restarts after: %r", exc)
                    await asyncio.sleep(1)
