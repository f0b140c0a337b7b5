"""How to reach Partner Center (or the simulator): URL, bearer token, timeout, retry budget."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from hub.connectors.partner_center.backoff import RetryPolicy
from hub.settings import Settings


class PartnerCenterConfig(BaseModel):
    """The token is a ``SecretStr``: it prints as stars and is only unwrapped into the header."""

    model_config = ConfigDict(frozen=True)

    base_url: str = Field(min_length=1)
    token: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_s: float = Field(default=0.2, ge=0)
    backoff_cap_s: float = Field(default=20.0, ge=0)
    max_inline_wait_s: float = Field(default=60.0, ge=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> PartnerCenterConfig:
        return cls(
            base_url=settings.partner_center_url,
            token=settings.partner_center_token,
            timeout_s=settings.partner_center_timeout_s,
            max_attempts=settings.partner_center_max_attempts,
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            max_inline_wait_s=self.max_inline_wait_s,
        )
