import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.credit import (
    CreditOutcome,
    CreditPolicy,
    CreditReason,
    Exposure,
    apply_commitment,
    apply_invoice,
    apply_payment,
    credit_decision,
    release_commitment,
    release_refused_order,
    set_credit_hold,
    set_overdue,
)
from hub.domain.enums import BillingMode, SupportMode
from hub.domain.reference import ResellerProfile

LIMIT = 1_000_000  # EUR 10,000.00


def reseller(limit=LIMIT, on_hold=False):
    return ResellerProfile(
        reseller_id="r1",
        partner_id="1234567",
        name="Contoso IT",
        country="DE",
        currency="EUR",
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=limit,
        payment_terms_days=30,
        on_credit_hold=on_hold,
    )


def exposure(receivables=0, committed=0, overdue=0, on_hold=False):
    return Exposure(
        reseller_id="r1",
        currency="EUR",
        open_receivables_minor=receivables,
        committed_minor=committed,
        overdue_minor=overdue,
        on_hold=on_hold,
    )


def test_order_exactly_reaching_the_limit_is_accepted():
    decision = credit_decision(reseller(), exposure(600_000, 300_000), 100_000)
    assert decision.outcome is CreditOutcome.ACCEPT
    assert decision.code is CreditReason.WITHIN_LIMIT
    assert decision.headroom_after_minor == 0


def test_order_one_minor_unit_over_the_limit_is_held_with_the_numbers():
    decision = credit_decision(reseller(), exposure(600_000, 300_000), 100_001)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.LIMIT_EXCEEDED
    assert decision.headroom_after_minor == -1
    assert "10000.01 EUR exceeds the credit limit 10000.00 EUR by 0.01 EUR" in decision.reason
    assert "receivables 6000.00 EUR + committed 3000.00 EUR" in decision.reason


def test_order_alone_above_the_limit_is_rejected():
    decision = credit_decision(reseller(), exposure(), LIMIT + 1)
    assert decision.outcome is CreditOutcome.REJECT
    assert decision.code is CreditReason.ORDER_EXCEEDS_LIMIT
    assert "split the order" in decision.reason


def test_order_alone_equal_to_the_limit_with_no_exposure_is_accepted():
    assert credit_decision(reseller(), exposure(), LIMIT).outcome is CreditOutcome.ACCEPT


def test_policy_can_hold_instead_of_reject_an_order_above_the_limit():
    policy = CreditPolicy(reject_order_over_limit=False)
    decision = credit_decision(reseller(), exposure(), LIMIT + 1, policy)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.ORDER_EXCEEDS_LIMIT


def test_reseller_on_hold_with_overdue_is_held_for_review_even_for_a_small_order():
    decision = credit_decision(reseller(), exposure(50_000, overdue=20_000, on_hold=True), 1)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.CREDIT_HOLD_WITH_OVERDUE
    assert "200.00 EUR overdue" in decision.reason


def test_hold_flag_on_the_reseller_profile_counts_as_credit_hold():
    decision = credit_decision(reseller(on_hold=True), exposure(overdue=1), 1)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.CREDIT_HOLD_WITH_OVERDUE


def test_policy_can_reject_instead_of_hold_a_reseller_on_hold_with_overdue():
    policy = CreditPolicy(reject_on_hold_with_overdue=True)
    decision = credit_decision(reseller(), exposure(overdue=1, on_hold=True), 1, policy)
    assert decision.outcome is CreditOutcome.REJECT
    assert decision.code is CreditReason.CREDIT_HOLD_WITH_OVERDUE


def test_reseller_on_hold_with_nothing_overdue_is_held_for_review():
    decision = credit_decision(reseller(), exposure(on_hold=True), 1)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.CREDIT_HOLD


def test_overdue_without_a_credit_hold_does_not_block_an_order_within_the_limit():
    assert credit_decision(reseller(), exposure(10_000, overdue=10_000), 1).outcome is (
        CreditOutcome.ACCEPT
    )


def test_a_prepayment_credit_balance_gives_headroom_beyond_the_limit():
    decision = credit_decision(reseller(), exposure(receivables=-100), LIMIT + 100)
    assert decision.outcome is CreditOutcome.ACCEPT
    over = credit_decision(reseller(), exposure(receivables=-100), LIMIT + 101)
    assert over.outcome is CreditOutcome.REJECT


def test_order_that_fits_only_once_receivables_are_paid_is_held_not_rejected():
    decision = credit_decision(reseller(), exposure(receivables=LIMIT), LIMIT)
    assert decision.outcome is CreditOutcome.HOLD
    assert decision.code is CreditReason.LIMIT_EXCEEDED


