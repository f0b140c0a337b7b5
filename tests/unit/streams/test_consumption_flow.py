"""The consumption book and close in memory: accruals, alerts, adjustments, lines, mismatches."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from hub.domain.enums import BillingMode, SupportMode
from hub.domain.orders import ReferenceView
from hub.domain.reference import ResellerProfile
from hub.errors import ValidationFailed
from hub.runtime.emit import Emit
from hub.schemas.events import consumption as u
from hub.streams.consumption import VIEWS, ConsumptionHandler, fx_rates
from hub.streams.consumption.book import ConsumptionBook
from hub.streams.consumption.close import ConsumptionClose
from hub.topics import PartnerTopic, Topic, TopicCatalog

CATALOG = TopicCatalog()
RID = "contoso"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def profile(currency: str = "EUR", markup_bps: int = 1000) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=RID,
        partner_id="4412345",
        name="Contoso",
        country="DE",
        currency=currency,
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=1_000_000,
        payment_terms_days=30,
        markup_bps=markup_bps,
    )


def world(page: int = 500, **kw: Any) -> tuple[ConsumptionHandler, dict[str, dict[str, Any]]]:
    tables: dict[str, dict[str, Any]] = {name: {} for name in VIEWS}
    ref = ReferenceView(resellers={RID: profile(**kw)}, customers={}, catalogue={}, prices={})
    book = ConsumptionBook(tables, CATALOG, lambda: ref, clock=lambda: T0)
    return ConsumptionHandler(book, ConsumptionClose(book, page=page)), tables


def usage(
    day: date,
    total: str,
    *,
    stage: str = "estimate",
    revision: int = 0,
    meter: str = "m-vm",
    customer: str = "cust-1",
    category: str = "Virtual Machines",
    quantity: str | None = None,
    reason: str | None = None,
) -> u.UsageRecorded:
    return u.UsageRecorded(
        event_id=uuid4(),
        event_time=T0,
        correlation_id="usage",
        reseller_id=RID,
        customer_id=customer,
        subscription_id=f"sub-{customer}",
        meter_id=meter,
        meter_category=category,
        usage_date=day,
        charge_start_date=day.replace(day=1),
        charge_end_date=day.replace(day=28),
        stage=stage,  # type: ignore[arg-type]
        revision=revision,
        quantity=quantity or total,
        unit_price="1",
        effective_unit_price="1",
        pricing_currency="USD",
        pricing_pre_tax_total=total,
        billing_currency="EUR",
        billing_pre_tax_total=total,
        pc_to_bc_exchange_rate="1",
        reason=reason,
    )


def run(handler: ConsumptionHandler, event: Any) -> list[Emit]:
    return list(asyncio.run(handler.handle(event)))


def drain(handler: ConsumptionHandler, first: Any) -> list[Emit]:
    """Handle ``first`` and every continuation it leads to (the close's pages)."""
    out: list[Emit] = []
    queue = [first]
    while queue:
        emits = run(handler, queue.pop(0))
        out += emits
        queue += [e.event for e in emits if isinstance(e.event, u.ConsumptionCloseContinued)]
    return out


def of(emits: list[Emit], kind: type) -> list[Any]:
    return [e.event for e in emits if isinstance(e.event, kind)]


def accrued(emits: list[Emit]) -> int:
    return sum(a.delta_minor for a in of(emits, u.ConsumptionAccrued))


DAY = date(2026, 11, 3)


def test_estimate_then_final_accrues_the_final_figure_once() -> None:
    handler, _ = world()
    out = run(handler, usage(DAY, "10.00"))
    out += run(handler, usage(DAY, "10.00"))  # the same estimate again: nothing
    out += run(handler, usage(DAY, "12.00", stage="final"))
    out += run(handler, usage(DAY, "12.00", stage="final"))
    # 10% markup on 12.00 EUR
    assert accrued(out) == 1320
    rated = of(out, u.UsageRated)
    assert [r.outcome for r in rated] == ["new", "replaced"]


def test_a_billed_figure_differing_from_the_estimate_is_a_mismatch() -> None:
    handler, _ = world()
    run(handler, usage(DAY, "10.00"))
    out = run(handler, usage(DAY, "10.50", stage="final", quantity="10.00"))
    found = of(out, u.UsageMismatchFound)
    assert [f.kind for f in found] == ["cost_differs"]
    assert (found[0].expected, found[0].billed) == ("10.00", "10.50")
    agreed = run(handler, usage(DAY + timedelta(days=1), "3"))
    agreed = run(handler, usage(DAY + timedelta(days=1), "3", stage="final"))
    assert of(agreed, u.UsageMismatchFound) == []
    unknown = run(handler, usage(DAY, "1", stage="final", meter="never-seen"))
    assert [f.kind for f in of(unknown, u.UsageMismatchFound)] == ["billed_not_rated"]


def test_budget_thresholds_fire_once_each_on_the_status_topic() -> None:
    handler, _ = world(markup_bps=0)
    run(
        handler,
        u.ConsumptionBudgetSet(
            event_id=uuid4(),
            event_time=T0,
            correlation_id="b",
            reseller_id=RID,
            scope="customer",
            customer_id="cust-1",
            amount_minor=10_000,
            currency="EUR",
        ),
    )
    out: list[Emit] = []
    for i in range(12):
        out += run(handler, usage(DAY + timedelta(days=i), "10.00"))
    status = CATALOG.partner(RID, PartnerTopic.STATUS)
    alerts = [e.event for e in out if e.topic == status]
    assert [a.threshold_percent for a in alerts] == [50, 80, 100]
    ops = CATALOG.name(Topic.CONSUMPTION_ALERTS)
    assert len([e for e in out if e.topic == ops]) == 3


def test_a_spike_is_an_anomaly_once() -> None:
    handler, _ = world()
    for i in range(7):
        run(handler, usage(DAY + timedelta(days=i), "10"))
    spike = DAY + timedelta(days=7)
    out = run(handler, usage(spike, "40", meter="a"))
    out += run(handler, usage(spike, "40", meter="b"))
    ops = CATALOG.name(Topic.CONSUMPTION_ALERTS)
    found = [e.event for e in out if e.topic == ops]
    assert [(a.usage_date, a.day_minor, a.trailing_median_minor) for a in found] == [
        (spike, 4400, "1100")
    ]


class CountingReads(dict[str, Any]):
    """A table that counts its reads (in a worker each one not written in the message's
    batch is a RocksDB read)."""

    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.reads += 1
        return super().__contains__(key)


def test_a_figure_reads_each_entry_once_and_the_anomaly_flag_only_past_the_bound() -> None:
    handler, tables = world()
    counted = {name: CountingReads() for name in ("anomalies", "accrual", "spend", "days")}
    handler.book.t = {**tables, **counted}
    for i in range(7):
        run(handler, usage(DAY + timedelta(days=i), "10"))
    # Usual days: the period's accrual, the customer's month and day read once per figure
    # (the first figure of a day also reads the 14-day window), never the anomaly flag.
    assert counted["anomalies"].reads == 0
    assert (counted["accrual"].reads, counted["spend"].reads) == (7, 7)
    assert counted["days"].reads == 7 + 7 * 14
    out = run(handler, usage(DAY + timedelta(days=7), "40", meter="a"))
    out += run(handler, usage(DAY + timedelta(days=7), "40", meter="b"))
    assert len(of(out, u.ConsumptionAnomalyDetected)) == 2  # status and ops: one alert
    assert counted["anomalies"].reads == 2


def markup(bps: int, category: str | None = None) -> u.ConsumptionMarkupSet:
    return u.ConsumptionMarkupSet(
        event_id=uuid4(),
        event_time=T0,
        correlation_id="m",
        reseller_id=RID,
        meter_category=category,
        markup_bps=bps,
    )


def test_settings_are_read_once_until_a_budget_markup_or_close_changes_them() -> None:
    handler, tables = world(markup_bps=0)
    counted = {name: CountingReads() for name in ("markups", "budgets", "closed")}
    handler.book.t = {**tables, **counted}
    handler.close.t = handler.book.t

    def reads() -> int:
        return sum(table.reads for table in counted.values())

    out = run(handler, usage(DAY, "10", meter="a"))
    out += run(handler, usage(DAY, "10", meter="b"))
    out += run(handler, usage(DAY + timedelta(days=1), "10", meter="a"))
    # Two markups, two budgets and the month, read for the first figure only.
    assert reads() == 5
    assert accrued(out) == 3000
    run(handler, markup(5000))
    out = run(handler, usage(DAY + timedelta(days=2), "10"))
    assert accrued(out) == 1500  # the new markup applies at once
    run(
        handler,
        u.ConsumptionBudgetSet(
            event_id=uuid4(),
            event_time=T0,
            correlation_id="b",
            reseller_id=RID,
            scope="reseller",
            amount_minor=6_000,
            currency="EUR",
            thresholds=(100,),
        ),
    )
    out = run(handler, usage(DAY + timedelta(days=3), "10"))
    assert [a.threshold_percent for a in of(out, u.ConsumptionBudgetThresholdReached)] == [100] * 2
    drain(
        handler,
        u.ConsumptionCloseRequested(
            event_id=uuid4(), event_time=T0, correlation_id="c", reseller_id=RID, period="2026-11"
        ),
    )
    # The month is closed: a later figure is an adjustment (8 at the new 50 % is 12, not 10).
    late = run(handler, usage(DAY, "8", meter="a", stage="final"))
    assert accrued(late) == 0
    assert [a.amount for a in of(late, u.ConsumptionAdjusted)] == ["2"]


def test_the_settings_memos_start_again_past_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.streams.consumption import book as book_module

    monkeypatch.setattr(book_module, "MEMO_LIMIT", 3)
    handler, tables = world(markup_bps=0)
    counted = CountingReads()
    handler.book.t = {**tables, "markups": counted}
    for i in range(4):
        run(handler, usage(DAY, "10", customer=f"c{i}", meter=f"m{i}"))
    # A figure reads five entries (two markups, two budgets, the month): past the limit of 3,
    # so every next figure starts afresh and reads both markups again (else: 2 reads in all).
    assert counted.reads == 2 * 4
    assert sum(len(memo.values) for memo in handler.book._memos.values()) == 5


def test_close_hands_lines_to_billing_that_sum_to_the_accrual_and_frees_it() -> None:
    handler, tables = world(page=2, markup_bps=333)
    out: list[Emit] = []
    for i, (cust, cat) in enumerate(
        [("c1", "Storage"), ("c1", "Virtual Machines"), ("c2", "Storage"), ("c3", "Bandwidth")]
    ):
        for d in range(3):
            out += run(
                handler,
                usage(
                    DAY + timedelta(days=d),
                    f"{i + 1}.3337",
                    customer=cust,
                    category=cat,
                    meter=f"m{i}",
                ),
            )
    total = accrued(out)
    close = u.ConsumptionCloseRequested(
        event_id=uuid4(), event_time=T0, correlation_id="close", reseller_id=RID, period="2026-11"
    )
    closed = drain(handler, close)
    billing = CATALOG.name(Topic.BILLING_INPUTS)
    lines = [e.event for e in closed if e.topic == billing]
    assert len(lines) == 4
    assert sum(line.amount_minor for line in lines) == total
    assert accrued(closed) == -total
    assert "contoso|2026-11" in tables["closed"]
    # Closing again adds nothing.
    assert drain(handler, close.model_copy(update={"event_id": uuid4()})) == []


def test_a_correction_after_the_close_lands_on_the_next_close_with_its_reason() -> None:
    handler, _ = world(markup_bps=0)
    run(handler, usage(DAY, "10.00"))
    drain(
        handler,
        u.ConsumptionCloseRequested(
            event_id=uuid4(), event_time=T0, correlation_id="c", reseller_id=RID, period="2026-11"
        ),
    )
    late = run(handler, usage(DAY, "8.00", stage="correction", reason="meter fault credited"))
    assert accrued(late) == 0
    assert [a.amount for a in of(late, u.ConsumptionAdjusted)] == ["-2.00"]
    run(handler, usage(date(2026, 12, 2), "5.00"))
    december = drain(
        handler,
        u.ConsumptionCloseRequested(
            event_id=uuid4(), event_time=T0, correlation_id="c", reseller_id=RID, period="2026-12"
        ),
    )
    billing = CATALOG.name(Topic.BILLING_INPUTS)
    lines = {
        (e.event.kind, e.event.amount_minor, e.event.reason) for e in december if e.topic == billing
    }
    assert lines == {("usage", 500, None), ("adjustment", -200, "meter fault credited")}


def test_fx_rates_setting_reads_pairs_and_refuses_nonsense() -> None:
    assert fx_rates("EUR/GBP=0.86, usd/sek=10.4") == {
        ("EUR", "GBP"): Decimal("0.86"),
        ("USD", "SEK"): Decimal("10.4"),
    }
    with pytest.raises(ValueError, match=r"EUR/GBP=0\.86"):
        fx_rates("EURGBP")


def test_accrued_consumption_counts_in_the_credit_exposure() -> None:
    from hub.domain.credit import CreditOutcome, Exposure, apply_consumption, credit_decision

    reseller = profile()
    exposure = apply_consumption(Exposure(reseller_id=RID, currency="EUR"), 990_000)
    decision = credit_decision(reseller, exposure, 20_000)
    assert decision.outcome is CreditOutcome.HOLD
    assert "accrued consumption 9900.00 EUR" in decision.reason
    freed = apply_consumption(exposure, -990_000)
    assert credit_decision(reseller, freed, 20_000).outcome is CreditOutcome.ACCEPT


def test_a_resellers_budget_counts_all_its_customers_and_a_category_markup_prices_its_meters() -> (
    None
):
    handler, _ = world(markup_bps=0)
    run(
        handler,
        u.ConsumptionMarkupSet(
            event_id=uuid4(),
            event_time=T0,
            correlation_id="m",
            reseller_id=RID,
            meter_category="Storage",
            markup_bps=2000,
        ),
    )
    run(
        handler,
        u.ConsumptionBudgetSet(
            event_id=uuid4(),
            event_time=T0,
            correlation_id="b",
            reseller_id=RID,
            scope="reseller",
            amount_minor=10_000,
            currency="EUR",
            thresholds=(80,),
        ),
    )
    out = run(handler, usage(DAY, "40", customer="c1", category="Storage"))  # 48.00 with markup
    out += run(handler, usage(DAY, "20", customer="c2"))  # 20.00: 68.00 in all
    assert accrued(out) == 6_800
    assert of(out, u.ConsumptionBudgetThresholdReached) == []
    out = run(handler, usage(DAY, "12", customer="c3"))  # 80.00: the reseller's 80 %
    alerts = {
        (a.scope, a.customer_id, a.threshold_percent)
        for a in of(out, u.ConsumptionBudgetThresholdReached)
    }
    assert alerts == {("reseller", None, 80)}


def test_a_budget_in_another_currency_than_the_resellers_is_refused() -> None:
    handler, _ = world()
    with pytest.raises(ValidationFailed, match="billed in EUR"):
        run(
            handler,
            u.ConsumptionBudgetSet(
                event_id=uuid4(),
                event_time=T0,
                correlation_id="b",
                reseller_id=RID,
                scope="reseller",
                amount_minor=10_000,
                currency="USD",
            ),
        )


def test_the_exposure_hears_of_accruals_in_steps_and_the_close_frees_what_it_was_sent() -> None:
    # A limit of 10,000.00 EUR: steps of 1.00 (0.01 %).
    handler, tables = world(markup_bps=0)
    out: list[Emit] = []
    for meter in range(7):
        out += run(handler, usage(DAY, "0.30", meter=f"m{meter}"))  # 2.10 in all
    sent = [a.delta_minor for a in of(out, u.ConsumptionAccrued)]
    assert sent == [120]  # the fourth figure made a step; the last 90 wait
    assert tables["accrual"]["contoso|2026-11"]["minor"] == 210
    closed = drain(
        handler,
        u.ConsumptionCloseRequested(
            event_id=uuid4(), event_time=T0, correlation_id="c", reseller_id=RID, period="2026-11"
        ),
    )
    billing = CATALOG.name(Topic.BILLING_INPUTS)
    assert sum(e.event.amount_minor for e in closed if e.topic == billing) == 210
    assert [a.delta_minor for a in of(closed, u.ConsumptionAccrued)] == [-120]
