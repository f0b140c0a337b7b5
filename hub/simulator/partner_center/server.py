"""A stateful Partner Center simulator over HTTP (aiohttp) with fault injection and admin calls.

Speaks the adapter's resource shapes under ``/v1`` and Microsoft Graph's billed reconciliation
export under ``/v1.0/reports/partners/billing`` (its blobs under ``/exports``); ``/admin`` moves
the clock, injects faults and price differences, sets exchange rates (a second, pricing,
currency), posts Microsoft's credits, sets Microsoft's side of service requests, and reports
state for tests.
Customers are billed in one fixed currency (the built-in sample) or, given ``currency=None``,
each in its market's currency from a catalogue with per-currency prices (``--reference``).
Extension beyond Microsoft: ``X-Idempotency-Key`` is persisted, and
``GET /v1/customers/{id}/orders?idempotencyKey=...`` finds the order placed with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.models import (
    BilledReconciliationExportRequest,
    Cart,
    Collection,
    Customer,
    ExportStatus,
    InvoiceLineItem,
    KeyValuePair,
    Link,
    Links,
    ServiceRequest,
    ServiceRequestNote,
    ServiceRequestPatch,
    ServiceRequestStatus,
    SubscriptionPatch,
)
from hub.connectors.partner_center.operations import Operation
from hub.connectors.partner_center.transport import (
    CONTINUATION_HEADER,
    CORRELATION_ID_HEADER,
    IDEMPOTENCY_HEADER,
    REQUEST_ID_HEADER,
)
from hub.simulator.partner_center.catalog import (
    Catalog,
    SimCatalogItem,
    sample_catalog,
)
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.exports import (
    BLOBS_PATH,
    EXPORT_PATH,
    OPERATIONS_PATH,
    Exports,
)
from hub.simulator.partner_center.faults import (
    Fault,
    FaultKind,
    FaultPlan,
    LostResponseMode,
)
from hub.simulator.partner_center.ledger import LedgerLine, Page
from hub.simulator.partner_center.relationships import Relationships
from hub.simulator.partner_center.renewals import ScheduledChanges
from hub.simulator.partner_center.renewals_midterm import MidTermChanges
from hub.simulator.partner_center.state import SimClock, SimulatorState
from hub.simulator.partner_center.usage import UsageSimulator

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_PAGE_SIZE = 2000
_TIMEOUT_HANG_S = 30.0


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        text=wire_json.dumps(payload), status=status, content_type="application/json"
    )


def _admin_json(payload: object) -> web.Response:
    """Admin answers are not Partner Center shapes and may hold floats (fault seconds)."""
    return web.Response(text=json.dumps(payload, default=_plain), content_type="application/json")


def _plain(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | Enum):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _error(error: SimError, headers: dict[str, str] | None = None) -> web.Response:
    response = _json(error.body(), error.status)
    response.headers.update(headers or {})
    return response


async def _body(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(wire_json.loads(await request.read()))
    except (ValueError, ValidationError) as exc:
        raise SimError(400, ErrorCode.BAD_REQUEST, f"request body is not valid: {exc}") from exc


async def _admin_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    payload = wire_json.loads(raw) if raw else {}
    if not isinstance(payload, dict):
        raise SimError(400, ErrorCode.BAD_REQUEST, "admin body must be a JSON object")
    return payload


def _collection(items: list[Any]) -> dict[str, object]:
    return {
        "totalCount": len(items),
        "items": items,
        "links": {},
        "attributes": {"objectType": "Collection"},
    }


class PartnerCenterSimulator:
    """The simulator: state, faults and the aiohttp application that serves them."""

    def __init__(
        self,
        *,
        catalog: tuple[SimCatalogItem, ...] | None = None,
        start: datetime | None = None,
        token: str | None = None,
        provider_partner_id: str = "5000000",
        currency: str | None = "USD",
        tax_rate: Decimal = Decimal(0),
        faults: list[Fault] | None = None,
    ) -> None:
        """``currency`` bills every customer in that one currency; None bills each customer in
        its market's (its country's) currency. Without ``catalog`` the built-in sample is
        priced in ``currency`` (USD when None)."""
        items = catalog if catalog is not None else sample_catalog(currency or "USD")
        self.state = SimulatorState(
            catalog=Catalog(items),
            clock=SimClock(start),
            provider_partner_id=provider_partner_id,
            currency=currency,
            tax_rate=tax_rate,
        )
        self.faults = FaultPlan(faults)
        self.usage = UsageSimulator(self.state.now)
        self.exports = Exports()
        self.relationships = Relationships(self.state)
        self.scheduled = ScheduledChanges()  # next-term instructions
        self.midterm = MidTermChanges(self.state.catalog, self.scheduled)  # frequency, upgrades
        self._token = token

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        self._routes(app.router)
        return app

    def _routes(self, router: web.UrlDispatcher) -> None:
        customers = "/v1/customers/{customer_id}"
        subscription = customers + "/subscriptions/{subscription_id}"
        api: list[tuple[str, str, Handler, Operation]] = [
            ("POST", "/v1/customers", self._create_customer, Operation.CREATE_CUSTOMER),
            ("GET", customers, self._get_customer, Operation.GET_CUSTOMER),
            ("POST", customers + "/carts", self._create_cart, Operation.CREATE_CART),
            ("POST", customers + "/carts/{cart_id}/checkout", self._checkout, Operation.CHECKOUT),
            ("GET", customers + "/orders", self._list_orders, Operation.LIST_ORDERS),
            ("GET", customers + "/orders/{order_id}", self._get_order, Operation.GET_ORDER),
            ("GET", customers + "/subscriptions", self._list_subs, Operation.LIST_SUBSCRIPTIONS),
            ("GET", subscription, self._get_sub, Operation.GET_SUBSCRIPTION),
            ("PATCH", subscription, self._patch_sub, Operation.UPDATE_SUBSCRIPTION),
            ("GET", "/v1/invoices", self._list_invoices, Operation.LIST_INVOICES),
            (
                "GET",
                "/v1/invoices/unbilled/lineitems",
                self._unbilled,
                Operation.UNBILLED_LINE_ITEMS,
            ),
            (
                "GET",
                "/v1/invoices/{invoice_id}/lineitems",
                self._billed,
                Operation.BILLED_LINE_ITEMS,
            ),
            (
                "POST",
                "/v1/servicerequests/{locale}",
                self._create_sr,
                Operation.CREATE_SERVICE_REQUEST,
            ),
            ("GET", "/v1/servicerequests/{sr_id}", self._get_sr, Operation.GET_SERVICE_REQUEST),
            (
                "PATCH",
                "/v1/servicerequests/{sr_id}",
                self._patch_sr,
                Operation.UPDATE_SERVICE_REQUEST,
            ),
        ]
        api += [
            ("POST", EXPORT_PATH, self._export, Operation.EXPORT_BILLED_RECONCILIATION),
            (
                "GET",
                OPERATIONS_PATH + "/{operation_id}",
                self._export_status,
                Operation.GET_EXPORT_OPERATION,
            ),
        ]
        api += self.relationships.routes()
        for method, path, handler, operation in api:
            router.add_route(method, path, handler, name=operation.value)
        for method, path, midterm, name in self.midterm.routes(
            subscription, self.state.subscriptions.get, self.state.now
        ):
            router.add_route(method, path, midterm, name=name)
        # Blob storage: no bearer token, the shared access signature in the query instead.
        router.add_get(BLOBS_PATH + "/{manifest_id}/{blob}", self._blob)
        router.add_post("/admin/exchange-rates", self._admin_exchange_rate)
        router.add_post("/admin/credits", self._admin_credit)
        router.add_get("/admin/state", self._admin_state)
        router.add_post("/admin/faults", self._admin_add_faults)
        router.add_delete("/admin/faults", self._admin_clear_faults)
        router.add_post("/admin/clock", self._admin_clock)
        router.add_post("/admin/invoices", self._admin_close_invoice)
        router.add_post("/admin/lines/adjust", self._admin_adjust_line)
        router.add_post("/admin/servicerequests/{sr_id}", self._admin_service_request)
        router.add_post("/admin/usage", self.usage.admin_plan)
        self.relationships.admin_routes(router)

    # -- middleware: counting, auth, faults, error bodies ----------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        operation = request.match_info.route.name
        if operation is None or request.path.startswith("/admin"):
            try:
                return await handler(request)
            except SimError as exc:
                return _error(exc)
        self.state.requests[operation] += 1
        self.state.recent.append(
            {
                "operation": operation,
                "requestId": request.headers.get(REQUEST_ID_HEADER),
                "correlationId": request.headers.get(CORRELATION_ID_HEADER),
                "idempotencyKey": request.headers.get(IDEMPOTENCY_HEADER),
            }
        )
        if not self._authorised(request):
            return _error(SimError(401, ErrorCode.UNAUTHORIZED, "bearer token missing or wrong"))
        latency = self.faults.latency(operation)
        if latency:
            await asyncio.sleep(latency)
        fault = self.faults.take(operation)
        early = await self._early_fault(fault)
        if early is not None:
            return early
        try:
            response = await handler(request)
        except SimError as exc:
            return _error(exc)
        if fault is not None and fault.kind == FaultKind.LOSE_RESPONSE:
            return self._lose(request, fault)
        if fault is not None and fault.kind == FaultKind.ACCEPTED and request.method == "PATCH":
            # The change is made; the client is told to look for the result at Location.
            return web.Response(status=202, headers={"Location": request.path})
        return response

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return False
        return self._token is None or token == self._token

    async def _early_fault(self, fault: Fault | None) -> web.Response | None:
        if fault is None:
            return None
        if fault.kind == FaultKind.THROTTLE:
            error = SimError(429, ErrorCode.TOO_MANY_REQUESTS, "rate limit exceeded")
            return _error(error, {"Retry-After": format(fault.retry_after, "g")})
        if fault.kind == FaultKind.SERVER_ERROR:
            return _error(SimError(fault.status, ErrorCode.SERVICE_UNAVAILABLE, "injected fault"))
        if fault.kind == FaultKind.CONFLICT:
            return _error(
                SimError(409, ErrorCode.CONFLICT_RENEWAL_IN_PROGRESS, "renewal in progress")
            )
        if fault.kind == FaultKind.TIMEOUT:
            # Hang past any sensible client timeout; cancelled when the client hangs up.
            await asyncio.sleep(fault.seconds or _TIMEOUT_HANG_S)
            return _error(SimError(504, ErrorCode.SERVICE_UNAVAILABLE, "gateway timeout"))
        return None

    def _lose(self, request: web.Request, fault: Fault) -> web.Response:
        if fault.mode == LostResponseMode.DROP and request.transport is not None:
            request.transport.close()
        return _error(SimError(503, ErrorCode.SERVICE_UNAVAILABLE, "response lost"))

    # -- customers, carts, orders ------------------------------------------------------------

    async def _create_customer(self, request: web.Request) -> web.Response:
        customer = await _body(request, Customer)
        created = self.state.create_customer(customer, request.headers.get(IDEMPOTENCY_HEADER))
        return _json(created, 201)

    async def _get_customer(self, request: web.Request) -> web.Response:
        return _json(self.state.customer(request.match_info["customer_id"]))

    async def _create_cart(self, request: web.Request) -> web.Response:
        cart = await _body(request, Cart)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        return _json(self.state.create_cart(request.match_info["customer_id"], cart, key), 201)

    async def _checkout(self, request: web.Request) -> web.Response:
        result = self.state.checkout(
            request.match_info["customer_id"],
            request.match_info["cart_id"],
            request.headers.get(IDEMPOTENCY_HEADER),
        )
        return _json(result, 201)

    async def _list_orders(self, request: web.Request) -> web.Response:
        key = request.query.get("idempotencyKey")
        return _json(_collection(self.state.orders_of(request.match_info["customer_id"], key)))

    async def _get_order(self, request: web.Request) -> web.Response:
        info = request.match_info
        return _json(self.state.order(info["customer_id"], info["order_id"]))

    # -- subscriptions -----------------------------------------------------------------------

    async def _list_subs(self, request: web.Request) -> web.Response:
        customer_id = request.match_info["customer_id"]
        self.state.customer(customer_id)
        order_id = request.query.get("order_id")
        now = self.state.now()
        items = [
            record.to_model(now)
            for record in self.state.subscriptions.records.values()
            if record.customer_id == customer_id and order_id in (None, record.order_id)
        ]
        return _json(_collection(items))

    async def _get_sub(self, request: web.Request) -> web.Response:
        info = request.match_info
        record = self.state.subscriptions.get(info["customer_id"], info["subscription_id"])
        return _json(record.to_model(self.state.now()))

    async def _patch_sub(self, request: web.Request) -> web.Response:
        info = request.match_info
        patch = await _body(request, SubscriptionPatch)
        record = self.state.subscriptions.get(info["customer_id"], info["subscription_id"])
        self.scheduled.before_patch(record, wire_json.loads(await request.read()), self.state.now())
        self.midterm.before_patch(record, wire_json.loads(await request.read()), self.state.now())
        self.state.subscriptions.patch(record, patch, self.state.now())
        model = record.to_model(self.state.now()).model_dump(by_alias=True)
        return _json(self.scheduled.decorate(record.id, model))

    # -- invoices and reconciliation lines ---------------------------------------------------

    async def _list_invoices(self, request: web.Request) -> web.Response:
        return _json(_collection(self.state.ledger.invoices()))

    async def _unbilled(self, request: web.Request) -> web.Response:
        if request.query.get("invoicelineitemtype", "").lower() == "usagelineitems":
            return self.usage.unbilled(request)
        period = request.query.get("period", "current").lower()
        if period not in ("current", "previous"):
            raise SimError(400, ErrorCode.BAD_REQUEST, f"period {period!r} is not current|previous")
        currency = request.query.get("currencycode", "").upper()
        if not currency:
            raise SimError(400, ErrorCode.BAD_REQUEST, "currencycode is required")
        start, end = self.state.month_bounds(period)
        return self._line_page(request, lambda: self.state.ledger.unbilled(currency, start, end))

    async def _billed(self, request: web.Request) -> web.Response:
        invoice_id = request.match_info["invoice_id"]
        if request.query.get("invoicelineitemtype", "").lower() == "usagelineitems":
            return self.usage.billed(request, invoice_id)

        def lines() -> list[LedgerLine]:
            found = self.state.ledger.invoice_lines(invoice_id)
            if found is None:
                raise SimError.not_found(f"invoice {invoice_id}")
            return found

        return self._line_page(request, lines)

    def _line_page(
        self, request: web.Request, lines: Callable[[], list[LedgerLine]]
    ) -> web.Response:
        query = request.query
        if query.get("provider", "onetime").lower() != "onetime":
            raise SimError(400, ErrorCode.BAD_REQUEST, "only provider=onetime is simulated")
        try:
            size = int(query.get("size", str(MAX_PAGE_SIZE)))
        except ValueError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, "size must be an integer") from exc
        size = max(1, min(size, MAX_PAGE_SIZE))
        page: Page | None
        if query.get("seekOperation", "").lower() == "next":
            token = request.headers.get(CONTINUATION_HEADER, "")
            page = self.state.ledger.next_page(token, size)
            if page is None:
                raise SimError(400, ErrorCode.BAD_REQUEST, "continuation token is not valid")
        else:
            page = self.state.ledger.first_page(lines(), size)
        links = Links()
        if page.next_token is not None:
            next_query = urlencode({**query, "seekOperation": "Next"})
            links = Links(
                next=Link(
                    uri=f"{request.path}?{next_query}",
                    headers=[KeyValuePair(key=CONTINUATION_HEADER, value=page.next_token)],
                )
            )
        body = Collection[InvoiceLineItem](
            total_count=page.total_count, items=page.items, links=links
        )
        return _json(body)

    # -- Graph async v2: billed reconciliation export -----------------------------------------

    async def _export(self, request: web.Request) -> web.Response:
        body = await _body(request, BilledReconciliationExportRequest)
        lines = self.state.ledger.invoice_lines(body.invoice_id)
        if lines is None:
            raise SimError.not_found(f"invoice {body.invoice_id}")
        operation_id = self.exports.start(
            body.invoice_id, [line.render() for line in lines], self.state.now()
        )
        location = f"{_base_url(request)}{OPERATIONS_PATH}/{operation_id}"
        return web.Response(status=202, headers={"Location": location, "Retry-After": "1"})

    async def _export_status(self, request: web.Request) -> web.Response:
        operation = self.exports.status(
            request.match_info["operation_id"], _base_url(request), self.state.now()
        )
        if operation is None:
            raise SimError.not_found(f"operation {request.match_info['operation_id']}")
        response = _json(operation)
        if operation.status in (ExportStatus.NOT_STARTED, ExportStatus.RUNNING):
            response.headers["Retry-After"] = "1"
        return response

    async def _blob(self, request: web.Request) -> web.Response:
        data = self.exports.blob(
            request.match_info["manifest_id"],
            request.match_info["blob"],
            request.query.get("sig", ""),
        )
        if data is None:
            return web.Response(status=403, text="AuthenticationFailed")
        return web.Response(body=data, content_type="application/octet-stream")

    # -- service requests --------------------------------------------------------------------

    async def _create_sr(self, request: web.Request) -> web.Response:
        body = await _body(request, ServiceRequest)
        created = self.state.create_service_request(body, request.headers.get(IDEMPOTENCY_HEADER))
        return _json(created, 201)

    async def _get_sr(self, request: web.Request) -> web.Response:
        return _json(self.state.service_request(request.match_info["sr_id"]))

    async def _patch_sr(self, request: web.Request) -> web.Response:
        patch = await _body(request, ServiceRequestPatch)
        return _json(self.state.update_service_request(request.match_info["sr_id"], patch))

    # -- admin -------------------------------------------------------------------------------

    async def _admin_state(self, request: web.Request) -> web.Response:
        summary = self.state.summary()
        summary["faults"] = self.faults.pending()
        return _admin_json(summary)

    async def _admin_add_faults(self, request: web.Request) -> web.Response:
        payload = await _admin_body(request)
        specs = payload.get("faults", [payload])
        try:
            faults = [Fault.model_validate(spec) for spec in specs]
        except ValidationError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, f"fault is not valid: {exc}") from exc
        for fault in faults:
            self.faults.add(fault)
        return _admin_json({"faults": self.faults.pending()})

    async def _admin_clear_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return _admin_json({"faults": []})

    async def _admin_clock(self, request: web.Request) -> web.Response:
        payload = await _admin_body(request)
        try:
            delta = timedelta(
                days=int(payload.get("advanceDays", 0)),
                hours=int(payload.get("advanceHours", 0)),
                seconds=int(payload.get("advanceSeconds", 0)),
            )
            now = self.state.advance(delta)
        except (TypeError, ValueError) as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, str(exc)) from exc
        return _admin_json({"now": now})

    async def _admin_close_invoice(self, request: web.Request) -> web.Response:
        invoices = self.state.close_invoices()
        if not invoices:
            raise SimError.not_found("an unbilled line from a past month")
        return _json(_collection(invoices), 201)

    async def _admin_adjust_line(self, request: web.Request) -> web.Response:
        payload = await _admin_body(request)
        try:
            unit_price = Decimal(str(payload["unitPrice"]))
        except (KeyError, InvalidOperation) as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, "unitPrice (a decimal) is required") from exc
        wanted = {
            key: payload[key]
            for key in ("referenceId", "subscriptionId", "chargeType")
            if key in payload
        }

        def select(line: LedgerLine) -> bool:
            rendered = {
                "referenceId": line.reference_id,
                "subscriptionId": line.context.subscription_id,
                "chargeType": str(line.charge_type),
            }
            return all(rendered[key] == value for key, value in wanted.items())

        line = self.state.ledger.adjust(select, unit_price)
        if line is None:
            raise SimError.not_found("a line matching the selection")
        return _json(line)

    async def _admin_exchange_rate(self, request: web.Request) -> web.Response:
        """Bill ``billingCurrency`` priced in ``pricingCurrency`` at ``rate``
        (PCToBCExchangeRate), for subscriptions bought from now on."""
        payload = await _admin_body(request)
        try:
            billing = str(payload["billingCurrency"]).upper()
            pricing = str(payload["pricingCurrency"]).upper()
            rate = Decimal(str(payload["rate"]))
        except (KeyError, InvalidOperation) as exc:
            raise SimError(
                400, ErrorCode.BAD_REQUEST, "billingCurrency, pricingCurrency and rate needed"
            ) from exc
        if rate <= 0:
            raise SimError(400, ErrorCode.BAD_REQUEST, "rate must be positive")
        if billing == pricing:
            self.state.exchange_rates.pop(billing, None)
        else:
            self.state.exchange_rates[billing] = (pricing, rate)
        return _admin_json(
            {
                b: {"pricingCurrency": p, "rate": r}
                for b, (p, r) in self.state.exchange_rates.items()
            }
        )

    async def _admin_credit(self, request: web.Request) -> web.Response:
        """Microsoft credits the partner ``amount`` (billing currency) for a subscription."""
        payload = await _admin_body(request)
        try:
            subscription_id = str(payload["subscriptionId"])
            amount = Decimal(str(payload["amount"]))
        except (KeyError, InvalidOperation) as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, "subscriptionId and amount needed") from exc
        reason = str(payload.get("creditReasonCode") or "Service level agreement credit")
        key = payload.get("key")
        try:
            on = datetime.fromisoformat(str(payload["date"])) if "date" in payload else None
        except ValueError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, "date must be ISO 8601") from exc
        if on is not None and on.tzinfo is None:
            raise SimError(400, ErrorCode.BAD_REQUEST, "date needs a time zone")
        line = self.state.post_credit(
            subscription_id, amount, reason, None if key is None else str(key), on
        )
        return _json(line.render(), 201)

    async def _admin_service_request(self, request: web.Request) -> web.Response:
        payload = await _admin_body(request)
        try:
            status = ServiceRequestStatus(payload["status"]) if "status" in payload else None
        except ValueError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, str(exc)) from exc
        note = payload.get("note")
        patch = ServiceRequestPatch(
            status=status, new_note=ServiceRequestNote(text=str(note)) if note else None
        )
        updated = self.state.update_service_request(
            request.match_info["sr_id"], patch, author="Microsoft Support"
        )
        return _json(updated)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


@dataclass
class SimulatorHandle:
    """A running simulator: its base ``url``, the ``simulator`` itself, and ``close()``."""

    url: str
    simulator: PartnerCenterSimulator
    _runner: web.AppRunner

    async def close(self) -> None:
        await self._runner.cleanup()


async def serve(
    host: str = "127.0.0.1", port: int = 0, *, simulator: PartnerCenterSimulator | None = None
) -> SimulatorHandle:
    """Start serving; ``port=0`` picks a free port (read it from ``handle.url``)."""
    sim = simulator or PartnerCenterSimulator()
    # Cancel a handler when its client hangs up, so injected timeouts do not pile up.
    runner = web.AppRunner(sim.app(), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    return SimulatorHandle(url=f"http://{bound_host}:{bound_port}", simulator=sim, _runner=runner)


def _simulator(
    token: str | None, catalog: tuple[SimCatalogItem, ...] | None
) -> PartnerCenterSimulator:
    # A loaded price list prices per market currency; the sample keeps its single USD.
    if catalog is None:
        return PartnerCenterSimulator(token=token)
    return PartnerCenterSimulator(token=token, catalog=catalog, currency=None)


async def _serve_forever(
    host: str, port: int, token: str | None, catalog: tuple[SimCatalogItem, ...] | None
) -> None:
    handle = await serve(host, port, simulator=_simulator(token, catalog))
    log.info("partner center simulator listening", extra={"url": handle.url})
    stopped = asyncio.Event()
    # SIGTERM too, so scripts and supervisors can stop it as cleanly as Ctrl-C does.
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await stopped.wait()
    finally:
        await handle.close()


def run_simulator(
    host: str,
    port: int,
    *,
    token: str | None = None,
    catalog: tuple[SimCatalogItem, ...] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (for ``hub sim partner-center``).

    With ``catalog`` (see ``catalog_from_reference``) customers are billed in their market's
    currency at the catalogue's prices; without it, in USD from the built-in sample.
    """
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(host, port, token, catalog))


def load_catalog(path: Path) -> tuple[SimCatalogItem, ...]:
    """The catalogue and Microsoft's cost prices of a hub reference file (YAML or CSV)."""
    from hub.connectors.reference_files import load_reference_file
    from hub.simulator.partner_center.catalog import catalog_from_reference

    return catalog_from_reference(load_reference_file(path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Partner Center simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--token", default=None, help="require this bearer token")
    parser.add_argument(
        "--reference", type=Path, default=None, help="price per market from this reference file"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    catalog = load_catalog(args.reference) if args.reference is not None else None
    run_simulator(args.host, args.port, token=args.token, catalog=catalog)


if __name__ == "__main__":
    main()
