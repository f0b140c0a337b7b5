"""What the demo shows at the end, computed only from what the hub wrote to its topics."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hub.connectors.kafka_io import read_all
from hub.domain.money import Money
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.topics import TopicCatalog

CODEC = Codec()


@dataclass(frozen=True)
class HeldOrder:
    order_id: str
    reseller_id: str
    reason_code: str


@dataclass(frozen=True)
class Outage:
    """An incident and who its credit reached: the facts the credit eligibility note needs."""

    incident_id: str
    service: str
    region: str | None
    reporting_resellers: tuple[str, ...]
    percentage_tier: int | None = None
    affected_subscriptions: int = 0
    excluded: tuple[tuple[str, int], ...] = ()


@dataclass
class Summary:
    # Each order counted once, by its latest decision: a held order finance released is accepted.
    orders: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    released: Counter[str] = field(default_factory=Counter)
    # The codes exactly as the events carry them: OrderHeld.reason_code, OrderRejected's codes.
    hold_reasons: Counter[str] = field(default_factory=Counter)
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    still_held: list[HeldOrder] = field(default_factory=list)
    subscriptions: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)
    refunds: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    invoices: dict[str, list[tuple[str, Money]]] = field(default_factory=lambda: defaultdict(list))
    credit_notes: Counter[str] = field(default_factory=Counter)
    dunning: Counter[str] = field(default_factory=Counter)
    mismatches: int = 0
    tickets_by_queue: Counter[str] = field(default_factory=Counter)
    tickets_escalated: int = 0
    microsoft_requests: set[str] = field(default_factory=set)
    incidents: int = 0
    sla_breaches: int = 0
    credits: dict[str, list[Money]] = field(default_factory=lambda: defaultdict(list))
    outage: Outage | None = None
    dead_letters: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers, for tests and `--json`."""
        return {
            "orders": {r: dict(c) for r, c in sorted(self.orders.items())},
            "released": dict(self.released),
            "hold_reasons": dict(self.hold_reasons),
            "rejection_reasons": dict(self.rejection_reasons),
            "still_held": [h.order_id for h in self.still_held],
            "subscriptions": dict(self.subscriptions),
            "changes": dict(self.changes),
            "invoices": {
                r: [(n, str(m)) for n, m in items] for r, items in sorted(self.invoices.items())
            },
            "credit_notes": dict(self.credit_notes),
            "dunning": dict(self.dunning),
            "mismatches": self.mismatches,
            "tickets_by_queue": dict(self.tickets_by_queue),
            "tickets_escalated": self.tickets_escalated,
            "microsoft_service_requests": len(self.microsoft_requests),
            "incidents": self.incidents,
            "sla_breaches": self.sla_breaches,
            "credits": {r: [str(m) for m in ms] for r, ms in sorted(self.credits.items())},
            "dead_letters": dict(self.dead_letters),
        }

    def render(self) -> str:
        lines = ["", "=== What the hub did ==="]
        total = sum(sum(c.values()) for c in self.orders.values())
        lines.append(
            f"Orders: {total}, each counted once by its latest decision "
            "(accepted / held / rejected), and subscriptions provisioned:"
        )
        for reseller, counts in sorted(self.orders.items()):
            line = (
                f"  {reseller:<14} {counts['accepted']:>2} / {counts['held']:>2} / "
                f"{counts['rejected']:>2}   subscriptions: {self.subscriptions[reseller]}"
            )
            if self.released[reseller]:
                line += f"   ({self.released[reseller]} accepted after finance released it)"
            lines.append(line)
        if self.hold_reasons:
            released = sum(self.released.values())
            lines.append(
                "  held for review" + (f" ({released} released since)" if released else "") + ":"
            )
            lines.extend(_reason_lines(self.hold_reasons))
        if self.rejection_reasons:
            lines.append("  rejected:")
            lines.extend(_reason_lines(self.rejection_reasons))
        if self.changes:
            changes = ", ".join(f"{k} x{v}" for k, v in sorted(self.changes.items()))
            lines.append(f"Subscription changes: {changes}")
        if self.invoices:
            lines.append("Invoices per reseller (number: total incl. tax):")
            for reseller, items in sorted(self.invoices.items()):
                shown = "; ".join(f"{n}: {m}" for n, m in items)
                lines.append(f"  {reseller:<14} {shown}")
        if self.dunning:
            lines.append("Dunning: " + ", ".join(f"{k} x{v}" for k, v in self.dunning.items()))
        lines.append(f"Reconciliation mismatches with Microsoft: {self.mismatches}")
        lines.append("Tickets by queue:")
        for queue, n in sorted(self.tickets_by_queue.items()):
            lines.append(f"  {queue:<40} {n}")
        lines.append(
            f"Escalated to Microsoft: {self.tickets_escalated} tickets in "
            f"{len(self.microsoft_requests)} service requests   incidents: {self.incidents}   "
            f"SLA breaches: {self.sla_breaches}"
        )
        lines.extend(self._credit_lines())
        dead = sum(self.dead_letters.values())
        lines.append(f"Dead letters: {dead}" + (f" {dict(self.dead_letters)}" if dead else ""))
        return "\n".join(lines)

    def _credit_lines(self) -> list[str]:
        """Who was credited and why the others were not: the credit follows subscriptions of
        the incident's service, not the tickets."""
        out = []
        outage = self.outage
        if outage is not None:
            where = f" in {outage.region}" if outage.region else ""
            tier = f"{outage.percentage_tier}% " if outage.percentage_tier else ""
            out.append(
                f"Service credits: Microsoft's {tier}credit for the {outage.service} outage{where} "
                f"goes to every {outage.service} subscription live during it, whoever reported "
                f"the outage ({outage.affected_subscriptions} subscription(s)):"
            )
        elif self.credits:
            out.append("Service credits passed through (per reseller):")
        for reseller, amounts in sorted(self.credits.items()):
            total = amounts[0]
            for amount in amounts[1:]:
                total = total + amount
            out.append(f"  {reseller:<14} {len(amounts)} credit(s), total {total}")
        if outage is not None:
            others = [r for r in outage.reporting_resellers if r not in self.credits]
            if others:
                out.append(
                    f"  {', '.join(others)}: reported the outage but had no {outage.service} "
                    "subscription live during it, so nothing to credit"
                )
            if outage.excluded:
                shown = ", ".join(f"{reason} x{n}" for reason, n in outage.excluded)
                out.append(f"  not credited: {shown}")
        return out


