"""Reads reseller profiles, customers, the catalogue and price lists from YAML or CSV files.

Every record is validated against the domain models, which refuse unknown keys; every problem
of a file is reported at once, one line each naming the file, the line (or CSV row), the record,
the key and what is expected, so a distributor can onboard a reseller without code and fix its
file without help.
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
from hub.connectors.reference_problems import (
    DocPath,
    Locator,
    ReferenceFileInvalid,
    record_problems,
    unknown_key_line,
    yaml_lines,
)
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


def _record_id(data: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    parts = [str(data[k]) for k in keys if data.get(k) not in (None, "")]
    return ":".join(parts) if len(parts) == len(keys) else None


# Which keys name a record of each model in a problem line.
_ID_KEYS: dict[type[BaseModel], tuple[str, ...]] = {
    ResellerProfile: ("reseller_id",),
    Customer: ("customer_id",),
    CatalogItem: ("product_id", "sku_id", "availability_id"),
    PriceListEntry: ("product_id", "sku_id", "availability_id"),
}

_PRICE_LIST_KEYS = ("price_list_id", "entries")


class _Reader:
    """Validates a document's records, collecting every problem before raising them together."""

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.problems: list[str] = []

    def parse(self, model: type[M], data: object, record: DocPath) -> M | None:
        if not isinstance(data, Mapping):
            where = self.locator.where(record, None)
            self.problems.append(f"{where}: must be a mapping of keys to values, got {data!r}")
            return None
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            record_id = _record_id(data, _ID_KEYS[model])
            self.problems.extend(record_problems(model, data, exc, self.locator, record, record_id))
            return None

    def records(self, doc: Mapping[str, Any], section: str) -> Sequence[object]:
        value = doc.get(section) or []
        if not isinstance(value, list):
            where = self.locator.where((section,), None)
            self.problems.append(f"{where}: must be a list, got {type(value).__name__}")
            return []
        return value

    def raise_any(self) -> None:
        if self.problems:
            raise ReferenceFileInvalid(self.locator.source, self.problems)


def _from_document(doc: object, locator: Locator) -> ReferenceSet:
    source = locator.source
    if not isinstance(doc, Mapping):
        raise ValidationFailed(source, type(doc).__name__, f"top level must map {SECTIONS}")
    reader = _Reader(locator)
    for key in doc:
        if key not in SECTIONS:
            where = f"{source} line {locator.line((str(key),)) or 1}"
            reader.problems.append(unknown_key_line(where, str(key), SECTIONS))
    ref = ReferenceSet()
    for i, data in enumerate(reader.records(doc, "resellers")):
        if (reseller := reader.parse(ResellerProfile, data, ("resellers", i))) is not None:
            ref.resellers.append(reseller)
    for i, data in enumerate(reader.records(doc, "customers")):
        if (customer := reader.parse(Customer, data, ("customers", i))) is not None:
            ref.customers.append(customer)
    for i, data in enumerate(reader.records(doc, "catalog")):
        if (item := reader.parse(CatalogItem, data, ("catalog", i))) is not None:
            ref.catalog.append(item)
    for i, data in enumerate(reader.records(doc, "price_lists")):
        price_list = _price_list(reader, data, ("price_lists", i))
        if price_list is not None:
            ref.price_lists.append(price_list)
    _check_links(ref, reader)
    reader.raise_any()
    return ref


def _price_list(reader: _Reader, data: object, record: DocPath) -> PriceList | None:
    list_id = data.get("price_list_id") if isinstance(data, Mapping) else None
    where = reader.locator.where(record, list_id if isinstance(list_id, str) else None)
    if not isinstance(data, Mapping) or not isinstance(list_id, str):
        reader.problems.append(f"{where}: a price list needs a price_list_id (text)")
        return None
    for key in data:
        if key not in _PRICE_LIST_KEYS:
            at = reader.locator.where(record, list_id, (*record, str(key)))
            reader.problems.append(unknown_key_line(at, str(key), _PRICE_LIST_KEYS))
    entries = data.get("entries") or []
    if not isinstance(entries, list):
        reader.problems.append(f"{where}: entries must be a list")
        return None
    parsed = [
        reader.parse(PriceListEntry, e, (*record, "entries", j)) for j, e in enumerate(entries)
    ]
    return PriceList(list_id, tuple(e for e in parsed if e is not None))


def _check_links(ref: ReferenceSet, reader: _Reader) -> None:
    """No reseller or customer is listed twice (a customer's reseller is checked later: it may
    be one already onboarded)."""
    for section, ids in (
        ("resellers", [r.reseller_id for r in ref.resellers]),
        ("customers", [c.customer_id for c in ref.customers]),
    ):
        seen: set[str] = set()
        for record_id in ids:
            if record_id in seen:
                where = reader.locator.where((section,), record_id)
                reader.problems.append(f"{where}: listed twice")
            seen.add(record_id)


def load_reference_file(path: Path, *, section: str | None = None) -> ReferenceSet:
    """A YAML file with any of the sections, or a CSV file holding one ``section``.

    Every record is checked before anything is refused: ``ReferenceFileInvalid`` lists each
    problem on its own line (file, line or row, record, key, what is expected)."""
    if not path.is_file():
        raise ValidationFailed("file", str(path), "does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        if section not in SECTIONS:
            raise ValidationFailed("section", section, f"a CSV file needs --section {SECTIONS}")
        doc, lines = _csv_document(text, section)
        return _from_document(doc, Locator(path.name, lines))
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationFailed(path.name, "(yaml)", f"not valid YAML: {exc}") from exc
    return _from_document(loaded or {}, Locator(path.name, yaml_lines(text)))


def _csv_document(text: str, section: str) -> tuple[dict[str, Any], dict[DocPath, int]]:
    """The rows of a CSV file as a document of ``section``, and each record's line."""
    reader = csv.DictReader(text.splitlines())
    rows: list[tuple[int, dict[str, Any]]] = []
    for row in reader:
        values = {k: _csv_value(k, v) for k, v in row.items() if v not in (None, "")}
        rows.append((reader.line_num, values))
    lines: dict[DocPath, int] = {}
    if section != "price_lists":
        for i, (line, _) in enumerate(rows):
            lines[(section, i)] = line
        return {section: [values for _, values in rows]}, lines
    by_list: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, values in rows:
        by_list.setdefault(str(values.pop("price_list_id", "default")), []).append((line, values))
    price_lists = []
    for k, (list_id, entries) in enumerate(by_list.items()):
        for j, (line, _) in enumerate(entries):
            lines[("price_lists", k, "entries", j)] = line
        price_lists.append({"price_list_id": list_id, "entries": [v for _, v in entries]})
    return {"price_lists": price_lists}, lines


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
