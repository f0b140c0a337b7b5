"""Partner Center resource shapes as pydantic models, with Microsoft's JSON names as aliases.

Client and simulator share these, so the two cannot drift apart. Money is ``Decimal``.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from hub.domain.enums import BillingCycle, ChargeType, Severity, SubscriptionStatus, Term

TRANSACTION_RESELLER = "transaction_reseller"
IDEMPOTENCY_ATTRIBUTE = "idempotencyKey"

T = TypeVar("T")


class WireModel(BaseModel):
    """Field names in Python, Microsoft's names on the wire; unknown fields are ignored because
    Microsoft adds fields without notice."""

    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True, extra="ignore"
    )


class Address(WireModel):
    country: str
    city: str | None = None
    state: str | None = None
    address_line1: str | None = Field(default=None, alias="addressLine1")
    postal_code: str | None = Field(default=None, alias="postalCode")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    phone_number: str | None = Field(default=None, alias="phoneNumber")


class CompanyProfile(WireModel):
    domain: str
    company_name: str | None = Field(default=None, alias="companyName")
    tenant_id: str | None = Field(default=None, alias="tenantId")


class BillingProfile(WireModel):
    company_name: str = Field(alias="companyName")
    email: str
    culture: str = "en-US"
    language: str = "en"
    default_address: Address = Field(alias="defaultAddress")


class Customer(WireModel):
    """A customer tenant; ``associated_partner_id`` is the indirect reseller it is created for."""

    id: str | None = None
    company_profile: CompanyProfile = Field(alias="companyProfile")
    billing_profile: BillingProfile = Field(alias="billingProfile")
    associated_partner_id: str | None = Field(default=None, alias="associatedPartnerId")


class KeyValuePair(WireModel):
    key: str
    value: str


class CartLineItem(WireModel):
    """A new-commerce cart line; ``catalog_item_id`` is ``productId:skuId:availabilityId``."""

    id: int = 0
    catalog_item_id: str = Field(alias="catalogItemId")
    quantity: int = Field(ge=1)
    term_duration: Term = Field(alias="termDuration")
    billing_cycle: BillingCycle = Field(alias="billingCycle")
    participants: list[KeyValuePair] = Field(default_factory=list)
    provisioning_context: dict[str, str] = Field(default_factory=dict, alias="provisioningContext")

    def reseller_partner_id(self) -> str | None:
        for participant in self.participants:
            if participant.key == TRANSACTION_RESELLER:
                return participant.value
        return None


class Cart(WireModel):
    id: str | None = None
    line_items: list[CartLineItem] = Field(alias="lineItems")
    partner_on_record_attestation_accepted: bool = Field(
        default=False, alias="partnerOnRecordAttestationAccepted"
    )
    status: str | None = None
    creation_timestamp: datetime | None = Field(default=None, alias="creationTimestamp")
    expiration_timestamp: datetime | None = Field(default=None, alias="expirationTimestamp")


class ProvisioningStatus(StrEnum):
    FULFILLED = "Fulfilled"
    UNFULFILLED = "Unfulfilled"
    PREFULFILLMENT_PENDING = "PrefulfillmentPending"


class OrderLineItem(WireModel):
    line_item_number: int = Field(alias="lineItemNumber")
    offer_id: str = Field(alias="offerId")
    subscription_id: str | None = Field(default=None, alias="subscriptionId")
    term_duration: Term = Field(alias="termDuration")
    billing_cycle: BillingCycle = Field(alias="billingCycle")
    transaction_type: str = Field(default="New", alias="transactionType")
    friendly_name: str | None = Field(default=None, alias="friendlyName")
    quantity: int
    partner_id_on_record: str | None = Field(default=None, alias="partnerIdOnRecord")
    provisioning_status: ProvisioningStatus = Field(
        default=ProvisioningStatus.FULFILLED, alias="provisioningStatus"
    )


class Order(WireModel):
    id: str
    reference_customer_id: str = Field(alias="referenceCustomerId")
    currency_code: str = Field(alias="currencyCode")
    line_items: list[OrderLineItem] = Field(alias="lineItems")
    creation_date: datetime = Field(alias="creationDate")
    status: str
    transaction_type: str = Field(default="UserPurchase", alias="transactionType")
    # Microsoft's object attributes; the simulator adds ``idempotencyKey`` here.
    attributes: dict[str, str] = Field(default_factory=dict)

    @property
    def idempotency_key(self) -> str | None:
        return self.attributes.get(IDEMPOTENCY_ATTRIBUTE)


class OrderError(WireModel):
    order_group_id: str | None = Field(default=None, alias="orderGroupId")
    code: int
    description: str


class CartCheckoutResult(WireModel):
    orders: list[Order] = Field(default_factory=list)
    order_errors: list[OrderError] = Field(default_factory=list, alias="orderErrors")


class RefundableQuantityDetail(WireModel):
    quantity: int
    allow_until_date_time: datetime = Field(alias="allowUntilDateTime")


class RefundableQuantity(WireModel):
    """Seats that may still be removed with a refund, each lot with its own deadline."""

    total_quantity: int = Field(alias="totalQuantity")
    details: list[RefundableQuantityDetail] = Field(default_factory=list)


class Subscription(WireModel):
    """``commitment_end_date`` is the instant the current term ends (exclusive)."""

    id: str
    offer_id: str = Field(alias="offerId")
    offer_name: str | None = Field(default=None, alias="offerName")
    friendly_name: str | None = Field(default=None, alias="friendlyName")
    quantity: int
    unit_type: str = Field(default="Licenses", alias="unitType")
    creation_date: datetime = Field(alias="creationDate")
    effective_start_date: datetime = Field(alias="effectiveStartDate")
    commitment_end_date: datetime = Field(alias="commitmentEndDate")
    auto_renew_enabled: bool = Field(alias="autoRenewEnabled")
    status: SubscriptionStatus
    partner_id: str | None = Field(default=None, alias="partnerId")
    order_id: str = Field(alias="orderId")
    term_duration: Term = Field(alias="termDuration")
    billing_cycle: BillingCycle = Field(alias="billingCycle")
    refundable_quantity: RefundableQuantity | None = Field(default=None, alias="refundableQuantity")
    cancellation_allowed_until_date: datetime | None = Field(
        default=None, alias="cancellationAllowedUntilDate"
    )


class SubscriptionPatch(WireModel):
    """The fields a PATCH may change; a cancel is ``status=deleted``."""

    quantity: int | None = Field(default=None, ge=1)
    status: SubscriptionStatus | None = None
    auto_renew_enabled: bool | None = Field(default=None, alias="autoRenewEnabled")


class Link(WireModel):
    uri: str
    method: str = "GET"
    headers: list[KeyValuePair] = Field(default_factory=list)


class Links(WireModel):
    self_link: Link | None = Field(default=None, alias="self")
    next: Link | None = None


class Collection(WireModel, Generic[T]):
    """Partner Center's resource collection; ``links.next`` carries the continuation."""

    total_count: int = Field(alias="totalCount")
    items: list[T]
    links: Links = Field(default_factory=Links)