# What the credit codes mean: a hold and a rejection for the limit are different checks.
MEANINGS = {
    "over_credit_limit": "the order would take its reseller past the credit limit",
    "reseller_on_credit_hold": "the reseller is on credit hold (dunning)",
    "OrderExceedsCreditLimit": "the order alone is more than the whole credit limit",
}


def _reason_lines(reasons: Counter[str]) -> list[str]:
    out = []
    for code, n in reasons.most_common():
        out.append(f"    {f'{code} x{n}':<30} {MEANINGS.get(code, '')}".rstrip())
    return out


def count_decisions(summary: Summary, decisions: Iterable[Event]) -> None:
    """Count each order once, by its latest decision (in topic order: one reseller's decisions
    share a partition); an order held and then accepted counts as accepted and released."""
    from hub.schemas.events import orders

    latest: dict[tuple[str, str], Event] = {}
    held_first: set[tuple[str, str]] = set()
    for e in decisions:
        if not isinstance(e, orders.OrderAccepted | orders.OrderHeld | orders.OrderRejected):
            continue
        key = (e.reseller_id or "?", e.order_id)
        latest[key] = e
        if isinstance(e, orders.OrderHeld):
            if key not in held_first:
                summary.hold_reasons[e.reason_code] += 1
            held_first.add(key)
    for (reseller, order_id), e in latest.items():
        if isinstance(e, orders.OrderAccepted):
            summary.orders[reseller]["accepted"] += 1
            if (reseller, order_id) in held_first:
                summary.released[reseller] += 1
        elif isinstance(e, orders.OrderHeld):
            summary.orders[reseller]["held"] += 1
            summary.still_held.append(HeldOrder(order_id, reseller, e.reason_code))
        elif isinstance(e, orders.OrderRejected):
            summary.orders[reseller]["rejected"] += 1
            summary.rejection_reasons.update(r.code for r in e.reasons)


async def _events(bootstrap: str, topic: str) -> list[Event]:
    return [CODEC.decode(r.value) for r in await read_all(bootstrap, topic) if r.value]


