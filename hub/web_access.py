"""Who may read the worker's web pages: the address it listens on and the token its pages ask.

Order pages show a reseller's credit limit, exposure and order lines, and faust's own pages
(``/router/``, ``/table/``) read the tables, so with ``HUB_WORKER_WEB_TOKEN`` set every page asks
for ``Authorization: Bearer <token>`` except ``/metrics``, ``/livez`` and ``/readyz``, which
Prometheus and probes read without credentials. A worker listening beyond the loopback
(``HUB_WORKER_WEB_HOST``) refuses to start without a token: its pages would be anyone's on
the network.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.errors import ConfigError
from hub.settings import Settings

# Readable without a token: what Prometheus, load balancers and probes ask.
OPEN_PATHS = frozenset({"/metrics", "/livez", "/readyz"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True if ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name (or "" for every interface): reachable from the network


def web_bind(settings: Settings) -> str:
    """The address the web server listens on: ``HUB_WORKER_WEB_HOST``, only if it is the
    loopback or a token guards the pages."""
    host = settings.worker_web_host
    if not is_loopback(host) and settings.worker_web_token is None:
        raise ConfigError(
            f"HUB_WORKER_WEB_HOST={host} serves order pages beyond this machine: set "
            "HUB_WORKER_WEB_TOKEN (a long random secret) or listen on 127.0.0.1"
        )
    return host


def bearer_headers(settings: Settings) -> dict[str, str]:
    """The header a request to a worker's pages carries (none when no token is set)."""
    token = settings.worker_web_token
    return {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}


def authorized(header: str | None, token: str) -> bool:
    """True if an ``Authorization`` header carries ``token`` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def token_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[Any]]:
    """An aiohttp middleware answering 401 to a request for a guarded page without ``token``."""

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.rstrip("/") in OPEN_PATHS or authorized(
            request.headers.get("Authorization"), token
        ):
            return await handler(request)
        return web.json_response(
            {"error": "this page needs Authorization: Bearer <HUB_WORKER_WEB_TOKEN>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="hub-worker"'},
        )

    return require_token


def web_application_options(settings: Settings) -> dict[str, Any]:
    """faust's ``web_application_options``: the token check, when a token is set."""
    token = settings.worker_web_token
    if token is None:
        return {}
    return {"middlewares": [token_middleware(token.get_secret_value())]}
