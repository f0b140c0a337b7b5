"""One Partner Center HTTP exchange with headers, timeout, retries and metrics.

Every call carries ``MS-RequestId`` (the same on every retry of one call, as Microsoft asks, and
derived from the idempotency key when there is one, so a re-run after a crash repeats it too)
and the caller's ``MS-CorrelationId``. Mutating calls with a key also send ``X-Idempotency-Key``,
which the simulator persists and lets us look orders up by.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDict
from prometheus_client import CollectorRegistry

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.auth import Audience, TokenProvider
from hub.connectors.partner_center.backoff import backoff_delay
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.connectors.partner_center.errors import (
    PartnerCenterError,
    error_from_response,
    is_retriable_status,
    parse_error_body,
    parse_retry_after,
)
from hub.connectors.partner_center.metrics import metrics_for
from hub.errors import ConfigError

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "X-Idempotency-Key"
REQUEST_ID_HEADER = "MS-RequestId"
CORRELATION_ID_HEADER = "MS-CorrelationId"
CONTINUATION_HEADER = "MS-ContinuationToken"

# Fixed namespace so the same idempotency key always maps to the same MS-RequestId.
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1c0a52-7d0e-4c52-9a57-3f1f4f0c9e21")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    payload: Any


@dataclass(frozen=True)
class _Failure:
    error: PartnerCenterError
    outcome: str
    code_label: str


def request_id_for(operation: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_REQUEST_ID_NAMESPACE, f"{operation}:{idempotency_key}"))


class Transport:
    """Owns the aiohttp session; ``send`` is the only way a request leaves the adapter."""

    def __init__(
        self,
        config: PartnerCenterConfig,
        *,
        registry: CollectorRegistry | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        tokens: TokenProvider | None = None,
    ) -> None:
        self._config = config
        self._tokens = tokens or config.token_provider()
        self._policy = config.retry_policy
        self._metrics = metrics_for(registry)
        self._session = session
        self._owns_session = session is None
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sleep = sleep
        self._base = config.base_url.rstrip("/")

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self._base}/{path_or_url.lstrip('/')}"

    async def send(
        self,
        operation: str,
        method: str,
        path_or_url: str,
        *,
        correlation_id: str,
        body: object | None = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        conflict_is_transient: bool = False,
        audience: Audience | None = Audience.PARTNER_CENTER,
        raw: bool = False,
    ) -> Reply:
        """Send until a 2xx, a permanent error, or the attempt budget is spent.

        ``audience`` picks the bearer token (None sends none: a blob URL carries its own
        shared access signature, and a token must not travel to another host). ``raw`` keeps
        the body as bytes (a compressed export file).
        """
        if self._session is None:
            raise ConfigError("PartnerCenterClient used before start()")
        request_headers = {
            "Accept": "application/json",
            REQUEST_ID_HEADER: request_id_for(operation, idempotency_key),
            CORRELATION_ID_HEADER: correlation_id,
        }
        if idempotency_key is not None:
            request_headers[IDEMPOTENCY_HEADER] = idempotency_key
        data: str | None = None
        if body is not None:
            data = wire_json.dumps(body)
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        url = self.url(path_or_url)
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        loop = asyncio.get_running_loop()

        attempt = 0
        while True:
            attempt += 1
            if audience is not None:
                # Asked on every attempt: a token may expire between retries.
                bearer = await self._tokens.bearer(audience)
                request_headers["Authorization"] = f"Bearer {bearer}"
            started = loop.time()
            try:
                async with self._session.request(
                    method, url, params=params, data=data, headers=request_headers, timeout=timeout
                ) as response:
                    raw_body = await response.read()
                    status = response.status
                    reply_headers = CIMultiDict(response.headers)
            except TimeoutError:
                failure = self._transient(operation, "timeout", attempt, "timed out")
            except aiohttp.ClientError as exc:
                reason = f"connection failed ({type(exc).__name__})"
                failure = self._transient(operation, "connection_error", attempt, reason)
            else:
                payload = raw_body if raw else _decode(raw_body)
                if 200 <= status < 300:
                    self._observe(operation, "success", started)
                    return Reply(status=status, headers=reply_headers, payload=payload)
                failure = self._http_failure(
                    operation,
                    status,
                    _decode(raw_body) if raw else payload,
                    reply_headers,
                    attempt,
                    conflict_is_transient,
                )
            self._observe(operation, failure.outcome, started)
            self._metrics.errors.labels(operation, failure.code_label).inc()
            if failure.outcome == "throttled":
                self._metrics.throttled.labels(operation).inc()
            error = failure.error
            if not error.retriable or attempt >= self._policy.max_attempts:
                raise error
            retry_after = error.retry_after
            if retry_after is not None and retry_after > self._policy.max_inline_wait_s:
                raise error
            delay = backoff_delay(attempt, self._policy, self._rng, retry_after)
            log.warning(
                "partner center call will be retried",
                extra={
                    "operation": operation,
                    "attempt": attempt,
                    "outcome": failure.outcome,
                    "status": error.status,
                    "delay_s": round(delay, 3),
                    "correlation_id": correlation_id,
                },
            )
            await self._sleep(delay)

    def _observe(self, operation: str, outcome: str, started: float) -> None:
        elapsed = asyncio.get_running_loop().time() - started
        self._metrics.duration.labels(operation).observe(elapsed)
        self._metrics.requests.labels(operation, outcome).inc()

    def _transient(self, operation: str, outcome: str, attempt: int, reason: str) -> _Failure:
        error = PartnerCenterError(
            f"{operation}: {reason}", operation=operation, retriable=True, attempts=attempt
        )
        return _Failure(error=error, outcome=outcome, code_label=outcome)

    def _http_failure(
        self,
        operation: str,
        status: int,
        payload: Any,
        headers: Mapping[str, str],
        attempt: int,
        conflict_is_transient: bool,
    ) -> _Failure:
        retriable = is_retriable_status(status, conflict_is_transient=conflict_is_transient)
        error = error_from_response(
            operation=operation,
            status=status,
            payload=payload,
            retriable=retriable,
            retry_after=parse_retry_after(headers.get("Retry-After")),
            attempts=attempt,
        )
        if status == 429:
            outcome = "throttled"
        elif status >= 500:
            outcome = "server_error"
        elif status == 409:
            outcome = "conflict"
        else:
            outcome = "client_error"
        body = parse_error_body(payload)
        code_label = str(body.code) if body is not None else f"http_{status}"
        return _Failure(error=error, outcome=outcome, code_label=code_label)


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return wire_json.loads(raw)
    except ValueError:
        return None
