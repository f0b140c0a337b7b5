"""The billing ledger over in-memory tables: rating, month-end close, collections, replay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.domain.collections import CreditBalance
from hub.domain.enums import BillingCycle, BillingMode, ChargeType, SupportMode, Term
from hub.domain.orders import ReferenceView
from hub.domain.reference import Brand, Customer, PriceListEntry, ResellerProfile
from hub.errors import BusinessRuleViolation, RetriableError
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.billing import ledger as billing_ledger
from hub.streams.billing.ledger import BillingLedger, BillingTables, Distributor
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support import crash_cut

TOPICS = TopicCatalog("t.")
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
BRAND = Brand(display_name="Fabrikam IT", signature="Your Fabrikam team", reply_to="a@fab.fr")


def _reseller(rid: str, mode: BillingMode, country: str, lang: str) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id="1234567",
        name=f"{rid} Ltd",
        country=country,
        currency="EUR",
        languages=(lang,),
        billing_mode=mode,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10_000_000,
        payment_terms_days=30,
        brand=BRAND if mode is BillingMode.DISTRIBUTOR_WHITE_LABEL else None,
    )


def reference() -> ReferenceView:
    return ReferenceView(
        resellers={
            "contoso": _reseller("contoso", BillingMode.RESELLER_BILLS, "DE", "de"),
            "fabrikam": _reseller("fabrikam", BillingMode.DISTRIBUTOR_WHITE_LABEL, "FR", "fr"),
        },
        customers={
            "cust-fr": Customer(
                customer_id="cust-fr",
                reseller_id="fabrikam",
                name="Client SA",
                country="FR",
                language="fr",
                currency="EUR",
            ),
            "cust-de": Customer(
                customer_id="cust-de",
                reseller_id="contoso",
                name="Kunde GmbH",
                country="DE",
                language="de",
                currency="EUR",
            ),
        },
        catalogue={},
        # What a renewal reprices at: the item's monthly P1Y price list entry.
        prices={
            "CFQ7TTC0LH18:0001:CFQ7TTC0K5DL": [
                PriceListEntry(
                    product_id="CFQ7TTC0LH18",
                    sku_id="0001",
                    availability_id="CFQ7TTC0K5DL",
                    term=Term.P1Y,
                    billing_cycle=BillingCycle.MONTHLY,
                    currency="EUR",
                    unit_cost_minor=650,
                    effective_from=date(2020, 1, 1),
                )
            ]
        },
    )


class Journaled:
    """The ledger as the worker runs it: each event through the flow's journal."""

    def __init__(self, store: MemoryStore | None = None, ref: ReferenceView | None = None) -> None:
        self.store = store if store is not None else crash_cut.RecordingStore()
        self.journal = Journal(self.store, "billing")
        self.tables = BillingTables.of(self.journal)
        self.ledger = BillingLedger(
            self.tables,
            TOPICS,
            ref or reference(),
            Distributor(party_id="5000000", name="Distributor GmbH", country="DE"),
        )

    async def handle(self, event: Event) -> Sequence[Emit]:
        return await self.journal.run(0, str(event.event_id), lambda: self.ledger.handle(event))


def ledger(store: MemoryStore | None = None) -> Journaled:
    return Journaled(store)


def env(seed: str, rid: str | None, at: datetime = T0) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": at,
        "correlation_id": seed,
        "reseller_id": rid,
    }


def provisioned(
    sub: str,
    rid: str,
    customer: str,
    *,
    cycle: BillingCycle = BillingCycle.MONTHLY,
    qty: int = 10,
    start: date = date(2026, 11, 1),
) -> SubscriptionProvisioned:
    annual = cycle is BillingCycle.ANNUAL
    return SubscriptionProvisioned(
        **env(f"prov-{sub}", rid),
        order_id=f"o-{sub}",
        line_index=0,
        customer_id=customer,
        subscription_id=sub,
        microsoft_order_id=f"ms-{sub}",
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        quantity=qty,
        term=Term.P1Y,
        billing_cycle=cycle,
        term_start=start,
        term_end=start.replace(year=start.year + 1),
        unit_cost_minor=7200 if annual else 600,
        unit_price_minor=8400 if annual else 700,
        currency="EUR",
    )


