"""A payee's incentive book over entity-keyed entries: accrue, claw back, state a month.

The book decides everything once per source (a recognition, a refund, a write-off): the same
source again, however often it is replayed, finds its ``done`` entry and changes nothing. Every
entry is small and keyed by entity, never a list of a payee's lines in one value:

- ``done|<payee>|<plan>|<source>``: the source was applied
- ``month|<payee>|<period>|<plan>``: ``MonthTotals``
- ``bucket|<payee>|<period>|<plan>|<tier>|<family>|<rate>``: ``Bucket``
- ``line|<payee>|<plan>|<charge>|<line id>``: an accrual line and how much of it is reversed
- ``wo|<payee>|<plan>|<charge>``: the charge's revenue was written off (the dunning stage)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from hub.domain.incentives.accrual import (
    Bucket,
    IncentiveLine,
    MonthTotals,
    Reason,
    RevenueFact,
    accrue,
    book_reversals,
    count_seats,
    reverse,
)
from hub.domain.incentives.plans import Plan
from hub.domain.incentives.statement import Statement, statement

Table = MutableMapping[str, Any]
Scan = Callable[[str], Iterable[tuple[str, Any]]]


def dict_scan(table: Table) -> Scan:
    """A prefix scan over a plain mapping, in key order (unit tests)."""

    def scan(prefix: str) -> Iterable[tuple[str, Any]]:
        return sorted((k, v) for k, v in list(table.items()) if k.startswith(prefix))

    return scan


class IncentiveBook:
    """One partition's incentive entries (``table``), read by prefix scans (``scan``)."""

    def __init__(self, table: Table, scan: Scan | None = None) -> None:
        self.t = table
        self._scan = scan or dict_scan(table)

    # --- entries -------------------------------------------------------------------------

    def _done(self, plan: Plan, source_id: str) -> bool:
        key = f"done|{plan.payee}|{plan.plan_id}|{source_id}"
        if self.t.get(key) is not None:
            return True
        self.t[key] = 1
        return False

    def month(self, plan: Plan, period: str) -> MonthTotals:
        raw = self.t.get(f"month|{plan.payee}|{period}|{plan.plan_id}")
        if raw is None:
            return MonthTotals(
                plan_id=plan.plan_id, payee=plan.payee, period=period, currency=plan.currency
            )
        return MonthTotals.model_validate(raw)

    def _save_month(self, totals: MonthTotals) -> None:
        key = f"month|{totals.payee}|{totals.period}|{totals.plan_id}"
        self.t[key] = totals.model_dump(mode="json")

    def _buckets(self, plan: Plan, period: str) -> dict[str, Bucket]:
        prefix = f"bucket|{plan.payee}|{period}|{plan.plan_id}|"
        return {k[len(prefix) :]: Bucket.model_validate(v) for k, v in self._scan(prefix)}

    def _lines_of(self, plan: Plan, charge_id: str) -> list[tuple[str, IncentiveLine, int]]:
        prefix = f"line|{plan.payee}|{plan.plan_id}|{charge_id}|"
        return [
            (k, IncentiveLine.model_validate(v["line"]), int(v["reversed"]))
            for k, v in self._scan(prefix)
        ]

    def _keep(self, line: IncentiveLine, reversed_minor: int = 0) -> None:
        key = f"line|{line.payee}|{line.plan_id}|{line.charge_id}|{line.line_id}"
        self.t[key] = {"line": line.model_dump(mode="json"), "reversed": reversed_minor}

    def written_off(self, plan: Plan, charge_id: str) -> bool:
        return self.t.get(f"wo|{plan.payee}|{plan.plan_id}|{charge_id}") is not None

    # --- what happens --------------------------------------------------------------------

    def on_revenue(self, plan: Plan, fact: RevenueFact) -> list[IncentiveLine]:
        """Accrue ``fact`` once; revenue of a charge already written off is reversed at once."""
        if not plan.effective(fact.period) or fact.reseller_id not in plan.resellers:
            return []
        if self._done(plan, fact.source_id):
            return []
        totals = self.month(plan, fact.period)
        result = accrue(plan, totals, self._buckets(plan, fact.period), fact)
        for key, bucket in result.buckets.items():
            self.t[f"bucket|{plan.payee}|{fact.period}|{plan.plan_id}|{key}"] = bucket.model_dump(
                mode="json"
            )
        totals = result.totals
        out = list(result.lines)
        for line in result.lines:
            self._keep(line)
        if self.written_off(plan, fact.charge_id):
            gone = self._reverse(plan, fact.charge_id, fact.period, "written_off", fact.source_id)
            out += gone
            totals = book_reversals(totals, gone)
        self._save_month(totals)
        return out

    def on_seats(
        self, plan: Plan, reseller_id: str, period: str, source_id: str, delta: int
    ) -> None:
        """Seats added (or removed) move a seat-growth plan's tier for the month."""
        if not plan.effective(period) or reseller_id not in plan.resellers:
            return
        if plan.tier_basis != "seat_growth" or self._done(plan, source_id):
            return
        self._save_month(count_seats(plan, self.month(plan, period), source_id, delta))

    def on_refund(
        self,
        plan: Plan,
        charge_id: str,
        *,
        period: str,
        source_id: str,
        refund_minor: int,
        charge_minor: int,
    ) -> list[IncentiveLine]:
        """A 7-day cancellation refunded ``refund_minor`` of a charge of ``charge_minor``:
        reverse that share of what the charge accrued, in the refund's month."""
        if refund_minor <= 0 or charge_minor <= 0 or self._done(plan, source_id):
            return []
        share = min(refund_minor, charge_minor)
        gone = self._reverse(
            plan, charge_id, period, "refund_7_day", source_id, share, charge_minor
        )
        if gone:
            self._save_month(book_reversals(self.month(plan, period), gone))
        return gone

    def on_write_off(
        self, plan: Plan, charge_id: str, *, stage: str, period: str, source_id: str
    ) -> list[IncentiveLine]:
        """The charge's invoice reached ``stage`` of dunning unpaid: at the plan's clawback
        stage everything the charge accrued is reversed, and so is what it accrues later."""
        if not plan.writes_off_at(stage) or self.written_off(plan, charge_id):
            return []
        self.t[f"wo|{plan.payee}|{plan.plan_id}|{charge_id}"] = stage
        gone = self._reverse(plan, charge_id, period, "written_off", source_id)
        if gone:
            self._save_month(book_reversals(self.month(plan, period), gone))
        return gone

    def _reverse(
        self,
        plan: Plan,
        charge_id: str,
        period: str,
        reason: Reason,
        source_id: str,
        numerator: int = 1,
        denominator: int = 1,
    ) -> list[IncentiveLine]:
        out = []
        for _, line, done in self._lines_of(plan, charge_id):
            rev = reverse(
                line,
                done,
                period=period,
                reason=reason,
                source_id=source_id,
                numerator=numerator,
                denominator=denominator,
            )
            if rev is not None:
                out.append(rev)
                self._keep(line, done - rev.amount_minor)
        return out

    def statement(self, payee: str, period: str, plans: Iterable[Plan]) -> Statement:
        mine = [p for p in plans if p.payee == payee]
        months = []
        for plan in mine:
            if self.t.get(f"month|{payee}|{period}|{plan.plan_id}") is not None or plan.effective(
                period
            ):
                months.append((plan, self.month(plan, period)))
        return statement(payee, period, months)
