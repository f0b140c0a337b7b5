"""Makes a broker's ACLs include a set of bindings: describe what is there, create what is missing.

aiokafka has the DescribeAcls/CreateAcls wire structs but no admin call for them, so this sends
them through the admin client's own connection (as its ``create_topics`` does). Idempotent: a
second run creates nothing. Nothing is ever deleted; bindings the hub did not derive are reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

from hub.acl import AclBinding, Operation, PatternType, Permission, ResourceType
from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.errors import ConfigError, ExternalServiceError

# How long apply_acls waits for the broker to enforce the ACLs it created.
IN_FORCE_S = 30.0


class _CreateAclsBatch(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
    """CreateAcls v1 with many creations in one request (aiokafka's sends one)."""

    API_KEY = 30

    def __init__(self, bindings: Sequence[AclBinding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(
            [
                (
                    int(b.resource_type),
                    b.resource_name,
                    int(b.pattern_type),
                    b.principal,
                    b.host,
                    int(b.operation),
                    int(b.permission),
                )
                for b in self._bindings
            ]
        )


@dataclass(frozen=True)
class AclReport:
    """What ``apply_acls`` found and did."""

    created: list[AclBinding] = field(default_factory=list)
    present: list[AclBinding] = field(default_factory=list)
    # On the broker, not derived from the catalogue: left alone, shown to ops.
    unmanaged: list[AclBinding] = field(default_factory=list)


def _raise_for(error_code: int, message: str | None, what: str) -> None:
    if error_code:
        error = for_code(error_code)
        raise ExternalServiceError(
            "kafka", f"{what}: {error.__name__}: {message or error.description}"
        )


async def describe_acls(admin: AIOKafkaAdminClient) -> set[AclBinding]:
    """Every ACL binding the broker holds (needs DESCRIBE on the cluster: a super user)."""
    request = DescribeAclsRequest(
        resource_type=int(ResourceType.ANY),
        resource_name=None,
        resource_pattern_type_filter=int(PatternType.ANY),
        principal=None,
        host=None,
        operation=int(Operation.ANY),
        permission_type=int(Permission.ANY),
    )
    response = await admin._send_request(request)  # aiokafka has no public call
    _raise_for(response.error_code, response.error_message, "describing ACLs")
    return {
        AclBinding(
            principal=principal,
            resource_type=ResourceType(rtype),
            resource_name=name,
            pattern_type=PatternType(pattern),
            operation=Operation(operation),
            permission=Permission(permission),
            host=host,
        )
        for rtype, name, pattern, acls in response.resources
        for principal, host, operation, permission in acls
    }


async def _until_in_force(
    admin: AIOKafkaAdminClient, created: Sequence[AclBinding], timeout_s: float = IN_FORCE_S
) -> None:
    """Waits until the broker lists ``created``. The controller has them when the create returns;
    a broker applies them from the metadata log a moment later and until then still refuses the
    principals they grant (a reseller consuming its own topic right after ``hub acl apply``
    was refused so). A broker answers DescribeAcls from the ACLs it enforces, so once it lists
    them it enforces them. Only the broker asked is checked: on a cluster another broker may
    still be a moment behind (not measured)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while created and not set(created) <= await describe_acls(admin):
        if loop.time() > deadline:
            raise ExternalServiceError(
                "kafka",
                f"{len(created)} ACLs were created but the broker did not list them within "
                f"{timeout_s:.0f} s: run the command again to check them",
                retriable=True,
            )
        await asyncio.sleep(0.2)


async def create_acls(admin: AIOKafkaAdminClient, bindings: Sequence[AclBinding]) -> None:
    """Create ``bindings`` in one request; any refusal is an error naming the binding."""
    if not bindings:
        return
    response = await admin._send_request(_CreateAclsBatch(bindings))
    for binding, (code, message) in zip(bindings, response.creation_responses, strict=True):
        _raise_for(code, message, f"creating ACL {binding}")


async def apply_acls(
    bootstrap: str, bindings: Iterable[AclBinding], *, auth: KafkaAuth | None = None
) -> AclReport:
    """Make the broker hold ``bindings``; return what was created and what was already there."""
    if auth is None:
        raise ConfigError(
            "ACLs need a secure broker and the hub's credentials: set "
            "HUB_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT, HUB_KAFKA_SASL_USERNAME/PASSWORD"
        )
    wanted = sorted(set(bindings))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=30_000, **client_kwargs(auth)
    )
    try:
        await admin.start()
    except Exception as exc:
        raise ExternalServiceError(
            "kafka", f"cannot reach Kafka at {bootstrap}: {exc}", retriable=True
        ) from exc
    try:
        existing = await describe_acls(admin)
        missing = [b for b in wanted if b not in existing]
        await create_acls(admin, missing)
        await _until_in_force(admin, missing)
    finally:
        await admin.close()
    return AclReport(
        created=missing,
        present=[b for b in wanted if b in existing],
        unmanaged=sorted(existing - set(wanted)),
    )
