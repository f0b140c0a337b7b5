"""One HTTP attempt to deliver a signed webhook body."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp

from hub.webhooks import metrics, signing
from hub.webhooks.records import Endpoint


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None
    duration_ms: int


async def send(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    message_id: str,
    payload: str,
    *,
    timeout_s: float,
) -> Attempt:
    """POST ``payload`` to the endpoint, signed with its current secrets; any 2xx is success.

    The timestamp is the attempt's own (receivers refuse stale ones), so the signature changes
    between attempts while ``webhook-id`` and the body do not.
    """
    now = datetime.now(UTC)
    headers = signing.headers(message_id, now, payload, endpoint.secrets(now))
    started = time.monotonic()
    result: str
    try:
        async with session.post(
            endpoint.url,
            data=payload.encode(),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as response:
            await response.read()
            ok = 200 <= response.status < 300
            result = "ok" if ok else "http_error"
            attempt = Attempt(ok, response.status, None if ok else f"HTTP {response.status}", 0)
    except TimeoutError:
        result = "timeout"
        attempt = Attempt(False, None, f"no answer within {timeout_s:g}s", 0)
    except (aiohttp.ClientError, OSError) as exc:
        result = "connection_error"
        attempt = Attempt(False, None, f"{type(exc).__name__}: {exc}"[:500], 0)
    except asyncio.CancelledError:
        raise
    elapsed = time.monotonic() - started
    metrics.ATTEMPTS.labels(result).inc()
    metrics.ATTEMPT_SECONDS.observe(elapsed)
    return Attempt(attempt.ok, attempt.status, attempt.error, int(elapsed * 1000))
