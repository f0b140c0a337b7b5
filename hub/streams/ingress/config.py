"""Ingress plausibility settings (env prefix ``HUB_INGRESS_``): how far from now an ingress event
may be dated, and how large its quantities and amounts may be. Defaults: ``hub.domain.ingress``.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.domain.ingress import Limits

_DEFAULTS = Limits()


class IngressConfig(BaseSettings):
    """Read once by the worker; every field has a production default."""

    model_config = SettingsConfigDict(env_prefix="HUB_INGRESS_", frozen=True, extra="ignore")

    event_time_past_s: int = Field(default=int(_DEFAULTS.event_time_past.total_seconds()), ge=0)
    clock_skew_s: int = Field(default=int(_DEFAULTS.clock_skew.total_seconds()), ge=0)
    request_past_s: int = Field(default=int(_DEFAULTS.request_past.total_seconds()), ge=0)
    payment_past_s: int = Field(default=int(_DEFAULTS.payment_past.total_seconds()), ge=0)
    effective_future_s: int = Field(default=int(_DEFAULTS.effective_future.total_seconds()), ge=0)
    max_quantity: int = Field(default=_DEFAULTS.max_quantity, ge=1)
    max_amount_minor: int = Field(default=_DEFAULTS.max_amount_minor, ge=1, le=2**63 - 1)

    def limits(self) -> Limits:
        return Limits(
            event_time_past=timedelta(seconds=self.event_time_past_s),
            clock_skew=timedelta(seconds=self.clock_skew_s),
            request_past=timedelta(seconds=self.request_past_s),
            payment_past=timedelta(seconds=self.payment_past_s),
            effective_future=timedelta(seconds=self.effective_future_s),
            max_quantity=self.max_quantity,
            max_amount_minor=self.max_amount_minor,
        )
