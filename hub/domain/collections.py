"""Receivables, payments and dunning: balances, payment application, overdue stages.

Dunning is a pure function of the open balances and the day: no timers, no wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import ValidationFailed


class DunningStage(IntEnum):
    """Ordered so that the worst stage is the largest."""

    CURRENT = 0
    REMINDER = 1
    FINAL_NOTICE = 2
    CREDIT_HOLD = 3


class DunningPolicy(BaseModel):
    """Days overdue at which each stage starts."""

    model_config = ConfigDict(frozen=True)

    reminder_days: int = Field(default=1, ge=1)
    final_notice_days: int = Field(default=15, ge=1)
    credit_hold_days: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DunningPolicy:
        if not self.reminder_days <= self.final_notice_days <= self.credit_hold_days:
            raise ValidationFailed("dunning", self, "stages must start in order")
        return self

    def stage_for(self, days_overdue: int) -> DunningStage:
        if days_overdue >= self.credit_hold_days:
            return DunningStage.CREDIT_HOLD
        if days_overdue >= self.final_notice_days:
            return DunningStage.FINAL_NOTICE
        if days_overdue >= self.reminder_days:
            return DunningStage.REMINDER
        return DunningStage.CURRENT


class Receivable(BaseModel):
    """An issued invoice as finance tracks it: total, and the payments applied to it."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    number: str
    reseller_id: str
    currency: str
    issue_date: date
    due_date: date
    total_minor: int = Field(ge=0)
    applied: tuple[tuple[str, int], ...] = ()  # (payment_id, amount)

    @property
    def paid_minor(self) -> int:
        return sum(amount for _, amount in self.applied)

    @property
    def balance_minor(self) -> int:
        return self.total_minor - self.paid_minor

    def days_overdue(self, today: date) -> int:
        return max(0, (today - self.due_date).days) if self.balance_minor > 0 else 0


# How many of the latest facts a credit balance remembers having applied (``CreditBalance``).
CREDIT_FACTS_KEPT = 128


class CreditBalance(BaseModel):
    """Overpayments and credit notes not yet used, in one currency.

    ``applied`` holds the ids of the latest facts (payments, credit notes) added, in the same
    write as the amount: a replay after a crash cut a message's writes short adds nothing
    twice. The latest ``CREDIT_FACTS_KEPT`` are kept, plenty for what a crash replays.
    """

    model_config = ConfigDict(frozen=True)

    minor: int = 0
    applied: tuple[str, ...] = ()

    @classmethod
    def of(cls, stored: object) -> CreditBalance:
        """From a table entry: a balance, a bare amount (as kept before ids were), or none."""
        if stored is None:
            return cls()
        if isinstance(stored, int):
            return cls(minor=stored)
        return cls.model_validate(stored)

    def add(self, fact_id: str, amount_minor: int) -> CreditBalance:
        """The balance with ``amount_minor`` (negative uses credit) of fact ``fact_id``, once."""
        if fact_id in self.applied:
            return self
        return CreditBalance(
            minor=self.minor + amount_minor,
            applied=(*self.applied, fact_id)[-CREDIT_FACTS_KEPT:],
        )


class Payment(BaseModel):
    model_config = ConfigDict(frozen=True)

    payment_id: str = Field(min_length=1)
    reseller_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    received_on: date
    invoice_id: str | None = None  # remittance advice, when the payer named an invoice


class PaymentResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    receivables: tuple[Receivable, ...]
    applied: tuple[tuple[str, int], ...]  # (invoice_id, amount)
    credit_minor: int  # overpayment, kept as a credit on the reseller's account
    duplicate: bool = False


def apply_payment(receivables: Sequence[Receivable], payment: Payment) -> PaymentResult:
    """Apply ``payment`` to the reseller's open invoices in its currency.

    The invoice named on the remittance first, then the oldest due first (ties by number);
    a partial payment leaves a balance, an overpayment becomes credit. A payment id already
    applied changes nothing (a redelivered ``PaymentReceived``).
    """
    if any(pid == payment.payment_id for r in receivables for pid, _ in r.applied):
        return PaymentResult(
            receivables=tuple(receivables), applied=(), credit_minor=0, duplicate=True
        )
    open_ = [
        r
        for r in receivables
        if r.reseller_id == payment.reseller_id
        and r.currency == payment.currency
        and r.balance_minor > 0
    ]
    open_.sort(key=lambda r: (r.invoice_id != payment.invoice_id, r.due_date, r.number))
    left = payment.amount_minor
    applied: list[tuple[str, int]] = []
    for r in open_:
        if left == 0:
            break
        take = min(left, r.balance_minor)
        left -= take
        applied.append((r.invoice_id, take))
    return PaymentResult(
        receivables=settle(receivables, payment.payment_id, applied),
        applied=tuple(applied),
        credit_minor=left,
    )


