"""Kafka ACLs derived from the topic catalogue: who may read and write what, per principal.

Pure: catalogue in, bindings out; ``hub acl apply`` (hub/connectors/kafka_acl.py) makes the
broker hold them. Each reseller writes only its own ``reseller.<id>.*`` ingress topics, reads
only its own ``partner.<id>.`` prefix and uses only its own consumer groups; the hub's principal
is a broker super user and needs no bindings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

from hub.topics import TopicCatalog, TopicSpec, check_reseller_id

# The catalogue's placeholder for "each reseller, on its own behalf" (hub/topics.py).
RESELLER_ROLE = "reseller:<reseller_id>"
HUB_ROLE = "hub"


class ResourceType(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.resource.ResourceType)."""

    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class PatternType(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.resource.PatternType)."""

    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.acl.AclOperation)."""

    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


class Permission(IntEnum):
    """Kafka's wire codes (org.apache.kafka.common.acl.AclPermissionType)."""

    ANY = 1
    DENY = 2
    ALLOW = 3


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ACL: ``principal`` may (or may not) do ``operation`` on a resource pattern."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation
    permission: Permission = Permission.ALLOW
    host: str = "*"

    def __str__(self) -> str:
        return (
            f"{self.principal:<24} {self.permission.name} {self.operation.name:<8} "
            f"{self.resource_type.name} {self.pattern_type.name} {self.resource_name}"
        )


def reseller_user(reseller_id: str) -> str:
    """The SCRAM user name a reseller's systems authenticate as."""
    return f"reseller-{check_reseller_id(reseller_id)}"


def principal(user: str) -> str:
    return f"User:{user}"


def group_prefix(user: str) -> str:
    """Consumer groups a principal may use: ``<user>.``.

    A dot, because reseller ids never contain one: with ``-`` reseller ``A`` would also own the
    groups of reseller ``A-B``.
    """
    return f"{user}."


def _grant(
    user: str, rtype: ResourceType, name: str, pattern: PatternType, *ops: Operation
) -> list[AclBinding]:
    return [AclBinding(principal(user), rtype, name, pattern, op) for op in ops]


def _role_users(role: str, reseller_ids: Sequence[str]) -> list[str]:
    if role == HUB_ROLE:
        return []
    if role == RESELLER_ROLE:
        return [reseller_user(rid) for rid in reseller_ids]
    if role.startswith("reseller:"):
        return [reseller_user(role.removeprefix("reseller:"))]
    return [role]


def _shared_topic_bindings(spec: TopicSpec, reseller_ids: Sequence[str]) -> list[AclBinding]:
    bindings: list[AclBinding] = []
    for role in spec.readers:
        if role.startswith("reseller:"):
            # A shared topic carries every reseller's records: reading it is reading theirs.
            raise ValueError(
                f"{spec.name} is shared by all resellers and cannot list {role!r} as a reader"
            )
        for user in _role_users(role, reseller_ids):
            bindings += _grant(
                user, ResourceType.TOPIC, spec.name, PatternType.LITERAL, Operation.READ
            )
    for role in spec.writers:
        for user in _role_users(role, reseller_ids):
            bindings += _grant(
                user, ResourceType.TOPIC, spec.name, PatternType.LITERAL, Operation.WRITE
            )
    return bindings


def _partner_bindings(catalog: TopicCatalog, reseller_ids: Sequence[str]) -> list[AclBinding]:
    """Partner topics by prefix: each reseller its own, other readers all of them."""
    bindings: list[AclBinding] = []
    for rid in reseller_ids:
        for spec in catalog.for_reseller(rid):
            if spec.writers != (HUB_ROLE,):
                raise ValueError(f"{spec.name}: only the hub may write a partner topic")
            for role in spec.readers:
                if role == f"reseller:{rid}":
                    bindings += _grant(
                        reseller_user(rid),
                        ResourceType.TOPIC,
                        catalog.partner_prefix(rid),
                        PatternType.PREFIXED,
                        Operation.READ,
                    )
                elif role.startswith("reseller:"):
                    raise ValueError(f"{spec.name}: {role!r} may not read another's topic")
                else:
                    bindings += [
                        b
                        for user in _role_users(role, reseller_ids)
                        for b in _grant(
                            user,
                            ResourceType.TOPIC,
                            f"{catalog.prefix}partner.",
                            PatternType.PREFIXED,
                            Operation.READ,
                        )
                    ]
    return bindings


def _ingress_bindings(catalog: TopicCatalog, reseller_ids: Sequence[str]) -> list[AclBinding]:
    """Each reseller writes its own ``reseller.<id>.<kind>`` topics, by name (LITERAL: a prefix
    ``reseller.<id>.`` would give a reseller named like a shared topic that topic's dead letters).
    The topic a record arrives on is then the writer the broker authenticated."""
    bindings: list[AclBinding] = []
    for rid in reseller_ids:
        for spec in catalog.ingress_specs(rid):
            if spec.writers != (f"reseller:{rid}",) or spec.readers != (HUB_ROLE,):
                raise ValueError(f"{spec.name}: only reseller {rid} writes it, only the hub reads")
            bindings += _grant(
                reseller_user(rid),
                ResourceType.TOPIC,
                spec.name,
                PatternType.LITERAL,
                Operation.WRITE,
            )
    return bindings


def acl_bindings(
    catalog: TopicCatalog,
    reseller_ids: Iterable[str],
    *,
    shared: Sequence[TopicSpec] | None = None,
) -> list[AclBinding]:
    """Every ACL the catalogue implies for these resellers, sorted and without duplicates.

    ``shared`` defaults to the catalogue's fixed topics and their dead letters. READ and WRITE
    imply DESCRIBE, and WRITE on any topic implies idempotent produce, so neither is granted.
    """
    ids = sorted({check_reseller_id(rid) for rid in reseller_ids})
    if shared is None:
        fixed = catalog.fixed()
        shared = fixed + catalog.dead_letters(fixed)
    bindings = [b for spec in shared for b in _shared_topic_bindings(spec, ids)]
    bindings += _partner_bindings(catalog, ids)
    bindings += _ingress_bindings(catalog, ids)
    users = sorted({b.principal.removeprefix("User:") for b in bindings})
    for user in users:
        bindings += _grant(
            user, ResourceType.GROUP, group_prefix(user), PatternType.PREFIXED, Operation.READ
        )
    return sorted(set(bindings))
