"""What the renewals pages answer: a reseller's upcoming renewals at their renewal prices, and
the preview of a month's renewals under the price list in force on each renewal day."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.domain.enums import SubscriptionStatus
from hub.domain.orders import ReferenceView
from hub.domain.price_lists import PricePreview, Promotion, RenewingItem, preview
from hub.domain.proration import add_months
from hub.domain.renewals import RenewalPolicy, approval_deadline, quote
from hub.domain.renewals_scheduled import next_term_of
from hub.errors import BusinessRuleViolation
from hub.runtime.state import FaustStore, Store
from hub.streams.renewals.state import RenewalRecord

SUBS_VIEW = "subs|"


def partition_records(store: Store, partition: int, reseller_id: str) -> Iterator[RenewalRecord]:
    """The reseller's records, read from its partition only: on a worker the partition's RocksDB
    database is sought to the reseller's first key (the table's own iteration would read every
    assigned partition whole); elsewhere a prefix scan of the store."""
    prefix = f"{SUBS_VIEW}{reseller_id}|"
    data = store.table.data if isinstance(store, FaustStore) else None
    if data is not None and hasattr(data, "_db_for_partition"):
        db = data._db_for_partition(partition)
        raw_prefix = prefix.encode()
        for raw_key, raw_value in db.items(from_key=raw_prefix):
            if not raw_key.startswith(raw_prefix):
                return
            yield RenewalRecord.model_validate(data._decode_value(raw_value))
        return
    for _, raw in store.scan(prefix):
        yield RenewalRecord.model_validate(raw)


def _renews(record: RenewalRecord) -> bool:
    sub = record.subscription
    # Switched off for want of approval, and not turned on again by the reseller since.
    switched_off = sub.term_end == record.switched_off_for != record.approved_for
    return sub.status is SubscriptionStatus.ACTIVE and sub.auto_renew and not switched_off


def upcoming(
    records: Iterable[RenewalRecord],
    reference: ReferenceView,
    policy: RenewalPolicy,
    now: datetime,
    days: int,
    promotions: Iterable[Promotion] = (),
) -> list[dict[str, Any]]:
    """Every subscription whose term ends within ``days`` of ``now``: what it renews as and at
    what price (or that it expires), earliest first."""
    until = now + timedelta(days=days)
    profile_markup: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for record in records:
        sub = record.subscription
        if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.SUSPENDED):
            continue
        if not now <= sub.term_end <= until:
            continue
        next_term = record.scheduled or next_term_of(sub, None)
        row: dict[str, Any] = {
            "subscription_id": sub.subscription_id,
            "customer_id": sub.customer_id,
            "renews_at": sub.term_end.astimezone(UTC).isoformat(),
            "renews": _renews(record),
            "catalog_item_id": next_term.catalog_item_id,
            "quantity": next_term.quantity,
            "current_quantity": sub.quantity,
            "term": next_term.term.value,
            "billing_cycle": next_term.billing_cycle.value,
            "scheduled_change": record.scheduled is not None,
            "currency": record.currency,
            "current_unit_price_minor": record.unit_price_minor,
            "unit_price_minor": None,
            "change_bps": None,
            "term_value_minor": None,
            "note": "",
        }
        if not row["renews"]:
            row["note"] = "expires at the term end (auto-renew off or not active)"
        if policy.approval_required:
            row["approve_by"] = approval_deadline(sub.term_end, policy).isoformat()
            row["approved"] = record.approved_for == sub.term_end
        rid = sub.reseller_id
        if rid not in profile_markup:
            profile = reference.resellers.get(rid)
            profile_markup[rid] = profile.markup_bps if profile else 0
        try:
            q = quote(
                sub,
                next_term,
                entries=reference.prices.get(next_term.catalog_item_id) or (),
                promotions=promotions,
                currency=record.currency,
                markup_bps=profile_markup[rid],
                current_unit_price_minor=record.unit_price_minor,
                policy=policy,
            )
        except BusinessRuleViolation as exc:
            row["note"] = str(exc)
        else:
            row |= {
                "unit_price_minor": q.unit_price_minor,
                "change_bps": q.change_bps,
                "term_value_minor": q.term_value_minor,
                "promotion_id": q.promotion_id,
            }
        rows.append(row)
    return sorted(rows, key=lambda r: (r["renews_at"], r["subscription_id"]))


def month_preview(
    reseller_id: str,
    records: Iterable[RenewalRecord],
    reference: ReferenceView,
    month_start: date,
    promotions: Iterable[Promotion] = (),
) -> list[PricePreview]:
    """The month's renewals of the reseller priced from the list in force on each renewal day
    against today's price, one preview per currency."""
    month_end = add_months(month_start, 1)
    by_currency: dict[str, list[RenewingItem]] = {}
    for record in records:
        sub = record.subscription
        day = sub.term_end.astimezone(UTC).date()
        if not _renews(record) or not month_start <= day < month_end:
            continue
        n = record.scheduled or next_term_of(sub, None)
        by_currency.setdefault(record.currency, []).append(
            RenewingItem(
                subscription_id=sub.subscription_id,
                customer_id=sub.customer_id,
                product_id=n.product_id,
                sku_id=n.sku_id,
                availability_id=n.availability_id,
                quantity=n.quantity,
                term=n.term,
                billing_cycle=n.billing_cycle,
                renews_on=day,
                current_unit_price_minor=record.unit_price_minor,
            )
        )
    profile = reference.resellers.get(reseller_id)
    markup = profile.markup_bps if profile else 0
    return [
        preview(
            reseller_id,
            items,
            entries=[e for i in items for e in reference.prices.get(_item(i)) or ()],
            promotions=promotions,
            currency=currency,
            markup_bps=markup,
            month_start=month_start,
        )
        for currency, items in sorted(by_currency.items())
    ]


def _item(i: RenewingItem) -> str:
    return f"{i.product_id}:{i.sku_id}:{i.availability_id}"
