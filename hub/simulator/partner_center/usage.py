"""Simulated Azure plan usage: daily rated usage lines in Partner Center's shapes.

A plan (``POST /admin/usage``) names Azure plan subscriptions (customer, reseller PartnerID,
how many meters, a daily cost) from a first day on. Each (subscription, meter, day) has a
deterministic quantity with daily noise, times a spike factor on the days planned for one. A day
is reported, as an unbilled estimate, ``lag_hours`` (at least 24) after it ends by the
simulator's clock; a month is billed (``GET /v1/invoices/U-YYYY-MM/lineitems?...
&invoicelineitemtype=usagelineitems``) once the clock reaches the next month, with the planned
differences applied to the billed figures. Lines come a page at a time with a continuation link.
Faults injected for the unbilled and billed line-item operations apply here too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.transport import CONTINUATION_HEADER
from hub.simulator.partner_center.errors import SimError

PAGE_SIZE = 2000
AZURE_PLAN_PRODUCT_ID = "DZH318Z0BPS6"
_SIX = Decimal("0.000001")


@dataclass(frozen=True)
class Meter:
    meter_id: str
    name: str
    category: str
    sub_category: str
    unit: str
    unit_price: Decimal  # pricing currency, per unit
    share: Decimal  # of the subscription's daily cost


# Twenty meters across the usual categories (prices are list prices in USD per unit).
METERS: tuple[Meter, ...] = tuple(
    Meter(f"{i:08d}-5a1b-4c2d-9e3f-0a1b2c3d4e{i:02d}", name, cat, sub, unit, Decimal(price), share)
    for i, (name, cat, sub, unit, price, share) in enumerate(
        [
            ("D2s v5", "Virtual Machines", "Dsv5 Series", "1 Hour", "0.096", Decimal("0.20")),
            ("D4s v5", "Virtual Machines", "Dsv5 Series", "1 Hour", "0.192", Decimal("0.12")),
            ("B2ms", "Virtual Machines", "BS Series", "1 Hour", "0.0832", Decimal("0.06")),
            ("E4s v5", "Virtual Machines", "Esv5 Series", "1 Hour", "0.252", Decimal("0.05")),
            ("P10 Disk", "Storage", "Premium SSD Managed Disks", "1/Month", "0.6", Decimal("0.05")),
            (
                "Hot LRS Data Stored",
                "Storage",
                "Blob Storage",
                "1 GB/Month",
                "0.0184",
                Decimal("0.05"),
            ),
            ("LRS Write Operations", "Storage", "Blob Storage", "10K", "0.055", Decimal("0.03")),
            ("Standard Data Transfer Out", "Bandwidth", "", "1 GB", "0.087", Decimal("0.05")),
            (
                "vCore",
                "SQL Database",
                "General Purpose - Compute Gen5",
                "1 Hour",
                "0.505",
                Decimal("0.08"),
            ),
            (
                "Data Stored",
                "SQL Database",
                "General Purpose - Storage",
                "1 GB/Month",
                "0.115",
                Decimal("0.02"),
            ),
            (
                "P1v3 App",
                "Azure App Service",
                "Premium v3 Plan",
                "1 Hour",
                "0.169",
                Decimal("0.05"),
            ),
            (
                "Standard Static IP",
                "Virtual Network",
                "IP Addresses",
                "1 Hour",
                "0.0036",
                Decimal("0.01"),
            ),
            (
                "Standard Load Balancer",
                "Load Balancer",
                "Standard",
                "1 Hour",
                "0.025",
                Decimal("0.02"),
            ),
            ("Data Processed", "Load Balancer", "Standard", "1 GB", "0.005", Decimal("0.01")),
            ("Basic Vault Operations", "Key Vault", "", "10K", "0.03", Decimal("0.01")),
            ("Data Ingestion", "Log Analytics", "", "1 GB", "2.3", Decimal("0.05")),
            ("Standard Node", "Azure Kubernetes Service", "", "1 Hour", "0.1", Decimal("0.05")),
            ("Executions", "Functions", "", "1M", "0.2", Decimal("0.01")),
            ("Standard Units", "Azure Cosmos DB", "", "100 RU/s", "0.008", Decimal("0.05")),
            ("Standard Gateway", "VPN Gateway", "", "1 Hour", "0.19", Decimal("0.03")),
        ]
    )
)


class PlannedSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str
    subscription_id: str
    reseller_mpn_id: str
    meters: int = Field(default=20, ge=1, le=len(METERS))
    daily_cost: Decimal = Field(default=Decimal(50), gt=0, description="pricing currency")
    resource_group: str = "rg-prod"


class Spike(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscription_id: str
    day: date
    factor: Decimal = Field(gt=0)


class BilledDifference(BaseModel):
    """The billed figure of one (subscription, meter index, day) differs from its estimate."""

    model_config = ConfigDict(extra="forbid")

    subscription_id: str
    meter: int = Field(ge=0)
    day: date
    factor: Decimal = Field(gt=0)


class UsagePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: date
    subscriptions: list[PlannedSubscription]
    spikes: list[Spike] = []
    differences: list[BilledDifference] = []
    pricing_currency: str = "USD"
    billing_currency: str = "USD"
    pc_to_bc_exchange_rate: Decimal = Field(default=Decimal(1), gt=0)
    lag_hours: int = Field(default=30, ge=24)
    noise: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1)
    partner_id: str = "0b2c2d0e-provider"


def _noise(*parts: object) -> Decimal:
    """A stable number in [-1, 1) from ``parts`` (no global random state)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return Decimal(int.from_bytes(digest[:4], "big")) / Decimal(2**31) - 1


