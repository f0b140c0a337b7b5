"""Makes a broker's topics match the catalogue: create what is missing, fix configs.

Idempotent: a second run against the same catalogue changes nothing and says so. Partition
counts are never changed: every topic is keyed, and adding partitions moves keys to other
partitions than their earlier records and their state (a flow reads its state from the
partition of the message it handles); Kafka cannot remove them. A count that differs from the
catalogue is refused with the reason (``ChangeKind.REFUSED``), and ``hub topics apply`` fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.errors import ConfigError, ExternalServiceError
from hub.settings import Settings
from hub.topics import TopicSpec

log = logging.getLogger(__name__)


class ChangeKind(StrEnum):
    CREATED = "created"
    CONFIG_UPDATED = "config-updated"
    UNCHANGED = "unchanged"
    NOTE = "note"
    # The broker's topic cannot be brought in line without moving keys: nothing was changed.
    REFUSED = "refused"


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


def partition_mismatch(spec: TopicSpec, count: int) -> TopicChange | None:
    """What to say of a topic the broker holds with ``count`` partitions, if not as declared."""
    wanted = spec.partition_count
    if count == wanted:
        return None
    return TopicChange(
        spec.name,
        ChangeKind.REFUSED,
        f"has {count} partitions, the catalogue says {wanted}: left as is. Partitions are "
        "never added to a keyed topic (its keys would move away from their earlier records "
        f"and their state). Run the hub with HUB_KAFKA_PARTITIONS={count} to keep this "
        "topic, or move to a new HUB_TOPIC_PREFIX and HUB_APP_ID with the new count",
    )


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
                    num_partitions=spec.partition_count,
                    replication_factor=replication_factor,
                    topic_configs=spec.broker_configs(),
                )
                for spec in missing
            ]
        )
        changes.extend(
            TopicChange(s.name, ChangeKind.CREATED, f"partitions={s.partition_count}")
            for s in missing
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
        partition_change = partition_mismatch(spec, existing[spec.name])
        if partition_change is not None:
            changes.append(partition_change)
            touched = True
        if not touched:
            changes.append(TopicChange(spec.name, ChangeKind.UNCHANGED))
    return sorted(changes, key=lambda c: c.topic)


# How long a worker's start tries to check partition counts while a cluster settles (a node
# that died is still in the metadata until the cluster fences it).
CHECK_PATIENCE_S = 60.0


async def check_partitions(settings: Settings) -> None:
    """Refuse to run a worker whose keyed topics are partitioned otherwise than its tables.

    A flow reads its state from the partition of the message it handles; a topic with another
    count than ``HUB_KAFKA_PARTITIONS`` would put each key's messages and its state on different
    partitions. Topics not created yet are fine (``hub topics apply`` or faust creates them with
    the setting). An unreachable broker is left to the worker, which reports and retries it.
    """
    from hub.connectors.kafka_auth import auth_from_settings

    specs = settings.catalog.keyed()
    names = [spec.name for spec in specs]
    existing: dict[str, int] | None = None
    delay, waited = 0.5, 0.0
    while existing is None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            request_timeout_ms=30_000,
            **client_kwargs(auth_from_settings(settings)),
        )
        try:
            await admin.start()
            existing = await _existing(admin, names)
        except Exception as exc:  # noqa: BLE001 - a node of a cluster may be down: try again
            if waited >= CHECK_PATIENCE_S:
                # The worker's own clients report and retry what is wrong with the brokers.
                log.warning("partition counts not checked: %r", exc)
                return
            log.info("checking partition counts failed (%r); trying again", exc)
        finally:
            await admin.close()
        if existing is None:
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
    wrong = [
        mismatch
        for spec in specs
        if spec.name in existing
        and (mismatch := partition_mismatch(spec, existing[spec.name])) is not None
    ]
    if wrong:
        found = sorted({existing[m.topic] for m in wrong})
        raise ConfigError(
            f"HUB_KAFKA_PARTITIONS={settings.kafka_partitions}, but {len(wrong)} keyed topic(s) "
            f"have {', '.join(map(str, found))} partitions (e.g. {wrong[0].topic}): a flow's "
            "messages and its state would sit on different partitions. Run with "
            "HUB_KAFKA_PARTITIONS set to the topics' count, or give the hub a new "
            "HUB_TOPIC_PREFIX and HUB_APP_ID"
        )


async def partition_counts(
    bootstrap: str, names: Sequence[str], auth: KafkaAuth | None = None
) -> dict[str, int]:
    """Partition counts of those of ``names`` that exist."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=30_000, **client_kwargs(auth)
    )
    await admin.start()
    try:
        return await _existing(admin, list(names))
    finally:
        await admin.close()
