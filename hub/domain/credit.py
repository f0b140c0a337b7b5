"""The order credit check and the per-reseller exposure it reads (receivables + commitments)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.domain.money import Money, check_currency
from hub.domain.reference import ResellerProfile


class Exposure(BaseModel):
    """What a reseller owes or has committed to, in its billing currency.

    ``open_receivables_minor`` may go negative: a prepayment is a credit balance that gives
    headroom. ``overdue_minor`` is the part of the receivables past its due date.
    """

    model_config = ConfigDict(frozen=True)

    reseller_id: str
    currency: str
    open_receivables_minor: int = 0
    committed_minor: int = Field(default=0, ge=0)
    on_hold: bool = False
    overdue_minor: int = Field(default=0, ge=0)
    # Azure plan consumption accrued but not yet invoiced (hub.domain.consumption): it counts
    # against the limit as it is used, not only once invoiced a month or two later.
    consumption_minor: int = 0

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @property
    def total_minor(self) -> int:
        return self.open_receivables_minor + self.committed_minor + self.consumption_minor


class CreditPolicy(BaseModel):
    """The distributor's choices where the credit check could go either way."""

    model_config = ConfigDict(frozen=True)

    # On hold with money overdue: by default the order waits for finance's review (it can be
    # released once the reseller pays); a distributor may prefer to refuse it outright.
    reject_on_hold_with_overdue: bool = False
    # An order larger than the whole limit can never fit: refuse rather than hold.
    reject_order_over_limit: bool = True


class CreditOutcome(StrEnum):
    ACCEPT = "accept"
    HOLD = "hold"
    REJECT = "reject"


class CreditReason(StrEnum):
    WITHIN_LIMIT = "WithinCreditLimit"
    CREDIT_HOLD_WITH_OVERDUE = "CreditHoldWithOverdue"
    CREDIT_HOLD = "CreditHold"
    ORDER_EXCEEDS_LIMIT = "OrderExceedsCreditLimit"
    LIMIT_EXCEEDED = "CreditLimitExceeded"


class CreditDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    outcome: CreditOutcome
    code: CreditReason
    reason: str
    currency: str
    credit_limit_minor: int
    exposure_minor: int
    order_value_minor: int

    @property
    def headroom_after_minor(self) -> int:
        """Limit minus exposure minus this order: negative means over the limit by that much."""
        return self.credit_limit_minor - self.exposure_minor - self.order_value_minor


def credit_decision(
    reseller: ResellerProfile,
    exposure: Exposure,
    order_value_minor: int,
    policy: CreditPolicy | None = None,
) -> CreditDecision:
    """Accept, hold for review, or reject an order worth ``order_value_minor``.

    Rules, first match wins (the reseller is on hold if its profile or its exposure says so):
    1. on hold and ``overdue_minor > 0`` -> REJECT (HOLD if the policy says so): pay first;
    2. on hold, nothing overdue -> HOLD: finance decides;
    3. receivables + commitments + order <= limit -> ACCEPT: exactly at the limit is within it;
    4. the order could not fit even with every receivable and commitment cleared (it exceeds
       the limit plus any prepaid credit balance) -> REJECT (HOLD if the policy says so);
    5. otherwise -> HOLD, with the numbers, until payments free headroom or finance releases it.
    """
    policy = policy or CreditPolicy()
    if exposure.reseller_id != reseller.reseller_id:
        raise ValueError(f"exposure of {exposure.reseller_id} used for {reseller.reseller_id}")
    if exposure.currency != reseller.currency:
        raise ValueError(f"exposure in {exposure.currency}, reseller bills in {reseller.currency}")
    if order_value_minor < 0:
        raise ValueError(f"order value must be non-negative, got {order_value_minor}")

    cur = reseller.currency
    limit = reseller.credit_limit_minor
    current = exposure.total_minor
    after = current + order_value_minor

    def m(minor: int) -> str:
        return str(Money.of(minor, cur))

    def decide(outcome: CreditOutcome, code: CreditReason, reason: str) -> CreditDecision:
        return CreditDecision(
            outcome=outcome,
            code=code,
            reason=reason,
            currency=cur,
            credit_limit_minor=limit,
            exposure_minor=current,
            order_value_minor=order_value_minor,
        )

    on_hold = reseller.on_credit_hold or exposure.on_hold
    if on_hold and exposure.overdue_minor > 0:
        outcome = CreditOutcome.REJECT if policy.reject_on_hold_with_overdue else CreditOutcome.HOLD
        return decide(
            outcome,
            CreditReason.CREDIT_HOLD_WITH_OVERDUE,
            f"reseller is on credit hold with {m(exposure.overdue_minor)} overdue; "
            "orders resume once the overdue invoices are paid",
        )
    if on_hold:
        return decide(
            CreditOutcome.HOLD,
            CreditReason.CREDIT_HOLD,
            "reseller is on credit hold; the order waits for finance to review it",
        )
    if after <= limit:
        return decide(
            CreditOutcome.ACCEPT,
            CreditReason.WITHIN_LIMIT,
            f"exposure after the order {m(after)} is within the credit limit {m(limit)}",
        )
    credit_balance = max(-exposure.open_receivables_minor, 0)
    if order_value_minor > limit + credit_balance:
        outcome = CreditOutcome.REJECT if policy.reject_order_over_limit else CreditOutcome.HOLD
        return decide(
            outcome,
            CreditReason.ORDER_EXCEEDS_LIMIT,
            f"order value {m(order_value_minor)} alone exceeds the credit limit {m(limit)}; "
            "split the order or ask for a higher limit",
        )
    return decide(
        CreditOutcome.HOLD,
        CreditReason.LIMIT_EXCEEDED,
        f"exposure {m(current)} (receivables {m(exposure.open_receivables_minor)} + "
        f"committed {m(exposure.committed_minor)}{_consumed(exposure, m)}) + order "
        f"{m(order_value_minor)} = "
        f"{m(after)} exceeds the credit limit {m(limit)} by {m(after - limit)}",
    )


