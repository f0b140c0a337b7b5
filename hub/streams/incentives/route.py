"""The incentives router: billing's facts of one reseller become facts for each plan paying on
them, re-keyed by the plan's payee (``hub.incentives.ledger``).

Reads billing's topics as an observer, keyed by reseller beside its own state (``route|...``):
- ``charge|<reseller>|<charge>``: what a rated charge was (product, subscription, price), so
  revenue recognised later finds its product family;
- ``monthly|<reseller>|<subscription>|<charge>``: charges recognised when rated (billed
  monthly), so a 7-day cancellation finds the charge it refunds;
- ``refunded|<reseller>|<subscription>``: an up-front subscription cancelled with a refund, so
  the revenue billing then adjusts down is labelled a refund's reversal;
- ``invoice|<reseller>|<invoice>|<charge>``: the charges on an invoice, for write-offs, read a
  page at a time (``IncentiveWriteOffContinued`` on ``hub.incentives.inputs``).

Revenue a charge brings: an up-front charge billing schedules (new, renew, cycle charge of an
annual or triennial cycle) accrues on each ``RevenueRecognised``; every other charge (monthly
billing, seat changes, credits) is recognised in the month its service starts, when rated.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from datetime import date
from typing import Any

from hub.domain.enums import BillingCycle, ChargeType
from hub.errors import RetriableError
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.billing import (
    ChargeRated,
    DunningStageReached,
    InvoiceIssued,
    RevenueRecognised,
)
from hub.schemas.events.incentives import IncentiveFactNoted, IncentiveWriteOffContinued
from hub.streams.incentives.plans import PlanBook
from hub.topics import Topic, TopicCatalog

Table = MutableMapping[str, Any]

# What billing recognises month by month itself (hub/streams/billing/ledger.py).
UP_FRONT = {BillingCycle.ANNUAL, BillingCycle.TRIENNIAL}
SCHEDULED = {ChargeType.NEW, ChargeType.RENEW, ChargeType.CYCLE_CHARGE}
# Charges of a write-off handled per message: a reseller's every invoice may be written off.
WRITE_OFF_PAGE = 200
# Charge types whose quantity is seats added (negative: removed) in the month.
SEAT_CHANGES = {
    ChargeType.NEW,
    ChargeType.ADD_QUANTITY,
    ChargeType.REMOVE_QUANTITY,
    ChargeType.CANCEL_IMMEDIATE,
}


def month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


class IncentiveRouter:
    """The router's handler; ``state`` is the flow's view (a dict in unit tests)."""

    def __init__(self, catalog: TopicCatalog, plans: PlanBook, state: Table) -> None:
        self.plans = plans
        self.t = state
        self._ledger = catalog.name(Topic.INCENTIVE_LEDGER)
        self._inputs = catalog.name(Topic.INCENTIVE_INPUTS)

    async def handle(self, event: Event) -> Sequence[Emit]:
        await self.plans.loaded.wait()
        if isinstance(event, ChargeRated):
            return self.on_charge(event)
        if isinstance(event, RevenueRecognised):
            return self.on_revenue(event)
        if isinstance(event, InvoiceIssued):
            self.on_invoice(event)
            return []
        if isinstance(event, DunningStageReached):
            return self.on_dunning(event)
        if isinstance(event, IncentiveWriteOffContinued):
            return self.on_write_off_page(event)
        return []  # the other facts on billing's topics earn nothing

    def _facts(self, cause: Event, rid: str, **fields: Any) -> list[Emit]:
        out = []
        for plan in self.plans.covering(rid):
            if fields["kind"] == "seats" and plan.tier_basis != "seat_growth":
                continue
            if fields["kind"] == "write_off" and not plan.writes_off_at(fields["stage"]):
                continue
            fact = IncentiveFactNoted.model_validate(
                {
                    **caused_by(cause, "IncentiveFactNoted", plan.plan_id, fields["source_id"]),
                    "event_time": cause.event_time,
                    "reseller_id": rid,
                    "plan_id": plan.plan_id,
                    "payee": plan.payee,
                    **fields,
                }
            )
            out.append(Emit(self._ledger, plan.payee, fact))
        return out

    def on_charge(self, ev: ChargeRated) -> list[Emit]:
        rid = ev.reseller_id
        self.t[f"charge|{rid}|{ev.charge_id}"] = {
            "product_id": ev.product_id,
            "subscription_id": ev.subscription_id,
        }
        period = month(ev.period_start)
        out: list[Emit] = []
        if ev.charge_type in SEAT_CHANGES and ev.quantity:
            out += self._facts(
                ev,
                rid,
                kind="seats",
                source_id=f"seats:{ev.charge_id}",
                period=period,
                seats=ev.quantity,
                charge_id=ev.charge_id,
                subscription_id=ev.subscription_id,
            )
        up_front = ev.billing_cycle in UP_FRONT
        if ev.charge_type is ChargeType.CANCEL_IMMEDIATE:
            if up_front:
                # Billing adjusts this subscription's recognised revenue down from here on.
                self.t[f"refunded|{rid}|{ev.subscription_id}"] = 1
                return out
            return out + self._refund(ev, period)
        if up_front and ev.charge_type in SCHEDULED:
            return out  # accrues as billing recognises it, month by month
        if ev.price_minor > 0 and not up_front:
            self.t[f"monthly|{rid}|{ev.subscription_id}|{ev.charge_id}"] = {
                "start": ev.period_start.isoformat(),
                "price_minor": ev.price_minor,
            }
        return out + self._facts(
            ev,
            rid,
            kind="revenue",
            source_id=f"chg:{ev.charge_id}",
            period=period,
            charge_id=ev.charge_id,
            subscription_id=ev.subscription_id,
            product_id=ev.product_id,
            amount_minor=ev.price_minor,
            currency=ev.currency,
        )

    def _refund(self, ev: ChargeRated, period: str) -> list[Emit]:
        """A monthly subscription cancelled in its 7 days: the refund is of the latest charge
        that started on or before the cancellation."""
        rid, refund = ev.reseller_id, -ev.price_minor
        candidates = [
            (raw["start"], key.rsplit("|", 1)[1], int(raw["price_minor"]))
            for key, raw in scan(self.t, f"monthly|{rid}|{ev.subscription_id}|")
            if raw["start"] <= ev.period_start.isoformat()
        ]
        if refund <= 0 or not candidates:
            return []
        _, charge_id, price = max(candidates)
        return self._facts(
            ev,
            rid,
            kind="refund",
            source_id=f"refund:{ev.charge_id}",
            period=period,
            charge_id=charge_id,
            subscription_id=ev.subscription_id,
            amount_minor=refund,
            charge_minor=price,
            currency=ev.currency,
        )

    def on_revenue(self, ev: RevenueRecognised) -> list[Emit]:
        rid = ev.reseller_id
        charge = self.t.get(f"charge|{rid}|{ev.charge_id}")
        if charge is None:
            # Billing rates a charge before it recognises it; its ChargeRated is on its way.
            raise RetriableError(f"charge {ev.charge_id} of {rid} not seen rated yet")
        refunded = self.t.get(f"refunded|{rid}|{ev.subscription_id}") is not None
        return self._facts(
            ev,
            rid,
            kind="revenue",
            source_id=f"rev:{ev.charge_id}:{ev.period}",
            period=ev.period,
            charge_id=ev.charge_id,
            subscription_id=ev.subscription_id,
            product_id=charge["product_id"],
            amount_minor=ev.amount_minor,
            currency=ev.currency,
            after_refund=refunded and ev.amount_minor < 0,
        )

    def on_invoice(self, ev: InvoiceIssued) -> None:
        for line in ev.lines:
            self.t[f"invoice|{ev.reseller_id}|{ev.invoice_id}|{line.line_id}"] = 1

    def on_dunning(self, ev: DunningStageReached) -> list[Emit]:
        """Each charge on the invoices that reached the stage, for the plans that write off
        revenue at it (the ledger reverses a charge once, whatever stage comes after), a page
        of ``WRITE_OFF_PAGE`` charges per message."""
        if not any(p.writes_off_at(ev.stage) for p in self.plans.covering(ev.reseller_id)):
            return []
        start = IncentiveWriteOffContinued.model_validate(
            {
                **caused_by(ev, "IncentiveWriteOffContinued", 0),
                "event_time": ev.event_time,
                "dunning_event_id": str(ev.event_id),
                "stage": ev.stage,
                "invoice_ids": tuple(sorted(set(ev.invoice_ids))),
                "period": month(ev.event_time.date()),
                "pages": 1,
            }
        )
        return self.on_write_off_page(start)

    def on_write_off_page(self, step: IncentiveWriteOffContinued) -> list[Emit]:
        rid = step.reseller_id or ""
        taken: list[tuple[str, str]] = []
        after_invoice, _, after_charge = step.after.partition("|")
        for invoice_id in step.invoice_ids:
            if after_invoice and invoice_id < after_invoice:
                continue
            prefix = f"invoice|{rid}|{invoice_id}|"
            after = prefix + after_charge if invoice_id == after_invoice and after_charge else None
            for key, _ in scan(self.t, prefix, after):
                taken.append((invoice_id, key[len(prefix) :]))
                if len(taken) > WRITE_OFF_PAGE:
                    break
            if len(taken) > WRITE_OFF_PAGE:
                break
        more = len(taken) > WRITE_OFF_PAGE
        taken = taken[:WRITE_OFF_PAGE]
        out: list[Emit] = []
        for invoice_id, charge_id in taken:
            charge = self.t.get(f"charge|{rid}|{charge_id}") or {}
            out += self._facts(
                step,
                rid,
                kind="write_off",
                source_id=f"wo:{invoice_id}:{step.stage}:{charge_id}",
                period=step.period,
                charge_id=charge_id,
                subscription_id=charge.get("subscription_id", ""),
                stage=step.stage,
            )
        if more:
            last = "|".join(taken[-1])
            nxt = IncentiveWriteOffContinued.model_validate(
                {
                    **step.model_dump(),
                    **caused_by(step, "IncentiveWriteOffContinued", step.pages),
                    "after": last,
                    "pages": step.pages + 1,
                }
            )
            out.append(Emit(self._inputs, rid, nxt))
        return out
