"""``PartnerCenterClient``: the hub's port to Microsoft Partner Center (or its simulator).

Customers for indirect resellers, new-commerce carts and orders, subscriptions, reconciliation
lines (v1 pages, and Microsoft Graph's async v2 export for billed periods after March 2025) and
service requests. Errors are ``PartnerCenterError`` (an ``ExternalServiceError``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import quote

import aiohttp
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from hub.connectors.partner_center import usage
from hub.connectors.partner_center.auth import Audience, TokenProvider
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.models import (
    TRANSACTION_RESELLER,
    AttributeSet,
    BilledReconciliationExportRequest,
    Cart,
    CartCheckoutResult,
    CartLineItem,
    Collection,
    Customer,
    ExportManifest,
    ExportOperation,
    ExportStatus,
    Invoice,
    InvoiceLineItem,
    KeyValuePair,
    Order,
    ServiceRequest,
    ServiceRequestNote,
    ServiceRequestPatch,
    ServiceRequestStatus,
    Subscription,
    SubscriptionPatch,
)
from hub.connectors.partner_center.operations import Operation
from hub.connectors.partner_center.relationships import (
    MCA_TYPE,
    Agreement,
    DelegatedAdminRelationship,
)
from hub.connectors.partner_center.transport import CONTINUATION_HEADER, Reply, Sleep, Transport
from hub.domain.enums import BillingCycle, SubscriptionStatus, Term

M = TypeVar("M", bound=BaseModel)

# Query the simulator understands for "the order placed with this idempotency key".
IDEMPOTENCY_QUERY = "idempotencyKey"
# Billed reconciliation of periods after this month comes only from the Graph v2 export
# ("Billed invoice reconciliation API v2"); older periods keep the v1 line-item pages.
LAST_V1_BILLED_PERIOD = date(2025, 3, 1)
GRAPH_EXPORT_PATH = "/v1.0/reports/partners/billing/reconciliation/billed/export"


# Parametrised once and kept: pydantic caches a parametrised generic only weakly, so once the
# garbage collector had run, each call built the class anew (``create_generic_submodel``: 3.7% of
# an order worker's samples while it provisioned).
_AGREEMENTS = Collection[Agreement]
_RELATIONSHIPS = Collection[DelegatedAdminRelationship]
_ORDERS = Collection[Order]
_SUBSCRIPTIONS = Collection[Subscription]
_INVOICES = Collection[Invoice]
_INVOICE_LINES = Collection[InvoiceLineItem]


def billed_period(invoice: Invoice) -> date:
    """The first day of the month an invoice bills (the month before it is issued)."""
    issued = invoice.invoice_date.date().replace(day=1)
    return (
        issued.replace(year=issued.year - 1, month=12)
        if issued.month == 1
        else (issued.replace(month=issued.month - 1))
    )


def uses_v2_export(invoice: Invoice) -> bool:
    return billed_period(invoice) > LAST_V1_BILLED_PERIOD


def nce_line(
    catalog_item_id: str,
    quantity: int,
    term: Term,
    billing_cycle: BillingCycle,
    reseller_partner_id: str,
    *,
    line_id: int = 0,
) -> CartLineItem:
    """A new-commerce cart line with the reseller as partner on record."""
    return CartLineItem(
        id=line_id,
        catalog_item_id=catalog_item_id,
        quantity=quantity,
        term_duration=term,
        billing_cycle=billing_cycle,
        participants=[KeyValuePair(key=TRANSACTION_RESELLER, value=reseller_partner_id)],
    )


def _seg(value: str) -> str:
    return quote(value, safe="")


def _wire(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, exclude_none=True)


class PartnerCenterClient:
    """Use as ``async with PartnerCenterClient(config) as pc:`` or call ``start``/``stop``.

    Every method takes the caller's ``correlation_id`` (sent as ``MS-CorrelationId``).
    """

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
        self._sleep = sleep
        self._transport = Transport(
            config, registry=registry, session=session, rng=rng, sleep=sleep, tokens=tokens
        )

    async def start(self) -> None:
        await self._transport.start()

    async def stop(self) -> None:
        await self._transport.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- customers -------------------------------------------------------------------------

    async def create_customer(
        self, customer: Customer, *, correlation_id: str, idempotency_key: str | None = None
    ) -> Customer:
        """Create a customer tenant for the indirect reseller in ``associated_partner_id``."""
        reply = await self._transport.send(
            Operation.CREATE_CUSTOMER,
            "POST",
            "/v1/customers",
            correlation_id=correlation_id,
            body=_wire(customer),
            idempotency_key=idempotency_key,
        )
        return _parse(Customer, reply, Operation.CREATE_CUSTOMER)

    async def get_customer(self, customer_id: str, *, correlation_id: str) -> Customer:
        reply = await self._transport.send(
            Operation.GET_CUSTOMER,
            "GET",
            f"/v1/customers/{_seg(customer_id)}",
            correlation_id=correlation_id,
        )
        return _parse(Customer, reply, Operation.GET_CUSTOMER)

    # -- relationships: agreements and GDAP (hub/connectors/partner_center/relationships.py) --

    async def create_agreement(
        self, customer_id: str, agreement: Agreement, *, correlation_id: str
    ) -> Agreement:
        """Record the customer's acceptance of an agreement (MCA attestation)."""
        reply = await self._transport.send(
            Operation.CREATE_AGREEMENT,
            "POST",
            f"/v1/customers/{_seg(customer_id)}/agreements",
            correlation_id=correlation_id,
            body=_wire(agreement),
        )
        return _parse(Agreement, reply, Operation.CREATE_AGREEMENT)

    async def list_agreements(
        self, customer_id: str, *, correlation_id: str, agreement_type: str = MCA_TYPE
    ) -> list[Agreement]:
        reply = await self._transport.send(
            Operation.LIST_AGREEMENTS,
            "GET",
            f"/v1/customers/{_seg(customer_id)}/agreements",
            correlation_id=correlation_id,
            params={"agreementType": agreement_type},
        )
        return _parse(_AGREEMENTS, reply, Operation.LIST_AGREEMENTS).items

    async def create_gdap_relationship(
        self, relationship: DelegatedAdminRelationship, *, correlation_id: str, idempotency_key: str
    ) -> DelegatedAdminRelationship:
        reply = await self._transport.send(
            Operation.CREATE_GDAP_RELATIONSHIP,
            "POST",
            "/v1/tenantRelationships/delegatedAdminRelationships",
            correlation_id=correlation_id,
            body=_wire(relationship),
            idempotency_key=idempotency_key,
        )
        return _parse(DelegatedAdminRelationship, reply, Operation.CREATE_GDAP_RELATIONSHIP)

    async def list_gdap_relationships(
        self, customer_id: str, *, correlation_id: str
    ) -> list[DelegatedAdminRelationship]:
        reply = await self._transport.send(
            Operation.LIST_GDAP_RELATIONSHIPS,
            "GET",
            "/v1/tenantRelationships/delegatedAdminRelationships",
            correlation_id=correlation_id,
            params={"customerTenantId": customer_id},
        )
        collection = _RELATIONSHIPS
        return _parse(collection, reply, Operation.LIST_GDAP_RELATIONSHIPS).items

    # -- carts and orders ------------------------------------------------------------------

    async def create_cart(
        self, customer_id: str, cart: Cart, *, correlation_id: str, idempotency_key: str
    ) -> Cart:
        reply = await self._transport.send(
            Operation.CREATE_CART,
            "POST",
            f"/v1/customers/{_seg(customer_id)}/carts",
            correlation_id=correlation_id,
            body=_wire(cart),
            idempotency_key=idempotency_key,
        )
        return _parse(Cart, reply, Operation.CREATE_CART)

    async def checkout(
        self, customer_id: str, cart_id: str, *, correlation_id: str, idempotency_key: str
    ) -> CartCheckoutResult:
        """Check a cart out. Retries repeat the idempotency key, so at most one order results."""
        reply = await self._transport.send(
            Operation.CHECKOUT,
            "POST",
            f"/v1/customers/{_seg(customer_id)}/carts/{_seg(cart_id)}/checkout",
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
        )
        return _parse(CartCheckoutResult, reply, Operation.CHECKOUT)

    async def place_order(
        self,
        customer_id: str,
        lines: Sequence[CartLineItem],
        *,
        correlation_id: str,
        idempotency_key: str,
        attestation_accepted: bool = True,
    ) -> Order:
        """Look up an order already placed under ``idempotency_key``; else cart and checkout.

        The look-up covers a crash between checkout and recording its result; the key on cart
        and checkout covers a response lost in transit.
        """
        existing = await self.find_order_by_idempotency_key(
            customer_id, idempotency_key, correlation_id=correlation_id
        )
        if existing is not None:
            return existing
        cart = await self.create_cart(
            customer_id,
            Cart(
                line_items=list(lines), partner_on_record_attestation_accepted=attestation_accepted
            ),
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
        )
        if cart.id is None:
            raise PartnerCenterError(
                "cart came back without an id", operation=Operation.CREATE_CART
            )
        result = await self.checkout(
            customer_id, cart.id, correlation_id=correlation_id, idempotency_key=idempotency_key
        )
        if result.order_errors:
            first = result.order_errors[0]
            raise PartnerCenterError(
                f"checkout: {first.description}",
                operation=Operation.CHECKOUT,
                status=200,
                code=str(first.code),
                description=first.description,
            )
        if not result.orders:
            raise PartnerCenterError("checkout returned no order", operation=Operation.CHECKOUT)
        return result.orders[0]

    async def get_order(self, customer_id: str, order_id: str, *, correlation_id: str) -> Order:
        reply = await self._transport.send(
            Operation.GET_ORDER,
            "GET",
            f"/v1/customers/{_seg(customer_id)}/orders/{_seg(order_id)}",
            correlation_id=correlation_id,
        )
        return _parse(Order, reply, Operation.GET_ORDER)

    async def find_order_by_idempotency_key(
        self, customer_id: str, idempotency_key: str, *, correlation_id: str
    ) -> Order | None:
        """The order placed under ``idempotency_key``, where the service records keys."""
        reply = await self._transport.send(
            Operation.LIST_ORDERS,
            "GET",
            f"/v1/customers/{_seg(customer_id)}/orders",
            correlation_id=correlation_id,
            params={IDEMPOTENCY_QUERY: idempotency_key},
        )
        orders = _parse(_ORDERS, reply, Operation.LIST_ORDERS).items
        # Only an order that carries the key counts: a service that ignores the query (real
        # Partner Center does) lists every order, and none of those may be taken for ours.
        return next((order for order in orders if order.idempotency_key == idempotency_key), None)

    # -- subscriptions ---------------------------------------------------------------------

    async def list_subscriptions(
        self, customer_id: str, *, correlation_id: str, order_id: str | None = None
    ) -> list[Subscription]:
        reply = await self._transport.send(
            Operation.LIST_SUBSCRIPTIONS,
            "GET",
            f"/v1/customers/{_seg(customer_id)}/subscriptions",
            correlation_id=correlation_id,
            params={"order_id": order_id} if order_id else None,
        )
        return _parse(_SUBSCRIPTIONS, reply, Operation.LIST_SUBSCRIPTIONS).items

    async def get_subscription(
        self, customer_id: str, subscription_id: str, *, correlation_id: str
    ) -> Subscription:
        return await self._get_subscription_at(
            _subscription_path(customer_id, subscription_id), correlation_id
        )

    async def update_subscription(
        self,
        customer_id: str,
        subscription_id: str,
        patch: SubscriptionPatch,
        *,
        correlation_id: str,
    ) -> Subscription:
        """PATCH a subscription. A 409 (renewal in progress) is retried like a 5xx; a 202 is
        followed to its ``Location`` until the change is done."""
        reply = await self._transport.send(
            Operation.UPDATE_SUBSCRIPTION,
            "PATCH",
            _subscription_path(customer_id, subscription_id),
            correlation_id=correlation_id,
            body=_wire(patch),
            conflict_is_transient=True,
        )
        if reply.status == 202:
            location = reply.headers.get("Location")
            if not location:
                raise PartnerCenterError(
                    "202 without a Location header", operation=Operation.UPDATE_SUBSCRIPTION
                )
            return await self._poll_subscription(location, correlation_id)
        return _parse(Subscription, reply, Operation.UPDATE_SUBSCRIPTION)

    async def patch_subscription(
        self, customer_id: str, subscription_id: str, patch: BaseModel, correlation_id: str
    ) -> None:
        """PATCH other subscription fields (``billingCycle``: the renewals flow's mid-term
        change, ``hub.connectors.partner_center.renewals_midterm``); retried like any PATCH."""
        await self.schedule_next_term(
            customer_id, subscription_id, patch, correlation_id=correlation_id
        )

    async def transition_subscription(
        self,
        customer_id: str,
        subscription_id: str,
        transition: BaseModel,
        operation: str,
        correlation_id: str,
    ) -> None:
        """POST a transition (an upgrade within the family) of a subscription."""
        await self._transport.send(
            operation,
            "POST",
            _subscription_path(customer_id, subscription_id) + "/transitions",
            correlation_id=correlation_id,
            body=_wire(transition),
            conflict_is_transient=True,
        )

    async def schedule_next_term(
        self,
        customer_id: str,
        subscription_id: str,
        patch: BaseModel,
        *,
        correlation_id: str,
    ) -> None:
        """PATCH a subscription's ``scheduledNextTermInstructions`` (the renewals flow's
        ``hub.connectors.partner_center.renewals``); retried like any subscription PATCH."""
        reply = await self._transport.send(
            Operation.UPDATE_SUBSCRIPTION,
            "PATCH",
            _subscription_path(customer_id, subscription_id),
            correlation_id=correlation_id,
            body=_wire(patch),
            conflict_is_transient=True,
        )
        if reply.status == 202 and reply.headers.get("Location"):
            await self._poll_subscription(reply.headers["Location"], correlation_id)

    async def change_quantity(
        self, customer_id: str, subscription_id: str, quantity: int, *, correlation_id: str
    ) -> Subscription:
        return await self.update_subscription(
            customer_id,
            subscription_id,
            SubscriptionPatch(quantity=quantity),
            correlation_id=correlation_id,
        )

    async def set_status(
        self,
        customer_id: str,
        subscription_id: str,
        status: SubscriptionStatus,
        *,
        correlation_id: str,
    ) -> Subscription:
        """``suspended`` to suspend, ``active`` to reactivate, ``deleted`` to cancel."""
        return await self.update_subscription(
            customer_id,
            subscription_id,
            SubscriptionPatch(status=status),
            correlation_id=correlation_id,
        )

    async def cancel_subscription(
        self, customer_id: str, subscription_id: str, *, correlation_id: str
    ) -> Subscription:
        return await self.set_status(
            customer_id, subscription_id, SubscriptionStatus.DELETED, correlation_id=correlation_id
        )

    async def set_auto_renew(
        self, customer_id: str, subscription_id: str, enabled: bool, *, correlation_id: str
    ) -> Subscription:
        return await self.update_subscription(
            customer_id,
            subscription_id,
            SubscriptionPatch(auto_renew_enabled=enabled),
            correlation_id=correlation_id,
        )

    async def _get_subscription_at(self, path_or_url: str, correlation_id: str) -> Subscription:
        reply = await self._transport.send(
            Operation.GET_SUBSCRIPTION, "GET", path_or_url, correlation_id=correlation_id
        )
        return _parse(Subscription, reply, Operation.GET_SUBSCRIPTION)

    async def _poll_subscription(self, location: str, correlation_id: str) -> Subscription:
        for _ in range(self._config.max_attempts):
            reply = await self._transport.send(
                Operation.GET_SUBSCRIPTION, "GET", location, correlation_id=correlation_id
            )
            if reply.status != 202:
                return _parse(Subscription, reply, Operation.GET_SUBSCRIPTION)
            await self._sleep(max(self._config.backoff_base_s, 0.05))
        raise PartnerCenterError(
            "subscription change still in progress",
            operation=Operation.UPDATE_SUBSCRIPTION,
            status=202,
            retriable=True,
        )

    # -- invoices and reconciliation lines -------------------------------------------------

    async def list_invoices(self, *, correlation_id: str) -> list[Invoice]:
        reply = await self._transport.send(
            Operation.LIST_INVOICES, "GET", "/v1/invoices", correlation_id=correlation_id
        )
        return _parse(_INVOICES, reply, Operation.LIST_INVOICES).items

    def billed_line_items(
        self, invoice_id: str, *, correlation_id: str, page_size: int = 2000
    ) -> AsyncIterator[InvoiceLineItem]:
        """Every new-commerce line of an invoice, following continuation links page by page."""
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "size": str(page_size),
        }
        return self._pages(
            Operation.BILLED_LINE_ITEMS,
            f"/v1/invoices/{_seg(invoice_id)}/lineitems",
            params,
            correlation_id,
        )

    def unbilled_usage_line_items(
        self,
        currency: str,
        period: Literal["current", "previous"],
        *,
        correlation_id: str,
        page_size: int = 2000,
    ) -> AsyncIterator[usage.DailyRatedUsageLineItem]:
        """Azure plan daily rated usage not yet billed (hub/connectors/partner_center/usage.py)."""
        params = usage.unbilled_params(currency, period, page_size)
        path = "/v1/invoices/unbilled/lineitems"
        return usage.usage_pages(
            self._transport, Operation.UNBILLED_LINE_ITEMS, path, params, correlation_id
        )

    def billed_usage_line_items(
        self, invoice_id: str, *, correlation_id: str, page_size: int = 2000
    ) -> AsyncIterator[usage.DailyRatedUsageLineItem]:
        """An invoice's billed Azure plan daily rated usage, page by page."""
        path = f"/v1/invoices/{_seg(invoice_id)}/lineitems"
        return usage.usage_pages(
            self._transport,
            Operation.BILLED_LINE_ITEMS,
            path,
            usage.billed_params(page_size),
            correlation_id,
        )

    def unbilled_line_items(
        self,
        currency: str,
        period: Literal["current", "previous"],
        *,
        correlation_id: str,
        page_size: int = 2000,
    ) -> AsyncIterator[InvoiceLineItem]:
        """Lines not yet invoiced, for the current or the previous billing period."""
        params = {
            "provider": "onetime",
            "invoicelineitemtype": "billinglineitems",
            "currencycode": currency,
            "period": period,
            "size": str(page_size),
        }
        return self._pages(
            Operation.UNBILLED_LINE_ITEMS,
            "/v1/invoices/unbilled/lineitems",
            params,
            correlation_id,
        )

    def billed_lines(
        self, invoice: Invoice, *, correlation_id: str
    ) -> AsyncIterator[InvoiceLineItem]:
        """Every line of a billed invoice: through the Graph v2 export for periods after March
        2025, through the v1 pages for older ones."""
        if uses_v2_export(invoice):
            return self.export_billed_reconciliation(invoice.id, correlation_id=correlation_id)
        return self.billed_line_items(invoice.id, correlation_id=correlation_id)

    async def request_billed_export(
        self,
        invoice_id: str,
        *,
        correlation_id: str,
        attribute_set: AttributeSet = AttributeSet.FULL,
    ) -> ExportManifest:
        """Ask Graph to export an invoice's billed reconciliation, poll the operation until it
        succeeds, and return the manifest naming the blobs."""
        request = BilledReconciliationExportRequest(
            invoice_id=invoice_id, attribute_set=attribute_set
        )
        reply = await self._transport.send(
            Operation.EXPORT_BILLED_RECONCILIATION,
            "POST",
            f"{self._config.graph_base}{GRAPH_EXPORT_PATH}",
            correlation_id=correlation_id,
            body=_wire(request),
            audience=Audience.GRAPH,
        )
        location = reply.headers.get("Location")
        if reply.status != 202 or not location:
            raise PartnerCenterError(
                "export request was not accepted with a Location",
                operation=Operation.EXPORT_BILLED_RECONCILIATION,
                status=reply.status,
            )
        for _ in range(self._config.export_max_polls):
            reply = await self._transport.send(
                Operation.GET_EXPORT_OPERATION,
                "GET",
                location,
                correlation_id=correlation_id,
                audience=Audience.GRAPH,
            )
            operation = _parse(ExportOperation, reply, Operation.GET_EXPORT_OPERATION)
            if operation.status is ExportStatus.SUCCEEDED and operation.resource_location:
                return operation.resource_location
            if operation.status is ExportStatus.FAILED:
                raise PartnerCenterError(
                    f"export of {invoice_id} failed: {operation.error}",
                    operation=Operation.GET_EXPORT_OPERATION,
                    status=reply.status,
                )
            retry_after = reply.headers.get("Retry-After")
            await self._sleep(_seconds(retry_after, self._config.export_poll_s))
        raise PartnerCenterError(
            f"export of {invoice_id} still running after {self._config.export_max_polls} polls",
            operation=Operation.GET_EXPORT_OPERATION,
            retriable=True,
        )

    async def export_billed_reconciliation(
        self, invoice_id: str, *, correlation_id: str
    ) -> AsyncIterator[InvoiceLineItem]:
        """An invoice's lines through the v2 export: request, poll, download each blob (gzip
        JSON lines, read with its shared access signature and no bearer token)."""
        manifest = await self.request_billed_export(invoice_id, correlation_id=correlation_id)
        for url in manifest.blob_urls():
            reply = await self._transport.send(
                Operation.DOWNLOAD_EXPORT_BLOB,
                "GET",
                url,
                correlation_id=correlation_id,
                audience=None,
                raw=True,
            )
            for item in _blob_lines(reply.payload):
                yield item

    async def _pages(
        self,
        operation: Operation,
        path: str,
        params: Mapping[str, str],
        correlation_id: str,
    ) -> AsyncIterator[InvoiceLineItem]:
        reply = await self._transport.send(
            operation, "GET", path, correlation_id=correlation_id, params=params
        )
        while True:
            page = _parse(_INVOICE_LINES, reply, operation)
            for item in page.items:
                yield item
            following = page.links.next
            if following is None or not page.items:
                return
            headers = {pair.key: pair.value for pair in following.headers}
            if CONTINUATION_HEADER not in headers:
                raise PartnerCenterError("next link without continuation", operation=operation)
            reply = await self._transport.send(
                operation,
                following.method,
                following.uri,
                correlation_id=correlation_id,
                headers=headers,
            )

    # -- service requests ------------------------------------------------------------------

    async def create_service_request(
        self,
        request: ServiceRequest,
        *,
        correlation_id: str,
        agent_locale: str = "en-US",
        idempotency_key: str | None = None,
    ) -> ServiceRequest:
        reply = await self._transport.send(
            Operation.CREATE_SERVICE_REQUEST,
            "POST",
            f"/v1/servicerequests/{_seg(agent_locale)}",
            correlation_id=correlation_id,
            body=_wire(request),
            idempotency_key=idempotency_key,
        )
        return _parse(ServiceRequest, reply, Operation.CREATE_SERVICE_REQUEST)

    async def get_service_request(self, request_id: str, *, correlation_id: str) -> ServiceRequest:
        reply = await self._transport.send(
            Operation.GET_SERVICE_REQUEST,
            "GET",
            f"/v1/servicerequests/{_seg(request_id)}",
            correlation_id=correlation_id,
        )
        return _parse(ServiceRequest, reply, Operation.GET_SERVICE_REQUEST)

    async def update_service_request(
        self,
        request_id: str,
        *,
        correlation_id: str,
        status: ServiceRequestStatus | None = None,
        note: str | None = None,
    ) -> ServiceRequest:
        patch = ServiceRequestPatch(
            status=status, new_note=ServiceRequestNote(text=note) if note else None
        )
        reply = await self._transport.send(
            Operation.UPDATE_SERVICE_REQUEST,
            "PATCH",
            f"/v1/servicerequests/{_seg(request_id)}",
            correlation_id=correlation_id,
            body=_wire(patch),
        )
        return _parse(ServiceRequest, reply, Operation.UPDATE_SERVICE_REQUEST)


def _seconds(header: str | None, default: float) -> float:
    try:
        return max(0.0, float(header)) if header else default
    except ValueError:
        return default


def _blob_lines(data: bytes) -> list[InvoiceLineItem]:
    try:
        text = gzip.decompress(data).decode("utf-8")
        rows = [json.loads(ln, parse_float=Decimal) for ln in text.splitlines() if ln.strip()]
        return [InvoiceLineItem.model_validate(row) for row in rows]
    except (OSError, ValueError, ValidationError) as exc:
        raise PartnerCenterError(
            f"export blob is not gzip JSON lines of reconciliation rows ({type(exc).__name__})",
            operation=Operation.DOWNLOAD_EXPORT_BLOB,
        ) from exc


def _subscription_path(customer_id: str, subscription_id: str) -> str:
    return f"/v1/customers/{_seg(customer_id)}/subscriptions/{_seg(subscription_id)}"


def _parse(model: type[M], reply: Reply, operation: str) -> M:
    try:
        return model.model_validate(reply.payload)
    except ValidationError as exc:
        raise PartnerCenterError(
            f"{operation}: unexpected response shape ({exc.error_count()} problems)",
            operation=operation,
            status=reply.status,
        ) from exc