def _consumed(exposure: Exposure, m: Callable[[int], str]) -> str:
    """The consumption part of a hold's reason, when there is any."""
    if exposure.consumption_minor == 0:
        return ""
    return f" + accrued consumption {m(exposure.consumption_minor)}"


def apply_consumption(exposure: Exposure, delta_minor: int) -> Exposure:
    """Accrued consumption moved: usage rated (up), or the month invoiced (down: the invoice
    carries it into receivables)."""
    return exposure.model_copy(
        update={"consumption_minor": exposure.consumption_minor + delta_minor}
    )


def _non_negative(name: str, amount_minor: int) -> None:
    if amount_minor < 0:
        raise ValueError(f"{name} must be non-negative, got {amount_minor}")


def apply_commitment(exposure: Exposure, amount_minor: int) -> Exposure:
    """An accepted order's term value now counts against the limit."""
    _non_negative("commitment", amount_minor)
    return exposure.model_copy(update={"committed_minor": exposure.committed_minor + amount_minor})


def release_commitment(exposure: Exposure, amount_minor: int) -> Exposure:
    """A commitment that will not be invoiced (order failed, cancelled in the window) is freed.

    Releasing more than is committed raises: it means a release was applied twice.
    """
    _non_negative("release", amount_minor)
    if amount_minor > exposure.committed_minor:
        raise ValueError(
            f"cannot release {amount_minor}: only {exposure.committed_minor} is committed"
        )
    return exposure.model_copy(update={"committed_minor": exposure.committed_minor - amount_minor})


def apply_invoice(
    exposure: Exposure, amount_minor: int, *, consumes_commitment_minor: int = 0
) -> Exposure:
    """An invoice adds to receivables; the part of it that bills committed value leaves the
    commitment, so the same money is not counted twice. Credit notes are negative invoices."""
    released = release_commitment(exposure, consumes_commitment_minor)
    return released.model_copy(
        update={"open_receivables_minor": exposure.open_receivables_minor + amount_minor}
    )


def apply_payment(exposure: Exposure, amount_minor: int) -> Exposure:
    """A payment reduces receivables, oldest (overdue) first; overpayment is a credit balance."""
    _non_negative("payment", amount_minor)
    return exposure.model_copy(
        update={
            "open_receivables_minor": exposure.open_receivables_minor - amount_minor,
            "overdue_minor": max(exposure.overdue_minor - amount_minor, 0),
        }
    )


def set_overdue(exposure: Exposure, overdue_minor: int) -> Exposure:
    """Collections' current view of what is past due (it ages invoices; this only records it)."""
    _non_negative("overdue", overdue_minor)
    return exposure.model_copy(update={"overdue_minor": overdue_minor})


def set_credit_hold(exposure: Exposure, on_hold: bool) -> Exposure:
    """Collections puts a reseller on credit hold or lifts it; the credit check reads it."""
    return exposure.model_copy(update={"on_hold": on_hold})


def commitment_billed_by(exposure: Exposure, subtotal_minor: int) -> int:
    """How much of the open commitment an invoice with ``subtotal_minor`` (before tax) bills.

    Commitments are counted before tax, so the pre-tax subtotal leaves the commitment (never more
    than is committed); the tax-inclusive total becomes a receivable. Pass the result to
    ``apply_invoice(..., consumes_commitment_minor=...)``.
    """
    return min(max(subtotal_minor, 0), exposure.committed_minor)


def release_refused_order(exposure: Exposure, commitment_minor: int) -> Exposure:
    """Microsoft refused an accepted order for good: it will never be invoiced, so its
    commitment leaves the exposure.

    Invoices consume the open commitment in aggregate (``commitment_billed_by``), so part of it
    may already be gone: never more than is still committed is released.
    """
    _non_negative("release", commitment_minor)
    return release_commitment(exposure, min(commitment_minor, exposure.committed_minor))
