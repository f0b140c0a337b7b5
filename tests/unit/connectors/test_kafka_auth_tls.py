"""SASL_SSL settings become the TLS context every aiokafka client and faust are given."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from hub.connectors.kafka_auth import KafkaTls, auth_from_settings, client_kwargs
from hub.errors import ConfigError
from hub.ops.local_tls import ensure_broker_tls
from hub.settings import load_settings


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_broker_tls(tmp_path_factory.mktemp("broker")).ca_file


def _sasl(**overrides: object) -> dict[str, object]:
    return {"kafka_sasl_username": "hub", "kafka_sasl_password": "pw-123456", **overrides}


def test_sasl_ssl_settings_give_clients_a_verifying_context_trusting_the_ca(ca_file: Path) -> None:
    settings = load_settings(
        **_sasl(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=str(ca_file))
    )
    kwargs = client_kwargs(auth_from_settings(settings))
    assert kwargs["security_protocol"] == "SASL_SSL"
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "hub local Kafka CA"),),)
    ]


def test_sasl_plaintext_and_plaintext_carry_no_tls() -> None:
    assert "ssl_context" not in client_kwargs(auth_from_settings(load_settings(
        **_sasl(kafka_security_protocol="SASL_PLAINTEXT")
    )))  # fmt: skip
    assert client_kwargs(auth_from_settings(load_settings())) == {}


def test_a_missing_ca_file_is_one_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"CA file .*nope\.pem does not exist"):
        KafkaTls(cafile=tmp_path / "nope.pem").context()


def test_a_ca_file_that_is_not_a_certificate_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="cannot load the Kafka TLS files"):
        KafkaTls(cafile=bad).context()


def test_sasl_ssl_without_credentials_and_a_key_without_a_certificate_are_refused() -> None:
    with pytest.raises(ValueError, match="SASL_SSL needs HUB_KAFKA_SASL_USERNAME"):
        load_settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValueError, match="HUB_KAFKA_SSL_KEYFILE needs HUB_KAFKA_SSL_CERTFILE"):
        load_settings(kafka_ssl_keyfile="/tmp/key.pem")


def test_the_password_never_shows_in_the_identity(ca_file: Path) -> None:
    auth = auth_from_settings(
        load_settings(**_sasl(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=str(ca_file)))
    )
    assert "pw-123456" not in repr(auth)
