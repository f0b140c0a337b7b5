"""Frozen settings of the hub, read once from the environment (prefix ``HUB_``)."""

from __future__ import annotations

import socket
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain.rating import RoundingRule
from hub.domain.reconciliation import ReconciliationPolicy
from hub.topics import DEFAULT_PARTITIONS, TopicCatalog

# The first worker's web port; worker n listens on this + n unless HUB_WORKER_WEB_PORT is set.
DEFAULT_WEB_PORT = 6066


def _default_state_dir() -> Path:
    return Path.home() / ".cache" / "hub"


class Settings(BaseSettings):
    """Everything the composition root needs. Secrets are ``SecretStr`` and never logged."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    app_id: str = "hub"
    # Flow groups: the flows this worker runs ("billing", "orders,credits", ...); empty, every
    # flow. Workers of different flow sets are different consumer groups with tables of their
    # own (``worker_group``), so one group's load never slows another's (hub/app.py).
    flows: str = Field(default="", pattern=r"^[a-z, -]*$")
    # Prepended to every topic name: lets several hubs (or tests) share one broker.
    topic_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # Partitions of every keyed topic and every flow's state table (hub/topics.py): fixed for
    # the life of a hub's topics.
    kafka_partitions: int = Field(default=DEFAULT_PARTITIONS, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # SASL_PLAINTEXT with SCRAM against a broker started `hub kafka start --secure`; SASL_SSL
    # adds TLS (`--secure --tls`), trusting the CA bundle in kafka_ssl_cafile (below).
    kafka_security_protocol: str = Field(
        default="PLAINTEXT", pattern="^(PLAINTEXT|SASL_PLAINTEXT|SASL_SSL)$"
    )
    kafka_sasl_mechanism: str = Field(
        default="SCRAM-SHA-512", pattern="^(PLAIN|SCRAM-SHA-256|SCRAM-SHA-512)$"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # Local state (faust tables, broker data, jar cache) lives under this directory.
    state_dir: Path = Field(default_factory=_default_state_dir)
    # Which of the workers sharing ``state_dir`` this one is (its tables live in
    # ``tables/<app_id>/worker-<n>``): unset, a worker takes the lowest free number
    # (hub/runtime/local_state.py). A StatefulSet's pod ordinal is a natural choice.
    worker_id: int | None = Field(default=None, ge=0, lt=64)
    # The worker's web server: faust's pages, /metrics (Prometheus), /livez and /readyz.
    # Unset, worker n listens on 6066 + n, so workers sharing a host do not clash.
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int | None = Field(default=None, ge=1, le=65535)
    # How other workers reach this one's web server (queries are routed to the worker that owns
    # the key). Unset: http://<worker_web_host>:<port>, or the host's own name when the server
    # listens on every interface (a container's or a StatefulSet pod's name resolves there).
    worker_url: str | None = None
    # The bearer token the worker's order and state pages ask for (``Authorization: Bearer``);
    # /metrics, /livez and /readyz stay open. Required when the web server listens beyond the
    # loopback (the worker refuses to start without it); `hub orders` sends it.
    worker_web_token: SecretStr | None = None
    schema_registry_url: str | None = None
    # Registry auth and Kafka TLS: HTTP basic (username + password) or a bearer token for the
    # schema registry; for SASL_SSL, the CA bundle that signed the brokers' certificates (unset:
    # the system's CAs) and, for mutual TLS, a client certificate and key (PEM).
    schema_registry_username: str | None = None
    schema_registry_password: SecretStr | None = None
    schema_registry_token: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_key_password: SecretStr | None = None

    @model_validator(mode="after")
    def _registry_auth_is_one_kind(self) -> Settings:
        if self.schema_registry_token is not None and self.schema_registry_username:
            raise ValueError(
                "set either HUB_SCHEMA_REGISTRY_TOKEN or HUB_SCHEMA_REGISTRY_USERNAME, not both"
            )
        if bool(self.schema_registry_username) != (self.schema_registry_password is not None):
            raise ValueError(
                "HUB_SCHEMA_REGISTRY_USERNAME and HUB_SCHEMA_REGISTRY_PASSWORD go together"
            )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("HUB_KAFKA_SSL_KEYFILE needs HUB_KAFKA_SSL_CERTFILE")
        return self

    partner_center_url: str = "http://127.0.0.1:18080"
    partner_center_token: SecretStr = SecretStr("local-simulator-token")
    partner_center_timeout_s: float = Field(default=10.0, gt=0)
    partner_center_max_attempts: int = Field(default=5, ge=1)
    # How the hub signs in to Partner Center: "static" (partner_center_token, as the simulator
    # takes it), "entra_app" (app-only Entra ID tokens) or "entra_app_user" (app + user, from
    # the refresh token), and Microsoft Graph's host for the billed reconciliation export.
    partner_center_auth: Literal["static", "entra_app", "entra_app_user"] = "static"
    partner_center_tenant_id: str | None = None
    partner_center_client_id: str | None = None
    partner_center_client_secret: SecretStr | None = None
    partner_center_refresh_token: SecretStr | None = None
    partner_center_graph_url: str | None = None
    # The rounding rule expected of Microsoft's reconciliation lines ("unit_price_first", the
    # documented default, or "line_total") and the tolerance per line in minor units.
    reconciliation_rounding: RoundingRule = RoundingRule.UNIT_PRICE_FIRST
    reconciliation_tolerance_minor: int = Field(default=0, ge=0)
    # The distributor's own Partner Center identity (indirect provider).
    distributor_partner_id: str = "5000000"
    # The distributor as issuer of invoices to resellers (its legal name and home country).
    distributor_name: str = Field(default="Cloud Distributor", min_length=1)
    distributor_country: str = Field(default="DE", pattern=r"^[A-Z]{2}$")
    log_level: str = "INFO"
    # Logs (hub/logging_setup.py): "text" for people, "json" for one JSON object a line; the
    # level is log_level (HUB_LOG_LEVEL), for the worker and the hub command alike.
    log_format: Literal["text", "json"] = "text"
    # A reseller on credit hold with money overdue: its orders are held for review (default),
    # or rejected outright when this is true.
    credit_hold_rejects_orders: bool = False
    # Up to this many messages of a partition share one journal entry (hub/runtime/batching.py),
    # waiting at most batch_wait_ms for more: 1 turns batching off.
    batch_max: int = Field(default=200, ge=1, le=1000)
    batch_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    # How often the worker measures its consumer lag for Prometheus.
    lag_interval_s: float = Field(default=15.0, gt=0)
    # A worker told to stop (SIGTERM, SIGINT) that has not stopped after this long exits anyway,
    # saying why (hub/runtime/shutdown.py): below the 60 s a supervisor gives before SIGKILL.
    shutdown_grace_s: float = Field(default=45.0, gt=0)
    # Webhooks (hub/webhooks): the bridge's consumer group, the pause before each retry in
    # seconds (the last repeats) until retries stop webhook_retry_for_s after the first attempt
    # (3 days), one attempt's timeout, and after how many failed attempts in a row an endpoint
    # is disabled. Tests compress the schedule.
    webhook_group: str = Field(default="hub-webhooks", min_length=1)
    webhook_retry_schedule_s: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0)
    webhook_retry_for_s: float = Field(default=3 * 24 * 3600.0, gt=0)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_disable_after: int = Field(default=20, ge=1)
    webhook_concurrency: int = Field(default=32, ge=1, le=1000)
    # Relationships (hub/streams/relationships): how often each partition's GDAP sweep looks at
    # its next page of relationships at Partner Center (status, roles, expiry notices).
    relationships_sweep_s: float = Field(default=60.0, gt=0)
    relationships_sweep_page: int = Field(default=50, ge=1, le=1000)
    # Azure plan consumption (hub/streams/consumption): the distributor's documented exchange
    # rates from Microsoft's billing currency into a reseller's currency when it is neither
    # Microsoft's billing nor pricing currency ("EUR/GBP=0.86,USD/SEK=10.4"), and the anomaly
    # rule: a customer's day of spend above this many times its trailing 14-day median.
    consumption_fx_rates: str = ""
    consumption_anomaly_factor: Decimal = Field(default=Decimal(3), gt=1)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol != "PLAINTEXT" and (
            not self.kafka_sasl_username or self.kafka_sasl_password is None
        ):
            raise ValueError(
                f"HUB_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "HUB_KAFKA_SASL_USERNAME "
                "and HUB_KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def broker_urls(self) -> list[str]:
        """``kafka_bootstrap_servers`` ("h1:p1,h2:p2") as faust broker URLs."""
        hosts = [h.strip() for h in self.kafka_bootstrap_servers.split(",") if h.strip()]
        return [f"kafka://{host}" for host in hosts]

    @property
    def reconciliation_policy(self) -> ReconciliationPolicy:
        return ReconciliationPolicy(
            rounding=self.reconciliation_rounding,
            tolerance_minor=self.reconciliation_tolerance_minor,
        )

    @property
    def catalog(self) -> TopicCatalog:
        """The topic catalogue under this hub's prefix and partition count."""
        return TopicCatalog(self.topic_prefix, self.kafka_partitions)

    @property
    def flow_names(self) -> tuple[str, ...]:
        """``flows`` as names, in the order given, without repeats; empty means every flow."""
        names = (name.strip() for name in self.flows.split(","))
        return tuple(dict.fromkeys(name for name in names if name))

    @property
    def worker_group(self) -> str:
        """The faust app id (consumer group, changelog topic names, table directory) of this
        worker's flow group: ``app_id`` when it runs every flow, else ``app_id.<flows>`` with the
        flows sorted, so every worker of one flow set joins the same group whatever the order
        its setting names them in."""
        if not self.flow_names:
            return self.app_id
        return f"{self.app_id}.{'-'.join(sorted(self.flow_names))}"

    @property
    def app_table_dir(self) -> Path:
        """Where the workers of this hub's flow group that share ``state_dir`` keep their tables."""
        return self.state_dir / "tables" / self.worker_group

    @property
    def table_dir(self) -> Path:
        """This worker's own tables."""
        return self.app_table_dir / f"worker-{self.worker_id or 0}"

    @property
    def canonical_url(self) -> str:
        """The URL other workers reach this worker's web server at."""
        if self.worker_url:
            return self.worker_url
        host = self.worker_web_host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn()
        return f"http://{host}:{self.web_port}"

    @property
    def web_port(self) -> int:
        """The worker's web port: as set, else ``DEFAULT_WEB_PORT`` + its worker id."""
        if self.worker_web_port is not None:
            return self.worker_web_port
        return DEFAULT_WEB_PORT + (self.worker_id or 0)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides winning (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
