"""Prometheus metrics of the orders flow: outcomes, reasons, provisioning latency and failures.

Labels come from closed sets (enums); anything else is counted as ``other``, never as an id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from prometheus_client import Counter, Histogram

from hub.domain.credit import CreditReason
from hub.domain.orders import RejectionCode
from hub.domain.subscriptions import ChangeRejectionCode, LifecycleKind
from hub.metrics import child
from hub.schemas.events.orders import HoldReason

OTHER = "other"
REASON_CODES = frozenset(
    {c.value for c in RejectionCode}
    | {c.value for c in CreditReason}
    | {c.value for c in ChangeRejectionCode}
    | {"ReviewRejected", "SubscriptionNotFound", "PartnerCenterRefused"}
    | set(get_args(HoldReason))  # holds count under their OrderHeld.reason_code
)

ORDERS = Counter("hub_orders_decided_total", "Order decisions by outcome", ["outcome"])
ORDER_REASONS = Counter(
    "hub_orders_reasons_total",
    "Reasons of held and rejected orders (one order may count several reasons)",
    ["outcome", "code"],
)
ORDER_TO_PROVISIONED = Histogram(
    "hub_orders_order_to_provisioned_seconds",
    "Time from OrderRequested to its subscriptions provisioned at Microsoft",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
)
PROVISIONING_RETRIES = Counter(
    "hub_orders_provisioning_retries_total",
    "Provisioning attempts that failed with a retriable error",
)
PROVISIONING_FAILURES = Counter(
    "hub_orders_provisioning_failures_total",
    "Orders whose provisioning failed for good",
    ["retriable"],
)
SUBSCRIPTIONS_PROVISIONED = Counter(
    "hub_orders_subscriptions_provisioned_total", "Subscriptions created at Microsoft"
)
SUBSCRIPTION_CHANGES = Counter(
    "hub_orders_subscription_changes_total",
    "Subscription lifecycle changes applied, by kind",
    ["kind"],
)
SUBSCRIPTION_CHANGES_REJECTED = Counter(
    "hub_orders_subscription_changes_rejected_total",
    "Subscription change requests refused, by reason code",
    ["code"],
)

_KINDS = frozenset(k.value for k in LifecycleKind)


def bounded(value: str, allowed: Iterable[str]) -> str:
    """``value`` when it is one of ``allowed``, else ``other``: keeps label sets finite."""
    return value if value in frozenset(allowed) else OTHER


def count_decision(outcome: str, codes: Iterable[str] = ()) -> None:
    child(ORDERS, outcome=outcome).inc()
    for code in codes:
        child(ORDER_REASONS, outcome=outcome, code=bounded(code, REASON_CODES)).inc()


def count_change(kind: str) -> None:
    child(SUBSCRIPTION_CHANGES, kind=bounded(kind, _KINDS)).inc()


def count_change_rejected(code: str) -> None:
    SUBSCRIPTION_CHANGES_REJECTED.labels(code=bounded(code, REASON_CODES)).inc()
