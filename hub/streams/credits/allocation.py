"""Allocation of approved service credits, once per credit however often it is delivered.

Runs in the index agent (``hub.credits.index``, keyed by service), so an approval sees every
subscription of its service in its own partition. The first delivery computes the split with
``hub.domain.allocation``, stores each line and then the approval's record; any later delivery of
the same ``credit_id`` re-sends the stored result with the same event ids, or, if its terms
differ, is refused (dead-lettered with the reason) rather than allocated a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from hub.domain.allocation import AllocationResult, allocate_approved
from hub.domain.claims import Affected, Excluded, allocation_inputs, select_affected
from hub.domain.enums import BillingMode
from hub.domain.orders import ReferenceView
from hub.errors import BusinessRuleViolation, RetriableError, ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.schemas.envelope import derived_event_id
from hub.schemas.events.credits import (
    CreditAllocationLine,
    CreditExclusion,
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.streams.credits import metrics
from hub.streams.credits.index import entries_of
from hub.topics import PartnerTopic, Topic, TopicCatalog

Table = MutableMapping[str, Any]
# Audit lines per report event: keeps each message far below Kafka's 1 MB default.
REPORT_LINES = 500


class ApprovalRecord(BaseModel):
    """What was decided for one credit: enough to re-send every event identically."""

    model_config = ConfigDict(frozen=True)

    credit_id: str
    incident_id: str
    service: str
    currency: str
    cause_event_id: UUID
    correlation_id: str
    event_time: datetime
    terms: dict[str, Any]
    approved_minor: int
    allocated_minor: int
    remainder_minor: int
    remainder_reason: str
    basis: str
    percentage_tier: int | None
    fx_difference_minor: str
    affected_count: int
    allocation_count: int
    excluded: list[CreditExclusion]


class StoredLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: CreditAllocationLine
    billing_mode: BillingMode


def terms_of(approval: ServiceCreditApproved) -> dict[str, Any]:
    """The parts of an approval that decide the split; a re-sent approval must match them."""
    doc = approval.model_dump(
        mode="json",
        include={
            "credit_id",
            "incident_id",
            "service",
            "region",
            "window_start",
            "window_end",
            "amount_minor",
            "percentage_tier",
            "currency",
            "customer_amounts",
        },
    )
    # Only when stated: records stored before v2 of the contract hold no fx_rates, and a
    # redelivered approval without rates must still match them.
    if approval.fx_rates:
        doc["fx_rates"] = [r.model_dump(mode="json") for r in approval.fx_rates]
    return dict(doc)


def stated_rates(approval: ServiceCreditApproved) -> dict[str, Decimal]:
    """Customer-currency units per one approval-currency unit, by customer currency."""
    return {r.currency: Decimal(r.rate) for r in approval.fx_rates}


def basis_of(approval: ServiceCreditApproved) -> str:
    if approval.customer_amounts:
        return "per_customer"
    if approval.amount_minor is None:
        return "percentage"
    return "fee_x_days" if approval.percentage_tier is None else "full_fee"


def approval_key(service: str, credit_id: str) -> str:
    return f"{service}|{credit_id}"


def line_key(service: str, credit_id: str, subscription_id: str) -> str:
    return f"{service}|{credit_id}|{subscription_id}"


class Allocator:
    """The approval handler of the index agent; tables are dicts in unit tests."""

    def __init__(
        self,
        catalog: TopicCatalog,
        reference: Callable[[], ReferenceView],
        index: Table,
        approvals: Table,
        lines: Table,
    ) -> None:
        self.catalog = catalog
        self._reference = reference
        self.index = index
        self.approvals = approvals
        self.lines = lines
        self._allocated = catalog.name(Topic.CREDITS_ALLOCATED)
        self._audit = catalog.name(Topic.CREDITS_AUDIT)

    def on_approval(self, approval: ServiceCreditApproved, service: str) -> list[Emit]:
        if approval.service != service:
            raise ValidationFailed("service", approval.service, f"arrived keyed by {service!r}")
        raw = self.approvals.get(approval_key(service, approval.credit_id))
        if raw is not None:
            record = ApprovalRecord.model_validate(raw)
            if record.terms != terms_of(approval):
                metrics.APPROVALS.labels(outcome="conflicting").inc()
                raise BusinessRuleViolation(
                    "CreditAlreadyAllocated",
                    f"credit {approval.credit_id} was allocated under other terms; "
                    "a corrected credit needs its own credit id",
                )
            metrics.APPROVALS.labels(outcome="replayed").inc()
            return self.emits(record, self.stored_lines(service, approval.credit_id))
        record, stored = self._allocate(approval, service)
        # Lines and record are one journal entry (hub/runtime/journal.py): all or none.
        for item in stored:
            self.lines[line_key(service, approval.credit_id, item.line.subscription_id)] = (
                item.model_dump(mode="json")
            )
        self.approvals[approval_key(service, approval.credit_id)] = record.model_dump(mode="json")
        metrics.APPROVALS.labels(outcome="allocated").inc()
        metrics.ALLOCATIONS.inc(len(stored))
        metrics.ALLOCATED_MINOR.labels(currency=record.currency).inc(record.allocated_minor)
        if record.remainder_minor:
            metrics.REMAINDER_MINOR.labels(
                currency=record.currency, reason=record.remainder_reason
            ).inc(record.remainder_minor)
        for ex in record.excluded:
            metrics.EXCLUDED.labels(reason=ex.reason).inc()
        return self.emits(record, stored)

    def _allocate(
        self, approval: ServiceCreditApproved, service: str
    ) -> tuple[ApprovalRecord, list[StoredLine]]:
        ref = self._reference()

        def region_of(customer_id: str) -> str | None:
            customer = ref.customers.get(customer_id)
            return None if customer is None else customer.region

        affected = select_affected(
            entries_of(self.index, service),
            service=service,
            window_start=approval.window_start,
            window_end=approval.window_end,
            region=approval.region,
            customer_region=region_of,
        )
        inputs, excluded = allocation_inputs(
            affected, approval.currency, {}, fx_rates=stated_rates(approval)
        )
        result = allocate_approved(
            approval.currency,
            inputs,
            service=service,
            amount_minor=approval.amount_minor,
            percentage=approval.percentage_tier,
            customer_amounts={c.customer_id: c.amount_minor for c in approval.customer_amounts},
        )
        stored = self._lines(result, {a.entry.subscription_id: a for a in affected}, ref)
        return self._record(approval, service, result, len(affected), excluded), stored

    @staticmethod
    def _lines(
        result: AllocationResult, affected: dict[str, Affected], ref: ReferenceView
    ) -> list[StoredLine]:
        out = []
        for alloc in result.allocations:
            reseller = ref.resellers.get(alloc.reseller_id)
            if reseller is None:
                raise RetriableError(f"reseller {alloc.reseller_id} unknown (reference loading?)")
            hit = affected[alloc.subscription_id]
            line = CreditAllocationLine(
                subscription_id=alloc.subscription_id,
                customer_id=alloc.customer_id,
                reseller_id=alloc.reseller_id,
                monthly_fee_minor=hit.monthly_fee_minor,
                customer_currency=alloc.customer_currency,
                affected_days=hit.affected_days,
                days_in_month=hit.days_in_month,
                rate_to_distributor=str(alloc.rate_to_distributor),
                amount_minor=alloc.amount_minor,
                customer_amount_minor=alloc.customer_amount_minor,
            )
            out.append(StoredLine(line=line, billing_mode=reseller.billing_mode))
        return out

    @staticmethod
    def _record(
        approval: ServiceCreditApproved,
        service: str,
        result: AllocationResult,
        affected_count: int,
        excluded: Iterable[Excluded],
    ) -> ApprovalRecord:
        return ApprovalRecord(
            credit_id=approval.credit_id,
            incident_id=approval.incident_id,
            service=service,
            currency=approval.currency,
            cause_event_id=approval.event_id,
            correlation_id=approval.correlation_id,
            event_time=approval.event_time,
            terms=terms_of(approval),
            approved_minor=result.approved_minor,
            allocated_minor=result.allocated_minor,
            remainder_minor=result.remainder_minor,
            remainder_reason=result.remainder_reason.value,
            basis=basis_of(approval),
            percentage_tier=approval.percentage_tier,
            fx_difference_minor=str(result.fx_difference_minor()),
            affected_count=affected_count,
            allocation_count=len(result.allocations),
            excluded=[CreditExclusion(**ex._asdict()) for ex in excluded],
        )

    def stored_lines(self, service: str, credit_id: str) -> list[StoredLine]:
        return [
            StoredLine.model_validate(raw) for _, raw in scan(self.lines, f"{service}|{credit_id}|")
        ]

    def emits(self, record: ApprovalRecord, stored: Sequence[StoredLine]) -> list[Emit]:
        """Every event of one allocation, identical however often it is rebuilt."""
        ordered = sorted(stored, key=lambda s: s.line.subscription_id)
        out: list[Emit] = []
        for item in ordered:
            event = self.allocated_event(record, item)
            sid = item.line.subscription_id
            out.append(Emit(self._allocated, sid, event))
            # The reseller's billing topic, and no other reseller's.
            out.append(
                Emit(self.catalog.partner(event.reseller_id, PartnerTopic.BILLING), sid, event)
            )
        out.extend(Emit(self._audit, record.credit_id, ev) for ev in self.reports(record, ordered))
        return out

    @staticmethod
    def allocated_event(record: ApprovalRecord, item: StoredLine) -> ServiceCreditAllocated:
        line = item.line
        return ServiceCreditAllocated(
            event_id=derived_event_id(record.cause_event_id, "allocation", line.subscription_id),
            event_time=record.event_time,
            correlation_id=record.correlation_id,
            causation_id=record.cause_event_id,
            reseller_id=line.reseller_id,
            credit_id=record.credit_id,
            allocation_id=f"{record.credit_id}:{line.subscription_id}",
            incident_id=record.incident_id,
            customer_id=line.customer_id,
            subscription_id=line.subscription_id,
            amount_minor=line.customer_amount_minor,
            basis_fee_minor=line.monthly_fee_minor,
            percentage_tier=record.percentage_tier,
            currency=line.customer_currency,
            billing_mode=item.billing_mode,
        )

    @staticmethod
    def reports(
        record: ApprovalRecord, ordered: Sequence[StoredLine]
    ) -> list[ServiceCreditAllocationReported]:
        lines = [s.line for s in ordered]
        size = max(len(lines), len(record.excluded))
        parts = max(1, -(-size // REPORT_LINES))
        return [
            ServiceCreditAllocationReported(
                event_id=derived_event_id(record.cause_event_id, "allocation-report", part),
                event_time=record.event_time,
                correlation_id=record.correlation_id,
                causation_id=record.cause_event_id,
                credit_id=record.credit_id,
                incident_id=record.incident_id,
                service=record.service,
                currency=record.currency,
                approved_minor=record.approved_minor,
                allocated_minor=record.allocated_minor,
                remainder_minor=record.remainder_minor,
                remainder_reason=record.remainder_reason,
                basis=record.basis,
                percentage_tier=record.percentage_tier,
                fx_difference_minor=record.fx_difference_minor,
                affected_count=record.affected_count,
                allocation_count=record.allocation_count,
                part=part,
                parts=parts,
                lines=tuple(lines[part * REPORT_LINES : (part + 1) * REPORT_LINES]),
                excluded=tuple(record.excluded[part * REPORT_LINES : (part + 1) * REPORT_LINES]),
            )
            for part in range(parts)
        ]