def changed(sub: str, rid: str, customer: str, old: int, new: int, at: datetime) -> Event:
    return SubscriptionChanged(
        **env(f"chg-{sub}-{new}-{at.isoformat()}", rid, at),
        change_id=f"c-{sub}-{new}",
        customer_id=customer,
        subscription_id=sub,
        kind="change_quantity" if new else "cancel",
        effective_at=at,
        old_quantity=old,
        new_quantity=new,
        status="active" if new else "deleted",
        auto_renew=bool(new),
        currency="EUR",
    )


def run(kind: str, seed: str, *, period: str | None, as_of: date, rid: str | None = None) -> Event:
    return b.BillingRunRequested(
        **env(seed, rid),
        run=kind,
        period=period,
        as_of=as_of,  # type: ignore[arg-type]
    )


async def feed(
    ldg: Journaled, events: Sequence[Event], per_message: list[int] | None = None
) -> list[Emit]:
    """Handle events, following fanned-out runs and a close's pages as the worker would;
    ``per_message`` collects how many events each message sent."""
    out: list[Emit] = []
    queue = list(events)
    while queue:
        emits = await ldg.handle(queue.pop(0))
        if per_message is not None:
            per_message.append(len(emits))
        for e in emits:
            if e.topic == TOPICS.name(Topic.BILLING_INPUTS):
                queue.insert(0, e.event)
            else:
                out.append(e)
    return out


def of(emits: Sequence[Emit], topic: str, kind: type[Event]) -> list[Any]:
    return [e.event for e in emits if e.topic == topic and isinstance(e.event, kind)]


def month_of_activity() -> list[Event]:
    return [
        provisioned("s-contoso", "contoso", "cust-de"),
        provisioned("s-fab", "fabrikam", "cust-fr"),
        changed("s-contoso", "contoso", "cust-de", 10, 12, datetime(2026, 11, 16, tzinfo=UTC)),
        changed("s-fab", "fabrikam", "cust-fr", 10, 8, datetime(2026, 11, 3, tzinfo=UTC)),
    ]


async def test_provisioning_rates_a_new_charge_internally_never_to_the_partner_topic() -> None:
    emits = await feed(ledger(), [provisioned("s1", "contoso", "cust-de")])
    charges = of(emits, TOPICS.name(Topic.CHARGES), b.ChargeRated)
    partner = of(emits, TOPICS.partner("contoso", PartnerTopic.BILLING), b.ChargeRated)
    assert len(charges) == 1
    assert partner == []  # the rated line carries the distributor's cost
    assert charges[0].charge_type is ChargeType.NEW
    assert (charges[0].cost_minor, charges[0].price_minor) == (6000, 7000)
    assert (charges[0].period_start, charges[0].period_end) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
    )


async def test_a_redelivered_event_yields_the_same_charge_and_no_second_line() -> None:
    ldg = ledger()
    tables = ldg.tables
    event = provisioned("s1", "contoso", "cust-de")
    first = await feed(ldg, [event])
    again = await feed(ldg, [event])
    # Under another event id (provisioned twice): billed once all the same.
    twice = await feed(ldg, [event.model_copy(update={"event_id": uuid.uuid4()})])
    assert [e.event for e in again] == [e.event for e in first]
    assert twice == []
    assert len(tables.lines) == 1
    assert list(tables.unbilled) == [f"contoso|cust-de|{first[0].event.charge_id}"]


