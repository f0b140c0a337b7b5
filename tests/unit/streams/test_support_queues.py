"""The queue view folded from topics: open tickets per queue, language, severity; breaches once."""

from __future__ import annotations

from hub.schemas.events.support import SlaBreached, TicketOpened, TicketResolved, TicketRouted
from hub.streams.support.queues import queue_report
from tests.support.samples import sample


def test_open_tickets_are_counted_per_queue_language_and_severity_until_resolved() -> None:
    opened = sample("TicketOpened")
    routed = sample("TicketRouted")
    assert isinstance(opened, TicketOpened)
    assert isinstance(routed, TicketRouted)
    other = routed.model_copy(update={"ticket_id": "t-2"})

    report = queue_report([opened, routed, other, sample("TicketResolved")])

    assert dict(report.open) == {("wl-de", "de", "unknown"): 1}


def test_a_breach_read_twice_counts_once() -> None:
    routed = sample("TicketRouted")
    breach = sample("SlaBreached")
    assert isinstance(breach, SlaBreached)
    assert isinstance(sample("TicketResolved"), TicketResolved)

    report = queue_report([routed, breach, breach])

    assert dict(report.breaches) == {("wl-de", "moderate"): 1}
    assert "| wl-de | moderate | 1 |" in report.to_markdown()
