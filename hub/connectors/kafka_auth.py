"""Who a Kafka client authenticates as: SASL credentials (over TLS or not) for aiokafka and
faust, or none.

``None`` everywhere means the historical PLAINTEXT, anonymous connection, so callers that never
heard of security keep working unchanged.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.errors import ConfigError
from hub.settings import Settings

SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaTls:
    """TLS towards the brokers: the CA bundle to trust (None: the system's) and, for mutual
    TLS, a client certificate and its key (PEM files)."""

    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    key_password: SecretStr | None = None

    def context(self) -> ssl.SSLContext:
        """A client context verifying the broker's certificate and host name."""
        # Imported here: every `hub` command imports this module, few need TLS.
        from aiokafka.helpers import create_ssl_context

        for name, path in (("CA", self.cafile), ("certificate", self.certfile)):
            if path is not None and not path.is_file():
                raise ConfigError(f"the Kafka TLS {name} file {path} does not exist")
        try:
            context: ssl.SSLContext = create_ssl_context(
                cafile=self.cafile,
                certfile=self.certfile,
                keyfile=self.keyfile,
                password=(
                    self.key_password.get_secret_value() if self.key_password is not None else None
                ),
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"cannot load the Kafka TLS files: {exc}") from exc
        return context


@dataclass(frozen=True)
class KafkaAuth:
    """A SASL identity. The password stays a ``SecretStr`` until handed to the client."""

    username: str
    password: SecretStr
    mechanism: str = SCRAM_SHA_512
    security_protocol: str = "SASL_PLAINTEXT"
    # Set with SASL_SSL: how the connection is encrypted and the broker verified.
    tls: KafkaTls | None = None

    @property
    def principal(self) -> str:
        """The principal the broker's authorizer sees (``User:<name>``)."""
        return f"User:{self.username}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``/``Consumer``/``AdminClient``."""
        kwargs: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value(),
        }
        if self.security_protocol == "SASL_SSL":
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of a SASL_SSL identity (faust takes it too), else None."""
        if self.security_protocol != "SASL_SSL":
            return None
        return (self.tls or KafkaTls()).context()


def client_kwargs(auth: KafkaAuth | None) -> dict[str, Any]:
    """``auth.client_kwargs()``, or nothing at all for the anonymous PLAINTEXT default."""
    return {} if auth is None else auth.client_kwargs()


def auth_from_settings(settings: Settings) -> KafkaAuth | None:
    """The identity the settings configure, or None when they say PLAINTEXT."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    # Settings validation guarantees both when the protocol is SASL.
    assert settings.kafka_sasl_username is not None
    assert settings.kafka_sasl_password is not None
    return KafkaAuth(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password,
        mechanism=settings.kafka_sasl_mechanism,
        security_protocol=settings.kafka_security_protocol,
        tls=(
            KafkaTls(
                cafile=settings.kafka_ssl_cafile,
                certfile=settings.kafka_ssl_certfile,
                keyfile=settings.kafka_ssl_keyfile,
                key_password=settings.kafka_ssl_key_password,
            )
            if settings.kafka_security_protocol == "SASL_SSL"
            else None
        ),
    )
