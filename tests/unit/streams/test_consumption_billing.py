"""Billing's side of consumption: a month's ConsumptionCharged line is booked once, invoiced by
the billing close with the rest, and kept out of the licence reconciliation."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hub.domain.consumption.invoice_lines import AZURE_PLAN_PRODUCT_ID
from hub.schemas.events import billing as b
from hub.schemas.events.consumption import ConsumptionCharged
from hub.topics import Topic
from tests.unit.streams.test_billing_ledger import TOPICS, feed, ledger, run


def charged(line: str, amount_minor: int, kind: str = "usage") -> ConsumptionCharged:
    return ConsumptionCharged(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, line),
        event_time=datetime(2026, 12, 1, tzinfo=UTC),
        correlation_id="consumption-close",
        reseller_id="contoso",
        line_id=line,
        customer_id="cust-de",
        subscription_id="azure-plan-1",
        meter_category="Virtual Machines",
        period="2026-11",
        kind=kind,  # type: ignore[arg-type]
        quantity="744",
        amount_minor=amount_minor,
        cost_minor=amount_minor * 9 // 10,
        currency="EUR",
        reason=None if kind == "usage" else "meter reading corrected",
    )


async def test_consumption_lines_are_booked_once_and_invoiced_at_the_close() -> None:
    ldg = ledger()
    vm, adjustment = charged("cons-vm", 12_345), charged("cons-adj", -345, "adjustment")
    out = await feed(ldg, [vm, vm, adjustment])
    rated = [e for e in out if e.topic == TOPICS.name(Topic.CHARGES)]
    assert len({e.event.event_id for e in rated}) == 2  # the repeat re-sends, adds nothing
    assert sorted(ldg.tables.lines) == ["cons-adj", "cons-vm"]
    assert not list(ldg.tables.cost_index)  # Microsoft's licence lines never carry usage
    closed = await feed(ldg, [run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))])
    invoices = [e.event for e in closed if isinstance(e.event, b.InvoiceIssued)]
    lines = [
        ln
        for inv in invoices
        if inv.reseller_id == "contoso"
        for ln in inv.lines
        if AZURE_PLAN_PRODUCT_ID in ln.description
    ]
    # On the invoices topic and the reseller's billing topic: the same document twice.
    assert sorted({(ln.line_id, ln.amount_minor) for ln in lines}) == [
        ("cons-adj", -345),
        ("cons-vm", 12_345),
    ]
