"""Partner Center resource shapes as pydantic models, with Microsoft's JSON names as aliases.

Client and simulator share these, so the two cannot drift apart. Money is ``Decimal``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

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


class InvoiceLineItem(WireModel):
    """A new-commerce reconciliation line; names are the billing file's column names."""

    partner_id: str = Field(alias="PartnerId")
    customer_id: str = Field(alias="CustomerId")
    customer_name: str = Field(default="", alias="CustomerName")
    customer_domain_name: str = Field(default="", alias="CustomerDomainName")
    customer_country: str = Field(default="", alias="CustomerCountry")
    invoice_number: str = Field(default="", alias="InvoiceNumber")
    mpn_id: str = Field(default="", alias="MpnId")
    reseller_mpn_id: str = Field(default="", alias="ResellerMpnId")
    order_id: str = Field(alias="OrderId")
    order_date: datetime = Field(alias="OrderDate")
    product_id: str = Field(alias="ProductId")
    sku_id: str = Field(alias="SkuId")
    availability_id: str = Field(alias="AvailabilityId")
    sku_name: str = Field(default="", alias="SkuName")
    product_name: str = Field(default="", alias="ProductName")
    charge_type: ChargeType = Field(alias="ChargeType")
    unit_price: Decimal = Field(alias="UnitPrice")
    effective_unit_price: Decimal = Field(alias="EffectiveUnitPrice")
    quantity: int = Field(alias="Quantity")
    billable_quantity: int = Field(alias="BillableQuantity")
    subtotal: Decimal = Field(alias="Subtotal")
    tax_total: Decimal = Field(alias="TaxTotal")
    total: Decimal = Field(alias="Total")
    currency: str = Field(alias="Currency")
    pricing_currency: str = Field(default="", alias="PricingCurrency")
    pc_to_bc_exchange_rate: Decimal = Field(default=Decimal(1), alias="PCToBCExchangeRate")
    price_adjustment_description: str = Field(default="", alias="PriceAdjustmentDescription")
    publisher_name: str = Field(default="Microsoft Corporation", alias="PublisherName")
    subscription_id: str = Field(alias="SubscriptionId")
    subscription_description: str = Field(default="", alias="SubscriptionDescription")
    subscription_start_date: datetime | None = Field(default=None, alias="SubscriptionStartDate")
    subscription_end_date: datetime | None = Field(default=None, alias="SubscriptionEndDate")
    charge_start_date: datetime = Field(alias="ChargeStartDate")
    charge_end_date: datetime = Field(alias="ChargeEndDate")
    term_and_billing_cycle: str = Field(alias="TermAndBillingCycle")
    billing_frequency: str = Field(alias="BillingFrequency")
    unit_type: str = Field(default="Licenses", alias="UnitType")
    credit_reason_code: str = Field(default="", alias="CreditReasonCode")
    reference_id: str = Field(default="", alias="ReferenceId")


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
