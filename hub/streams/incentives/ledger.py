"""The incentives ledger: each plan's facts, keyed by the plan's payee, booked once in the
payee's book (hub/domain/incentives/book.py) and sent as lines; statements on request.

Lines and statements go to ``hub.incentives.statements`` (finance); a reseller's rebate
statement also to the reseller's own ``partner.<id>.billing``, and no other reseller's.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.domain.incentives.accrual import IncentiveLine, RevenueFact
from hub.domain.incentives.book import IncentiveBook
from hub.domain.incentives.statement import Statement
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.incentives import (
    IncentiveFactNoted,
    IncentiveLineBooked,
    IncentiveStatementIssued,
    IncentiveStatementRequested,
    PlanStatementPart,
    ReasonAmount,
)
from hub.streams.incentives import metrics
from hub.streams.incentives.plans import PlanBook
from hub.topics import PartnerTopic, Topic, TopicCatalog


class IncentiveLedger:
    """The ledger agent's handler over one payee's book (its partition's entries)."""

    def __init__(self, catalog: TopicCatalog, plans: PlanBook, book: IncentiveBook) -> None:
        self.catalog = catalog
        self.plans = plans
        self.book = book
        self._out = catalog.name(Topic.INCENTIVE_STATEMENTS)

    async def handle(self, event: Event) -> Sequence[Emit]:
        await self.plans.loaded.wait()
        if isinstance(event, IncentiveFactNoted):
            return self.on_fact(event)
        if isinstance(event, IncentiveStatementRequested):
            return self.on_statement(event)
        return []

    def on_fact(self, fact: IncentiveFactNoted) -> list[Emit]:
        plan = self.plans.get(fact.plan_id)
        if plan is None or plan.payee != fact.payee:
            metrics.FACTS.labels(kind=fact.kind, outcome="no_plan").inc()
            return []
        lines: list[IncentiveLine] = []
        if fact.kind == "revenue" and fact.currency is not None:
            lines = self.book.on_revenue(
                plan,
                RevenueFact(
                    source_id=fact.source_id,
                    reseller_id=fact.reseller_id or "",
                    charge_id=fact.charge_id,
                    subscription_id=fact.subscription_id,
                    product_id=fact.product_id,
                    period=fact.period,
                    amount_minor=fact.amount_minor,
                    currency=fact.currency,
                    after_refund=fact.after_refund,
                ),
            )
        elif fact.kind == "seats":
            self.book.on_seats(
                plan, fact.reseller_id or "", fact.period, fact.source_id, fact.seats
            )
        elif fact.kind == "refund":
            lines = self.book.on_refund(
                plan,
                fact.charge_id,
                period=fact.period,
                source_id=fact.source_id,
                refund_minor=fact.amount_minor,
                charge_minor=fact.charge_minor,
            )
        elif fact.kind == "write_off" and fact.stage is not None:
            lines = self.book.on_write_off(
                plan, fact.charge_id, stage=fact.stage, period=fact.period, source_id=fact.source_id
            )
        metrics.FACTS.labels(kind=fact.kind, outcome="booked" if lines else "nothing").inc()
        for line in lines:
            if line.kind == "accrual":
                metrics.ACCRUED_MINOR.labels(currency=line.currency).inc(max(0, line.amount_minor))
            elif line.amount_minor < 0:
                metrics.REVERSED_MINOR.labels(currency=line.currency, reason=line.reason).inc(
                    -line.amount_minor
                )
        return [Emit(self._out, fact.payee, self.booked(fact, line)) for line in lines]

    @staticmethod
    def booked(fact: IncentiveFactNoted, line: IncentiveLine) -> IncentiveLineBooked:
        return IncentiveLineBooked.model_validate(
            {
                **caused_by(fact, "IncentiveLineBooked", line.line_id),
                "event_time": fact.event_time,
                **line.model_dump(),
            }
        )

    def on_statement(self, request: IncentiveStatementRequested) -> list[Emit]:
        plans = self.plans.of_payee(request.payee)
        whole = self.book.statement(request.payee, request.period, plans)
        metrics.STATEMENTS.inc()
        out = [Emit(self._out, request.payee, self.issued(request, whole))]
        # A reseller's rebate: the reseller reads its own statement, and only its rebates.
        rebates = [p for p in plans if p.kind == "rebate"]
        if rebates:
            own = self.book.statement(request.payee, request.period, rebates)
            topic = self.catalog.partner(request.payee, PartnerTopic.BILLING)
            out.append(Emit(topic, request.payee, self.issued(request, own, partner=True)))
        return out

    @staticmethod
    def issued(
        request: IncentiveStatementRequested, statement: Statement, partner: bool = False
    ) -> IncentiveStatementIssued:
        parts = tuple(
            PlanStatementPart(
                plan_id=p.plan_id,
                kind=p.kind,
                currency=p.currency,
                accrued_minor=p.accrued_minor,
                reversed_minor=p.reversed_minor,
                reversed_by_reason=tuple(
                    ReasonAmount(reason=r, amount_minor=a) for r, a in p.reversed_by_reason.items()
                ),
                capped_minor=p.capped_minor,
                payable_minor=p.payable_minor,
                tier=p.tier,
                measure=p.measure,
                tier_changes=p.tier_changes,
            )
            for p in statement.plans
        )
        kind = "IncentiveStatementIssued:partner" if partner else "IncentiveStatementIssued"
        return IncentiveStatementIssued.model_validate(
            {
                **caused_by(request, kind, request.payee, request.period),
                "event_time": request.event_time,
                "reseller_id": request.payee if partner else request.reseller_id,
                "statement_id": f"{request.payee}|{request.period}",
                "payee": request.payee,
                "period": request.period,
                "plans": parts,
            }
        )