async def test_seat_changes_are_prorated_by_day_and_reductions_refund() -> None:
    emits = await feed(ledger(), month_of_activity())
    charges = of(emits, TOPICS.name(Topic.CHARGES), b.ChargeRated)
    # Each change is two lines, as Microsoft bills it: the old seats refunded, the new total
    # charged, over the same days.
    added = [c for c in charges if c.charge_type is ChargeType.ADD_QUANTITY]
    removed = [c for c in charges if c.charge_type is ChargeType.REMOVE_QUANTITY]
    assert sorted((c.quantity, c.price_minor) for c in added) == [(-10, -3500), (12, 4200)]
    assert sum(c.price_minor for c in added) == 700  # 2 x 7.00 x 15/30
    assert sorted((c.quantity, c.price_minor) for c in removed) == [(-10, -6533), (8, 5227)]
    assert sum(c.price_minor for c in removed) == -1306  # 10 and 8 seats x 7.00 x 28/30


async def test_close_bills_the_reseller_and_white_label_customers_on_their_own_topics() -> None:
    close = run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))
    emits = await feed(ledger(), [*month_of_activity(), close])
    contoso = of(emits, TOPICS.partner("contoso", PartnerTopic.BILLING), b.InvoiceIssued)
    fabrikam = of(emits, TOPICS.partner("fabrikam", PartnerTopic.BILLING), b.InvoiceIssued)
    assert len(contoso) == 1
    assert len(fabrikam) == 1
    reseller_billed, white_label = contoso[0], fabrikam[0]
    assert reseller_billed.recipient.party_id == "contoso"
    assert reseller_billed.issuer.party_id == "5000000"
    assert reseller_billed.subtotal_minor == 7000 + 700
    assert reseller_billed.tax_minor == 0  # bought for resale
    assert reseller_billed.due_date == date(2026, 12, 31)
    assert white_label.recipient.party_id == "cust-fr"
    assert white_label.issuer.party_id == "fabrikam"
    assert white_label.brand == BRAND
    assert white_label.subtotal_minor == 7000 - 6533 + 5227  # the reduction's two lines
    assert white_label.tax_minor == 1138  # TVA 20% per line: 1400 - 1307 + 1045
    assert white_label.lines[0].description.startswith("Nouvel abonnement")
    assert {e.event for e in emits if e.topic == TOPICS.name(Topic.INVOICES)} == {
        reseller_billed,
        white_label,
    }


async def test_closing_twice_issues_nothing_new_and_numbers_run_on() -> None:
    ldg = ledger()
    nov = run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))
    nov_again = run("close", "close-nov-2", period="2026-11", as_of=date(2026, 12, 2))
    dec = run("close", "close-dec", period="2026-12", as_of=date(2027, 1, 1))
    first = await feed(ldg, [*month_of_activity(), nov])
    second = await feed(ldg, [nov_again])
    third = await feed(ldg, [dec])
    assert of(first, TOPICS.name(Topic.INVOICES), b.InvoiceIssued)
    assert of(second, TOPICS.name(Topic.INVOICES), b.InvoiceIssued) == []
    december = of(third, TOPICS.partner("contoso", PartnerTopic.BILLING), b.InvoiceIssued)
    assert [i.number for i in december] == ["D5000000-CONTOSO-00000002"]
    assert [ln.charge_type for ln in december[0].lines] == [ChargeType.CYCLE_CHARGE]
    assert december[0].subtotal_minor == 12 * 700


async def test_replaying_the_same_inputs_gives_identical_invoices() -> None:
    close = run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))
    one = await feed(ledger(), [*month_of_activity(), close])
    two = await feed(ledger(), [*month_of_activity(), close])
    invoices = TOPICS.name(Topic.INVOICES)
    assert of(one, invoices, b.InvoiceIssued) == of(two, invoices, b.InvoiceIssued)


