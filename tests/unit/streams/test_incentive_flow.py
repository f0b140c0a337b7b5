"""Incentives behind the real billing ledger: two resellers and an account manager over three
months, every billing fact through the router and the ledger, each through its journal."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.incentives.book import IncentiveBook
from hub.domain.orders import ReferenceView
from hub.domain.reference import Customer, ResellerProfile
from hub.errors import RetriableError
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.incentives import (
    IncentiveFactNoted,
    IncentiveLineBooked,
    IncentivePlanSet,
    IncentiveStatementIssued,
    IncentiveStatementRequested,
    IncentiveWriteOffContinued,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.billing.ledger import BillingLedger, BillingTables, Distributor
from hub.streams.incentives import route
from hub.streams.incentives.ledger import IncentiveLedger
from hub.streams.incentives.plans import PlanBook
from hub.streams.incentives.route import IncentiveRouter
from hub.topics import PartnerTopic, Topic, TopicCatalog

TOPICS = TopicCatalog("t.")
BILLING_FACTS = {
    TOPICS.name(t) for t in (Topic.CHARGES, Topic.REVENUE, Topic.INVOICES, Topic.COLLECTIONS)
}


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=UTC)


def env(seed: str, rid: str | None, day: date) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": _at(day),
        "correlation_id": seed,
        "reseller_id": rid,
    }


def _reseller(rid: str) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id="1234567",
        name=f"{rid} Ltd",
        country="DE",
        currency="EUR",
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10_000_000,
        payment_terms_days=30,
    )


def reference() -> ReferenceView:
    return ReferenceView(
        resellers={rid: _reseller(rid) for rid in ("contoso", "fabrikam")},
        customers={
            f"cust-{rid}": Customer(
                customer_id=f"cust-{rid}",
                reseller_id=rid,
                name=f"{rid} customer",
                country="DE",
                language="de",
                currency="EUR",
            )
            for rid in ("contoso", "fabrikam")
        },
        catalogue={},
        prices={},
    )


PLANS: list[dict[str, Any]] = [
    {
        "plan_id": "rebate-contoso",
        "payee": "contoso",
        "kind": "rebate",
        "resellers": ["contoso"],
        "currency": "EUR",
        "effective_from": "2026-11",
        "tiers": [{"name": "base", "from_measure": 0, "rates_bps": {"*": 200}}],
    },
    {
        "plan_id": "rebate-fabrikam",
        "payee": "fabrikam",
        "kind": "rebate",
        "resellers": ["fabrikam"],
        "currency": "EUR",
        "effective_from": "2026-11",
        "tiers": [{"name": "base", "from_measure": 0, "rates_bps": {"*": 300}}],
    },
    {
        "plan_id": "am-alice",
        "payee": "alice",
        "kind": "commission",
        "resellers": ["contoso", "fabrikam"],
        "currency": "EUR",
        "effective_from": "2026-11",
        "tiers": [
            {"name": "base", "from_measure": 0, "rates_bps": {"*": 100}},
            {"name": "silver", "from_measure": 10_000, "rates_bps": {"*": 150}},
        ],
    },
]


class World:
    """Billing, the incentives router and ledger, each through its own journal."""

    def __init__(self) -> None:
        self.billing_journal = Journal(MemoryStore(), "billing")
        self.billing = BillingLedger(
            BillingTables.of(self.billing_journal),
            TOPICS,
            reference(),
            Distributor(party_id="5000000", name="Distributor GmbH", country="DE"),
        )
        self.plans = PlanBook()
        for doc in PLANS:
            self.plans.apply(
                IncentivePlanSet(
                    **env(f"plan-{doc['plan_id']}", None, date(2026, 10, 1)),
                    plan_id=doc["plan_id"],
                    payee=doc["payee"],
                    plan_json=json.dumps(doc),
                )
            )
        self.plans.loaded.set()
        self.route_journal = Journal(MemoryStore(), "incentives-route")
        self.router = IncentiveRouter(TOPICS, self.plans, self.route_journal.view("route"))
        self.ledger_journal = Journal(MemoryStore(), "incentives")
        entries = self.ledger_journal.view("book")
        self.ledger = IncentiveLedger(TOPICS, self.plans, IncentiveBook(entries, entries.scan))
        self.out: list[Emit] = []
        self.facts: list[IncentiveFactNoted] = []
        self.pages: list[IncentiveWriteOffContinued] = []

    async def _run(self, journal: Journal, handler: Any, event: Event) -> Sequence[Emit]:
        return await journal.run(0, str(event.event_id), lambda: handler(event))

    async def bill(self, *events: Event) -> list[Emit]:
        """Billing's outputs, a close's pages followed; each billing fact on to incentives."""
        queue, billed = list(events), []
        while queue:
            emits = await self._run(self.billing_journal, self.billing.handle, queue.pop(0))
            for e in emits:
                if e.topic == TOPICS.name(Topic.BILLING_INPUTS):
                    queue.insert(0, e.event)
                    continue
                billed.append(e)
                if e.topic in BILLING_FACTS:
                    await self.incentives(e.event)
        return billed

    async def incentives(self, event: Event) -> None:
        for fact in await self._run(self.route_journal, self.router.handle, event):
            if fact.topic == TOPICS.name(Topic.INCENTIVE_INPUTS):  # a write-off's next page
                assert isinstance(fact.event, IncentiveWriteOffContinued)
                self.pages.append(fact.event)
                await self.incentives(fact.event)
                continue
            assert fact.topic == TOPICS.name(Topic.INCENTIVE_LEDGER)
            assert isinstance(fact.event, IncentiveFactNoted)
            self.facts.append(fact.event)
            self.out += await self._run(self.ledger_journal, self.ledger.handle, fact.event)

    async def statement(self, payee: str, period: str) -> list[Emit]:
        request = IncentiveStatementRequested(
            **env(f"stmt-{payee}-{period}", None, date(2027, 2, 2)), payee=payee, period=period
        )
        return list(await self._run(self.ledger_journal, self.ledger.handle, request))

    def lines(self) -> list[IncentiveLineBooked]:
        return [e.event for e in self.out if isinstance(e.event, IncentiveLineBooked)]


def provisioned(sub: str, rid: str, cycle: BillingCycle, qty: int) -> SubscriptionProvisioned:
    annual = cycle is BillingCycle.ANNUAL
    return SubscriptionProvisioned(
        **env(f"prov-{sub}", rid, date(2026, 11, 1)),
        order_id=f"o-{sub}",
        line_index=0,
        customer_id=f"cust-{rid}",
        subscription_id=sub,
        microsoft_order_id=f"ms-{sub}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=qty,
        term=Term.P1Y,
        billing_cycle=cycle,
        term_start=date(2026, 11, 1),
        term_end=date(2027, 11, 1),
        auto_renew=False,
        unit_cost_minor=7200 if annual else 600,
        unit_price_minor=8400 if annual else 700,
        currency="EUR",
    )


def cancelled(sub: str, rid: str, qty: int, day: date) -> SubscriptionChanged:
    return SubscriptionChanged(
        **env(f"cancel-{sub}", rid, day),
        change_id=f"c-{sub}",
        customer_id=f"cust-{rid}",
        subscription_id=sub,
        kind="cancel",
        effective_at=_at(day),
        old_quantity=qty,
        new_quantity=0,
        status="deleted",
        auto_renew=False,
        currency="EUR",
    )


def close(period: str, as_of: date) -> b.BillingRunRequested:
    return b.BillingRunRequested(
        **env(f"close-{period}", None, as_of), run="close", period=period, as_of=as_of
    )


def paid(invoice: b.InvoiceIssued) -> b.PaymentReceived:
    return b.PaymentReceived(
        **env(f"pay-{invoice.invoice_id}", invoice.reseller_id, invoice.due_date),
        payment_id=f"pay-{invoice.invoice_id}",
        amount_minor=invoice.total_minor,
        currency=invoice.currency,
        received_at=_at(invoice.due_date),
        method="bank_transfer",
        invoice_ids=(invoice.invoice_id,),
    )


async def three_months() -> World:
    """contoso: an annual subscription billed up front (10 seats x 84.00), paid on time.
    fabrikam: a monthly one (10 x 7.00) cancelled on day 3, another (5 x 7.00) it never pays:
    by the January close its November invoice is 32 days overdue, on credit hold."""
    world = World()
    await world.bill(
        provisioned("s-annual", "contoso", BillingCycle.ANNUAL, 10),
        provisioned("s-fab-1", "fabrikam", BillingCycle.MONTHLY, 10),
        provisioned("s-fab-2", "fabrikam", BillingCycle.MONTHLY, 5),
        cancelled("s-fab-1", "fabrikam", 10, date(2026, 11, 3)),
    )
    for period, as_of in (
        ("2026-11", date(2026, 12, 1)),
        ("2026-12", date(2027, 1, 1)),
        ("2027-01", date(2027, 2, 1)),
    ):
        billed = await world.bill(close(period, as_of))
        invoices = [e.event for e in billed if isinstance(e.event, b.InvoiceIssued)]
        await world.bill(*(paid(i) for i in invoices if i.reseller_id == "contoso"))
    return world


def table(events: Sequence[Emit], topic: str) -> dict[str, tuple[int, int, int, str]]:
    """plan -> (accrued, reversed, payable, tier) of the statement sent to ``topic``."""
    (statement,) = [
        e.event
        for e in events
        if e.topic == topic and isinstance(e.event, IncentiveStatementIssued)
    ]
    return {
        p.plan_id: (p.accrued_minor, p.reversed_minor, p.payable_minor, p.tier)
        for p in statement.plans
    }


# The hand-computed table (minor units, EUR). Revenue: contoso's annual charge, 84,000 over
# 2026-11-01..2027-10-31 (365 days), recognised by day: 6,904 / 7,134 / 7,135; fabrikam's
# monthly charges when rated: s-fab-1 7,000, refunded 6,533 on day 3 (28 of 30 days);
# s-fab-2 3,500 a month. Each month's tier bucket rounds on its cumulative, half up.
#
# contoso, 2%:   Nov 6,904 -> 138.08 = 138; Dec 7,134 -> 142.68 = 143; Jan 7,135 -> 142.70 = 143.
# fabrikam, 3%:  Nov s-fab-1 210, s-fab-2 105; the refund reverses 6533/7000 of 210 = 196.
#                Dec 105. Jan 105. The January close (2027-02-01) finds the November invoice
#                32 days overdue: credit hold, written off in February: what is left of
#                s-fab-1 (210 - 196 = 14) and s-fab-2's November 105: 119 reversed.
# alice, 1% up to 100.00 of the month's revenue, 1.5% above it:
#   Nov: s-fab-1 7,000 at 1% = 70; s-fab-2 3,500 crosses 10,000: 3,000 at 1% = 30 and 500 at
#        1.5% = 7.5 -> 8 (the tier change); contoso's 6,904 at 1.5%: silver bucket 7,404 ->
#        111.06 = 111, so 103. Accrued 211. The refund reverses 6533/7000 of 70 = 65.
#   Dec: s-fab-2 3,500 at 1% = 35; contoso's 7,134: 6,500 at 1% = 65, 634 at 1.5% = 9.51 = 10.
#   Jan: likewise 35 + 65 + (635 at 1.5% = 9.525 -> 10) = 110.
#   Feb: the write-off reverses s-fab-1's remaining 70 - 65 = 5 and s-fab-2's 30 + 8: 43.
EXPECTED: dict[tuple[str, str], dict[str, tuple[int, int, int, str]]] = {
    ("contoso", "2026-11"): {"rebate-contoso": (138, 0, 138, "base")},
    ("contoso", "2026-12"): {"rebate-contoso": (143, 0, 143, "base")},
    ("contoso", "2027-01"): {"rebate-contoso": (143, 0, 143, "base")},
    ("contoso", "2027-02"): {"rebate-contoso": (0, 0, 0, "base")},
    ("fabrikam", "2026-11"): {"rebate-fabrikam": (315, 196, 119, "base")},
    ("fabrikam", "2026-12"): {"rebate-fabrikam": (105, 0, 105, "base")},
    ("fabrikam", "2027-01"): {"rebate-fabrikam": (105, 0, 105, "base")},
    ("fabrikam", "2027-02"): {"rebate-fabrikam": (0, 119, -119, "base")},
    ("alice", "2026-11"): {"am-alice": (211, 65, 146, "silver")},
    ("alice", "2026-12"): {"am-alice": (110, 0, 110, "silver")},
    ("alice", "2027-01"): {"am-alice": (110, 0, 110, "silver")},
    ("alice", "2027-02"): {"am-alice": (0, 43, -43, "base")},
}
PERIODS = ("2026-11", "2026-12", "2027-01", "2027-02")


async def test_three_months_of_statements_match_the_hand_computed_table() -> None:
    world = await three_months()
    finance = TOPICS.name(Topic.INCENTIVE_STATEMENTS)
    got = {}
    for payee in ("contoso", "fabrikam", "alice"):
        for period in PERIODS:
            got[(payee, period)] = table(await world.statement(payee, period), finance)
    assert got == EXPECTED


async def test_the_annual_charge_accrues_as_recognised_not_at_booking() -> None:
    world = World()
    await world.bill(provisioned("s-annual", "contoso", BillingCycle.ANNUAL, 10))
    assert world.lines() == []
    await world.bill(close("2026-11", date(2026, 12, 1)))
    assert [(ln.plan_id, ln.amount_minor) for ln in world.lines()] == [
        ("am-alice", 69),  # 6,904 at 1%, below alice's silver threshold on its own
        ("rebate-contoso", 138),
    ]


async def test_reversals_name_their_reason_and_the_line_they_reverse() -> None:
    world = await three_months()
    accruals = {ln.line_id: ln for ln in world.lines() if ln.kind == "accrual"}
    reversals = [ln for ln in world.lines() if ln.kind == "reversal"]
    assert {(ln.plan_id, ln.reason, ln.period) for ln in reversals} == {
        ("am-alice", "refund_7_day", "2026-11"),
        ("rebate-fabrikam", "refund_7_day", "2026-11"),
        ("am-alice", "written_off", "2027-02"),
        ("rebate-fabrikam", "written_off", "2027-02"),
    }
    for ln in reversals:
        assert ln.reverses in accruals
        assert accruals[ln.reverses].charge_id == ln.charge_id
    # Every charge on the written-off invoice nets to zero for each plan.
    written_off = {ln.charge_id for ln in reversals if ln.reason == "written_off"}
    for charge in written_off:
        for plan in ("am-alice", "rebate-fabrikam"):
            net = sum(
                ln.amount_minor
                for ln in world.lines()
                if ln.charge_id == charge and ln.plan_id == plan
            )
            assert net == 0, (charge, plan)


async def test_a_write_off_pages_through_the_invoices_charges_and_reverses_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(route, "WRITE_OFF_PAGE", 1)
    world = await three_months()
    # The November invoice holds fabrikam's three charges: one per page, the first page in
    # the dunning message itself, two more on the router's own input topic.
    assert [p.pages for p in world.pages] == [2, 3]
    written_off = {ln.charge_id for ln in world.lines() if ln.reason == "written_off"}
    assert len(written_off) == 2  # s-fab-1's purchase and s-fab-2's; its refund accrued nothing
    finance = TOPICS.name(Topic.INCENTIVE_STATEMENTS)
    feb = table(await world.statement("fabrikam", "2027-02"), finance)
    assert feb == EXPECTED[("fabrikam", "2027-02")]


async def test_tier_change_mid_month_is_explained_on_the_statement() -> None:
    world = await three_months()
    emits = await world.statement("alice", "2026-11")
    (statement,) = [e.event for e in emits if isinstance(e.event, IncentiveStatementIssued)]
    (change,) = statement.plans[0].tier_changes
    assert change.startswith("tier silver reached on chg:")
    assert "went from 70.00 EUR to 105.00 EUR, past 100.00 EUR" in change


async def test_a_reseller_reads_only_its_own_rebate_statement() -> None:
    world = await three_months()
    own = TOPICS.partner("fabrikam", PartnerTopic.BILLING)
    emits = await world.statement("fabrikam", "2026-11")
    assert table(emits, own) == {"rebate-fabrikam": (315, 196, 119, "base")}
    assert {e.topic for e in emits} == {own, TOPICS.name(Topic.INCENTIVE_STATEMENTS)}
    # The account manager's commission is finance's, never on a partner topic.
    alice = await world.statement("alice", "2026-11")
    assert {e.topic for e in alice} == {TOPICS.name(Topic.INCENTIVE_STATEMENTS)}


async def test_billing_facts_again_under_new_event_ids_book_nothing_more() -> None:
    world = await three_months()
    before = len(world.lines())
    seen = list(world.facts)
    for fact in seen:
        again = fact.model_copy(update={"event_id": uuid.uuid4()})
        world.out += await world._run(world.ledger_journal, world.ledger.handle, again)
    assert len(world.lines()) == before


async def test_revenue_of_a_charge_not_seen_rated_yet_is_retried() -> None:
    world = World()
    early = b.RevenueRecognised(
        **env("rev-early", "contoso", date(2026, 12, 1)),
        charge_id="line-unknown",
        customer_id="cust-contoso",
        subscription_id="s-x",
        period="2026-11",
        amount_minor=1_000,
        recognised_to_date_minor=1_000,
        charge_total_minor=12_000,
        currency="EUR",
    )
    with pytest.raises(RetriableError, match="not seen rated yet"):
        await world.router.handle(early)
