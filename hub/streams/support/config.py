"""Support flow settings (env prefix ``HUB_SUPPORT_``): SLA targets, timer intervals, correlation.

Tests shrink the SLA targets to seconds with ``HUB_SUPPORT_SLA_TARGETS_S`` so a breach happens
while they watch; production keeps the domain defaults (2h/4h/8h first response).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain.enums import Severity
from hub.domain.support.escalation import SupportTopicMapping
from hub.domain.support.incidents import CorrelationConfig
from hub.domain.support.rota import DeskConfig, default_desk_config
from hub.domain.support.sla import SlaPolicy, SlaTarget, default_sla_policy


class SupportConfig(BaseSettings):
    """Read once by the worker; every field has a production default."""

    model_config = SettingsConfigDict(env_prefix="HUB_SUPPORT_", frozen=True, extra="ignore")

    # {"critical": [first_response_s, resolution_s], ...}; empty means the domain defaults.
    sla_targets_s: dict[Severity, tuple[int, int]] = Field(default_factory=dict)
    sla_warn_percent: int = Field(default=80, ge=1, le=99)
    # How often the SLA timers are evaluated and Microsoft's service requests polled.
    sla_tick_s: float = Field(default=15.0, gt=0)
    poll_s: float = Field(default=60.0, gt=0)
    incident_window_s: int = Field(default=600, ge=1)
    incident_threshold: int = Field(default=5, ge=1)
    support_topic_id: str = Field(default="32444671", min_length=1)

    def sla_policy(self) -> SlaPolicy:
        if not self.sla_targets_s:
            return default_sla_policy()
        return SlaPolicy(
            targets={
                severity: SlaTarget(
                    first_response=timedelta(seconds=first), resolution=timedelta(seconds=full)
                )
                for severity, (first, full) in self.sla_targets_s.items()
            },
            warn_at_percent=self.sla_warn_percent,
        )

    def desk(self) -> DeskConfig:
        return default_desk_config()

    def correlation(self) -> CorrelationConfig:
        return CorrelationConfig(
            window=timedelta(seconds=self.incident_window_s), threshold=self.incident_threshold
        )

    def topic_mapping(self) -> SupportTopicMapping:
        return SupportTopicMapping(default_topic_id=self.support_topic_id)