async def test_a_refund_only_month_gives_a_credit_note_with_positive_amounts() -> None:
    ldg = ledger()
    await feed(
        ldg,
        [
            provisioned("s1", "contoso", "cust-de", start=date(2026, 11, 28)),
            run("close", "nov", period="2026-11", as_of=date(2026, 12, 1)),
        ],
    )
    # Bought 28 Nov, cancelled 2 Dec (inside 7 days): 2..27 Dec (26 of 30 days) refunded.
    cancel = changed("s1", "contoso", "cust-de", 10, 0, datetime(2026, 12, 2, 8, tzinfo=UTC))
    emits = await feed(ldg, [cancel, run("close", "dec", period="2026-12", as_of=date(2027, 1, 1))])
    (note,) = of(emits, TOPICS.name(Topic.INVOICES), b.CreditNoteIssued)
    assert note.total_minor == note.subtotal_minor == 6067  # 7000 x 26/30
    assert note.number == "D5000000-CONTOSO-00000002"
    assert of(emits, TOPICS.name(Topic.INVOICES), b.InvoiceIssued) == []


async def test_unpaid_invoice_walks_through_dunning_to_a_credit_hold() -> None:
    ldg = ledger()
    await feed(
        ldg,
        [
            provisioned("s1", "contoso", "cust-de"),
            run("close", "nov", period="2026-11", as_of=date(2026, 12, 1)),
        ],
    )
    stages = []
    for day in (date(2027, 1, 1), date(2027, 1, 15), date(2027, 1, 16), date(2027, 1, 30)):
        emits = await feed(ldg, [run("dunning", f"d-{day}", period=None, as_of=day)])
        stages += [
            e.stage for e in of(emits, TOPICS.name(Topic.COLLECTIONS), b.DunningStageReached)
        ]
    assert stages == ["reminder", "final_notice", "credit_hold"]
    partner = TOPICS.partner("contoso", PartnerTopic.BILLING)
    assert of(emits, partner, b.DunningStageReached)[0].credit_hold


async def test_partial_payment_keeps_dunning_and_full_payment_stops_it() -> None:
    ldg = ledger()
    tables = ldg.tables
    await feed(
        ldg,
        [
            provisioned("s1", "contoso", "cust-de"),
            run("close", "nov", period="2026-11", as_of=date(2026, 12, 1)),
        ],
    )

    def pay(pid: str, amount: int) -> Event:
        return b.PaymentReceived(
            **env(pid, "contoso"),
            payment_id=pid,
            amount_minor=amount,
            currency="EUR",
            received_at=datetime(2026, 12, 20, tzinfo=UTC),
            method="bank_transfer",
        )

    await feed(ldg, [pay("p1", 3000), pay("p1", 3000)])
    assert [r["applied"] for _, r in tables.receivables.scan("contoso|")] == [[["p1", 3000]]]
    late = await feed(ldg, [run("dunning", "d1", period=None, as_of=date(2027, 1, 2))])
    assert of(late, TOPICS.name(Topic.COLLECTIONS), b.DunningStageReached)[0].overdue_minor == 4000
    await feed(ldg, [pay("p2", 5000)])
    assert CreditBalance.of(tables.credit["contoso|EUR"]).minor == 1000
    later = await feed(ldg, [run("dunning", "d2", period=None, as_of=date(2027, 2, 1))])
    assert of(later, TOPICS.name(Topic.COLLECTIONS), b.DunningStageReached) == []


async def test_annual_charge_is_recognised_month_by_month_at_close() -> None:
    ldg = ledger()
    emits = await feed(
        ldg,
        [
            provisioned("s1", "contoso", "cust-de", cycle=BillingCycle.ANNUAL, qty=1),
            run("close", "nov", period="2026-11", as_of=date(2026, 12, 1)),
        ],
    )
    (nov,) = of(emits, TOPICS.name(Topic.REVENUE), b.RevenueRecognised)
    assert nov.charge_total_minor == 8400
    assert nov.amount_minor == 690  # 30 of 365 days
    dec = await feed(ldg, [run("close", "dec", period="2026-12", as_of=date(2027, 1, 1))])
    (december,) = of(dec, TOPICS.name(Topic.REVENUE), b.RevenueRecognised)
    assert december.recognised_to_date_minor == 1404  # 8400 x 61/365, cumulative rounding


