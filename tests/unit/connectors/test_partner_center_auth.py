"""Entra ID tokens for Partner Center and Graph: refreshed before they expire, never logged;
the static token stays for the simulator."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from hub.connectors.partner_center import PartnerCenterConfig, PartnerCenterError
from hub.connectors.partner_center.auth import Audience, EntraIdTokens, StaticToken


class FakeApp:
    """Stands for msal's confidential client: counts calls, hands out numbered tokens."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.expires_in = expires_in
        self.refresh_tokens: list[str] = []

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]:
        self.calls.append(("client", tuple(scopes)))
        return {"access_token": f"secret-token-{len(self.calls)}", "expires_in": self.expires_in}

    def acquire_token_by_refresh_token(
        self, refresh_token: str, scopes: list[str]
    ) -> Mapping[str, Any]:
        self.calls.append(("user", tuple(scopes)))
        self.refresh_tokens.append(refresh_token)
        return {
            "access_token": f"secret-token-{len(self.calls)}",
            "expires_in": self.expires_in,
            "refresh_token": f"rotated-{len(self.calls)}",
        }


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_token_is_reused_until_the_margin_before_expiry_then_refreshed() -> None:
    app, clock = FakeApp(expires_in=3600), Clock()
    tokens = EntraIdTokens(lambda: app, refresh_margin_s=300, clock=clock)
    first = await tokens.bearer(Audience.PARTNER_CENTER)
    clock.now += 3299
    assert await tokens.bearer(Audience.PARTNER_CENTER) == first
    clock.now += 1  # 300 s before expiry
    assert await tokens.bearer(Audience.PARTNER_CENTER) != first
    assert len(app.calls) == 2


async def test_each_audience_has_its_own_token() -> None:
    app = FakeApp()
    tokens = EntraIdTokens(lambda: app, clock=Clock())
    await tokens.bearer(Audience.PARTNER_CENTER)
    await tokens.bearer(Audience.GRAPH)
    assert [scopes for _, scopes in app.calls] == [
        ("https://api.partnercenter.microsoft.com/.default",),
        ("https://graph.microsoft.com/.default",),
    ]


async def test_app_and_user_tokens_come_from_the_refresh_token_which_msal_rotates() -> None:
    app, clock = FakeApp(expires_in=60), Clock()
    tokens = EntraIdTokens(lambda: app, refresh_token=SecretStr("user-refresh"), clock=clock)
    await tokens.bearer(Audience.PARTNER_CENTER)
    clock.now += 3600
    await tokens.bearer(Audience.PARTNER_CENTER)
    assert app.refresh_tokens == ["user-refresh", "rotated-1"]


async def test_tokens_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = EntraIdTokens(FakeApp, clock=Clock())
    token = await tokens.bearer(Audience.GRAPH)
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records
    assert token not in text


async def test_a_refused_token_is_an_error_without_the_secret() -> None:
    class Refusing(FakeApp):
        def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, Any]:
            return {"error": "invalid_client", "error_description": "AADSTS7000215"}

    with pytest.raises(PartnerCenterError, match="invalid_client") as caught:
        await EntraIdTokens(Refusing, clock=Clock()).bearer(Audience.PARTNER_CENTER)
    assert caught.value.retriable is False


async def test_static_token_is_kept_for_the_simulator() -> None:
    config = PartnerCenterConfig(base_url="http://sim", token=SecretStr("sim-token"))
    provider = config.token_provider()
    assert isinstance(provider, StaticToken)
    assert await provider.bearer(Audience.GRAPH) == "sim-token"


def test_entra_modes_need_their_credentials() -> None:
    with pytest.raises(ValueError, match="tenant_id"):
        PartnerCenterConfig(base_url="https://api.partnercenter.microsoft.com", auth="entra_app")
    with pytest.raises(ValueError, match="refresh_token"):
        PartnerCenterConfig(
            base_url="https://api.partnercenter.microsoft.com",
            auth="entra_app_user",
            tenant_id="t",
            client_id="c",
            client_secret=SecretStr("s"),
        )
    app_only = PartnerCenterConfig(
        base_url="https://api.partnercenter.microsoft.com",
        auth="entra_app",
        tenant_id="contoso.onmicrosoft.com",
        client_id="00000000-0000-0000-0000-000000000001",
        client_secret=SecretStr("s3cret"),
    )
    assert isinstance(app_only.token_provider(), EntraIdTokens)
    assert "s3cret" not in repr(app_only)


async def test_the_client_sends_a_fresh_token_on_every_call(make_client: Any, admin: Any) -> None:
    seen: list[str] = []

    class Recording:
        async def bearer(self, audience: Audience) -> str:
            seen.append(audience.value)
            return "sim-token"

    pc = make_client()
    pc._transport._tokens = Recording()
    async with pc:
        await pc.list_invoices(correlation_id="c")
        await pc.list_invoices(correlation_id="c")
    assert seen == [Audience.PARTNER_CENTER.value] * 2
