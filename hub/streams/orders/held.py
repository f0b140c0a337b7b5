"""Held orders as finance reviews them, read a page at a time from the intake state.

The intake state keeps one entry per order (``orders|<reseller>|<order>``, status inside), in
one RocksDB database per partition with its keys sorted, and there is no separate index of held
orders. So a page reads one partition from a key on, at most ``SCAN_BUDGET`` entries, and says
where the next page starts: a reseller with 100,000 orders costs many small requests, never one
that reads them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hub.runtime.state import scan
from hub.streams.ingress import home_partition

# Orders a page lists at most (a request may ask fewer), and entries one request reads at most.
PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 500
SCAN_BUDGET = 2000

# The intake journal's view of orders (``IntakeState.orders``): its entries' key prefix.
ORDERS_VIEW = "orders|"


@dataclass(frozen=True)
class HeldPage:
    """Held orders found, and the key to go on after (None: the range is read to its end)."""

    orders: list[dict[str, Any]]
    resume_after: str | None


def held_summary(key: str, raw: Mapping[str, Any]) -> dict[str, Any] | None:
    """What finance needs to decide on one held order (None unless it is held)."""
    if raw.get("status") != "held":
        return None
    reseller_id, _, order_id = key.partition("|")
    decision = raw.get("decision") or {}
    held = decision.get("doc") or {}
    request = raw.get("request") or {}
    return {
        "reseller_id": reseller_id,
        "order_id": order_id,
        "customer_id": request.get("customer_id"),
        "requested_at": request.get("requested_at"),
        "held_at": held.get("event_time"),
        "reason_code": held.get("reason_code"),
        "message": held.get("message"),
        "order_commitment_minor": held.get("order_commitment_minor"),
        "exposure_minor": held.get("exposure_minor"),
        "credit_limit_minor": held.get("credit_limit_minor"),
        "currency": held.get("currency"),
    }


def held_page(
    entries: Iterable[tuple[str, Any]], limit: int, budget: int | None = None
) -> HeldPage:
    """The held orders among ``entries`` (``<reseller>|<order>`` -> record, in key order),
    reading at most ``budget`` (``SCAN_BUDGET``) of them and keeping at most ``limit``."""
    budget = SCAN_BUDGET if budget is None else budget
    found: list[dict[str, Any]] = []
    for read, (key, raw) in enumerate(entries, start=1):
        summary = held_summary(key, raw) if isinstance(raw, Mapping) else None
        if summary is not None:
            found.append(summary)
        if len(found) >= limit or read >= budget:
            return HeldPage(found, key)
    return HeldPage(found, None)


def partition_orders(
    orders: Any, table: Any, partition: int, partitions: int, prefix: str, after: str | None
) -> Iterator[tuple[str, Any]]:
    """The order entries (``<reseller>|<order>`` -> record) of ``partition`` under ``prefix``,
    in key order, after key ``after``.

    On a worker it seeks the partition's RocksDB database to the first key and reads on from
    there (the table's own iteration would read every assigned partition whole); elsewhere (a
    plain mapping, unit tests) it keeps the keys whose reseller lives on ``partition``."""
    data = getattr(table, "data", None)
    if data is not None and hasattr(data, "_db_for_partition"):
        yield from _rocksdb_range(data, partition, prefix, after)
        return
    for key, value in scan(orders, prefix, after):
        if home_partition(key.partition("|")[0], partitions) == partition:
            yield key, value


def _rocksdb_range(
    data: Any, partition: int, prefix: str, after: str | None
) -> Iterator[tuple[str, Any]]:
    db = data._db_for_partition(partition)
    raw_prefix = (ORDERS_VIEW + prefix).encode()
    start = raw_prefix if after is None else (ORDERS_VIEW + after).encode()
    cut = len(ORDERS_VIEW)
    for raw_key, raw_value in db.items(from_key=max(start, raw_prefix)):
        if not raw_key.startswith(raw_prefix):
            return
        key = raw_key.decode()
        if after is not None and key[cut:] <= after:
            continue
        yield key[cut:], data._decode_value(raw_value)


@dataclass(frozen=True)
class HeldQuery:
    """One page of ``/orders-held/``: a partition, the key it goes on after, how many."""

    partition: int
    reseller_id: str | None
    after: str | None
    limit: int

    @property
    def prefix(self) -> str:
        return "" if self.reseller_id is None else f"{self.reseller_id}|"

    def next_page(self, resume_after: str | None, partitions: int) -> dict[str, Any] | None:
        """Where the next page starts: further in this partition, else (every reseller's)
        the next partition; None once everything asked for is read."""
        if resume_after is not None:
            return {"partition": self.partition, "after": resume_after}
        if self.reseller_id is None and self.partition + 1 < partitions:
            return {"partition": self.partition + 1, "after": None}
        return None


def held_query(query: Mapping[str, str], partitions: int) -> HeldQuery:
    """``?reseller=&partition=&after=&limit=`` checked (ValueError says what is wrong)."""
    reseller = query.get("reseller") or None
    after = query.get("after") or None
    try:
        limit = int(query.get("limit", PAGE_LIMIT))
        partition = int(query["partition"]) if "partition" in query else None
    except ValueError as exc:
        raise ValueError("limit and partition are whole numbers") from exc
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit is 1 to {MAX_PAGE_LIMIT}")
    if reseller is not None:
        home = home_partition(reseller, partitions)
        if partition not in (None, home):
            raise ValueError(f"reseller {reseller} lives on partition {home}, not {partition}")
        if after is not None and not after.startswith(f"{reseller}|"):
            raise ValueError(f"after must be a key of reseller {reseller}")
        partition = home
    partition = 0 if partition is None else partition
    if not 0 <= partition < partitions:
        raise ValueError(f"partition is 0 to {partitions - 1}")
    return HeldQuery(partition, reseller, after, limit)