def credit(sub: str, rid: str, customer: str, amount: int, *, seed: str = "") -> Event:
    return ServiceCreditAllocated(
        **env(f"credit-{sub}{seed}", rid, datetime(2026, 11, 20, tzinfo=UTC)),
        credit_id="EX1:exchange",
        allocation_id=f"EX1:exchange:{sub}",
        incident_id="EX1",
        customer_id=customer,
        subscription_id=sub,
        amount_minor=amount,
        basis_fee_minor=7000,
        currency="EUR",
        billing_mode=reference().resellers[rid].billing_mode,
    )


def credit_lines(invoice: Any) -> list[Any]:
    return [ln for ln in invoice.lines if ln.charge_type == ChargeType.CUSTOMER_CREDIT]


async def test_service_credits_land_once_as_negative_lines_on_whoever_bills_the_customer() -> None:
    close = run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))
    emits = await feed(
        ledger(),
        [
            *month_of_activity(),
            credit("s-contoso", "contoso", "cust-de", 1000),
            credit("s-fab", "fabrikam", "cust-fr", 250),
            # The same allocation again, once as a redelivery and once under a new event id.
            credit("s-fab", "fabrikam", "cust-fr", 250),
            credit("s-fab", "fabrikam", "cust-fr", 250, seed="-again"),
            close,
        ],
    )
    (contoso,) = of(emits, TOPICS.partner("contoso", PartnerTopic.BILLING), b.InvoiceIssued)
    (fabrikam,) = of(emits, TOPICS.partner("fabrikam", PartnerTopic.BILLING), b.InvoiceIssued)
    assert [(ln.subscription_id, ln.amount_minor) for ln in credit_lines(contoso)] == [
        ("s-contoso", -1000)
    ]
    assert contoso.recipient.party_id == "contoso"
    assert contoso.subtotal_minor == 7000 + 700 - 1000
    assert [(ln.subscription_id, ln.amount_minor) for ln in credit_lines(fabrikam)] == [
        ("s-fab", -250)
    ]
    assert fabrikam.recipient.party_id == "cust-fr"  # the white-label invoice to the customer
    assert credit_lines(fabrikam)[0].description.startswith("Crédit de service")


async def test_a_credit_alone_in_a_month_gives_a_credit_note() -> None:
    ldg = ledger()
    # Billed a year up front: December has no charge of its own, only the credit.
    await feed(ldg, [provisioned("s-fab", "fabrikam", "cust-fr", cycle=BillingCycle.ANNUAL)])
    await feed(ldg, [run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1))])
    dec = credit("s-fab", "fabrikam", "cust-fr", 250).model_copy(
        update={"event_time": datetime(2026, 12, 5, tzinfo=UTC)}
    )
    emits = await feed(
        ldg, [dec, run("close", "close-dec", period="2026-12", as_of=date(2027, 1, 1))]
    )
    (note,) = of(emits, TOPICS.partner("fabrikam", PartnerTopic.BILLING), b.CreditNoteIssued)
    assert [(ln.charge_type, ln.amount_minor) for ln in note.lines] == [
        (ChargeType.CUSTOMER_CREDIT, 250)  # a credit note states what is owed back
    ]


async def test_a_credit_before_its_subscription_reached_billing_is_retried() -> None:
    with pytest.raises(RetriableError):
        await ledger().handle(credit("s-contoso", "contoso", "cust-de", 1000))


async def test_a_credit_in_another_currency_than_the_subscription_is_refused() -> None:
    ldg = ledger()
    await feed(ldg, [provisioned("s-contoso", "contoso", "cust-de")])
    gbp = credit("s-contoso", "contoso", "cust-de", 1000).model_copy(update={"currency": "GBP"})
    with pytest.raises(BusinessRuleViolation):
        await ldg.handle(gbp)


