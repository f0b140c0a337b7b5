"""What the demo shows at the end, computed only from what the hub wrote to its topics."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from hub.connectors.kafka_io import read_all
from hub.domain.money import Money
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.topics import TopicCatalog

CODEC = Codec()


@dataclass
class Summary:
    orders: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rejection_reasons: Counter[str] = field(default_factory=Counter)
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
    dead_letters: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers, for tests and `--json`."""
        return {
            "orders": {r: dict(c) for r, c in sorted(self.orders.items())},
            "rejection_reasons": dict(self.rejection_reasons),
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
        lines.append("Orders (accepted / held / rejected) and subscriptions provisioned:")
        for reseller, counts in sorted(self.orders.items()):
            lines.append(
                f"  {reseller:<14} {counts['accepted']:>2} / {counts['held']:>2} / "
                f"{counts['rejected']:>2}   subscriptions: {self.subscriptions[reseller]}"
            )
        if self.rejection_reasons:
            reasons = ", ".join(f"{k} x{v}" for k, v in self.rejection_reasons.most_common())
            lines.append(f"  rejections: {reasons}")
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
        if self.credits:
            lines.append("Service credits passed through (per reseller):")
            for reseller, amounts in sorted(self.credits.items()):
                total = amounts[0]
                for amount in amounts[1:]:
                    total = total + amount
                lines.append(f"  {reseller:<14} {len(amounts)} credit(s), total {total}")
        dead = sum(self.dead_letters.values())
        lines.append(f"Dead letters: {dead}" + (f" {dict(self.dead_letters)}" if dead else ""))
        return "\n".join(lines)


async def _events(bootstrap: str, topic: str) -> list[Event]:
    return [CODEC.decode(r.value) for r in await read_all(bootstrap, topic) if r.value]


async def build_summary(bootstrap: str, topics: TopicCatalog) -> Summary:
    """Read the hub's own topics and count what happened; nothing comes from the scenario."""
    from hub.schemas.events import billing, credits, orders, subscriptions, support
    from hub.topics import Topic

    s = Summary()
    for e in await _events(bootstrap, topics.name(Topic.ORDER_DECISIONS)):
        reseller = e.reseller_id or "?"
        if isinstance(e, orders.OrderAccepted):
            s.orders[reseller]["accepted"] += 1
        elif isinstance(e, orders.OrderHeld):
            s.orders[reseller]["held"] += 1
        elif isinstance(e, orders.OrderRejected):
            s.orders[reseller]["rejected"] += 1
            s.rejection_reasons.update(r.code for r in e.reasons)
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
    for e in await _events(bootstrap, topics.name(Topic.SUPPORT_EVENTS)):
        if isinstance(e, support.TicketRouted):
            s.tickets_by_queue[e.queue] += 1
        elif isinstance(e, support.TicketEscalated):
            s.tickets_escalated += 1
            if e.service_request_id:
                s.microsoft_requests.add(e.service_request_id)
        elif isinstance(e, support.SlaBreached):
            s.sla_breaches += 1
    s.incidents = sum(
        isinstance(e, support.IncidentDetected)
        for e in await _events(bootstrap, topics.name(Topic.INCIDENTS))
    )
    seen: set[str] = set()
    for e in await _events(bootstrap, topics.name(Topic.CREDITS_ALLOCATED)):
        if isinstance(e, credits.ServiceCreditAllocated) and str(e.event_id) not in seen:
            seen.add(str(e.event_id))
            s.credits[e.reseller_id].append(Money.of(e.amount_minor, e.currency))
    for spec in topics.dead_letters(topics.fixed()):
        count = len(await read_all(bootstrap, spec.name))
        if count:
            s.dead_letters[spec.name] = count
    return s