_CHARGE_TYPES = {ct.value.lower(): ct for ct in ChargeType}
_CSV_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _column(camel: str, *others: str, default: Any = ...) -> Any:
    """A reconciliation column: camelCase as the JSON APIs send it (and as written here), the
    file's PascalCase column name (CSV, Graph v2 export) and any ``others`` accepted too."""
    pascal = camel[0].upper() + camel[1:]
    return Field(default, alias=camel, validation_alias=AliasChoices(camel, pascal, *others))


class InvoiceLineItem(WireModel):
    """A new-commerce reconciliation line ("Modern invoice reconciliation file", "Get invoice
    line items", "Billed invoice reconciliation" v2).

    Reads every form Microsoft delivers: the v1 JSON (camelCase, numbers as strings or JSON
    numbers, ``totalForCustomer``), the CSV file and the v2 export's lines (the file's column
    names, ``Total``), decimal quantities (Azure rows), ``ChargeType`` in any letter case and a
    numeric ``resellerMpnId``. Writes the camelCase JSON form. Money and quantities are
    ``Decimal``; naive times are UTC.
    """

    partner_id: str = _column("partnerId")
    customer_id: str = _column("customerId")
    customer_name: str = _column("customerName", default="")
    customer_domain_name: str = _column("customerDomainName", default="")
    customer_country: str = _column("customerCountry", default="")
    invoice_number: str = _column("invoiceNumber", default="")
    mpn_id: str = _column("mpnId", default="")
    reseller_mpn_id: str = _column("resellerMpnId", "Tier2MpnId", "tier2MpnId", default="")
    order_id: str = _column("orderId", default="")
    order_date: datetime = _column("orderDate")
    product_id: str = _column("productId", default="")
    sku_id: str = _column("skuId", default="")
    availability_id: str = _column("availabilityId", default="")
    sku_name: str = _column("skuName", default="")
    product_name: str = _column("productName", default="")
    charge_type: ChargeType = _column("chargeType")
    unit_price: Decimal = _column("unitPrice")
    effective_unit_price: Decimal = _column("effectiveUnitPrice")
    quantity: Decimal = _column("quantity")
    billable_quantity: Decimal = _column("billableQuantity")
    subtotal: Decimal = _column("subtotal")
    tax_total: Decimal = _column("taxTotal", default=Decimal(0))
    total: Decimal = _column("totalForCustomer", "Total", "total")
    currency: str = _column("currency")
    pricing_currency: str = _column("pricingCurrency", default="")
    pc_to_bc_exchange_rate: Decimal = _column(
        "pcToBCExchangeRate", "PCToBCExchangeRate", default=Decimal(1)
    )
    pc_to_bc_exchange_rate_date: datetime | None = _column(
        "pcToBCExchangeRateDate", "PCToBCExchangeRateDate", default=None
    )
    price_adjustment_description: str = _column("priceAdjustmentDescription", default="")
    publisher_name: str = _column("publisherName", default="Microsoft Corporation")
    subscription_id: str = _column("subscriptionId")
    subscription_description: str = _column("subscriptionDescription", default="")
    subscription_start_date: datetime | None = _column("subscriptionStartDate", default=None)
    subscription_end_date: datetime | None = _column("subscriptionEndDate", default=None)
    charge_start_date: datetime = _column("chargeStartDate")
    charge_end_date: datetime = _column("chargeEndDate")
    term_and_billing_cycle: str = _column("termAndBillingCycle", default="")
    billing_frequency: str = _column("billingFrequency", default="")
    unit_type: str = _column("unitType", default="Licenses")
    credit_reason_code: str = _column("creditReasonCode", default="")
    reference_id: str = _column("referenceId", default="")
    promotion_id: str = _column("promotionId", default="")

    @field_validator("charge_type", mode="before")
    @classmethod
    def _charge_type(cls, value: object) -> object:
        if isinstance(value, str):
            return _CHARGE_TYPES.get(value.replace(" ", "").lower(), value)
        return value

    @field_validator("reseller_mpn_id", "mpn_id", "order_id", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        # Microsoft's samples write an absent reseller as the number 0.
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return "" if value == 0 else str(value)
        return "" if value is None else value

    @field_validator("tax_total", "pc_to_bc_exchange_rate", mode="before")
    @classmethod
    def _blank_number(cls, value: object, info: ValidationInfo) -> object:
        if value in (None, ""):
            return Decimal(1) if info.field_name == "pc_to_bc_exchange_rate" else Decimal(0)
        return value

    @field_validator(
        "order_date",
        "pc_to_bc_exchange_rate_date",
        "subscription_start_date",
        "subscription_end_date",
        "charge_start_date",
        "charge_end_date",
        mode="before",
    )
    @classmethod
    def _when(cls, value: object) -> object:
        if value == "":
            return None
        if isinstance(value, str) and (m := _CSV_DATE.match(value)):
            month, day, year = (int(g) for g in m.groups())
            return datetime(year, month, day, tzinfo=UTC)
        return value

    @field_validator(
        "order_date",
        "pc_to_bc_exchange_rate_date",
        "subscription_start_date",
        "subscription_end_date",
        "charge_start_date",
        "charge_end_date",
    )
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


_FILE_COLUMNS = {
    "totalForCustomer": "Total",
    "pcToBCExchangeRate": "PCToBCExchangeRate",
    "pcToBCExchangeRateDate": "PCToBCExchangeRateDate",
}


def file_row(item: InvoiceLineItem) -> dict[str, Any]:
    """``item`` under the reconciliation file's column names (``PartnerId``, ``Total``,
    ``PCToBCExchangeRate``, ...), numbers as decimal text, as the CSV file and the v2 export's
    JSON lines carry them."""
    row: dict[str, Any] = {}
    for camel, value in item.model_dump(by_alias=True, mode="json").items():
        column = _FILE_COLUMNS.get(camel, camel[0].upper() + camel[1:])
        row[column] = "" if value is None else value
    return row


def read_reconciliation_csv(text: str) -> list[InvoiceLineItem]:
    """The lines of a reconciliation file downloaded from Partner Center (CSV, column names
    as the file has them)."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return [InvoiceLineItem.model_validate(row) for row in rows]


class Invoice(WireModel):
    id: str
    invoice_date: datetime = Field(alias="invoiceDate")
    currency_code: str = Field(alias="currencyCode")
    total_charges: Decimal = Field(alias="totalCharges")


class ServiceRequestStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    ATTENTION_NEEDED = "attention_needed"


class ServiceRequestNote(WireModel):
    text: str
    created_by_name: str | None = Field(default=None, alias="createdByName")
    created_date: datetime | None = Field(default=None, alias="createdDate")


class ServiceRequest(WireModel):
    id: str | None = None
    title: str
    description: str
    severity: Severity
    support_topic_id: str = Field(alias="supportTopicId")
    status: ServiceRequestStatus = ServiceRequestStatus.OPEN
    product_name: str | None = Field(default=None, alias="productName")
    created_date: datetime | None = Field(default=None, alias="createdDate")
    last_modified_date: datetime | None = Field(default=None, alias="lastModifiedDate")
    notes: list[ServiceRequestNote] = Field(default_factory=list)
    country_code: str | None = Field(default=None, alias="countryCode")


class ServiceRequestPatch(WireModel):
    """What the partner may change: close or reopen, and add a note."""

    status: ServiceRequestStatus | None = None
    new_note: ServiceRequestNote | None = Field(default=None, alias="newNote")


# -- Graph async v2 export of billed reconciliation ("Billed invoice reconciliation API v2") --


class AttributeSet(StrEnum):
    FULL = "full"
    BASIC = "basic"


class BilledReconciliationExportRequest(WireModel):
    """The body of ``POST /reports/partners/billing/reconciliation/billed/export``."""

    invoice_id: str = Field(alias="invoiceId")
    attribute_set: AttributeSet = Field(default=AttributeSet.FULL, alias="attributeSet")


class ExportBlob(WireModel):
    name: str
    partition_value: str = Field(default="default", alias="partitionValue")


class ExportManifest(WireModel):
    """Where the exported files are: ``rootDirectory/<blob name>?<sasToken>``, each a gzip
    file of JSON lines (``dataFormat`` ``compressedJSONLines``)."""

    id: str
    schema_version: str = Field(default="2", alias="schemaVersion")
    data_format: str = Field(default="compressedJSONLines", alias="dataFormat")
    created_date_time: datetime | None = Field(default=None, alias="createdDateTime")
    e_tag: str = Field(default="", alias="eTag")
    partner_tenant_id: str = Field(default="", alias="partnerTenantId")
    root_directory: str = Field(alias="rootDirectory")
    sas_token: str = Field(alias="sasToken")
    partition_type: str = Field(default="default", alias="partitionType")
    blob_count: int = Field(alias="blobCount")
    blobs: list[ExportBlob] = Field(default_factory=list)

    def blob_urls(self) -> list[str]:
        root = self.root_directory.rstrip("/")
        return [f"{root}/{blob.name}?{self.sas_token.lstrip('?')}" for blob in self.blobs]


class ExportStatus(StrEnum):
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ExportOperation(WireModel):
    """``GET /reports/partners/billing/operations/{id}``: running until it succeeds with the
    manifest in ``resourceLocation``, or fails with an ``error``."""

    id: str
    status: ExportStatus
    created_date_time: datetime | None = Field(default=None, alias="createdDateTime")
    last_action_date_time: datetime | None = Field(default=None, alias="lastActionDateTime")
    resource_location: ExportManifest | None = Field(default=None, alias="resourceLocation")
    error: dict[str, Any] | None = None
