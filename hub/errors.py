"""The hub's error taxonomy.

Callers branch on the ``retriable`` class flag, never on lists of types: a retriable error is
tried again with backoff, anything else is dead-lettered with its reason.
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    retriable: bool = False


class ConfigError(HubError):
    """Settings or local tooling are not usable as given (bad path, taken port, missing tool)."""


class BrokerUnreachable(ConfigError):
    """No Kafka broker answers at the configured bootstrap."""

    retriable = True

    def __init__(self, bootstrap: str, detail: str = "") -> None:
        self.bootstrap = bootstrap
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"no Kafka broker answers at {bootstrap}{why}: start one with `hub kafka start` "
            "(it listens on 127.0.0.1:19092), or set HUB_KAFKA_BOOTSTRAP_SERVERS to a running one"
        )


class ValidationFailed(HubError):
    """An input breaks a rule. The message names the field, the value and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}={value!r}: {rule}")


class SchemaError(HubError):
    """Bytes could not be decoded to, or a model encoded as, a known contract."""


class BusinessRuleViolation(HubError):
    """A well-formed request that the rules refuse (7-day window passed, over credit, ...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


class RetriableError(HubError):
    """A transient failure (timeout, 429, 5xx, broker unavailable): try again later."""

    retriable = True


class ExternalServiceError(HubError):
    """A call to an external system failed. ``retriable`` is set per instance from the cause."""

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retriable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.service = service
        self.status = status
        self.code = code
        self.retriable = retriable
        self.retry_after = retry_after
        detail = f" status={status}" if status is not None else ""
        detail += f" code={code}" if code else ""
        super().__init__(f"{service}:{detail} {message}")