S1 = provisioned("s1", "contoso", "cust-de")
S1_ANNUAL = provisioned("s1", "contoso", "cust-de", cycle=BillingCycle.ANNUAL)
CLOSE_NOV = run("close", "close-nov", period="2026-11", as_of=date(2026, 12, 1), rid="contoso")
CLOSE_DEC = run("close", "close-dec", period="2026-12", as_of=date(2027, 1, 1), rid="contoso")
OVERPAYMENT = b.PaymentReceived(
    **env("pay-9", "contoso"),
    payment_id="pay-9",
    amount_minor=5000,
    currency="EUR",
    received_at=datetime(2026, 11, 20, tzinfo=UTC),
    method="bank_transfer",
)


@pytest.mark.parametrize(
    ("before", "event"),
    [
        ([], S1),
        ([], S1_ANNUAL),
        ([S1], changed("s1", "contoso", "cust-de", 10, 14, datetime(2026, 11, 16, tzinfo=UTC))),
        ([S1], credit("s1", "contoso", "cust-de", 250)),
        ([S1], CLOSE_NOV),
        ([S1, CLOSE_NOV], CLOSE_DEC),
        ([provisioned("s0", "contoso", "cust-de", start=date(2025, 11, 15))], CLOSE_NOV),
        ([S1_ANNUAL, CLOSE_NOV, credit("s1", "contoso", "cust-de", 250)], CLOSE_DEC),
        ([], OVERPAYMENT),
        (
            [S1, CLOSE_NOV],
            run("dunning", "dun-1", period=None, as_of=date(2027, 1, 2), rid="contoso"),
        ),
    ],
    ids=[
        "provisioned",
        "provisioned-annual",
        "changed",
        "credit",
        "close",
        "close-cycle",
        "close-renewal",
        "close-credit-note",
        "overpayment",
        "dunning",
    ],
)
async def test_a_replay_completes_writes_a_crash_cut_short_at_any_point(
    before: list[Event], event: Event
) -> None:
    """A crash lands a prefix of the partition's writes to the flow's one table and no
    commit: the replay on the state rebuilt from that prefix must end in the same state with
    the same outputs (the journal completes the message's last entry or handles it anew)."""
    whole = ledger()
    await feed(whole, before)
    log = whole.store.log  # type: ignore[attr-defined]
    start = len(log)
    expected = await feed(whole, [event])
    assert len(log) - start > 2, "the event writes next to nothing: nothing to cut short"
    for cut in range(start, len(log) + 1):
        replay = ledger(crash_cut.landed(log[:cut]))
        replayed = await feed(replay, [event])
        assert [e.event for e in replayed] == [e.event for e in expected], f"cut at {cut}"
        assert replay.store.data == whole.store.data, f"cut after {cut - start} writes"


async def test_a_payment_cut_short_settles_the_same_invoices_after_a_close_overtook_it() -> None:
    """Billing reads several topics: after a crash, a close can run before the payment's
    replay and add an invoice. The payment must settle what it settled the first time, or,
    if none of its writes landed, be applied afresh: never counted twice."""
    whole = ledger()
    await feed(whole, [S1, CLOSE_NOV])
    invoice = next(r for _, r in whole.tables.receivables.scan("contoso|"))
    payment = b.PaymentReceived(
        **env("pay-over", "contoso"),
        payment_id="pay-over",
        amount_minor=invoice["total_minor"] + 3000,
        currency="EUR",
        received_at=datetime(2026, 12, 5, tzinfo=UTC),
        method="bank_transfer",
    )
    log = whole.store.log  # type: ignore[attr-defined]
    start = len(log)
    await feed(whole, [payment])
    for cut in range(start, len(log) + 1):
        replay = ledger(crash_cut.landed(log[:cut]))
        await feed(replay, [CLOSE_DEC, payment])
        paid = {
            r["invoice_id"]: sum(amount for pid, amount in r["applied"] if pid == "pay-over")
            for _, r in replay.tables.receivables.scan("contoso|")
        }
        credit = CreditBalance.of(replay.tables.credit.get("contoso|EUR")).minor
        assert paid[invoice["invoice_id"]] == invoice["total_minor"], f"cut at {cut}"
        assert sum(paid.values()) + credit == payment.amount_minor, f"cut at {cut}"


