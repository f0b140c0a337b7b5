"""Names of the Partner Center operations: metric labels and simulator fault targets share them."""

from __future__ import annotations

from enum import StrEnum


class Operation(StrEnum):
    CREATE_CUSTOMER = "create_customer"
    GET_CUSTOMER = "get_customer"
    CREATE_CART = "create_cart"
    CHECKOUT = "checkout"
    GET_ORDER = "get_order"
    LIST_ORDERS = "list_orders"
    LIST_SUBSCRIPTIONS = "list_subscriptions"
    GET_SUBSCRIPTION = "get_subscription"
    UPDATE_SUBSCRIPTION = "update_subscription"
    LIST_INVOICES = "list_invoices"
    BILLED_LINE_ITEMS = "billed_line_items"
    UNBILLED_LINE_ITEMS = "unbilled_line_items"
    EXPORT_BILLED_RECONCILIATION = "export_billed_reconciliation"
    GET_EXPORT_OPERATION = "get_export_operation"
    DOWNLOAD_EXPORT_BLOB = "download_export_blob"
    CREATE_SERVICE_REQUEST = "create_service_request"
    GET_SERVICE_REQUEST = "get_service_request"
    UPDATE_SERVICE_REQUEST = "update_service_request"
    # Relationships (hub/connectors/partner_center/relationships.py).
    CREATE_AGREEMENT = "create_agreement"
    LIST_AGREEMENTS = "list_agreements"
    CREATE_GDAP_RELATIONSHIP = "create_gdap_relationship"
    LIST_GDAP_RELATIONSHIPS = "list_gdap_relationships"
