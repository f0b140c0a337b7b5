"""Collections: partial and over-payments, replays, dunning stages and transitions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.collections import (
    CREDIT_FACTS_KEPT,
    CreditBalance,
    DunningPolicy,
    DunningStage,
    Payment,
    Receivable,
    apply_payment,
    assess,
    dunning_transitions,
)
from hub.errors import ValidationFailed

DUE = date(2026, 12, 31)


def receivable(n: int, total: int, due: date = DUE, reseller: str = "r1") -> Receivable:
    return Receivable(
        invoice_id=f"inv-{n}",
        number=f"INV-{n:04d}",
        reseller_id=reseller,
        currency="EUR",
        issue_date=due - timedelta(days=30),
        due_date=due,
        total_minor=total,
    )


def pay(amount: int, pid: str = "p1", invoice_id: str | None = None) -> Payment:
    return Payment(
        payment_id=pid,
        reseller_id="r1",
        currency="EUR",
        amount_minor=amount,
        received_on=date(2027, 1, 5),
        invoice_id=invoice_id,
    )


def test_partial_payment_leaves_a_balance() -> None:
    result = apply_payment([receivable(1, 10_000)], pay(4_000))
    assert result.receivables[0].balance_minor == 6_000
    assert result.applied == (("inv-1", 4_000),)
    assert result.credit_minor == 0


def test_payment_goes_to_the_oldest_due_first_and_overpayment_becomes_credit() -> None:
    rs = [receivable(2, 5_000, DUE), receivable(1, 3_000, DUE - timedelta(days=31))]
    result = apply_payment(rs, pay(10_000))
    assert result.applied == (("inv-1", 3_000), ("inv-2", 5_000))
    assert result.credit_minor == 2_000
    assert all(r.balance_minor == 0 for r in result.receivables)


def test_remittance_names_the_invoice_to_pay_first() -> None:
    rs = [receivable(1, 3_000, DUE - timedelta(days=31)), receivable(2, 5_000)]
    result = apply_payment(rs, pay(4_000, invoice_id="inv-2"))
    assert result.applied == (("inv-2", 4_000),)


def test_redelivered_payment_is_applied_once() -> None:
    first = apply_payment([receivable(1, 10_000)], pay(4_000))
    again = apply_payment(first.receivables, pay(4_000))
    assert again.duplicate
    assert again.receivables == first.receivables


def test_other_resellers_and_currencies_are_untouched() -> None:
    other = receivable(9, 1_000, reseller="r2")
    usd = receivable(8, 1_000).model_copy(update={"currency": "USD"})
    result = apply_payment([other, usd], pay(500))
    assert result.applied == ()
    assert result.credit_minor == 500


@pytest.mark.parametrize(
    ("days", "stage"),
    [
        (0, DunningStage.CURRENT),
        (1, DunningStage.REMINDER),
        (14, DunningStage.REMINDER),
        (15, DunningStage.FINAL_NOTICE),
        (29, DunningStage.FINAL_NOTICE),
        (30, DunningStage.CREDIT_HOLD),
        (90, DunningStage.CREDIT_HOLD),
    ],
)
def test_default_stages_by_days_overdue(days: int, stage: DunningStage) -> None:
    standing = assess([receivable(1, 1_000)], DUE + timedelta(days=days))
    assert standing[("r1", "EUR")].stage is stage


def test_stages_are_configurable() -> None:
    policy = DunningPolicy(reminder_days=3, final_notice_days=10, credit_hold_days=20)
    assert policy.stage_for(2) is DunningStage.CURRENT
    assert policy.stage_for(20) is DunningStage.CREDIT_HOLD
    with pytest.raises(ValidationFailed):
        DunningPolicy(reminder_days=20, final_notice_days=10)


def test_unpaid_invoice_walks_reminder_final_notice_credit_hold_then_clears_when_paid() -> None:
    rs = [receivable(1, 1_000)]
    seen: dict[str, DunningStage] = {}
    history = []
    for offset in range(40):
        for notice in dunning_transitions(rs, seen, DUE + timedelta(days=offset)):
            history.append((offset, notice.stage))
            seen[notice.invoice_id] = notice.stage
    assert history == [
        (1, DunningStage.REMINDER),
        (15, DunningStage.FINAL_NOTICE),
        (30, DunningStage.CREDIT_HOLD),
    ]
    assert assess(rs, DUE + timedelta(days=30))[("r1", "EUR")].on_credit_hold
    paid = apply_payment(rs, pay(1_000)).receivables
    cleared = dunning_transitions(paid, seen, DUE + timedelta(days=41))
    assert [(n.previous, n.stage) for n in cleared] == [
        (DunningStage.CREDIT_HOLD, DunningStage.CURRENT)
    ]
    assert assess(paid, DUE + timedelta(days=41)) == {}


def test_partial_payment_keeps_dunning_on_the_rest() -> None:
    rs = apply_payment([receivable(1, 1_000)], pay(999)).receivables
    standing = assess(rs, DUE + timedelta(days=16))[("r1", "EUR")]
    assert (standing.open_minor, standing.overdue_minor) == (1, 1)
    assert standing.stage is DunningStage.FINAL_NOTICE


def test_standing_reports_the_worst_invoice() -> None:
    rs = [
        receivable(1, 1_000, DUE - timedelta(days=30)),
        receivable(2, 500, DUE + timedelta(days=30)),
    ]
    standing = assess(rs, DUE)[("r1", "EUR")]
    assert standing.stage is DunningStage.CREDIT_HOLD
    assert (standing.open_minor, standing.overdue_minor) == (1_500, 1_000)


@given(
    st.lists(st.integers(1, 10**6), min_size=1, max_size=10),
    st.lists(st.integers(1, 10**6), min_size=1, max_size=10),
)
def test_payments_are_conserved(totals: list[int], payments: list[int]) -> None:
    rs = [receivable(i, t, DUE + timedelta(days=i)) for i, t in enumerate(totals)]
    credit = 0
    for j, amount in enumerate(payments):
        result = apply_payment(rs, pay(amount, pid=f"p{j}"))
        rs = list(result.receivables)
        credit += result.credit_minor
    paid = sum(r.paid_minor for r in rs)
    assert paid + credit == sum(payments)
    assert all(0 <= r.balance_minor <= r.total_minor for r in rs)
    assert credit == 0 or all(r.balance_minor == 0 for r in rs)


def test_a_credit_balance_adds_each_fact_once_and_reads_what_was_kept_before() -> None:
    assert CreditBalance.of(None) == CreditBalance()
    assert CreditBalance.of(1200).minor == 1200  # a bare amount, as kept before ids were
    balance = CreditBalance.of(1200).add("pay-1", 500).add("CN-1", 300)
    assert balance.add("pay-1", 500) == balance  # a replay adds nothing
    assert (balance.minor, balance.applied) == (2000, ("pay-1", "CN-1"))
    assert CreditBalance.of(balance.model_dump(mode="json")) == balance
    for n in range(CREDIT_FACTS_KEPT):
        balance = balance.add(f"p{n}", 1)
    assert len(balance.applied) == CREDIT_FACTS_KEPT
    assert balance.minor == 2000 + CREDIT_FACTS_KEPT