async def build_summary(bootstrap: str, topics: TopicCatalog) -> Summary:
    """Read the hub's own topics and count what happened; nothing comes from the scenario."""
    from hub.schemas.events import billing, credits, orders, subscriptions, support
    from hub.topics import Topic

    s = Summary()
    count_decisions(s, await _events(bootstrap, topics.name(Topic.ORDER_DECISIONS)))
    for e in await _events(bootstrap, topics.name(Topic.PROVISIONING)):
        if isinstance(e, orders.SubscriptionProvisioned):
            s.subscriptions[e.reseller_id] += 1
    for e in await _events(bootstrap, topics.name(Topic.SUBSCRIPTION_EVENTS)):
        if isinstance(e, subscriptions.SubscriptionChanged):
            s.changes[e.kind] += 1
            s.refunds[e.reseller_id] += e.refund_minor
        elif isinstance(e, subscriptions.SubscriptionChangeRejected):
            s.changes[f"{e.kind} rejected ({e.code})"] += 1
    for e in await _events(bootstrap, topics.name(Topic.INVOICES)):
        if isinstance(e, billing.InvoiceIssued):
            s.invoices[e.reseller_id].append((e.number, Money.of(e.total_minor, e.currency)))
        elif isinstance(e, billing.CreditNoteIssued):
            s.credit_notes[e.reseller_id] += 1
    for e in await _events(bootstrap, topics.name(Topic.COLLECTIONS)):
        if isinstance(e, billing.DunningStageReached):
            s.dunning[e.stage] += 1
    s.mismatches = sum(
        isinstance(e, billing.ReconciliationMismatch)
        for e in await _events(bootstrap, topics.name(Topic.RECONCILIATION_MISMATCHES))
    )
    reporters: dict[str, set[str]] = defaultdict(set)
    for e in await _events(bootstrap, topics.name(Topic.SUPPORT_EVENTS)):
        if isinstance(e, support.TicketRouted):
            s.tickets_by_queue[e.queue] += 1
        elif isinstance(e, support.TicketEscalated):
            s.tickets_escalated += 1
            if e.incident_id:
                reporters[e.incident_id].add(e.reseller_id)
            if e.service_request_id:
                s.microsoft_requests.add(e.service_request_id)
        elif isinstance(e, support.SlaBreached):
            s.sla_breaches += 1
    incidents = [
        e
        for e in await _events(bootstrap, topics.name(Topic.INCIDENTS))
        if isinstance(e, support.IncidentDetected)
    ]
    s.incidents = len(incidents)
    seen: set[str] = set()
    tier: int | None = None
    for e in await _events(bootstrap, topics.name(Topic.CREDITS_ALLOCATED)):
        if isinstance(e, credits.ServiceCreditAllocated) and str(e.event_id) not in seen:
            seen.add(str(e.event_id))
            s.credits[e.reseller_id].append(Money.of(e.amount_minor, e.currency))
            tier = tier or e.percentage_tier
    if incidents:
        incident = incidents[0]
        audit = await _events(bootstrap, topics.name(Topic.CREDITS_AUDIT))
        s.outage = outage_of(incident, audit, tier, reporters[incident.incident_id])
    for spec in topics.dead_letters(topics.fixed()):
        count = len(await read_all(bootstrap, spec.name))
        if count:
            s.dead_letters[spec.name] = count
    return s


def outage_of(
    incident: Event, audit: Iterable[Event], tier: int | None, reporters: Iterable[str] = ()
) -> Outage:
    """The incident and its credit's reach, from the allocation's audit record. ``reporters``:
    resellers whose tickets were linked to the incident after it was detected (the event
    names those of the tickets that made it one)."""
    from hub.schemas.events import credits, support

    assert isinstance(incident, support.IncidentDetected)
    affected = 0
    excluded: Counter[str] = Counter()
    reports = [e for e in audit if isinstance(e, credits.ServiceCreditAllocationReported)]
    parts: set[tuple[str, int]] = set()
    for report in reports:
        # Every part repeats the totals; a part written twice (a replay) counts once.
        if report.incident_id != incident.incident_id or (report.credit_id, report.part) in parts:
            continue
        parts.add((report.credit_id, report.part))
        affected = max(affected, report.affected_count)
        excluded.update(x.reason for x in report.excluded)
    return Outage(
        incident_id=incident.incident_id,
        service=incident.service,
        region=incident.region,
        reporting_resellers=tuple(sorted({*incident.reseller_ids, *reporters})),
        percentage_tier=tier,
        affected_subscriptions=affected,
        excluded=tuple(sorted(excluded.items())),
    )
