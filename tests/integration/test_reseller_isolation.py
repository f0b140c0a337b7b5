"""Per-reseller isolation on a real broker run with SASL/SCRAM and ACLs from the catalogue.

The module starts its own secure broker (the session broker stays PLAINTEXT): the hub, reseller
A and reseller B authenticate with their own SCRAM users; ACLs come from ``acl_bindings``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from hub.acl import acl_bindings
from hub.cli import main
from hub.connectors import kafka_io
from hub.connectors.kafka_acl import apply_acls
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_auth import KafkaAuth, client_kwargs
from hub.ops import local_kafka
from hub.topics import PartnerTopic, Topic, TopicCatalog

PREFIX = "iso."
CATALOG = TopicCatalog(PREFIX)
PASSWORDS = {
    "hub": "hub-pass-0123456789",
    "reseller-A": "reseller-a-pass-4711",
    "reseller-B": "reseller-b-pass-0815",
}


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str
    controller_port: int
    data_dir: Path

    def auth(self, user: str) -> KafkaAuth:
        return KafkaAuth(user, SecretStr(PASSWORDS[user]))


async def _produce(broker: SecureBroker, auth: KafkaAuth, topic: str, value: bytes) -> None:
    async with kafka_io.producer(broker.bootstrap, auth=auth) as client:
        await (await client.send(topic, value, key=b"k"))


async def _consume_one(broker: SecureBroker, auth: KafkaAuth, topic: str, group: str) -> bytes:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        **client_kwargs(auth),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
        await consumer.commit()
        return bytes(record.value or b"")
    finally:
        await consumer.stop()


async def _groups(broker: SecureBroker, auth: KafkaAuth) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap, **client_kwargs(auth))
    await admin.start()
    try:
        return {group for group, *_ in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def _prepare(broker: SecureBroker) -> None:
    hub = broker.auth("hub")
    await apply_topics(broker.bootstrap, CATALOG.all(["A", "B"]), auth=hub)
    await apply_acls(broker.bootstrap, acl_bindings(CATALOG, ["A", "B"]), auth=hub)
    for rid in ("A", "B"):
        topic = CATALOG.partner(rid, PartnerTopic.BILLING)
        await _produce(broker, hub, topic, f"invoice for {rid}".encode())
    await _produce(broker, hub, CATALOG.name(Topic.INVOICES), b"every invoice")
    # B's own group, with a committed offset, for A to try to reach.
    await _consume_one(
        broker,
        broker.auth("reseller-B"),
        CATALOG.partner("B", PartnerTopic.BILLING),
        "reseller-B.app",
    )


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    data_dir = tmp_path_factory.mktemp("secure-kafka")
    handle = local_kafka.start_broker(
        data_dir,
        die_with_parent=True,
        secure=True,
        scram_users={name: SecretStr(password) for name, password in PASSWORDS.items()},
        super_user="hub",
    )
    broker = SecureBroker(handle.bootstrap, handle.controller_port, data_dir)
    try:
        asyncio.run(_prepare(broker))
        yield broker
    finally:
        local_kafka.stop_broker(data_dir)


async def test_a_reseller_reads_its_own_billing_topic(secure_broker: SecureBroker) -> None:
    records = await kafka_io.read_all(
        secure_broker.bootstrap,
        CATALOG.partner("A", PartnerTopic.BILLING),
        auth=secure_broker.auth("reseller-A"),
    )
    assert [r.value for r in records] == [b"invoice for A"]


async def test_a_reseller_consumes_its_billing_topic_in_its_own_group(
    secure_broker: SecureBroker,
) -> None:
    value = await _consume_one(
        secure_broker,
        secure_broker.auth("reseller-A"),
        CATALOG.partner("A", PartnerTopic.BILLING),
        "reseller-A.billing-reader",
    )
    assert value == b"invoice for A"


async def test_a_reseller_cannot_read_another_resellers_billing_topic(
    secure_broker: SecureBroker,
) -> None:
    reseller_a = secure_broker.auth("reseller-A")
    other = CATALOG.partner("B", PartnerTopic.BILLING)
    with pytest.raises(TopicAuthorizationFailedError):
        await kafka_io.read_all(secure_broker.bootstrap, other, auth=reseller_a)
    with pytest.raises(TopicAuthorizationFailedError):
        await _consume_one(secure_broker, reseller_a, other, "reseller-A.snooper")


async def test_a_reseller_cannot_read_hub_internal_topics(secure_broker: SecureBroker) -> None:
    for topic in (Topic.INVOICES, Topic.CHARGES, Topic.RESELLERS, Topic.BILLING_INPUTS):
        with pytest.raises(TopicAuthorizationFailedError):
            await kafka_io.read_all(
                secure_broker.bootstrap, CATALOG.name(topic), auth=secure_broker.auth("reseller-A")
            )


async def test_a_reseller_writes_ingress_but_not_internal_or_partner_topics(
    secure_broker: SecureBroker,
) -> None:
    reseller_a = secure_broker.auth("reseller-A")
    await _produce(secure_broker, reseller_a, CATALOG.name(Topic.ORDERS), b"an order")
    for topic in (
        CATALOG.name(Topic.INVOICES),
        CATALOG.name(Topic.ORDER_DECISIONS),
        CATALOG.partner("A", PartnerTopic.BILLING),
        CATALOG.partner("B", PartnerTopic.STATUS),
    ):
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(secure_broker, reseller_a, topic, b"forged")


async def test_a_reseller_can_neither_join_nor_list_another_resellers_group(
    secure_broker: SecureBroker,
) -> None:
    reseller_a = secure_broker.auth("reseller-A")
    with pytest.raises(GroupAuthorizationFailedError):
        await _consume_one(
            secure_broker, reseller_a, CATALOG.partner("A", PartnerTopic.BILLING), "reseller-B.app"
        )
    assert "reseller-B.app" not in await _groups(secure_broker, reseller_a)
    assert "reseller-B.app" in await _groups(secure_broker, secure_broker.auth("hub"))


async def test_no_one_gets_in_anonymously_or_with_a_wrong_password(
    secure_broker: SecureBroker,
) -> None:
    topic = CATALOG.partner("A", PartnerTopic.BILLING)
    wrong = KafkaAuth("reseller-A", SecretStr("not-the-password"))
    controller = f"127.0.0.1:{secure_broker.controller_port}"
    for bootstrap, auth in (
        (secure_broker.bootstrap, None),
        (secure_broker.bootstrap, wrong),
        (controller, None),
    ):
        with pytest.raises(KafkaConnectionError):
            await kafka_io.read_all(bootstrap, topic, auth=auth)


async def test_the_hub_principal_may_do_everything(secure_broker: SecureBroker) -> None:
    hub = secure_broker.auth("hub")
    for topic in (CATALOG.partner("B", PartnerTopic.BILLING), CATALOG.name(Topic.INVOICES)):
        assert await kafka_io.read_all(secure_broker.bootstrap, topic, auth=hub)
    await _produce(secure_broker, hub, CATALOG.partner("A", PartnerTopic.STATUS), b"status")
    admin = AIOKafkaAdminClient(bootstrap_servers=secure_broker.bootstrap, **client_kwargs(hub))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{PREFIX}hub.scratch", 1, 1)])
        assert f"{PREFIX}hub.scratch" in await admin.list_topics()
    finally:
        await admin.close()


def test_acl_apply_creates_what_is_missing_then_nothing(
    secure_broker: SecureBroker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": secure_broker.bootstrap,
        "HUB_TOPIC_PREFIX": "cli.",
        "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "HUB_KAFKA_SASL_USERNAME": "hub",
        "HUB_KAFKA_SASL_PASSWORD": PASSWORDS["hub"],
    }.items():
        monkeypatch.setenv(name, value)

    assert main(["acl", "apply", "--reseller", "C"]) == 0
    first = capsys.readouterr()
    derived = acl_bindings(TopicCatalog("cli."), ["C"])
    created = [line.removeprefix("created    ") for line in first.out.splitlines()]
    # Roles' group prefixes do not carry the topic prefix: the fixture already made those.
    assert set(created) <= {str(binding) for binding in derived}
    assert {line for line in created if "User:reseller-C " in line} == {
        str(binding) for binding in derived if binding.principal == "User:reseller-C"
    }
    assert "PREFIXED cli.partner.C." in first.out

    assert main(["acl", "apply", "--reseller", "C"]) == 0
    second = capsys.readouterr()
    assert second.out == ""
    assert ", 0 created," in second.err
    assert PASSWORDS["hub"] not in first.out + first.err + second.out + second.err


def test_no_password_reaches_the_broker_logs(secure_broker: SecureBroker) -> None:
    logs = "".join(
        path.read_text(errors="replace")
        for path in [
            *secure_broker.data_dir.joinpath("logs").glob("*.log"),
            secure_broker.data_dir / "broker.out",
        ]
        if path.is_file()
    )
    own = json.loads((secure_broker.data_dir / "secrets.json").read_text())
    assert logs
    for secret in [*PASSWORDS.values(), *own.values()]:
        assert secret not in logs


async def test_a_hub_worker_joins_the_secure_broker_with_its_settings_credentials(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    from hub.ops.worker_process import WorkerProcess

    app_id = "iso-worker"
    worker = WorkerProcess(
        secure_broker.bootstrap,
        tmp_path,
        topic_prefix=PREFIX,
        app_id=app_id,
        env={
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "HUB_KAFKA_SASL_USERNAME": "hub",
            "HUB_KAFKA_SASL_PASSWORD": PASSWORDS["hub"],
        },
    )
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        deadline = asyncio.get_running_loop().time() + 60
        # The consumer group exists only once faust's consumer authenticated and joined.
        while app_id not in await _groups(secure_broker, secure_broker.auth("hub")):
            assert asyncio.get_running_loop().time() < deadline, worker.log_tail()
            await asyncio.sleep(1)
        assert PASSWORDS["hub"] not in worker.log_tail(1_000_000)
    finally:
        worker.stop()