def test_zero_limit_accepts_only_a_free_order():
    assert credit_decision(reseller(limit=0), exposure(), 0).outcome is CreditOutcome.ACCEPT
    assert credit_decision(reseller(limit=0), exposure(), 1).outcome is CreditOutcome.REJECT


def test_credit_decision_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="exposure of"):
        credit_decision(reseller(), exposure().model_copy(update={"reseller_id": "r2"}), 1)
    with pytest.raises(ValueError, match="EUR"):
        credit_decision(reseller(), exposure().model_copy(update={"currency": "USD"}), 1)
    with pytest.raises(ValueError, match="non-negative"):
        credit_decision(reseller(), exposure(), -1)


def test_exposure_refuses_an_unknown_currency():
    with pytest.raises(ValueError, match="unknown ISO 4217"):
        Exposure(reseller_id="r1", currency="XXX")


@given(
    st.integers(-(10**9), 10**9),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.integers(0, 2 * 10**9),
)
def test_decision_without_hold_is_accept_exactly_when_within_the_limit(rec, com, order, limit):
    decision = credit_decision(reseller(limit=limit), exposure(rec, com), order)
    within = rec + com + order <= limit
    assert (decision.outcome is CreditOutcome.ACCEPT) == within


def test_commitment_adds_to_exposure_and_release_frees_it():
    committed = apply_commitment(exposure(), 500)
    assert committed.committed_minor == 500
    assert release_commitment(committed, 200).committed_minor == 300


def test_releasing_more_than_is_committed_raises():
    with pytest.raises(ValueError, match="only 100 is committed"):
        release_commitment(exposure(committed=100), 101)


def test_invoice_moves_billed_commitment_into_receivables_without_double_counting():
    before = exposure(receivables=1_000, committed=12_000)
    after = apply_invoice(before, 1_000, consumes_commitment_minor=1_000)
    assert (after.open_receivables_minor, after.committed_minor) == (2_000, 11_000)
    assert after.total_minor == before.total_minor


def test_invoice_for_uncommitted_usage_adds_to_exposure():
    after = apply_invoice(exposure(committed=5), 300)
    assert (after.open_receivables_minor, after.committed_minor) == (300, 5)


def test_payment_reduces_receivables_and_overdue_first():
    after = apply_payment(exposure(receivables=1_000, overdue=400), 500)
    assert (after.open_receivables_minor, after.overdue_minor) == (500, 0)
    partial = apply_payment(exposure(receivables=1_000, overdue=400), 100)
    assert (partial.open_receivables_minor, partial.overdue_minor) == (900, 300)


def test_overpayment_leaves_a_credit_balance():
    assert apply_payment(exposure(receivables=100), 150).open_receivables_minor == -50


def test_negative_payment_or_commitment_is_refused():
    with pytest.raises(ValueError, match="payment"):
        apply_payment(exposure(), -1)
    with pytest.raises(ValueError, match="commitment"):
        apply_commitment(exposure(), -1)


def test_collections_hold_and_overdue_feed_the_credit_check():
    held = set_credit_hold(set_overdue(exposure(), 700), True)
    assert credit_decision(reseller(), held, 1).code is CreditReason.CREDIT_HOLD_WITH_OVERDUE
    paid = apply_payment(held, 700)
    assert credit_decision(reseller(), paid, 1).code is CreditReason.CREDIT_HOLD
    lifted = set_credit_hold(paid, False)
    assert credit_decision(reseller(), lifted, 1).outcome is CreditOutcome.ACCEPT


def test_exposure_updates_return_a_new_value_and_leave_the_old_one():
    before = exposure()
    apply_commitment(before, 10)
    assert before.committed_minor == 0


@given(st.lists(st.integers(0, 10**9), max_size=20))
def test_committing_then_releasing_the_same_amounts_restores_the_exposure(amounts):
    current = exposure(receivables=7)
    for amount in amounts:
        current = apply_commitment(current, amount)
    for amount in reversed(amounts):
        current = release_commitment(current, amount)
    assert current == exposure(receivables=7)


def test_a_refused_order_frees_its_commitment_but_never_more_than_is_still_committed() -> None:
    committed = Exposure(reseller_id="contoso", currency="EUR", committed_minor=5_000)

    assert release_refused_order(committed, 3_000).committed_minor == 2_000
    # Invoices already billed part of the open commitment: only the rest is left to free.
    assert release_refused_order(committed, 8_000).committed_minor == 0
    with pytest.raises(ValueError, match="non-negative"):
        release_refused_order(committed, -1)
