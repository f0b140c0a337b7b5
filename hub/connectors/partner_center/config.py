"""How to reach Partner Center (or the simulator): URLs, credentials, timeout, retry budget."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from hub.connectors.partner_center.auth import (
    EntraIdTokens,
    StaticToken,
    TokenProvider,
    msal_app,
)
from hub.connectors.partner_center.backoff import RetryPolicy
from hub.settings import Settings

AuthMode = Literal["static", "entra_app", "entra_app_user"]


class PartnerCenterConfig(BaseModel):
    """Secrets are ``SecretStr``: they print as stars and are only unwrapped into a header.

    ``auth`` is ``static`` (``token``, as the simulator takes it), ``entra_app`` (app-only
    Entra ID tokens) or ``entra_app_user`` (app + user, from ``refresh_token``). ``graph_url``
    is Microsoft Graph's host (the billed reconciliation export); the simulator serves both.
    """

    model_config = ConfigDict(frozen=True)

    base_url: str = Field(min_length=1)
    token: SecretStr = SecretStr("")
    auth: AuthMode = "static"
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    graph_url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_s: float = Field(default=0.2, ge=0)
    backoff_cap_s: float = Field(default=20.0, ge=0)
    max_inline_wait_s: float = Field(default=60.0, ge=0)
    export_poll_s: float = Field(default=5.0, ge=0)
    export_max_polls: int = Field(default=720, ge=1)

    @model_validator(mode="after")
    def _credentials(self) -> PartnerCenterConfig:
        if self.auth == "static" and not self.token.get_secret_value():
            raise ValueError("static auth needs a token")
        if self.auth != "static" and not (self.tenant_id and self.client_id and self.client_secret):
            raise ValueError(f"{self.auth} needs tenant_id, client_id and client_secret")
        if self.auth == "entra_app_user" and self.refresh_token is None:
            raise ValueError("entra_app_user needs the user's refresh_token")
        return self

    @classmethod
    def from_settings(cls, settings: Settings) -> PartnerCenterConfig:
        return cls(
            base_url=settings.partner_center_url,
            token=settings.partner_center_token,
            auth=settings.partner_center_auth,
            tenant_id=settings.partner_center_tenant_id,
            client_id=settings.partner_center_client_id,
            client_secret=settings.partner_center_client_secret,
            refresh_token=settings.partner_center_refresh_token,
            graph_url=settings.partner_center_graph_url,
            timeout_s=settings.partner_center_timeout_s,
            max_attempts=settings.partner_center_max_attempts,
        )

    @property
    def graph_base(self) -> str:
        return (self.graph_url or self.base_url).rstrip("/")

    def token_provider(self) -> TokenProvider:
        if self.auth == "static":
            return StaticToken(self.token)
        tenant, client, secret = self.tenant_id, self.client_id, self.client_secret
        if not (tenant and client and secret):
            raise ValueError(f"{self.auth} needs tenant_id, client_id and client_secret")
        refresh = self.refresh_token if self.auth == "entra_app_user" else None
        return EntraIdTokens(lambda: msal_app(tenant, client, secret), refresh_token=refresh)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            backoff_base_s=self.backoff_base_s,
            backoff_cap_s=self.backoff_cap_s,
            max_inline_wait_s=self.max_inline_wait_s,
        )
