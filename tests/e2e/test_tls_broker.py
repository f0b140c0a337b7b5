"""SASL_SSL end to end: the local broker with TLS and SCRAM, a `hub` command and a worker.

The broker's certificate is signed by a CA made in its data directory; the command and the worker
trust that CA through ``HUB_KAFKA_SSL_CAFILE`` alone, and a client that does not trust it cannot
connect at all.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.connectors.kafka_auth import KafkaAuth, KafkaTls
from hub.connectors.kafka_io import read_all
from hub.errors import ConfigError
from hub.ops import local_kafka
from hub.ops.local_kafka import BrokerHandle
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.topics import Topic, TopicCatalog
from tests.support.e2e import events_in, wait_until
from tests.support.hub_cli import explain, hub, user_env

PASSWORD = "hub-tls-pass-0123456789"
SAMPLE = Path(__file__).parents[2] / "ops" / "sample" / "reference.yaml"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    data_dir = tmp_path_factory.mktemp("tls-kafka")
    handle = local_kafka.start_broker(
        data_dir,
        die_with_parent=True,
        secure=True,
        tls=True,
        scram_users={"hub": SecretStr(PASSWORD)},
        super_user="hub",
    )
    try:
        yield handle
    finally:
        local_kafka.stop_broker(data_dir)


def _tls_settings(handle: BrokerHandle) -> dict[str, str]:
    assert handle.ca_file is not None
    return {
        "kafka_bootstrap_servers": handle.bootstrap,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "hub",
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": handle.ca_file,
    }


def test_the_broker_listens_with_tls_only_for_clients_trusting_its_ca(
    tls_broker: BrokerHandle,
) -> None:
    assert tls_broker.security_protocol == "SASL_SSL"
    assert tls_broker.ca_file is not None
    trusting = KafkaTls(cafile=Path(tls_broker.ca_file))
    auth = KafkaAuth("hub", SecretStr(PASSWORD), security_protocol="SASL_SSL", tls=trusting)
    assert local_kafka.live_brokers(tls_broker.bootstrap, auth) == {1}
    stranger = KafkaAuth("hub", SecretStr(PASSWORD), security_protocol="SASL_SSL", tls=KafkaTls())
    assert local_kafka.live_brokers(tls_broker.bootstrap, stranger) is None


def test_a_command_and_a_worker_run_over_sasl_ssl(tls_broker: BrokerHandle, tmp_path: Path) -> None:
    prefix = f"t.tls.{uuid.uuid4().hex[:8]}."
    settings = _tls_settings(tls_broker) | {"topic_prefix": prefix}
    env = user_env(tmp_path, **settings)

    loaded = hub("reference", "load", str(SAMPLE), env=env)
    assert loaded.returncode == 0, explain(loaded)
    assert "published" in loaded.stderr

    assert tls_broker.ca_file is not None
    auth = KafkaAuth(
        "hub",
        SecretStr(PASSWORD),
        security_protocol="SASL_SSL",
        tls=KafkaTls(cafile=Path(tls_broker.ca_file)),
    )
    resellers = TopicCatalog(prefix).name(Topic.RESELLERS)
    records = asyncio.run(read_all(tls_broker.bootstrap, resellers, auth=auth))
    upserts = [Codec().decode(r.value) for r in records]
    assert upserts
    assert {type(e).__name__ for e in upserts} == {"ResellerUpserted"}

    worker = WorkerProcess(
        tls_broker.bootstrap,
        tmp_path / "worker",
        topic_prefix=prefix,
        app_id=f"tls-{uuid.uuid4().hex[:8]}",
        env={f"HUB_{k.upper()}": v for k, v in settings.items()},
    )
    worker.start()
    try:
        worker.wait_ready()  # in its group over SASL_SSL, reference data read
        wait_until(
            "reseller upserts consumed",
            lambda: events_in(worker, "ResellerUpserted") >= len(upserts),
            worker,
        )
    finally:
        assert worker.stop() == 0, worker.log_tail()


def test_a_second_start_finds_the_tls_broker_and_refuses_to_pass_it_off_as_plain_sasl(
    tls_broker: BrokerHandle,
) -> None:
    data_dir = Path(tls_broker.data_dir)
    users = {"hub": SecretStr(PASSWORD)}
    again = local_kafka.start_broker(data_dir, secure=True, tls=True, scram_users=users)
    assert again == tls_broker
    with pytest.raises(ConfigError, match="was started with --tls; stop it first"):
        local_kafka.start_broker(data_dir, secure=True, scram_users=users)
