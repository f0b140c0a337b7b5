"""Incentive accrual on recognised revenue: exact per plan and tier, once per source,
clawbacks as reversal lines that undo exactly what they reverse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.incentives.accrual import RevenueFact
from hub.domain.incentives.book import IncentiveBook
from hub.domain.incentives.plans import Plan, PlanFile
from hub.domain.pricing import round_half_up


def plan(**over: Any) -> Plan:
    doc: dict[str, Any] = {
        "plan_id": "am-alice",
        "payee": "alice",
        "kind": "commission",
        "resellers": ["R1", "R2"],
        "currency": "EUR",
        "fx_rates": {"USD": "0.9", "JPY": "0.0061"},
        "fx_source": "ECB reference rates of 2026-01-02",
        "families": {"M365": "modern-work", "AZ": "azure"},
        "effective_from": "2026-01",
        "tiers": [
            {"name": "base", "from_measure": 0, "rates_bps": {"*": 200, "azure": 150}},
            {"name": "silver", "from_measure": 100_000, "rates_bps": {"*": 300, "azure": 250}},
            {"name": "gold", "from_measure": 500_000, "rates_bps": {"*": 500}},
        ],
    }
    doc.update(over)
    return Plan.model_validate(doc)


def fact(n: int, amount: int, **over: Any) -> RevenueFact:
    doc: dict[str, Any] = {
        "source_id": f"rev:c{n}:2026-01",
        "reseller_id": "R1",
        "charge_id": f"c{n}",
        "subscription_id": f"s{n}",
        "product_id": "M365",
        "period": "2026-01",
        "amount_minor": amount,
        "currency": "EUR",
    }
    doc.update(over)
    return RevenueFact.model_validate(doc)


facts = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=400_000),
        st.sampled_from(["M365", "AZ", "OTHER"]),
        st.sampled_from(["EUR", "USD", "JPY"]),
        st.sampled_from(["R1", "R2"]),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(facts)
def test_accruals_sum_exactly_to_rate_times_revenue_per_plan_and_tier(
    schedule: list[tuple[int, str, str, str]],
) -> None:
    p = plan()
    book = IncentiveBook({})
    lines = []
    for n, (amount, product, currency, reseller) in enumerate(schedule):
        f = fact(n, amount, product_id=product, currency=currency, reseller_id=reseller)
        lines += book.on_revenue(p, f)
    # The revenue each event brought, converted, is split over tiers without loss...
    total = sum(
        (p.to_payout(a, c) for a, _, c, _ in schedule),
        Decimal(0),
    )
    assert sum((Decimal(ln.revenue_minor) for ln in lines), Decimal(0)) == total
    # ...marginally: each tier holds exactly the part of the month's revenue in its range.
    bounds = [t.from_measure for t in p.tiers] + [None]
    for i, tier in enumerate(p.tiers):
        low, high = Decimal(bounds[i] or 0), bounds[i + 1]
        expected = max(Decimal(0), (total if high is None else min(total, high)) - low)
        got = sum((Decimal(ln.revenue_minor) for ln in lines if ln.tier == tier.name), Decimal(0))
        assert got == expected
    # ...and each tier's accruals, per family and rate, are exactly rate x its revenue.
    groups: dict[tuple[str, str, int], list[Any]] = {}
    for ln in lines:
        groups.setdefault((ln.tier, ln.family, ln.rate_bps), []).append(ln)
    for (_, _, rate), group in groups.items():
        revenue = sum((Decimal(ln.revenue_minor) for ln in group), Decimal(0))
        assert sum(ln.amount_minor for ln in group) == round_half_up(revenue * rate / 10_000)
    month = book.month(p, "2026-01")
    assert month.accrued_minor == sum(ln.amount_minor for ln in lines)
    assert month.reversed_minor == 0


@settings(max_examples=100, deadline=None)
@given(facts, st.randoms(use_true_random=False))
def test_replays_change_nothing(schedule: list[tuple[int, str, str, str]], rnd: Any) -> None:
    p = plan()
    once = IncentiveBook({})
    events = [
        fact(n, a, product_id=pr, currency=c, reseller_id=r)
        for n, (a, pr, c, r) in enumerate(schedule)
    ]
    first = [ln for f in events for ln in once.on_revenue(p, f)]
    before = dict(once.t)
    # Every event delivered again, some several times, in any order: nothing more accrues.
    replayed = events * 2
    rnd.shuffle(replayed)
    again = [ln for f in replayed for ln in once.on_revenue(p, f)]
    assert again == []
    assert once.t == before
    assert sum(ln.amount_minor for ln in first) == once.month(p, "2026-01").accrued_minor


@settings(max_examples=100, deadline=None)
@given(facts, st.data())
def test_a_clawback_fully_reverses_its_accrual(
    schedule: list[tuple[int, str, str, str]], data: st.DataObject
) -> None:
    p = plan()
    book = IncentiveBook({})
    accrued: dict[str, int] = {}
    for n, (a, pr, c, r) in enumerate(schedule):
        for ln in book.on_revenue(p, fact(n, a, product_id=pr, currency=c, reseller_id=r)):
            accrued[ln.charge_id] = accrued.get(ln.charge_id, 0) + ln.amount_minor
    charge = data.draw(st.sampled_from(sorted(accrued)))
    how = data.draw(st.sampled_from(["refund", "write_off", "refund_then_write_off"]))
    reversed_ = []
    amount = next(a for n, (a, *_) in enumerate(schedule) if f"c{n}" == charge)
    if how in ("refund", "refund_then_write_off"):
        part = amount if how == "refund" else data.draw(st.integers(1, amount))
        reversed_ += book.on_refund(
            p,
            charge,
            period="2026-02",
            source_id="refund:1",
            refund_minor=part,
            charge_minor=amount,
        )
    if how != "refund":
        reversed_ += book.on_write_off(
            p, charge, stage="credit_hold", period="2026-03", source_id="dunning:1"
        )
    assert all(r.kind == "reversal" and r.reverses for r in reversed_)
    assert sum(r.amount_minor for r in reversed_) == -accrued[charge]
    booked = book.month(p, "2026-02").reversed_minor + book.month(p, "2026-03").reversed_minor
    assert booked == accrued[charge]


def test_tier_change_mid_month_splits_the_event_and_is_explained() -> None:
    p = plan()
    book = IncentiveBook({})
    book.on_revenue(p, fact(1, 80_000))
    lines = book.on_revenue(p, fact(2, 50_000))
    # 20,000 of it below the silver threshold at 2%, 30,000 above it at 3%.
    assert [(ln.tier, ln.revenue_minor, ln.amount_minor) for ln in lines] == [
        ("base", "20000", 400),
        ("silver", "30000", 900),
    ]
    st_ = book.statement("alice", "2026-01", [p])
    (only,) = st_.plans
    assert only.tier == "silver"
    assert only.accrued_minor == 1_600 + 400 + 900
    assert only.tier_changes == (
        "tier silver reached on rev:c2:2026-01: recognised revenue went from 800.00 EUR to "
        "1300.00 EUR, past 1000.00 EUR; what lies above 1000.00 EUR accrues at silver rates, "
        "what lies below it at base rates",
    )


def test_cap_limits_what_a_month_accrues_and_says_how_much_was_cut() -> None:
    p = plan(cap_minor=1_000)
    book = IncentiveBook({})
    book.on_revenue(p, fact(1, 40_000))  # 800
    (line,) = book.on_revenue(p, fact(2, 20_000))  # 400, of which 200 over the cap
    assert (line.amount_minor, line.capped_minor) == (200, 200)
    assert book.statement("alice", "2026-01", [p]).plans[0].payable_minor == 1_000


def test_revenue_in_another_currency_is_converted_at_the_stated_rate() -> None:
    p = plan()
    (line,) = IncentiveBook({}).on_revenue(p, fact(1, 10_000, currency="USD"))
    assert (line.revenue_minor, line.amount_minor, line.currency) == ("9000.0", 180, "EUR")


def test_plan_outside_its_dates_or_resellers_accrues_nothing() -> None:
    p = plan(effective_from="2026-02")
    assert IncentiveBook({}).on_revenue(p, fact(1, 10_000)) == []
    assert IncentiveBook({}).on_revenue(plan(), fact(1, 10_000, reseller_id="R9")) == []


def test_written_off_charge_accrues_and_reverses_its_later_revenue() -> None:
    p = plan()
    book = IncentiveBook({})
    book.on_revenue(p, fact(1, 10_000))
    book.on_write_off(p, "c1", stage="credit_hold", period="2026-01", source_id="d1")
    later = book.on_revenue(p, fact(1, 10_000, source_id="rev:c1:2026-02", period="2026-02"))
    assert [(ln.kind, ln.amount_minor) for ln in later] == [("accrual", 200), ("reversal", -200)]
    feb = book.month(p, "2026-02")
    assert (feb.accrued_minor, feb.reversed_minor, feb.payable_minor) == (200, 200, 0)
    assert feb.reversed_by_reason == {"written_off": 200}


def test_a_stage_before_the_plans_clawback_stage_reverses_nothing() -> None:
    p = plan(clawback_stage="collections")
    book = IncentiveBook({})
    book.on_revenue(p, fact(1, 10_000))
    assert book.on_write_off(p, "c1", stage="credit_hold", period="2026-01", source_id="d") == []


def test_negative_revenue_after_a_refund_is_a_reversal_line_with_the_reason() -> None:
    p = plan()
    book = IncentiveBook({})
    book.on_revenue(p, fact(1, 10_000))
    (line,) = book.on_revenue(
        p, fact(1, -6_000, source_id="rev:c1:2026-02", period="2026-02", after_refund=True)
    )
    assert (line.kind, line.reason, line.amount_minor) == ("reversal", "refund_7_day", -120)
    assert book.month(p, "2026-02").reversed_by_reason == {"refund_7_day": 120}


def test_seat_growth_tiers_move_on_net_seats_added() -> None:
    p = plan(
        tier_basis="seat_growth",
        tiers=[
            {"name": "base", "from_measure": 0, "rates_bps": {"*": 100}},
            {"name": "growth", "from_measure": 10, "rates_bps": {"*": 400}},
        ],
    )
    book = IncentiveBook({})
    assert book.on_revenue(p, fact(1, 10_000))[0].amount_minor == 100
    book.on_seats(p, "R1", "2026-01", "seats:1", 12)
    assert book.on_revenue(p, fact(2, 10_000))[0].amount_minor == 400
    assert book.statement("alice", "2026-01", [p]).plans[0].tier == "growth"


@pytest.mark.parametrize(
    ("over", "says"),
    [
        ({"kind": "rebate"}, "resellers must be [payee]"),
        ({"tiers": [{"name": "a", "from_measure": 5, "rates_bps": {"*": 1}}]}, "start at 0"),
        ({"fx_source": ""}, "need fx_source"),
        ({"currency": "XXX"}, "unknown ISO 4217 currency"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_plans_refuse_what_cannot_be_paid(over: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says.replace("[", r"\[").replace("]", r"\]")):
        plan(**over)


def test_plan_file_refuses_a_plan_id_twice() -> None:
    doc = plan().model_dump(mode="json")
    with pytest.raises(ValueError, match="repeated: am-alice"):
        PlanFile.model_validate({"plans": [doc, doc]})
