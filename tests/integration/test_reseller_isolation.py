"""Per-reseller isolation on a real broker run with SASL/SCRAM and ACLs from the catalogue.

The module starts its own secure broker (the session broker stays PLAINTEXT): the hub, reseller
A and reseller B authenticate with their own SCRAM users; ACLs come from ``acl_bindings``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.ingress import IngressRejected, PaymentAdviceRecorded, PaymentConfirmed
from hub.schemas.events.orders import OrderAccepted, OrderHeld
from hub.streams.ingress import WRITER_HEADER
from hub.topics import INGRESS, PartnerTopic, Topic, TopicCatalog
from tests.support import ingress_world as world
from tests.support.e2e import counter_total

PREFIX = "iso."
CODEC = Codec()
CATALOG = TopicCatalog(PREFIX, partitions=3)  # ACLs, not partitions, are under test
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
    try:
        await consumer.start()
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


async def test_a_reseller_writes_its_own_ingress_but_not_internal_or_partner_topics(
    secure_broker: SecureBroker,
) -> None:
    reseller_a = secure_broker.auth("reseller-A")
    for kind in INGRESS:
        await _produce(secure_broker, reseller_a, CATALOG.ingress("A", kind), b"an order")
    for topic in (
        *(CATALOG.name(kind) for kind in INGRESS),  # shared: only the hub's gateway writes
        *(CATALOG.ingress("B", kind) for kind in INGRESS),
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
        created = await admin.create_topics([NewTopic(f"{PREFIX}hub.scratch", 1, 1)])
        assert [code for _topic, code, *_ in created.topic_errors] == [0]
        # The broker's metadata lists a new topic a moment after the create (longer under
        # load): wait for it rather than race it.
        deadline = time.monotonic() + 30
        while f"{PREFIX}hub.scratch" not in await admin.list_topics():
            assert time.monotonic() < deadline, "the created topic was never listed"
            await asyncio.sleep(0.2)
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
            "HUB_KAFKA_PARTITIONS": str(CATALOG.partitions),
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


# -- ingress trust: a reseller can say only what it may say, about itself ----------------------


async def _send_as(
    broker: SecureBroker,
    user: str,
    records: list[tuple[str, str | None, Event, list[tuple[str, bytes]]]],
) -> None:
    """(topic, key, event, headers) written by ``user``, in order."""
    async with kafka_io.producer(broker.bootstrap, auth=broker.auth(user)) as client:
        for topic, key, event, headers in records:
            await (
                await client.send(
                    topic,
                    CODEC.encode(event),
                    key=key.encode() if key else None,
                    headers=headers,
                )
            )


async def _events(broker: SecureBroker, topic: str) -> list[Event]:
    records = await kafka_io.read_all(broker.bootstrap, topic, auth=broker.auth("hub"))
    return [CODEC.decode(r.value) for r in records if r.value]


async def _wait(what: str, check: Any, worker: Any, timeout_s: float = 120) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (found := await check()):
        assert worker.running(), worker.log_tail()
        assert asyncio.get_running_loop().time() < deadline, f"no {what}:\n{worker.log_tail()}"
        await asyncio.sleep(1)
    return found


async def test_a_reseller_can_act_only_for_itself_and_forged_hub_documents_change_nothing(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    from hub.ops.worker_process import WorkerProcess

    catalog = TopicCatalog("trust.")
    hub = secure_broker.auth("hub")
    await apply_topics(secure_broker.bootstrap, catalog.all(["A", "B"]), auth=hub)
    await apply_acls(secure_broker.bootstrap, acl_bindings(catalog, ["A", "B"]), auth=hub)
    await kafka_io.publish(
        secure_broker.bootstrap, CODEC, world.reference(catalog, ("A", "B")), auth=hub
    )
    worker = WorkerProcess(
        secure_broker.bootstrap,
        tmp_path,
        topic_prefix="trust.",
        app_id="trust-worker",
        env={
            "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "HUB_KAFKA_SASL_USERNAME": "hub",
            "HUB_KAFKA_SASL_PASSWORD": PASSWORDS["hub"],
            "HUB_PARTNER_CENTER_URL": "http://127.0.0.1:9",  # nothing needs Microsoft here
        },
    )
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        # The broker: A writes neither the shared ingress topics nor B's own.
        for kind in INGRESS:
            for name in (catalog.name(kind), catalog.ingress("B", kind)):
                with pytest.raises(TopicAuthorizationFailedError):
                    await _produce(secure_broker, secure_broker.auth("reseller-A"), name, b"x")
        # A's own topics: B's order, ticket, change and payment by every key and header, and
        # every hub document A might forge to raise its credit or lift a hold.
        refused: list[tuple[str, str | None, Event, list[tuple[str, bytes]]]] = []
        for kind in INGRESS:
            for key in ("A", "B", None):
                for header in (None, b"A", b"B"):
                    headers = [] if header is None else [(WRITER_HEADER, header)]
                    event = world.of_reseller("B", kind)
                    refused.append((catalog.ingress("A", kind), key, event, headers))
            for name in world.FORGED:
                refused.append((catalog.ingress("A", kind), "A", world.forged(name, "A"), []))
        advice = world.payment("A", 100_000)
        await _send_as(
            secure_broker,
            "reseller-A",
            [*refused, (catalog.ingress("A", Topic.PAYMENTS), "A", advice, [])],
        )
        status_a = catalog.partner("A", PartnerTopic.STATUS)
        expected = {str(event.event_id) for _, _, event, _ in refused}

        async def all_reported() -> Any:
            reports = [
                e for e in await _events(secure_broker, status_a) if isinstance(e, IngressRejected)
            ]
            seen = {str(r.rejected_event_id) for r in reports}
            return reports if expected <= seen else None

        reports = await _wait("a rejection for every refused record", all_reported, worker)
        assert len(reports) == len(expected)
        assert {r.code for r in reports} == {"ResellerIdentityMismatch", "HubDocumentFromReseller"}
        assert all(r.reseller_id == "A" for r in reports)
        for kind in INGRESS:
            letters = await kafka_io.read_all(
                secure_broker.bootstrap, catalog.dead_letter(catalog.name(kind)), auth=hub
            )
            assert len(letters) == sum(1 for t, *_ in refused if t == catalog.ingress("A", kind))
        # Nothing reached B, and no decision, route or document came of a refused record.
        for partner_kind in PartnerTopic:
            assert await _events(secure_broker, catalog.partner("B", partner_kind)) == []
        for topic in (Topic.ORDER_DECISIONS, Topic.SUPPORT_EVENTS, Topic.SUBSCRIPTION_EVENTS):
            assert await _events(secure_broker, catalog.name(topic)) == []

        # The advice is recorded, and frees nothing: the probe order over the limit is held.
        async def advice_recorded() -> Any:
            billing = await _events(secure_broker, catalog.partner("A", PartnerTopic.BILLING))
            return [e for e in billing if isinstance(e, PaymentAdviceRecorded)]

        await _wait("the advice recorded", advice_recorded, worker)
        decisions = catalog.name(Topic.ORDER_DECISIONS)

        async def decision_of(order: Event) -> Any:
            async def found() -> Any:
                for e in await _events(secure_broker, decisions):
                    if getattr(e, "order_id", None) == getattr(order, "order_id", ""):
                        return e
                return None

            return await _wait("a decision on the probe order", found, worker)

        base = world.order("A", world.PROBE_SEATS)
        await _send_as(
            secure_broker, "reseller-A", [(catalog.ingress("A", Topic.ORDERS), "A", base, [])]
        )
        assert isinstance(await decision_of(base), OrderAccepted)
        # Over the limit with the first order's commitment: held, unless a forged credit counted.
        probe = world.order("A", world.PROBE_SEATS)
        await _send_as(
            secure_broker, "reseller-A", [(catalog.ingress("A", Topic.ORDERS), "A", probe, [])]
        )
        assert isinstance(await decision_of(probe), OrderHeld)

        # Finance confirms the payment: now the same order fits.
        await kafka_io.publish(
            secure_broker.bootstrap,
            CODEC,
            [kafka_io.Outgoing(catalog.name(Topic.OPS_COMMANDS), "A", world.confirmation(advice))],
            auth=hub,
        )

        async def confirmed() -> Any:
            collections = await _events(secure_broker, catalog.name(Topic.COLLECTIONS))
            found = [e for e in collections if isinstance(e, PaymentConfirmed)]
            # Taken in by order intake, so the next order comes after it: intake reads the
            # collections and orders topics in one agent, in no order between the two (a CI run
            # under load decided the next order first and held it).
            taken = counter_total(
                worker, "hub_events_in_total", flow="orders", event_type="PaymentConfirmed"
            )
            return found if taken >= 1 else None

        await _wait("the confirmation, taken in by order intake", confirmed, worker)
        again = world.order("A", world.PROBE_SEATS)
        await _send_as(
            secure_broker, "reseller-A", [(catalog.ingress("A", Topic.ORDERS), "A", again, [])]
        )
        assert isinstance(await decision_of(again), OrderAccepted)
    finally:
        worker.stop()
