"""Makes a broker's topics match the catalogue: create what is missing, fix configs.

Idempotent: a second run against the same catalogue changes nothing and says so. Partition
counts are never changed: every topic is keyed, and adding partitions moves keys to other
partitions than their earlier records and their state (a flow reads its state from the
partition of the message it handles); Kafka cannot remove them. A count that differs from the
catalogue is refused with the reason (``ChangeKind.REFUSED``), and ``hub topics apply`` fails.
A worker does the same at its start (``ensure_topics``) before faust subscribes to anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.errors import BrokerUnreachable, ConfigError, ExternalServiceError, HubError
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


# Another worker or `hub topics apply` created it a moment before: it is there, as wanted.
_TOPIC_ALREADY_EXISTS = 36


def _raise_create_errors(response: Any) -> None:
    """A create the broker refused (replication above the broker count, a bad config)."""
    failed = [
        (entry[0], entry[1], entry[2] if len(entry) > 2 else None)
        for entry in getattr(response, "topic_errors", ())
        if entry[1] not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failed:
        topic, code, message = failed[0]
        raise ConfigError(
            f"the broker refused to create {topic} (error {code}: {message or 'no message'})"
            f"{f' and {len(failed) - 1} more topics' if len(failed) > 1 else ''}: check "
            "HUB_KAFKA_REPLICATION_FACTOR against the broker count, and the broker's limits"
        )


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
        f"has {count} partitions, the catalogue says {wanted}: left as is (partitions are "
        "never added to a keyed topic: its keys would move away from their earlier records "
        "and their state). Fix: delete and recreate the topic (`hub kafka start --fresh` wipes "
        f"a local broker), or run the hub with HUB_KAFKA_PARTITIONS={count} to keep it",
    )


_COUNTS = re.compile(r"has (\d+) partitions, the catalogue says (\d+)")


def refusal(refused: Sequence[TopicChange]) -> str:
    """One line for topics that cannot be brought in line: which, and both ways out."""
    found = [m for c in refused if (m := _COUNTS.search(c.detail)) is not None]
    have = sorted({int(m.group(1)) for m in found})
    wanted = found[0].group(2) if found else "?"
    more = f" and {len(refused) - 1} more topic(s)" if len(refused) > 1 else ""
    return (
        f"{refused[0].topic}{more} have {'/'.join(map(str, have))} partitions, the catalogue "
        f"says {wanted}, and partitions are never changed on a keyed topic: delete and recreate "
        "them (`hub kafka start --fresh` wipes a local broker), or set HUB_KAFKA_PARTITIONS="
        f"{'/'.join(map(str, have))} to keep them"
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
        response = await admin.create_topics(
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
        _raise_create_errors(response)
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


# How long a worker's start tries to apply the catalogue while a cluster settles (a node that
# died is still in the metadata until the cluster fences it).
CHECK_PATIENCE_S = 60.0


# How long a worker's start waits for a broker that does not answer at all (a typo in the
# bootstrap, or no broker started): long enough for one being started beside it.
UNREACHABLE_PATIENCE_S = 20.0


@dataclass(frozen=True)
class StartCheck:
    """What a worker learnt of its broker before starting: its cluster id and the topics."""

    cluster_id: str | None
    changes: list[TopicChange]


async def ensure_topics(
    settings: Settings,
    specs: Sequence[TopicSpec],
    *,
    patience_s: float | None = None,
    unreachable_patience_s: float | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> StartCheck:
    """Apply ``specs`` before a worker starts, so none of its subscriptions finds a topic missing.

    Creates what is missing and fixes configs, like ``hub topics apply``. Raises
    ``BrokerUnreachable`` if no broker answers within ``unreachable_patience_s`` (default
    ``UNREACHABLE_PATIENCE_S``), and
    ``ConfigError`` for a topic whose partition count differs (it cannot be fixed here). Other
    failures (a node of a cluster not fenced yet) are tried again for ``patience_s``.
    """
    from hub.connectors.kafka_auth import auth_from_settings

    bootstrap = settings.kafka_bootstrap_servers
    patience_s = CHECK_PATIENCE_S if patience_s is None else patience_s
    if unreachable_patience_s is None:
        unreachable_patience_s = UNREACHABLE_PATIENCE_S
    delay, waited = 0.5, 0.0
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=30_000,
            **client_kwargs(auth_from_settings(settings)),
        )
        reached = False
        try:
            await admin.start()
            reached = True
            changes = await _apply(admin, specs, settings.kafka_replication_factor)
            cluster: dict[str, Any] = await admin.describe_cluster()
            break
        except HubError:
            raise
        except Exception as exc:  # a broker starting, or a node down: try again
            if not reached and waited >= unreachable_patience_s:
                raise BrokerUnreachable(bootstrap, type(exc).__name__) from exc
            if not reached and waited == 0:
                progress(
                    f"Kafka at {bootstrap} does not answer; "
                    f"trying for {unreachable_patience_s:.0f} s"
                )
            if waited >= patience_s:
                raise ExternalServiceError(
                    "kafka", f"applying the topic catalogue at {bootstrap} failed: {exc!r}"
                ) from exc
            log.info("applying the topic catalogue failed (%r); trying again", exc)
        finally:
            await admin.close()
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 5.0)
    refused = [c for c in changes if c.kind is ChangeKind.REFUSED]
    if refused:
        raise ConfigError(refusal(refused))
    cluster_id = cluster.get("cluster_id")
    return StartCheck(str(cluster_id) if cluster_id else None, changes)


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
