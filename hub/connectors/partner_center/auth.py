"""Bearer tokens for Partner Center and Microsoft Graph: a static one, or Entra ID's via msal.

Real Partner Center takes Entra ID access tokens that expire (about an hour): app-only where
Microsoft allows it, app + user for most writes ("Partner Center authentication"). The Graph
billing export wants its own audience (``PartnerBilling.Read.All``). A token is refreshed a
margin before it expires, one refresh per audience at a time, and never written to a log:
logs name the audience and the expiry only. The static token is for the simulator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import SecretStr

from hub.connectors.partner_center.errors import PartnerCenterError

log = logging.getLogger(__name__)


class Audience(StrEnum):
    """The scope a token is asked for."""

    PARTNER_CENTER = "https://api.partnercenter.microsoft.com/.default"
    GRAPH = "https://graph.microsoft.com/.default"


class TokenProvider(Protocol):
    async def bearer(self, audience: Audience) -> str: ...


@dataclass(frozen=True)
class StaticToken:
    """One token for every audience (the simulator's)."""

    token: SecretStr

    async def bearer(self, audience: Audience) -> str:
        return self.token.get_secret_value()


class MsalApp(Protocol):
    """What the provider uses of ``msal.ConfidentialClientApplication``."""

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]: ...

    def acquire_token_by_refresh_token(
        self, refresh_token: str, scopes: list[str]
    ) -> Mapping[str, Any]: ...


def msal_app(tenant_id: str, client_id: str, client_secret: SecretStr) -> MsalApp:
    """A confidential client of the partner's Entra ID tenant."""
    import msal  # type: ignore[import-untyped]  # msal ships no type information

    app: MsalApp = msal.ConfidentialClientApplication(
        client_id,
        client_credential=client_secret.get_secret_value(),
        authority=f"https://login.microsoftonline.com/{tenant_id}",
    )
    return app


@dataclass
class _Held:
    token: SecretStr
    expires_at: float


class EntraIdTokens:
    """Access tokens from Entra ID, kept per audience and refreshed ``refresh_margin_s`` before
    they expire.

    App-only (client credentials) when no ``refresh_token`` is given; app + user otherwise
    (the user's refresh token, as Partner Center's app + user flow issues it; msal rotates it).
    msal's calls block on HTTP (building the app too: it discovers the tenant's endpoints), so
    ``app`` is a factory called once, on the first token, and every call runs in a worker thread.
    """

    def __init__(
        self,
        app: Callable[[], MsalApp],
        *,
        refresh_token: SecretStr | None = None,
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._make_app = app
        self._app: MsalApp | None = None
        self._refresh_token = refresh_token
        self._margin = refresh_margin_s
        self._clock = clock
        self._held: dict[Audience, _Held] = {}
        self._locks: dict[Audience, asyncio.Lock] = {}

    async def bearer(self, audience: Audience) -> str:
        held = self._held.get(audience)
        if held is not None and self._clock() < held.expires_at - self._margin:
            return held.token.get_secret_value()
        lock = self._locks.setdefault(audience, asyncio.Lock())
        async with lock:
            held = self._held.get(audience)
            if held is None or self._clock() >= held.expires_at - self._margin:
                held = await asyncio.to_thread(self._acquire, audience)
                self._held[audience] = held
                log.info(
                    "entra id token acquired",
                    extra={
                        "audience": audience.value,
                        "expires_in_s": int(held.expires_at - self._clock()),
                    },
                )
            return held.token.get_secret_value()

    def _acquire(self, audience: Audience) -> _Held:
        if self._app is None:
            self._app = self._make_app()
        scopes = [audience.value]
        if self._refresh_token is None:
            result = self._app.acquire_token_for_client(scopes=scopes)
        else:
            result = self._app.acquire_token_by_refresh_token(
                self._refresh_token.get_secret_value(), scopes=scopes
            )
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            # msal's error fields describe the failure without the secret.
            reason = result.get("error") or "no access token"
            raise PartnerCenterError(
                f"Entra ID refused a token for {audience.value}: {reason}",
                operation="authenticate",
                retriable=reason in {"temporarily_unavailable", "server_error"},
            )
        rotated = result.get("refresh_token")
        if self._refresh_token is not None and isinstance(rotated, str) and rotated:
            self._refresh_token = SecretStr(rotated)
        expires_in = float(result.get("expires_in") or 0)
        return _Held(token=SecretStr(token), expires_at=self._clock() + expires_in)
