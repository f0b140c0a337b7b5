"""Azure plan daily rated usage from Partner Center: the line's shape and its paging.

``GET /v1/invoices/unbilled/lineitems?provider=onetime&invoicelineitemtype=usagelineitems
&currencycode=<billing currency>&period=current|previous&size=<n>`` gives unbilled usage
(estimates that may still change, at least 24 hours after the day); ``GET /v1/invoices/<id>/
lineitems?provider=onetime&invoicelineitemtype=usagelineitems&size=<n>`` an invoice's billed
usage. Both answer a ``Collection`` of ``DailyRatedUsageLineItem`` whose ``links.next`` is
followed with ``seekOperation=Next`` and the ``MS-ContinuationToken`` header it carries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import Field, ValidationError, field_validator

from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.models import Collection, WireModel
from hub.connectors.partner_center.operations import Operation
from hub.connectors.partner_center.transport import CONTINUATION_HEADER, Reply
from hub.schemas.envelope import derived_event_id
from hub.schemas.events.consumption import UsageRecorded, UsageTag

USAGE_LINE_TYPE = "usagelineitems"


class Sender(Protocol):
    async def send(
        self,
        operation: str,
        method: str,
        path_or_url: str,
        *,
        correlation_id: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()


class DailyRatedUsageLineItem(WireModel):
    """One day of one meter of one Azure plan subscription, as Partner Center rated it."""

    partner_id: str = Field(alias="partnerId")
    customer_id: str = Field(alias="customerId")
    customer_name: str = Field(default="", alias="customerName")
    customer_country: str = Field(default="", alias="customerCountry")
    reseller_mpn_id: str | None = Field(default=None, alias="resellerMpnId")
    invoice_number: str | None = Field(default=None, alias="invoiceNumber")
    product_id: str = Field(default="", alias="productId")
    sku_id: str = Field(default="", alias="skuId")
    subscription_id: str = Field(alias="subscriptionId")
    charge_start_date: date = Field(alias="chargeStartDate")
    charge_end_date: date = Field(alias="chargeEndDate")
    usage_date: date = Field(alias="usageDate")
    meter_type: str = Field(default="", alias="meterType")
    meter_category: str = Field(alias="meterCategory")
    meter_id: str = Field(alias="meterId")
    meter_sub_category: str = Field(default="", alias="meterSubCategory")
    meter_name: str = Field(default="", alias="meterName")
    meter_region: str = Field(default="", alias="meterRegion")
    unit_of_measure: str = Field(default="", alias="unitOfMeasure")
    resource_location: str = Field(default="", alias="resourceLocation")
    consumed_service: str = Field(default="", alias="consumedService")
    resource_group: str = Field(default="", alias="resourceGroup")
    resource_uri: str = Field(default="", alias="resourceUri")
    tags: dict[str, str] = Field(default_factory=dict)
    unit_price: Decimal = Field(alias="unitPrice")
    effective_unit_price: Decimal = Field(alias="effectiveUnitPrice")
    quantity: Decimal
    unit_type: str = Field(default="", alias="unitType")
    billing_pre_tax_total: Decimal = Field(alias="billingPreTaxTotal")
    billing_currency: str = Field(alias="billingCurrency")
    pricing_pre_tax_total: Decimal = Field(alias="pricingPreTaxTotal")
    pricing_currency: str = Field(alias="pricingCurrency")
    pc_to_bc_exchange_rate: Decimal = Field(alias="pcToBCExchangeRate")
    pc_to_bc_exchange_rate_date: date | None = Field(default=None, alias="pcToBCExchangeRateDate")
    charge_type: str = Field(default="new", alias="chargeType")

    @field_validator(
        "charge_start_date",
        "charge_end_date",
        "usage_date",
        "pc_to_bc_exchange_rate_date",
        mode="before",
    )
    @classmethod
    def _dates(cls, value: Any) -> Any:
        return None if value in (None, "") else _day(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        # Microsoft sends the resource's tags as a JSON object written into a string.
        if value in (None, ""):
            return {}
        if isinstance(value, str):
            parsed = json.loads(value)
            return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        return value


def unbilled_params(
    currency: str, period: Literal["current", "previous"], size: int
) -> dict[str, str]:
    return {
        "provider": "onetime",
        "invoicelineitemtype": USAGE_LINE_TYPE,
        "currencycode": currency,
        "period": period,
        "size": str(size),
    }


def billed_params(size: int) -> dict[str, str]:
    return {"provider": "onetime", "invoicelineitemtype": USAGE_LINE_TYPE, "size": str(size)}


async def usage_pages(
    transport: Sender,
    operation: Operation,
    path: str,
    params: Mapping[str, str],
    correlation_id: str,
) -> AsyncIterator[DailyRatedUsageLineItem]:
    """Every line of the collection at ``path``, page by page through the continuation links."""
    reply = await transport.send(
        operation, "GET", path, correlation_id=correlation_id, params=params
    )
    while True:
        try:
            page = _USAGE_PAGE.model_validate(reply.payload)
        except ValidationError as exc:
            raise PartnerCenterError(
                f"{operation}: unexpected usage line shape ({exc.error_count()} problems)",
                operation=operation,
                status=reply.status,
            ) from exc
        for item in page.items:
            yield item
        following = page.links.next
        if following is None or not page.items:
            return
        headers = {pair.key: pair.value for pair in following.headers}
        if CONTINUATION_HEADER not in headers:
            raise PartnerCenterError("next link without continuation", operation=operation)
        reply = await transport.send(
            operation,
            following.method,
            following.uri,
            correlation_id=correlation_id,
            headers=headers,
        )


def usage_event(
    item: DailyRatedUsageLineItem,
    reseller_id: str,
    *,
    stage: Literal["estimate", "final", "correction"],
    revision: int,
    event_time: datetime,
    reason: str | None = None,
) -> UsageRecorded:
    """The hub's event for one usage line. Its id derives from the line's identity and figures,
    so pulling the same day twice publishes the same event (the flow ignores it either way)."""
    key = (item.subscription_id, item.meter_id, item.usage_date.isoformat())
    figures = (stage, revision, str(item.quantity), str(item.billing_pre_tax_total))
    return UsageRecorded(
        event_id=derived_event_id("partner-center-usage", "UsageRecorded", *key, *figures),
        event_time=event_time,
        correlation_id=f"usage-{item.usage_date.isoformat()}",
        reseller_id=reseller_id,
        customer_id=item.customer_id,
        subscription_id=item.subscription_id,
        meter_id=item.meter_id,
        meter_name=item.meter_name,
        meter_category=item.meter_category,
        meter_sub_category=item.meter_sub_category,
        meter_region=item.meter_region,
        unit_of_measure=item.unit_of_measure,
        resource_group=item.resource_group,
        resource_location=item.resource_location,
        tags=tuple(UsageTag(key=k, value=v) for k, v in sorted(item.tags.items())),
        usage_date=item.usage_date,
        charge_start_date=item.charge_start_date,
        charge_end_date=item.charge_end_date,
        stage=stage,
        revision=revision,
        quantity=str(item.quantity),
        unit_price=str(item.unit_price),
        effective_unit_price=str(item.effective_unit_price),
        pricing_currency=item.pricing_currency,
        pricing_pre_tax_total=str(item.pricing_pre_tax_total),
        billing_currency=item.billing_currency,
        billing_pre_tax_total=str(item.billing_pre_tax_total),
        pc_to_bc_exchange_rate=str(item.pc_to_bc_exchange_rate),
        pc_to_bc_exchange_rate_date=item.pc_to_bc_exchange_rate_date,
        invoice_number=item.invoice_number,
        reason=reason,
    )


# Kept: pydantic caches a parametrised generic only weakly (see partner_center/client.py).
_USAGE_PAGE = Collection[DailyRatedUsageLineItem]