def settle(
    receivables: Sequence[Receivable], payment_id: str, applied: Iterable[tuple[str, int]]
) -> tuple[Receivable, ...]:
    """``receivables`` with a payment's allocation (invoice id, amount) recorded on them; an
    invoice already holding ``payment_id`` is left as it is, so settling twice changes nothing."""
    amounts = dict(applied)
    return tuple(
        r.model_copy(update={"applied": (*r.applied, (payment_id, amounts[r.invoice_id]))})
        if r.invoice_id in amounts and all(pid != payment_id for pid, _ in r.applied)
        else r
        for r in receivables
    )


class InvoiceDunning(BaseModel):
    model_config = ConfigDict(frozen=True)

    invoice_id: str
    days_overdue: int
    balance_minor: int
    stage: DunningStage


class ResellerStanding(BaseModel):
    """What the order credit check reads: open and overdue balances and the worst stage."""

    model_config = ConfigDict(frozen=True)

    reseller_id: str
    currency: str
    open_minor: int
    overdue_minor: int
    stage: DunningStage
    invoices: tuple[InvoiceDunning, ...]

    @property
    def on_credit_hold(self) -> bool:
        return self.stage == DunningStage.CREDIT_HOLD


def assess(
    receivables: Iterable[Receivable],
    today: date,
    policy: DunningPolicy | None = None,
) -> dict[tuple[str, str], ResellerStanding]:
    """Standing per (reseller, currency) on ``today``; paid invoices are ignored."""
    policy = policy or DunningPolicy()
    grouped: dict[tuple[str, str], list[InvoiceDunning]] = {}
    for r in receivables:
        if r.balance_minor <= 0:
            continue
        overdue = r.days_overdue(today)
        grouped.setdefault((r.reseller_id, r.currency), []).append(
            InvoiceDunning(
                invoice_id=r.invoice_id,
                days_overdue=overdue,
                balance_minor=r.balance_minor,
                stage=policy.stage_for(overdue),
            )
        )
    return {
        key: ResellerStanding(
            reseller_id=key[0],
            currency=key[1],
            open_minor=sum(i.balance_minor for i in items),
            overdue_minor=sum(i.balance_minor for i in items if i.days_overdue > 0),
            stage=max(i.stage for i in items),
            invoices=tuple(sorted(items, key=lambda i: i.invoice_id)),
        )
        for key, items in sorted(grouped.items())
    }


class DunningNotice(BaseModel):
    """An invoice moved to another stage since the last run (``CURRENT`` once settled)."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    reseller_id: str
    previous: DunningStage
    stage: DunningStage
    balance_minor: int
    days_overdue: int


def dunning_transitions(
    receivables: Iterable[Receivable],
    previous: Mapping[str, DunningStage],
    today: date,
    policy: DunningPolicy | None = None,
) -> list[DunningNotice]:
    """Notices for every invoice whose stage differs from ``previous`` (by invoice id).

    Running it twice with the stages it reported as ``previous`` yields nothing new, and a
    late run jumps straight to the right stage rather than replaying the ones it missed.
    """
    policy = policy or DunningPolicy()
    notices: list[DunningNotice] = []
    for r in sorted(receivables, key=lambda r: r.invoice_id):
        overdue = r.days_overdue(today)
        stage = policy.stage_for(overdue)
        before = previous.get(r.invoice_id, DunningStage.CURRENT)
        if stage != before:
            notices.append(
                DunningNotice(
                    invoice_id=r.invoice_id,
                    reseller_id=r.reseller_id,
                    previous=before,
                    stage=stage,
                    balance_minor=r.balance_minor,
                    days_overdue=overdue,
                )
            )
    return notices
