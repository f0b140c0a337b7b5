"""The consumption month end: a reseller's month of usage handed to billing as summarised lines.

``ConsumptionCloseRequested`` starts it; ``ConsumptionCloseContinued`` messages to the flow's own
input topic carry it a page at a time (``CLOSE_PAGE`` lines), so no message's work grows with the
reseller's size. Each page turns line entries (a customer's subscription's meter category) into
``ConsumptionCharged`` events for billing's inputs and the reseller's billing topic; amounts are
rounded on the running total, so each line is within one minor unit of its exact price and the
lines sum exactly to the month's rounded total. The adjustments of months closed before follow
as lines of their own, with their reason. The last page marks the month closed (later figures
become adjustments) and takes the invoiced consumption out of the accrual (the invoice carries it
into receivables).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import islice
from typing import Any

from hub.domain.closing import CLOSE_PAGE
from hub.domain.consumption.rating import accrual_delta, to_minor
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.schemas.envelope import derived_event_id
from hub.schemas.events import consumption as u
from hub.streams.consumption import metrics
from hub.streams.consumption.book import ConsumptionBook, envelope
from hub.topics import PartnerTopic, Topic


class ConsumptionClose:
    def __init__(self, book: ConsumptionBook, page: int = CLOSE_PAGE) -> None:
        self.book = book
        self.t = book.t
        self.page = page
        self.inputs = book.topics.name(Topic.CONSUMPTION_INPUTS)
        self.billing_inputs = book.topics.name(Topic.BILLING_INPUTS)

    def on_close(self, run: u.ConsumptionCloseRequested) -> Sequence[Emit]:
        """Start (or take over) the close of ``run.period``; closing a closed month adds nothing."""
        rid, period = run.reseller_id, run.period
        key = f"{rid}|{period}"
        if key in self.t["closed"]:
            return []
        self.book.reseller(rid)
        under_way = self.t["closing"].get(key)
        phase, after, pages = ("lines", "", 1)
        if under_way is not None:
            phase, after, pages = under_way["phase"], under_way["after"], under_way["pages"]
            progress = {**under_way, "run": str(run.event_id)}
        else:
            progress = {
                "run": str(run.event_id),
                "phase": phase,
                "after": after,
                "pages": pages,
                "exact": "0",
            }
        self.t["closing"][key] = progress
        return [self._continue(run, str(run.event_id), phase, after, pages)]

    def _continue(
        self,
        cause: u.ConsumptionCloseRequested | u.ConsumptionCloseContinued,
        run_id: str,
        phase: str,
        after: str,
        pages: int,
    ) -> Emit:
        step = u.ConsumptionCloseContinued(
            **envelope(cause, "ConsumptionCloseContinued", phase, after, pages),
            run_event_id=run_id,
            period=cause.period,
            after=f"{phase}:{after}",
            pages=pages,
        )
        return Emit(self.inputs, cause.reseller_id, step)

    def on_page(self, step: u.ConsumptionCloseContinued) -> Sequence[Emit]:
        rid, period = step.reseller_id, step.period
        key = f"{rid}|{period}"
        progress = self.t["closing"].get(key)
        if progress is None or progress["run"] != step.run_event_id:
            return []  # a step of a run another took over, or of a close already done
        phase, _, after = step.after.partition(":")
        if (progress["phase"], progress["after"], progress["pages"]) != (phase, after, step.pages):
            return []  # stale: the close has moved on
        profile = self.book.reseller(rid)
        cur = profile.currency
        progress = dict(progress)
        emits: list[Emit] = []
        nxt: tuple[str, str] | None
        if phase == "lines":
            start = f"{rid}|{period}|{after}" if after else None
            page = list(islice(scan(self.t["lines"], f"{rid}|{period}|", start), self.page))
            for line_key, line in page:
                _, _, customer, sub, category = line_key.split("|", 4)
                before = Decimal(progress["exact"])
                now = before + Decimal(line["price"])
                progress["exact"] = str(now)
                amount = accrual_delta(before, now, cur)
                emits += self._charged(
                    step,
                    customer,
                    sub,
                    category,
                    "usage",
                    line["quantity"],
                    amount,
                    to_minor(Decimal(line["cost"]), cur),
                    cur,
                    None,
                    line_key,
                )
            more = page[-1][0].split("|", 2)[2] if len(page) == self.page else None
            nxt = ("lines", more) if more is not None else ("adjust", "")
        else:
            # Each page deletes what it invoiced: the next one starts from the first left.
            page = list(islice(scan(self.t["adjust"], f"{rid}|"), self.page))
            for adj_key, adj in page:
                amount = to_minor(Decimal(adj["amount"]), cur)
                if amount != 0:
                    emits += self._charged(
                        step,
                        adj["customer_id"],
                        adj["subscription_id"],
                        adj["category"],
                        "adjustment",
                        "0",
                        amount,
                        0,
                        cur,
                        adj["reason"],
                        adj_key,
                    )
                del self.t["adjust"][adj_key]
            nxt = ("adjust", "") if len(page) == self.page else None
        if nxt is None:
            return [*emits, *self._finish(step, key, cur)]
        progress.update({"phase": nxt[0], "after": nxt[1], "pages": step.pages + 1})
        self.t["closing"][key] = progress
        return [*emits, self._continue(step, step.run_event_id, nxt[0], nxt[1], step.pages + 1)]

    def _charged(
        self,
        step: u.ConsumptionCloseContinued,
        customer: str,
        sub: str,
        category: str,
        kind: str,
        quantity: str,
        amount: int,
        cost: int,
        currency: str,
        reason: str | None,
        entry: str,
    ) -> list[Emit]:
        rid = step.reseller_id
        charged = u.ConsumptionCharged(
            **envelope(step, "ConsumptionCharged", entry),
            line_id=str(derived_event_id(rid, "ConsumptionLine", step.period, entry)),
            customer_id=customer,
            subscription_id=sub,
            meter_category=category,
            period=step.period,
            kind=kind,  # type: ignore[arg-type]
            quantity=quantity,
            amount_minor=amount,
            cost_minor=cost,
            currency=currency,
            reason=reason,
        )
        metrics.INVOICED_MINOR.labels(currency=currency).inc(max(amount, 0))
        partner = self.book.topics.partner(rid, PartnerTopic.BILLING)
        return [
            Emit(self.billing_inputs, rid, charged),
            Emit(self.book.rated_topic, rid, charged),
            Emit(partner, charged.line_id, charged),
        ]

    def _finish(self, step: u.ConsumptionCloseContinued, key: str, cur: str) -> list[Emit]:
        """Mark the month closed and take what was invoiced out of the accrual."""
        self.t["closed"][key] = step.run_event_id
        self.book.settings_changed(step.reseller_id or "", step.run_event_id)
        del self.t["closing"][key]
        accrual: dict[str, Any] = self.t["accrual"].get(key) or {"exact": "0", "minor": 0}
        minor, sent = int(accrual["minor"]), int(accrual.get("sent", 0))
        self.t["accrual"][key] = {**accrual, "minor": 0, "sent": 0, "invoiced_minor": minor}
        # The exposure holds what it was sent: exactly that leaves it.
        if sent == 0:
            return []
        accrued = u.ConsumptionAccrued(
            **envelope(step, "ConsumptionAccrued", "invoiced"),
            currency=cur,
            delta_minor=-sent,
            period=step.period,
            cause="invoiced",
        )
        return [Emit(self.book.accruals_topic, step.reseller_id, accrued)]
