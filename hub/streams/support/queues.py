"""The ops view of support queues, rebuilt from the topics: open tickets and SLA breaches.

A pure fold over ``TicketOpened`` (severity) and the support events (queue, language, closure,
breaches), so ``hub support queues`` needs no running worker and shows what the log says.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.schemas.envelope import Event
from hub.schemas.events.support import SlaBreached, TicketOpened, TicketResolved, TicketRouted


@dataclass
class QueueReport:
    """Open tickets per (queue, language, severity) and breaches per (queue, severity)."""

    open: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    breaches: Counter[tuple[str, str]] = field(default_factory=Counter)

    def to_markdown(self) -> str:
        lines = ["| queue | language | severity | open |", "|---|---|---|---|"]
        lines += [f"| {q} | {lang} | {s} | {n} |" for (q, lang, s), n in sorted(self.open.items())]
        lines += ["", "| queue | severity | SLA breaches |", "|---|---|---|"]
        lines += [f"| {q} | {s} | {n} |" for (q, s), n in sorted(self.breaches.items())]
        return "\n".join(lines)


def queue_report(events: Iterable[Event]) -> QueueReport:
    """Fold tickets and support events (any order within a ticket's life) into the report."""
    severity: dict[str, str] = {}
    routed: dict[str, tuple[str, str]] = {}
    closed: set[str] = set()
    breached: dict[tuple[str, str], str] = {}
    for event in events:
        if isinstance(event, TicketOpened):
            severity[event.ticket_id] = event.severity.value
        elif isinstance(event, TicketRouted):
            routed[event.ticket_id] = (event.queue, event.language)
        elif isinstance(event, TicketResolved):
            closed.add(event.ticket_id)
        elif isinstance(event, SlaBreached):
            # Keyed by ticket and target: a breach read twice (a redelivery) counts once.
            breached[(event.ticket_id, event.target)] = event.severity.value
    report = QueueReport()
    for ticket_id, (queue, language) in routed.items():
        if ticket_id not in closed:
            report.open[(queue, language, severity.get(ticket_id, "unknown"))] += 1
    for (ticket_id, _target), sev in breached.items():
        queue = routed.get(ticket_id, ("unknown", ""))[0]
        report.breaches[(queue, sev)] += 1
    return report
