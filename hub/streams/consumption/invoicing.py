"""Billing's side of consumption: a ``ConsumptionCharged`` line booked as an unbilled line.

Called by the billing ledger (one line in its dispatch) when the consumption close hands it a
summarised line on ``hub.billing.inputs``: the line waits among the reseller's unbilled lines
and the billing close invoices it with the rest, to the reseller or, white-labelled, to the
customer. Booked once: the line id derives from the consumption entry it summarises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.domain.consumption.invoice_lines import consumption_line
from hub.runtime.emit import Emit
from hub.schemas.events.consumption import ConsumptionCharged
from hub.streams.billing import documents as docs
from hub.topics import Topic

if TYPE_CHECKING:
    from hub.streams.billing.ledger import BillingLedger


def book_consumption(ledger: BillingLedger, ev: ConsumptionCharged) -> list[Emit]:
    line = consumption_line(
        line_id=ev.line_id,
        source_id=str(ev.event_id),
        reseller_id=ev.reseller_id,
        customer_id=ev.customer_id,
        subscription_id=ev.subscription_id,
        meter_category=ev.meter_category,
        period=ev.period,
        amount_minor=ev.amount_minor,
        cost_minor=ev.cost_minor,
        currency=ev.currency,
    )
    rid, t = ev.reseller_id, ledger.t
    if line.line_id not in t.lines:
        # Not in billing's cost index: Microsoft's licence reconciliation lines never carry
        # Azure usage; the consumption flow reconciles billed usage itself.
        t.unbilled[f"{rid}|{line.customer_id}|{line.line_id}"] = 1
        t.lines[line.line_id] = line.model_dump(mode="json")
    return [Emit(ledger.topics.name(Topic.CHARGES), rid, docs.charge_rated(ev, line))]
