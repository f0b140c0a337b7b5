"""A small client for the simulator's ``/admin`` endpoints, for tests and the local demo."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import aiohttp

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.models import Invoice, InvoiceLineItem, ServiceRequest
from hub.simulator.partner_center.faults import Fault


class SimulatorAdmin:
    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/admin/state")
        return result

    async def requests(self, operation: str) -> int:
        counts: dict[str, int] = (await self.state())["requests"]
        return counts.get(operation, 0)

    async def inject(self, *faults: Fault) -> None:
        specs = [fault.model_dump(mode="json") for fault in faults]
        await self._call("POST", "/admin/faults", {"faults": specs})

    async def clear_faults(self) -> None:
        await self._call("DELETE", "/admin/faults")

    async def advance(self, *, days: int = 0, hours: int = 0, seconds: int = 0) -> str:
        body = {"advanceDays": days, "advanceHours": hours, "advanceSeconds": seconds}
        now: str = (await self._call("POST", "/admin/clock", body))["now"]
        return now

    async def close_invoices(self) -> list[Invoice]:
        """Close last month: one invoice per billing currency with lines due."""
        payload = await self._call("POST", "/admin/invoices")
        return [Invoice.model_validate(item) for item in payload["items"]]

    async def close_invoice(self) -> Invoice:
        """Close last month where every due line is in one currency; that invoice."""
        invoices = await self.close_invoices()
        if len(invoices) != 1:
            currencies = ", ".join(invoice.currency_code for invoice in invoices)
            raise RuntimeError(f"closing gave one invoice per currency ({currencies}), not one")
        return invoices[0]

    async def set_line_price(
        self,
        unit_price: Decimal,
        *,
        subscription_id: str | None = None,
        charge_type: str | None = None,
        reference_id: str | None = None,
    ) -> InvoiceLineItem:
        body: dict[str, object] = {"unitPrice": str(unit_price)}
        if subscription_id is not None:
            body["subscriptionId"] = subscription_id
        if charge_type is not None:
            body["chargeType"] = charge_type
        if reference_id is not None:
            body["referenceId"] = reference_id
        return InvoiceLineItem.model_validate(await self._call("POST", "/admin/lines/adjust", body))

    async def set_exchange_rate(self, billing: str, pricing: str, rate: Decimal) -> None:
        """Subscriptions billed in ``billing`` bought from now on are priced in ``pricing``,
        converted at ``rate`` (PCToBCExchangeRate)."""
        body = {"billingCurrency": billing, "pricingCurrency": pricing, "rate": str(rate)}
        await self._call("POST", "/admin/exchange-rates", body)

    async def credit(
        self,
        subscription_id: str,
        amount: Decimal,
        *,
        reason: str = "Service level agreement credit",
        key: str | None = None,
        on: datetime | None = None,
    ) -> InvoiceLineItem:
        """Microsoft credits the partner ``amount`` (billing currency) for a subscription: a
        ``customerCredit`` line dated ``on`` (the simulator's now by default); the same ``key``
        twice posts one line."""
        body: dict[str, object] = {
            "subscriptionId": subscription_id,
            "amount": str(amount),
            "creditReasonCode": reason,
        }
        if key is not None:
            body["key"] = key
        if on is not None:
            body["date"] = on.isoformat()
        return InvoiceLineItem.model_validate(await self._call("POST", "/admin/credits", body))

    async def microsoft_updates_service_request(
        self, request_id: str, *, status: str | None = None, note: str | None = None
    ) -> ServiceRequest:
        body = {key: value for key, value in (("status", status), ("note", note)) if value}
        payload = await self._call("POST", f"/admin/servicerequests/{request_id}", body)
        return ServiceRequest.model_validate(payload)

    async def _call(self, method: str, path: str, body: object | None = None) -> Any:
        if self._session is None:
            raise RuntimeError("use SimulatorAdmin as 'async with'")
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"}
        async with self._session.request(
            method, self._base + path, data=data, headers=headers
        ) as response:
            payload = wire_json.loads(await response.read())
            if response.status >= 400:
                raise RuntimeError(f"simulator admin {method} {path}: {response.status} {payload}")
            return payload
