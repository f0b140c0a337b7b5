"""Enumerations named as Partner Center names them (values are Microsoft's spellings)."""

from __future__ import annotations

from enum import StrEnum


class Term(StrEnum):
    P1M = "P1M"
    P1Y = "P1Y"
    P3Y = "P3Y"


class BillingCycle(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    TRIENNIAL = "triennial"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PENDING = "pending"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    DISABLED = "disabled"
    DELETED = "deleted"


class ChargeType(StrEnum):
    NEW = "new"
    RENEW = "renew"
    CYCLE_CHARGE = "cycleCharge"
    ADD_QUANTITY = "addQuantity"
    REMOVE_QUANTITY = "removeQuantity"
    MOVE_QUANTITY = "moveQuantity"
    CANCEL_IMMEDIATE = "cancelImmediate"
    CONVERT = "convert"
    CHANGE_BILLING_PLAN = "changeBillingPlan"
    CUSTOMER_CREDIT = "customerCredit"
    EXTEND_TERM = "extendTerm"


class Severity(StrEnum):
    """Microsoft's severity A/B/C."""

    CRITICAL = "critical"
    MODERATE = "moderate"
    MINIMAL = "minimal"


class BillingMode(StrEnum):
    """Who invoices the end customer."""

    RESELLER_BILLS = "reseller_bills"
    DISTRIBUTOR_WHITE_LABEL = "distributor_white_label"


class SupportMode(StrEnum):
    """Who works the end customer's tickets."""

    RESELLER_OWN = "reseller_own"
    DISTRIBUTOR_WHITE_LABEL = "distributor_white_label"


class ProductKind(StrEnum):
    """Tax rules differ between a subscription product and a service (support, setup)."""

    SUBSCRIPTION = "subscription"
    SERVICE = "service"


class TicketCategory(StrEnum):
    """Support categories from the CSP partner-support split (seed text, two lists)."""

    # The partner handles these.
    BILLING_AND_SUBSCRIPTION = "billing_and_subscription"
    PROVISIONING = "provisioning"
    QUESTIONS = "questions"
    SERVICE_AND_SOFTWARE_UPDATES = "service_and_software_updates"
    CONFIGURATION = "configuration"
    PERFORMANCE_AVAILABILITY_PARTNER_SPAN = "performance_availability_partner_span"
    CLIENT_CONNECTIVITY_DESKTOP = "client_connectivity_desktop"
    # These may be escalated to Microsoft.
    OUTSIDE_AVAILABLE_TOOLS = "outside_available_tools"
    UNDOCUMENTED_BREAK_FIX = "undocumented_break_fix"
    SERVICE_NOT_ACCESSIBLE = "service_not_accessible"
    NOT_OPERATING_AS_DESCRIBED = "not_operating_as_described"
    BUG = "bug"
    LARGE_SCALE_NETWORK_DISRUPTION = "large_scale_network_disruption"
    REGIONAL_MULTI_TENANT_IMPACT = "regional_multi_tenant_impact"
