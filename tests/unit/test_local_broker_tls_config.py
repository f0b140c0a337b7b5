"""The local broker's TLS mode: what its properties say and what it refuses."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.errors import ConfigError
from hub.ops import local_kafka
from hub.ops.local_tls import TlsFiles, ensure_broker_tls


def _values(text: str, key: str) -> list[str]:
    return [
        line.partition("=")[2].strip()
        for line in text.splitlines()
        if not line.startswith("#") and line.partition("=")[0].strip() == key
    ]


def _secure(tls: TlsFiles | None) -> local_kafka._Secure:
    return local_kafka._Secure("hub", {"hub": SecretStr("password-1")}, "bpw", "cpw", tls)


def test_tls_mode_makes_the_client_listener_sasl_ssl_with_the_generated_files(
    tmp_path: Path,
) -> None:
    files = ensure_broker_tls(tmp_path)
    text = local_kafka._render_properties(19092, 19093, tmp_path, _secure(files))
    assert _values(text, "listener.security.protocol.map") == [
        "CONTROLLER:SASL_PLAINTEXT,SASL:SASL_SSL"
    ]
    assert _values(text, "ssl.keystore.location") == [str(files.keystore)]
    assert _values(text, "ssl.truststore.location") == [str(files.ca_file)]
    assert _values(text, "sasl.enabled.mechanisms") == ["SCRAM-SHA-512"]  # SCRAM kept
    assert _secure(files).auth().client_kwargs()["security_protocol"] == "SASL_SSL"
    assert ensure_broker_tls(tmp_path) == files  # made once: a restart keeps the CA clients trust
    assert files.ca_file.read_text() in files.keystore.read_text()  # the chain ends at the CA


def test_secure_mode_without_tls_is_unchanged(tmp_path: Path) -> None:
    text = local_kafka._render_properties(19092, 19093, tmp_path, _secure(None))
    assert _values(text, "listener.security.protocol.map") == [
        "CONTROLLER:SASL_PLAINTEXT,SASL:SASL_PLAINTEXT"
    ]
    assert _values(text, "ssl.keystore.location") == []
    assert "ssl_context" not in _secure(None).auth().client_kwargs()


def test_tls_without_secure_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--tls needs --secure"):
        local_kafka.start_broker(tmp_path, tls=True)


def test_the_tls_option_parses() -> None:
    parser = argparse.ArgumentParser()
    local_kafka.add_tls_option(parser)
    assert parser.parse_args(["--tls"]).tls
    assert not parser.parse_args([]).tls
