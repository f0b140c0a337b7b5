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

What a charge brings (seats, revenue now or as billing recognises it, a refund) is decided in
hub/domain/incentives/charges.py; a subscription keeps its ``KEEP_MONTHLY`` latest monthly
charges, enough for any cancellation's refund.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import Any

from hub.domain.incentives.charges import Revenue, month, refunded_charge, route_charge
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

# Charges of a write-off handled per message: a reseller's every invoice may be written off.
WRITE_OFF_PAGE = 200
# Monthly charges kept per subscription: a cancellation refunds the latest started on or before
# it, which is the newest or, for a cancellation dated before a just-rated month, the one before.
KEEP_MONTHLY = 2


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
        route = route_charge(ev.charge_type, ev.billing_cycle, ev.price_minor, ev.quantity)
        out: list[Emit] = []
        if route.seats:
            out += self._facts(
                ev,
                rid,
                kind="seats",
                source_id=f"seats:{ev.charge_id}",
                period=period,
                seats=route.seats,
                charge_id=ev.charge_id,
                subscription_id=ev.subscription_id,
            )
        if route.revenue is Revenue.REFUND_UP_FRONT:
            # Billing adjusts this subscription's recognised revenue down from here on.
            self.t[f"refunded|{rid}|{ev.subscription_id}"] = 1
            return out
        if route.revenue is Revenue.REFUND_MONTHLY:
            return out + self._refund(ev, period)
        if route.revenue is Revenue.AS_RECOGNISED:
            return out  # accrues as billing recognises it, month by month
        if route.refundable:
            self._keep_monthly(ev)
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

    def _monthly(self, rid: str, subscription_id: str) -> list[tuple[str, str, int]]:
        return [
            (raw["start"], key.rsplit("|", 1)[1], int(raw["price_minor"]))
            for key, raw in scan(self.t, f"monthly|{rid}|{subscription_id}|")
        ]

    def _keep_monthly(self, ev: ChargeRated) -> None:
        """Notes a monthly charge a cancellation may refund, and forgets the subscription's
        older ones beyond ``KEEP_MONTHLY``."""
        rid, sub = ev.reseller_id, ev.subscription_id
        self.t[f"monthly|{rid}|{sub}|{ev.charge_id}"] = {
            "start": ev.period_start.isoformat(),
            "price_minor": ev.price_minor,
        }
        for _, charge_id, _ in sorted(self._monthly(rid, sub), reverse=True)[KEEP_MONTHLY:]:
            del self.t[f"monthly|{rid}|{sub}|{charge_id}"]

    def _refund(self, ev: ChargeRated, period: str) -> list[Emit]:
        """A monthly subscription cancelled in its 7 days: the refund is of the latest charge
        that started on or before the cancellation."""
        rid, refund = ev.reseller_id, -ev.price_minor
        found = refunded_charge(self._monthly(rid, ev.subscription_id), ev.period_start.isoformat())
        if refund <= 0 or found is None:
            return []
        charge_id, price = found
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
