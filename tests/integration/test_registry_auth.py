"""Registry basic and bearer auth, against a server that demands it.

Apicurio's own authentication needs an OpenID Connect server (Keycloak), so the real registry
sits behind a small aiohttp gateway that refuses any request without the expected
``Authorization`` header and forwards the rest: the client's credentials must get through it
for schemas to be registered and ids looked up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from hub.app import build_codec
from hub.connectors.schema_registry import (
    RegistryAuth,
    SchemaRegistryClient,
    register_contracts,
)
from hub.errors import ExternalServiceError
from hub.settings import load_settings
from tests.support.samples import sample

BASIC = RegistryAuth("hub", SecretStr("registry-pass-42"))
BEARER = RegistryAuth(token=SecretStr("token-4711"))


@dataclass
class Gateway:
    url: str
    expected: str = ""
    refused: list[str | None] = field(default_factory=list)


@pytest.fixture(scope="module")
def gateway(schema_registry: str) -> Iterator[Gateway]:
    upstream = schema_registry.rstrip("/")
    gate = Gateway(url="")
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def forward(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization")
        if given != gate.expected:
            gate.refused.append(given)
            return web.json_response({"error_code": 401, "message": "Unauthorized"}, status=401)
        tail = request.match_info["tail"]
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method,
                f"{upstream}/{tail}",
                data=await request.read(),
                headers={"Content-Type": request.headers.get("Content-Type", "application/json")},
            ) as answer,
        ):
            body = await answer.read()
            return web.Response(body=body, status=answer.status, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/ccompat/{tail:.*}", forward)
    runner = web.AppRunner(app)

    async def serve() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        gate.url = f"http://127.0.0.1:{port}/ccompat"
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert started.wait(10)
    try:
        yield gate
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.parametrize("auth", [BASIC, BEARER], ids=["basic", "bearer"])
def test_the_clients_credentials_get_through_a_registry_that_requires_them(
    gateway: Gateway, auth: RegistryAuth
) -> None:
    gateway.expected = auth.header()
    gateway.refused.clear()
    with pytest.raises(ExternalServiceError, match="refused the credentials") as caught:
        SchemaRegistryClient(gateway.url).latest("hub.events.InvoiceIssued")
    assert caught.value.status == 401
    assert gateway.refused == [None]

    client = SchemaRegistryClient(gateway.url, auth=auth)
    ids = register_contracts(client)
    assert client.compatibility("hub.events.InvoiceIssued") == "FULL_TRANSITIVE"
    assert client.latest("hub.events.InvoiceIssued").schema_id == ids["hub.events.InvoiceIssued"]
    assert gateway.refused == [None]


def test_a_worker_codec_reaches_the_registry_with_settings_credentials(gateway: Gateway) -> None:
    gateway.expected = BASIC.header()
    register_contracts(SchemaRegistryClient(gateway.url, auth=BASIC))
    settings = load_settings(
        schema_registry_url=gateway.url,
        schema_registry_username="hub",
        schema_registry_password="registry-pass-42",
    )
    codec = build_codec(settings)  # every id looked up through the gateway
    event = sample("InvoiceIssued")
    assert codec.decode(codec.encode(event)) == event
