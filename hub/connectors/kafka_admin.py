"""Makes a broker's topics match the catalogue: create what is missing, fix configs, add partitions.

Idempotent: a second run against the same catalogue changes nothing and says so. Partitions
are only ever added (Kafka cannot remove them); a topic with more than declared is reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.admin.new_partitions import NewPartitions

from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.errors import ExternalServiceError
from hub.topics import TopicSpec


class ChangeKind(StrEnum):
    CREATED = "created"
    CONFIG_UPDATED = "config-updated"
    PARTITIONS_ADDED = "partitions-added"
    UNCHANGED = "unchanged"
    NOTE = "note"


@dataclass(frozen=True)
class TopicChange:
    topic: str
    kind: ChangeKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value:<17} {self.topic}{'  ' + self.detail if self.detail else ''}"


def _error(message: str, exc: BaseException) -> ExternalServiceError:
    return ExternalServiceError("kafka", f"{message}: {exc}", retriable=True)


async def _existing(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    """Partition counts of the named topics that exist."""
    present = set(await admin.list_topics()) & set(names)
    if not present:
        return {}
    described: list[dict[str, Any]] = await admin.describe_topics(sorted(present))
    return {d["topic"]: len(d["partitions"]) for d in described if not d.get("error_code")}


async def _wait_visible(admin: AIOKafkaAdminClient, names: Sequence[str]) -> None:
    """Metadata lags a create by a moment; return once every new partition has a leader."""
    for _ in range(150):
        if set(names) <= set(await admin.list_topics()):
            described: list[dict[str, Any]] = await admin.describe_topics(list(names))
            if all(
                not d.get("error_code")
                and d["partitions"]
                and all(p.get("leader", -1) >= 0 for p in d["partitions"])
                for d in described
            ):
                return
        await asyncio.sleep(0.1)
    raise ExternalServiceError("kafka", f"created topics not visible: {sorted(names)}")


async def _configs(admin: AIOKafkaAdminClient, names: Iterable[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    if not resources:
        return {}
    responses = await admin.describe_configs(resources)
    found: dict[str, dict[str, str]] = {}
    for response in responses:
        for resource in response.resources:
            _, _, _, name, entries = resource[:5]
            found[name] = {entry[0]: entry[1] for entry in entries}
    return found


async def apply_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    replication_factor: int = 1,
    auth: KafkaAuth | None = None,
) -> list[TopicChange]:
    """Bring the broker in line with ``specs``; return one change line per topic."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=30_000, **client_kwargs(auth)
    )
    try:
        await admin.start()
    except Exception as exc:
        raise _error(f"cannot reach Kafka at {bootstrap}", exc) from exc
    try:
        return await _apply(admin, specs, replication_factor)
    finally:
        await admin.close()


async def _apply(
    admin: AIOKafkaAdminClient, specs: Sequence[TopicSpec], replication_factor: int
) -> list[TopicChange]:
    by_name = {spec.name: spec for spec in specs}
    existing = await _existing(admin, list(by_name))
    changes: list[TopicChange] = []

    missing = [spec for spec in specs if spec.name not in existing]
    if missing:
        await admin.create_topics(
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    topic_configs=spec.broker_configs(),
                )
                for spec in missing
            ]
        )
        changes.extend(
            TopicChange(s.name, ChangeKind.CREATED, f"partitions={s.partitions}") for s in missing
        )
        await _wait_visible(admin, [s.name for s in missing])

    present = [spec for spec in specs if spec.name in existing]
    current = await _configs(admin, [spec.name for spec in present])
    for spec in present:
        wanted = spec.broker_configs()
        have = current.get(spec.name, {})
        diff = {k: v for k, v in wanted.items() if have.get(k) != v}
        touched = False
        if diff:
            # Incremental semantics by hand: alter_configs replaces the whole set, so send all.
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted)]
            )
            detail = ", ".join(f"{k}: {have.get(k)} -> {v}" for k, v in sorted(diff.items()))
            changes.append(TopicChange(spec.name, ChangeKind.CONFIG_UPDATED, detail))
            touched = True
        count = existing[spec.name]
        if count < spec.partitions:
            await admin.create_partitions({spec.name: NewPartitions(total_count=spec.partitions)})
            changes.append(
                TopicChange(spec.name, ChangeKind.PARTITIONS_ADDED, f"{count} -> {spec.partitions}")
            )
            touched = True
        elif count > spec.partitions:
            changes.append(
                TopicChange(
                    spec.name,
                    ChangeKind.NOTE,
                    f"has {count} partitions, catalogue says {spec.partitions} (left as is)",
                )
            )
            touched = True
        if not touched:
            changes.append(TopicChange(spec.name, ChangeKind.UNCHANGED))
    return sorted(changes, key=lambda c: c.topic)
