"""Who a Kafka client authenticates as: SASL credentials for aiokafka and faust, or none.

``None`` everywhere means the historical PLAINTEXT, anonymous connection, so callers that never
heard of security keep working unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from hub.settings import Settings

SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaAuth:
    """A SASL identity. The password stays a ``SecretStr`` until handed to the client."""

    username: str
    password: SecretStr
    mechanism: str = SCRAM_SHA_512
    security_protocol: str = "SASL_PLAINTEXT"

    @property
    def principal(self) -> str:
        """The principal the broker's authorizer sees (``User:<name>``)."""
        return f"User:{self.username}"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``/``Consumer``/``AdminClient``."""
        return {
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password.get_secret_value(),
        }


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
    )
