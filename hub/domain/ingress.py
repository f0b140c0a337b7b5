"""Ingress trust: whether a reseller's event may enter the hub at all, before any flow acts on it.

A reseller may say only what the topic catalogue lets it say on that topic, only about itself,
and only plausible things. Who the writer is comes from the broker when it authenticates (the
hub's ingress gateway names the writer of each reseller's own topic); without authentication the
message key is the writer's claim and the body must agree with it. Pure: the caller passes what
the message says (a ``Claim``), who wrote it (a ``Writer``) and the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Refusal(StrEnum):
    """Why an ingress event is not admitted (the code a reseller sees)."""

    NOT_ALLOWED_HERE = "EventTypeNotAllowedOnTopic"
    HUB_DOCUMENT = "HubDocumentFromReseller"
    NO_WRITER = "WriterNotIdentified"
    IDENTITY_MISMATCH = "ResellerIdentityMismatch"
    AUTHOR = "AuthorNotAllowed"
    EVENT_TIME = "EventTimeOutOfWindow"
    DATE = "DateOutOfRange"
    QUANTITY = "QuantityOutOfRange"
    AMOUNT = "AmountOutOfRange"


@dataclass(frozen=True)
class Inadmissible:
    """One reason an event is refused: the rule, the field and the value it names."""

    code: Refusal
    field: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.code.value}: {self.field}={self.value!r}: {self.message}"


@dataclass(frozen=True)
class Writer:
    """Who wrote a record, as far as the hub can know.

    ``header`` is the writer named by the hub's ingress gateway, which forwards each reseller's
    own topic. When the broker ``authenticating``, only the hub may write the shared topics, so
    the header is the authenticated writer; otherwise anybody may set it, and it is one more
    claim that must agree with the ``key`` (the writer's claim, which the body must repeat).
    """

    key: str | None
    header: str | None = None
    authenticating: bool = False

    @property
    def reseller_id(self) -> str | None:
        """The reseller the hub holds responsible for the record (None if nobody is)."""
        return (self.header if self.authenticating else self.key) or None


class DateKind(StrEnum):
    """How far from now a date may lie (``Limits``)."""

    REQUEST = "request"  # when a reseller asks for something: now, give or take
    PAYMENT = "payment"  # when money arrived: in the past, within a year or so
    EFFECTIVE = "effective"  # when a change takes effect: within Microsoft's longest term


@dataclass(frozen=True)
class QuantityClaim:
    field: str
    quantity: int
    item_id: str | None = None  # a catalogue item: its own min/max apply


@dataclass(frozen=True)
class Claim:
    """What an ingress event says, as far as admission cares."""

    event_type: str
    reseller_id: str | None
    event_time: datetime
    dates: Sequence[tuple[str, datetime, DateKind]] = ()
    quantities: Sequence[QuantityClaim] = ()
    amounts: Sequence[tuple[str, int]] = ()
    # Who the event says wrote it (a ticket update's author): a reseller speaks only as itself
    # or its customer, never as the distributor's desk or Microsoft.
    author: str | None = None


@dataclass(frozen=True)
class Limits:
    """Plausibility windows. Ingress topics keep a week, so nothing older is still in flight."""

    event_time_past: timedelta = timedelta(days=7)
    clock_skew: timedelta = timedelta(minutes=5)
    # A request may wait in the topic (an outage), but a reseller may not date it back further.
    request_past: timedelta = timedelta(days=1)
    payment_past: timedelta = timedelta(days=400)
    # Microsoft's longest term is three years; nothing takes effect further out.
    effective_future: timedelta = timedelta(days=3 * 366)
    max_quantity: int = 100_000  # when the catalogue does not know the item
    max_amount_minor: int = 10**12  # ten billion in a currency with two minor digits


@dataclass(frozen=True)
class Rules:
    """What the catalogue allows on one ingress topic."""

    allowed: frozenset[str]
    hub_documents: frozenset[str]
    limits: Limits = field(default_factory=Limits)
    authors: frozenset[str] = frozenset({"customer", "reseller"})
    # Catalogue item id -> (min, max) quantity, or None if the item is not known.
    quantity_range: Callable[[str], tuple[int, int] | None] = lambda _item: None


def admit(claim: Claim, writer: Writer, rules: Rules, now: datetime) -> Inadmissible | None:
    """None if the event may enter; else the first reason it may not (type, identity, values)."""
    return (
        _type_refusal(claim, rules)
        or _identity_refusal(claim, writer)
        or _author_refusal(claim, rules)
        or _time_refusal(claim, rules.limits, now)
        or _quantity_refusal(claim, rules)
        or _amount_refusal(claim, rules.limits)
    )


def _type_refusal(claim: Claim, rules: Rules) -> Inadmissible | None:
    if claim.event_type in rules.hub_documents:
        return Inadmissible(
            Refusal.HUB_DOCUMENT,
            "event_type",
            claim.event_type,
            "a document only the hub issues is never taken from a reseller's topic",
        )
    if claim.event_type not in rules.allowed:
        allowed = ", ".join(sorted(rules.allowed)) or "nothing"
        return Inadmissible(
            Refusal.NOT_ALLOWED_HERE,
            "event_type",
            claim.event_type,
            f"resellers may write only {allowed} here",
        )
    return None


def _identity_refusal(claim: Claim, writer: Writer) -> Inadmissible | None:
    body = claim.reseller_id or ""
    if writer.authenticating:
        if not writer.header:
            return Inadmissible(
                Refusal.NO_WRITER,
                "writer",
                "",
                "the broker named no writer: resellers write their own reseller.<id>.* topics",
            )
        said = (("reseller_id", body), ("key", writer.key or ""))
        for name, value in said:
            if value != writer.header:
                return _mismatch(name, value, f"the authenticated writer {writer.header!r}")
        return None
    if not writer.key:
        return Inadmissible(
            Refusal.NO_WRITER, "key", "", "the message key must be the writer's reseller id"
        )
    if body != writer.key:
        return _mismatch("reseller_id", body, f"the message key {writer.key!r}")
    if writer.header is not None and writer.header != writer.key:
        return _mismatch("header", writer.header, f"the message key {writer.key!r}")
    return None


def _author_refusal(claim: Claim, rules: Rules) -> Inadmissible | None:
    if claim.author is None or claim.author in rules.authors:
        return None
    return Inadmissible(
        Refusal.AUTHOR,
        "author",
        claim.author,
        f"a reseller writes as {' or '.join(sorted(rules.authors))} only",
    )


def _mismatch(name: str, value: str, whom: str) -> Inadmissible:
    return Inadmissible(
        Refusal.IDENTITY_MISMATCH,
        name,
        value,
        f"must equal {whom}: a reseller speaks only for itself",
    )


def _time_refusal(claim: Claim, limits: Limits, now: datetime) -> Inadmissible | None:
    latest = now + limits.clock_skew
    if not now - limits.event_time_past <= claim.event_time <= latest:
        return Inadmissible(
            Refusal.EVENT_TIME,
            "event_time",
            claim.event_time.isoformat(),
            f"must lie within {limits.event_time_past.days} days before now "
            f"and {int(limits.clock_skew.total_seconds())} s after",
        )
    for name, when, kind in claim.dates:
        earliest, last = _window(kind, limits, now)
        if not earliest <= when <= last:
            return Inadmissible(
                Refusal.DATE,
                name,
                when.isoformat(),
                f"a {kind.value} date must lie between {earliest.date()} and {last.date()}",
            )
    return None


def _window(kind: DateKind, limits: Limits, now: datetime) -> tuple[datetime, datetime]:
    if kind is DateKind.PAYMENT:
        return now - limits.payment_past, now + limits.clock_skew
    if kind is DateKind.EFFECTIVE:
        return now - limits.request_past, now + limits.effective_future
    return now - limits.request_past, now + limits.clock_skew


def _quantity_refusal(claim: Claim, rules: Rules) -> Inadmissible | None:
    for q in claim.quantities:
        known = rules.quantity_range(q.item_id) if q.item_id else None
        low, high = known or (1, rules.limits.max_quantity)
        if not low <= q.quantity <= high:
            where = f"catalogue item {q.item_id}" if known else "any item"
            return Inadmissible(
                Refusal.QUANTITY,
                q.field,
                str(q.quantity),
                f"{where} takes {low} to {high} seats",
            )
    return None


def _amount_refusal(claim: Claim, limits: Limits) -> Inadmissible | None:
    for name, amount in claim.amounts:
        if not 0 < amount <= limits.max_amount_minor:
            return Inadmissible(
                Refusal.AMOUNT,
                name,
                str(amount),
                f"an amount must be positive and at most {limits.max_amount_minor} minor units",
            )
    return None