def _month(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


class UsageSimulator:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self.plan: UsagePlan | None = None

    # -- the figures -------------------------------------------------------------------------

    def lines(self, first: date, last: date, *, billed: bool) -> Iterator[dict[str, Any]]:
        plan = self.plan
        if plan is None:
            return
        spikes = {(s.subscription_id, s.day): s.factor for s in plan.spikes}
        differences = {(d.subscription_id, d.meter, d.day): d.factor for d in plan.differences}
        day = max(first, plan.start)
        while day <= last:
            for sub in plan.subscriptions:
                for index, meter in enumerate(METERS[: sub.meters]):
                    factor = spikes.get((sub.subscription_id, day), Decimal(1))
                    if billed:
                        factor *= differences.get((sub.subscription_id, index, day), Decimal(1))
                    yield self._line(plan, sub, meter, day, factor, billed)
            day += timedelta(days=1)

    def _line(
        self,
        plan: UsagePlan,
        sub: PlannedSubscription,
        meter: Meter,
        day: date,
        factor: Decimal,
        billed: bool,
    ) -> dict[str, Any]:
        share = sub.daily_cost * meter.share / sum(m.share for m in METERS[: sub.meters])
        wobble = Decimal(1) + plan.noise * _noise(sub.subscription_id, meter.meter_id, day)
        quantity = (share / meter.unit_price * wobble * factor).quantize(_SIX)
        pricing_total = (quantity * meter.unit_price).quantize(_SIX)
        billing_total = (pricing_total * plan.pc_to_bc_exchange_rate).quantize(_SIX)
        first, last = _month(day)
        stamp = (
            datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat().replace("+00:00", "Z")
        )
        return {
            "partnerId": plan.partner_id,
            "customerId": sub.customer_id,
            "customerName": f"Customer {sub.customer_id}",
            "customerCountry": "",
            "mpnId": "",
            "resellerMpnId": sub.reseller_mpn_id,
            "invoiceNumber": f"U-{day:%Y-%m}" if billed else "",
            "productId": AZURE_PLAN_PRODUCT_ID,
            "skuId": "0001",
            "availabilityId": "",
            "skuName": "Microsoft Azure Plan",
            "productName": "Azure plan",
            "publisherName": "Microsoft",
            "subscriptionId": sub.subscription_id,
            "subscriptionDescription": "Azure plan",
            "chargeStartDate": first.isoformat() + "T00:00:00Z",
            "chargeEndDate": last.isoformat() + "T00:00:00Z",
            "usageDate": stamp,
            "meterType": "1 Compute Hour" if meter.category == "Virtual Machines" else "",
            "meterCategory": meter.category,
            "meterId": meter.meter_id,
            "meterSubCategory": meter.sub_category,
            "meterName": meter.name,
            "meterRegion": "EU West",
            "unitOfMeasure": meter.unit,
            "resourceLocation": "westeurope",
            "consumedService": "Microsoft.Compute",
            "resourceGroup": sub.resource_group,
            "resourceUri": (
                f"/subscriptions/{sub.subscription_id}/resourceGroups/{sub.resource_group}/"
                f"providers/Microsoft.Compute/virtualMachines/vm-{meter.meter_id[:8]}"
            ),
            "tags": wire_json.dumps({"env": "prod", "costCenter": sub.customer_id[:12]}),
            "unitPrice": meter.unit_price,
            "effectiveUnitPrice": meter.unit_price,
            "quantity": quantity,
            "unitType": meter.unit,
            "billingPreTaxTotal": billing_total,
            "billingCurrency": plan.billing_currency,
            "pricingPreTaxTotal": pricing_total,
            "pricingCurrency": plan.pricing_currency,
            "pcToBCExchangeRate": plan.pc_to_bc_exchange_rate,
            "pcToBCExchangeRateDate": first.isoformat() + "T00:00:00Z",
            "chargeType": "new",
            "attributes": {"objectType": "DailyRatedUsageLineItem"},
        }

    def reported_until(self) -> date | None:
        """The last day reported: it ended at least ``lag_hours`` ago."""
        if self.plan is None:
            return None
        cutoff = self._now() - timedelta(hours=self.plan.lag_hours)
        return cutoff.date() - timedelta(days=1)

    # -- HTTP --------------------------------------------------------------------------------

    async def admin_plan(self, request: web.Request) -> web.Response:
        try:
            self.plan = UsagePlan.model_validate(wire_json.loads(await request.read()))
        except (ValueError, ValidationError) as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, f"usage plan is not valid: {exc}") from exc
        return web.json_response({"subscriptions": len(self.plan.subscriptions)})

    def unbilled(self, request: web.Request) -> web.Response:
        period = request.query.get("period", "current").lower()
        if period not in ("current", "previous"):
            raise SimError(400, ErrorCode.BAD_REQUEST, f"period {period!r} is not current|previous")
        currency = request.query.get("currencycode", "").upper()
        if not currency:
            raise SimError(400, ErrorCode.BAD_REQUEST, "currencycode is required")
        today = self._now().date()
        first, last = _month(today)
        if period == "previous":
            first, last = _month(first - timedelta(days=1))
        until = self.reported_until()
        if until is None or self.plan is None or currency != self.plan.billing_currency:
            return self._page(request, [])
        return self._page(request, self.lines(first, min(last, until), billed=False))

    def billed(self, request: web.Request, invoice_id: str) -> web.Response:
        try:
            year, month = (int(p) for p in invoice_id.removeprefix("U-").split("-"))
            first, last = _month(date(year, month, 1))
        except ValueError as exc:
            raise SimError.not_found(f"usage invoice {invoice_id}") from exc
        until = self.reported_until()
        if until is None or until < last:
            raise SimError.not_found(f"usage invoice {invoice_id} (not billed yet)")
        return self._page(request, self.lines(first, last, billed=True))

    def _page(
        self, request: web.Request, lines: Iterator[dict[str, Any]] | list[Any]
    ) -> web.Response:
        query = request.query
        try:
            size = max(1, min(int(query.get("size", str(PAGE_SIZE))), PAGE_SIZE))
            offset = 0
            if query.get("seekOperation", "").lower() == "next":
                offset = int(request.headers.get(CONTINUATION_HEADER, ""))
        except ValueError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, "size or continuation is not valid") from exc
        everything = list(lines)
        items = everything[offset : offset + size]
        body: dict[str, Any] = {
            "totalCount": len(items),
            "items": items,
            "links": {},
            "attributes": {"objectType": "Collection"},
        }
        if offset + size < len(everything):
            next_query = urlencode({**query, "seekOperation": "Next"})
            body["links"]["next"] = {
                "uri": f"{request.path}?{next_query}",
                "method": "GET",
                "headers": [{"key": CONTINUATION_HEADER, "value": str(offset + size)}],
            }
        return web.Response(text=wire_json.dumps(body), content_type="application/json")