def many_customers(n: int) -> ReferenceView:
    ref = reference()
    customers = dict(ref.customers)
    for i in range(n):
        customers[f"c{i:02d}"] = customers["cust-fr"].model_copy(
            update={"customer_id": f"c{i:02d}", "name": f"Client {i}"}
        )
    return ReferenceView(ref.resellers, customers, ref.catalogue, ref.prices)


async def test_a_large_close_goes_page_by_page_and_issues_each_invoice_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A white-label reseller's close: every subscription cycled, one invoice per customer,
    numbered without a gap, in messages that each handle a bounded page."""
    monkeypatch.setattr(billing_ledger, "CLOSE_PAGE", 3)
    ldg = Journaled(ref=many_customers(7))
    subs = [provisioned(f"s{i:02d}", "fabrikam", f"c{i % 7:02d}") for i in range(20)]
    await feed(ldg, subs)
    sizes: list[int] = []
    close = run("close", "big", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    emits = await feed(ldg, [close], sizes)
    invoices = of(emits, TOPICS.partner("fabrikam", PartnerTopic.BILLING), b.InvoiceIssued)
    assert sorted(i.recipient.party_id for i in invoices) == [f"c{i:02d}" for i in range(7)]
    assert [i.number for i in invoices] == [f"FABRIKAM-{n:08d}" for n in range(1, 8)]
    assert sum(i.subtotal_minor for i in invoices) == 20 * 7000
    (done,) = of(emits, TOPICS.name(Topic.COLLECTIONS), b.BillingRunCompleted)
    # 20 subscriptions 3 a page, 20 lines at least 3 a page (whole customers), revenue, dunning
    assert done.pages >= 7 + 3 + 2
    assert len(sizes) == 1 + done.pages
    assert (done.subscriptions_cycled, done.invoices_issued, done.credit_notes_issued) == (
        20,
        7,
        0,
    )
    assert [(t.currency, t.invoiced_minor) for t in done.totals] == [
        ("EUR", sum(i.total_minor for i in invoices))
    ]
    assert max(sizes) <= 2 * 3 * 2 + 2  # a page's invoices (two events each) and its step
    # Delivered again: the same events (same ids) re-sent, nothing new decided.
    assert [e.event for e in await feed(ldg, [close])] == [e.event for e in emits]
    again = run("close", "big-2", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    (closed,) = of(await feed(ldg, [again]), TOPICS.name(Topic.COLLECTIONS), b.BillingRunCompleted)
    assert closed.already_closed_by == str(close.event_id)
    assert (closed.invoices_issued, closed.subscriptions_cycled) == (0, 0)


async def test_a_step_the_close_does_not_expect_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(billing_ledger, "CLOSE_PAGE", 2)
    ldg = Journaled(ref=many_customers(3))
    await feed(ldg, [provisioned(f"s{i}", "fabrikam", f"c{i:02d}") for i in range(3)])
    close = run("close", "c", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    (first,) = await ldg.handle(close)
    step = first.event
    assert isinstance(step, b.BillingRunContinued)
    stale = step.model_copy(update={"event_id": uuid.uuid4(), "after": "s9"})
    assert await ldg.handle(stale) == []
    before = dict(ldg.store.data)
    other = step.model_copy(update={"event_id": uuid.uuid4(), "run_event_id": str(uuid.uuid4())})
    assert await ldg.handle(other) == []
    assert {k: v for k, v in ldg.store.data.items() if not k.startswith("~j|")} == {
        k: v for k, v in before.items() if not k.startswith("~j|")
    }
    rest = await feed(ldg, [step])
    assert len(of(rest, TOPICS.name(Topic.INVOICES), b.InvoiceIssued)) == 3


async def test_a_close_stopped_at_a_dead_lettered_page_is_taken_over_by_a_new_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page that failed for good (dead-lettered) left the month "closing" for ever; closing
    again now goes on from that page, under the new run, and issues each invoice once."""
    monkeypatch.setattr(billing_ledger, "CLOSE_PAGE", 2)
    ldg = Journaled(ref=many_customers(5))
    await feed(ldg, [provisioned(f"s{i}", "fabrikam", f"c{i:02d}") for i in range(5)])
    close = run("close", "c", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    (first,) = await ldg.handle(close)
    emits = list(await ldg.handle(first.event))  # the first page of the cycle
    lost = [e for e in emits if isinstance(e.event, b.BillingRunContinued)]
    assert len(lost) == 1  # its next step is dead-lettered: nothing follows
    again = run("close", "c2", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    rest = await feed(ldg, [again])
    # the first run's lost step, delivered late after all, changes nothing
    assert await ldg.handle(lost[0].event) == []
    invoices = of(rest, TOPICS.partner("fabrikam", PartnerTopic.BILLING), b.InvoiceIssued)
    assert sorted(i.recipient.party_id for i in invoices) == [f"c{i:02d}" for i in range(5)]
    assert [i.number for i in invoices] == [f"FABRIKAM-{n:08d}" for n in range(1, 6)]
    (done,) = of(rest, TOPICS.name(Topic.COLLECTIONS), b.BillingRunCompleted)
    assert done.run_event_id == str(again.event_id)
    assert (done.subscriptions_cycled, done.invoices_issued) == (5, 5)


async def test_a_subscription_provisioned_during_a_close_is_billed_once() -> None:
    ldg = Journaled(ref=many_customers(2))
    await feed(ldg, [provisioned("s0", "fabrikam", "c00")])
    close = run("close", "c", period="2026-11", as_of=date(2026, 12, 1), rid="fabrikam")
    (start,) = await ldg.handle(close)
    late = provisioned("s1", "fabrikam", "c01")
    await feed(ldg, [late])  # between the close's start and its pages
    nov = await feed(ldg, [start.event])
    dec = await feed(ldg, [run("close", "d", period="2026-12", as_of=date(2027, 1, 1))])
    billed = [
        ln.line_id
        for inv in of([*nov, *dec], TOPICS.name(Topic.INVOICES), b.InvoiceIssued)
        for ln in inv.lines
        if ln.subscription_id == "s1" and ln.charge_type is ChargeType.NEW
    ]
    assert len(billed) == 1


async def test_a_large_reseller_billed_month_is_invoiced_in_parts_of_whole_customers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One invoice of all the lines outgrew a Kafka record (and stalled the close)."""
    monkeypatch.setattr(billing_ledger, "CLOSE_PAGE", 3)
    ref = reference()
    customers = dict(ref.customers)
    for i in range(4):
        customers[f"d{i}"] = customers["cust-de"].model_copy(update={"customer_id": f"d{i}"})
    ldg = Journaled(ref=ReferenceView(ref.resellers, customers, ref.catalogue, ref.prices))
    await feed(ldg, [provisioned(f"s{i}", "contoso", f"d{i % 4}") for i in range(10)])
    close = run("close", "parts", period="2026-11", as_of=date(2026, 12, 1), rid="contoso")
    emits = await feed(ldg, [close])
    parts = of(emits, TOPICS.partner("contoso", PartnerTopic.BILLING), b.InvoiceIssued)
    assert len(parts) >= 3
    assert [p.number for p in parts] == [
        f"D5000000-CONTOSO-{n:08d}" for n in range(1, len(parts) + 1)
    ]
    assert all(p.recipient.party_id == "contoso" for p in parts)
    assert sum(p.subtotal_minor for p in parts) == 10 * 7000
    customers_per_part = [{ln.customer_id for ln in p.lines} for p in parts]
    assert sum(len(c) for c in customers_per_part) == 4  # each customer in one part only
    (done,) = of(emits, TOPICS.name(Topic.COLLECTIONS), b.BillingRunCompleted)
    assert done.invoices_issued == len(parts)
