"""``hub billing close --wait``: follow a month-end close until every reseller's is done.

A close runs per reseller, page by page (``BillingRunContinued`` on ``hub.billing.inputs``),
and ends with a ``BillingRunCompleted`` on ``hub.billing.collections``. The command knows the
per-reseller runs the worker derives from its run (``fanned_out``), follows both topics from the
moment it published, prints a progress line every few seconds and a summary at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import follow, read_all
from hub.domain.money import Money
from hub.schemas.codec import Codec
from hub.schemas.events.billing import (
    BillingRunCompleted,
    BillingRunContinued,
    BillingRunRequested,
)
from hub.schemas.events.reference import ResellerUpserted
from hub.settings import Settings
from hub.streams.billing.documents import fanned_out
from hub.topics import Topic


@dataclass
class CloseProgress:
    """What is known of one close: pages per reseller and each reseller's completion."""

    run: BillingRunRequested
    resellers: Iterable[str]
    pages: dict[str, int] = field(default_factory=dict)
    done: dict[str, BillingRunCompleted] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The worker derives each reseller's run from this one: its id names the close.
        self.expected = {str(fanned_out(self.run, rid).event_id): rid for rid in self.resellers}

    def see(self, event: object) -> BillingRunCompleted | None:
        """Take one event read from the topics; a completion of this close is returned."""
        if isinstance(event, BillingRunContinued) and event.run_event_id in self.expected:
            rid = self.expected[event.run_event_id]
            self.pages[rid] = max(self.pages.get(rid, 0), event.pages)
        if isinstance(event, BillingRunCompleted) and event.run_event_id in self.expected:
            rid = self.expected[event.run_event_id]
            if rid not in self.done:
                self.done[rid] = event
                return event
        return None

    @property
    def finished(self) -> bool:
        return len(self.done) == len(self.expected)

    def waiting_for(self) -> list[str]:
        return sorted(set(self.expected.values()) - set(self.done))

    def line(self, elapsed_s: float) -> str:
        invoices = sum(d.invoices_issued for d in self.done.values())
        cycled = sum(d.subscriptions_cycled for d in self.done.values())
        pages = sum(self.pages.values())
        return (
            f"close {self.run.period}: {len(self.done)}/{len(self.expected)} resellers done, "
            f"{pages} pages, {cycled} subscriptions cycled, {invoices} invoices issued "
            f"({elapsed_s:.0f} s)"
        )

    def summary(self, elapsed_s: float) -> list[str]:
        done = list(self.done.values())
        totals: dict[str, tuple[int, int]] = {}
        for d in done:
            for t in d.totals:
                inv, cred = totals.get(t.currency, (0, 0))
                totals[t.currency] = (inv + t.invoiced_minor, cred + t.credited_minor)
        lines = [
            f"close {self.run.period} done for {len(done)} resellers in {elapsed_s:.1f} s: "
            f"{sum(d.invoices_issued for d in done)} invoices, "
            f"{sum(d.credit_notes_issued for d in done)} credit notes, "
            f"{sum(d.charges_rated for d in done)} charges rated"
        ]
        for currency, (invoiced, credited) in sorted(totals.items()):
            lines.append(
                f"  {currency}: invoiced {Money(minor=invoiced, currency=currency)}, "
                f"credited {Money(minor=credited, currency=currency)}"
            )
        before = sorted(rid for rid, d in self.done.items() if d.already_closed_by)
        if before:
            lines.append(f"  closed before by another run (nothing issued): {', '.join(before)}")
        return lines


async def reseller_ids(settings: Settings) -> list[str]:
    """The onboarded resellers, from the compacted reseller topic (a tombstone removes one)."""
    topic = settings.catalog.name(Topic.RESELLERS)
    codec = Codec()
    found: dict[str, bool] = {}
    for record in await read_all(
        settings.kafka_bootstrap_servers, topic, auth=auth_from_settings(settings)
    ):
        key = record.key.decode() if record.key else None
        if record.value is None:
            if key is not None:
                found.pop(key, None)
            continue
        event = codec.decode(record.value)
        if isinstance(event, ResellerUpserted):
            found[event.reseller.reseller_id] = True
    return sorted(found)


async def wait_for_close(
    settings: Settings,
    progress: CloseProgress,
    *,
    since_ms: int,
    timeout_s: float,
    say: Callable[[str], None],
    every_s: float = 5.0,
    tick: Callable[[str], None] | None = None,
) -> bool:
    """Follow ``progress``'s close until done (True) or ``timeout_s`` passes (False).

    Each reseller's completion goes to ``say``; the running count every ``every_s`` to ``tick``
    (``say`` unless given: the command gives a terminal-only progress line)."""
    tick = tick or say
    catalog = settings.catalog
    topics = [catalog.name(Topic.BILLING_INPUTS), catalog.name(Topic.COLLECTIONS)]
    codec = Codec()
    started = last = time.monotonic()
    if not progress.waiting_for():  # a call here, not ``finished``: mypy would narrow it to False
        return True
    records = follow(
        settings.kafka_bootstrap_servers,
        topics,
        since_ms=since_ms,
        auth=auth_from_settings(settings),
    )
    try:
        async for record in records:
            if record is not None and record.value is not None:
                try:
                    event = codec.decode(record.value)
                except Exception:  # noqa: BLE001 - another contract on the topic: not ours
                    event = None
                completed = progress.see(event)
                if completed is not None:
                    say(_reseller_line(completed))
            now = time.monotonic()
            if progress.finished:
                return True
            if now - last >= every_s:
                tick(progress.line(now - started))
                last = now
            if now - started > timeout_s:
                return False
    finally:
        await records.aclose()
    return False


def _reseller_line(done: BillingRunCompleted) -> str:
    if done.already_closed_by:
        return f"  {done.reseller_id}: {done.period} was closed before; nothing issued"
    amounts = ", ".join(
        str(Money(minor=t.invoiced_minor, currency=t.currency))
        for t in done.totals
        if t.invoiced_minor
    )
    return (
        f"  {done.reseller_id}: {done.invoices_issued} invoices, "
        f"{done.credit_notes_issued} credit notes, {done.subscriptions_cycled} subscriptions "
        f"in {done.pages} pages{f' ({amounts})' if amounts else ''}"
    )
