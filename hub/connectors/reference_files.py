"""Reads reseller profiles, customers, the catalogue and price lists from YAML or CSV files.

Every record is validated against the domain models; an error names the file, the record and
the field, so a distributor can onboard a reseller without code and fix its file without help.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.connectors.kafka_io import Outgoing
from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import ValidationFailed
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.topics import Topic, TopicCatalog

M = TypeVar("M", bound=BaseModel)

SECTIONS = ("resellers", "customers", "catalog", "price_lists")


@dataclass(frozen=True)
class PriceList:
    price_list_id: str
    entries: tuple[PriceListEntry, ...]


@dataclass
class ReferenceSet:
    resellers: list[ResellerProfile] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    catalog: list[CatalogItem] = field(default_factory=list)
    price_lists: list[PriceList] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "resellers": len(self.resellers),
            "customers": len(self.customers),
            "catalog items": len(self.catalog),
            "prices": sum(len(p.entries) for p in self.price_lists),
        }


def _parse(model: type[M], data: object, where: str) -> M:
    if not isinstance(data, Mapping):
        raise ValidationFailed(where, data, "must be a mapping of field names to values")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"{where}.{path}" if path else where, first.get("input"), first["msg"]
        ) from exc


def _records(doc: Mapping[str, Any], section: str, source: str) -> Sequence[object]:
    value = doc.get(section, [])
    if not isinstance(value, list):
        raise ValidationFailed(f"{source}:{section}", type(value).__name__, "must be a list")
    return value


def _from_document(doc: object, source: str) -> ReferenceSet:
    if not isinstance(doc, Mapping):
        raise ValidationFailed(source, type(doc).__name__, f"top level must map {SECTIONS}")
    unknown = set(doc) - set(SECTIONS)
    if unknown:
        raise ValidationFailed(source, sorted(unknown), f"unknown sections; known: {SECTIONS}")
    ref = ReferenceSet()
    for i, data in enumerate(_records(doc, "resellers", source)):
        ref.resellers.append(_parse(ResellerProfile, data, f"{source}:resellers[{i}]"))
    for i, data in enumerate(_records(doc, "customers", source)):
        ref.customers.append(_parse(Customer, data, f"{source}:customers[{i}]"))
    for i, data in enumerate(_records(doc, "catalog", source)):
        ref.catalog.append(_parse(CatalogItem, data, f"{source}:catalog[{i}]"))
    for i, data in enumerate(_records(doc, "price_lists", source)):
        where = f"{source}:price_lists[{i}]"
        if not isinstance(data, Mapping) or not isinstance(data.get("price_list_id"), str):
            raise ValidationFailed(f"{where}.price_list_id", data, "a price list needs an id")
        entries = data.get("entries", [])
        if not isinstance(entries, list):
            raise ValidationFailed(f"{where}.entries", entries, "must be a list")
        ref.price_lists.append(
            PriceList(
                data["price_list_id"],
                tuple(
                    _parse(PriceListEntry, e, f"{where}.entries[{j}]")
                    for j, e in enumerate(entries)
                ),
            )
        )
    _check_links(ref, source)
    return ref


def _check_links(ref: ReferenceSet, source: str) -> None:
    """A customer must name a reseller of this file or one already onboarded (checked later)."""
    seen: set[str] = set()
    for reseller in ref.resellers:
        if reseller.reseller_id in seen:
            raise ValidationFailed(f"{source}:resellers", reseller.reseller_id, "listed twice")
        seen.add(reseller.reseller_id)
    customers: set[str] = set()
    for customer in ref.customers:
        if customer.customer_id in customers:
            raise ValidationFailed(f"{source}:customers", customer.customer_id, "listed twice")
        customers.add(customer.customer_id)


def load_reference_file(path: Path, *, section: str | None = None) -> ReferenceSet:
    """A YAML file with any of the sections, or a CSV file holding one ``section``."""
    if not path.is_file():
        raise ValidationFailed("file", str(path), "does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        if section not in SECTIONS:
            raise ValidationFailed("section", section, f"a CSV file needs --section {SECTIONS}")
        rows = [
            {k: _csv_value(k, v) for k, v in row.items() if v not in (None, "")}
            for row in csv.DictReader(text.splitlines())
        ]
        if section == "price_lists":
            by_list: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_list.setdefault(str(row.pop("price_list_id", "default")), []).append(row)
            doc: dict[str, Any] = {
                "price_lists": [{"price_list_id": k, "entries": v} for k, v in by_list.items()]
            }
        else:
            doc = {section: rows}
        return _from_document(doc, path.name)
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(path.name, "(yaml)", f"not valid YAML: {exc}") from exc
    return _from_document(loaded or {}, path.name)


_LIST_COLUMNS = {"languages", "markets"}


def _csv_value(column: str, value: str) -> object:
    if column in _LIST_COLUMNS:
        return [part.strip() for part in value.split("|") if part.strip()]
    return value


def _content_id(kind: str, key: str, model: BaseModel) -> str:
    digest = hashlib.sha256(json.dumps(model.model_dump(mode="json"), sort_keys=True).encode())
    return str(derived_event_id("reference-data", kind, key, digest.hexdigest()))


def reference_events(ref: ReferenceSet, at: datetime) -> list[tuple[str, Event]]:
    """(key, event) per record. Event ids come from the content: loading a file twice yields
    the same ids, a changed record a new one."""
    out: list[tuple[str, Event]] = []

    def envelope(kind: str, key: str, model: BaseModel, reseller: str | None) -> dict[str, Any]:
        return {
            "event_id": _content_id(kind, key, model),
            "event_time": at,
            "correlation_id": f"reference-load-{at:%Y%m%dT%H%M%S}",
            "reseller_id": reseller,
        }

    for r in ref.resellers:
        env = envelope("reseller", r.reseller_id, r, r.reseller_id)
        out.append((r.reseller_id, ResellerUpserted(**env, reseller=r)))
    for c in ref.customers:
        env = envelope("customer", c.customer_id, c, c.reseller_id)
        out.append((c.customer_id, CustomerUpserted(**env, customer=c)))
    for item in ref.catalog:
        env = envelope("catalog", item.catalog_item_id, item, None)
        out.append((item.catalog_item_id, CatalogItemUpserted(**env, item=item)))
    for price_list in ref.price_lists:
        for entry in price_list.entries:
            key = f"{price_list.price_list_id}:{entry.catalog_item_id}:{entry.term}:"
            key += f"{entry.billing_cycle}:{entry.currency}:{entry.effective_from}"
            env = envelope("price", key, entry, None)
            out.append(
                (
                    key,
                    PriceListEntryUpserted(
                        **env, price_list_id=price_list.price_list_id, entry=entry
                    ),
                )
            )
    return out


def reseller_ids(ref: ReferenceSet) -> Iterable[str]:
    return (r.reseller_id for r in ref.resellers)


_TOPIC_OF: dict[type[Event], Topic] = {
    ResellerUpserted: Topic.RESELLERS,
    CustomerUpserted: Topic.CUSTOMERS,
    CatalogItemUpserted: Topic.CATALOG,
    PriceListEntryUpserted: Topic.PRICES,
}


def reference_outgoing(ref: ReferenceSet, catalog: TopicCatalog, at: datetime) -> list[Outgoing]:
    """``reference_events`` addressed to their reference topics in ``catalog``."""
    return [
        Outgoing(catalog.name(_TOPIC_OF[type(event)]), key, event)
        for key, event in reference_events(ref, at)
    ]
