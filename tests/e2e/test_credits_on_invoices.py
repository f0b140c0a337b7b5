"""Service credits land on invoices: approval -> allocations -> month-end close, real broker.

Four resellers: two bill their customers themselves, one has the distributor bill them
white-labelled, one has no customer hit. An Exchange credit approved in EUR with a GBP and a JPY
rate (one USD customer has none and is excluded) is delivered twice; after ``hub billing close``
each credited subscription shows exactly one negative ``customerCredit`` line, on the invoice of
whoever bills its customer, on its own reseller's billing topic only, and the lines add up to
the approved amount minus the reported remainder, per currency.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from hub import cli
from hub.connectors.kafka_io import Outgoing
from hub.domain.enums import BillingCycle, BillingMode, ChargeType, SupportMode, Term
from hub.domain.reference import Brand, CatalogItem, Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.schemas.envelope import Event
from hub.schemas.events import billing as b
from hub.schemas.events.credits import (
    ServiceCreditAllocated,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.topics import Topic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.e2e import (
    EXCHANGE,
    TEAMS,
    WorkerHub,
    counter_total,
    envelope,
    reference_events,
    start_worker_hub,
)

RESELLERS = {
    "ci-alpha": BillingMode.RESELLER_BILLS,
    "ci-beta": BillingMode.DISTRIBUTOR_WHITE_LABEL,
    "ci-gamma": BillingMode.RESELLER_BILLS,
    "ci-delta": BillingMode.RESELLER_BILLS,
}


@dataclass(frozen=True)
class Sub:
    sid: str
    reseller: str
    customer: str
    country: str
    currency: str
    item: CatalogItem
    seats: int
    unit_minor: int


SUBS = (
    Sub("sub-a1", "ci-alpha", "cust-a1", "DE", "EUR", EXCHANGE, 10, 400),
    Sub("sub-a2", "ci-alpha", "cust-a2", "DE", "EUR", EXCHANGE, 20, 400),
    Sub("sub-a3", "ci-alpha", "cust-a3", "US", "USD", EXCHANGE, 5, 500),  # no rate: excluded
    Sub("sub-b1", "ci-beta", "cust-b1", "DE", "EUR", EXCHANGE, 30, 400),
    Sub("sub-b2", "ci-beta", "cust-b2", "GB", "GBP", EXCHANGE, 15, 350),
    Sub("sub-c1", "ci-gamma", "cust-c1", "DE", "EUR", EXCHANGE, 40, 400),
    Sub("sub-c2", "ci-gamma", "cust-c2", "JP", "JPY", EXCHANGE, 12, 650),
    Sub("sub-c3", "ci-gamma", "cust-c1", "DE", "EUR", TEAMS, 50, 400),  # other service
    Sub("sub-d1", "ci-delta", "cust-d1", "DE", "EUR", TEAMS, 8, 400),
)
CREDITED = {"sub-a1", "sub-a2", "sub-b1", "sub-b2", "sub-c1", "sub-c2"}


def reference(catalog: TopicCatalog) -> list[Outgoing]:
    brand = Brand(display_name="Beta IT", signature="Your Beta team", reply_to="bill@beta.de")
    resellers = [
        ResellerProfile(
            reseller_id=rid,
            partner_id="1234567",
            name=rid,
            country="DE",
            currency="EUR",
            languages=("de",),
            billing_mode=mode,
            support_mode=SupportMode.RESELLER_OWN,
            credit_limit_minor=10**9,
            payment_terms_days=30,
            brand=brand if mode is BillingMode.DISTRIBUTOR_WHITE_LABEL else None,
        )
        for rid, mode in RESELLERS.items()
    ]
    customers = [
        Customer(
            customer_id=cid,
            reseller_id=s.reseller,
            name=f"Customer {cid}",
            country=s.country,
            language="de",
            currency=s.currency,
            tenant_domain=f"{cid}.onmicrosoft.com",
        )
        for cid, s in {s.customer: s for s in SUBS}.items()
    ]
    return reference_events(catalog, resellers, customers, (EXCHANGE, TEAMS))


def provisioned(catalog: TopicCatalog, s: Sub, start: date) -> Outgoing:
    event = SubscriptionProvisioned.model_validate(
        {
            **envelope(s.reseller),
            "order_id": f"o-{s.sid}",
            "line_index": 0,
            "customer_id": s.customer,
            "subscription_id": s.sid,
            "microsoft_order_id": f"ms-{s.sid}",
            "product_id": s.item.product_id,
            "sku_id": s.item.sku_id,
            "availability_id": s.item.availability_id,
            "quantity": s.seats,
            "term": Term.P1Y,
            "billing_cycle": BillingCycle.MONTHLY,
            "term_start": start,
            "term_end": start.replace(year=start.year + 1),
            "unit_cost_minor": s.unit_minor * 7 // 8,
            "unit_price_minor": s.unit_minor,
            "currency": s.currency,
        }
    )
    return Outgoing(catalog.name(Topic.PROVISIONING), s.reseller, event)


@pytest.fixture
def hub(kafka: BrokerInfo, tmp_path: Path) -> Iterator[WorkerHub]:
    hub = start_worker_hub(kafka, tmp_path, "crinv", list(RESELLERS), reference)
    try:
        yield hub
    finally:
        hub.worker.stop()


def index_updates(worker: WorkerProcess) -> int:
    return int(counter_total(worker, "hub_credits_index_updates_total"))


def charges(hub: WorkerHub, charge_type: ChargeType) -> list[b.ChargeRated]:
    return [
        e
        for e in hub.read(Topic.CHARGES)
        if isinstance(e, b.ChargeRated) and e.charge_type == charge_type
    ]


Document = b.InvoiceIssued | b.CreditNoteIssued


def documents(events: list[Event]) -> dict[str, Document]:
    """Invoices and credit notes by id; a re-sent copy must be identical."""
    out: dict[str, Document] = {}
    for e in events:
        if isinstance(e, b.InvoiceIssued | b.CreditNoteIssued):
            doc_id = e.invoice_id if isinstance(e, b.InvoiceIssued) else e.credit_note_id
            assert out.setdefault(doc_id, e) == e, f"{doc_id} issued twice with other contents"
    return out


def credit_lines(doc: Document) -> list[tuple[str, int]]:
    """(subscription, credited amount > 0) of each customerCredit line, whatever the kind."""
    sign = -1 if isinstance(doc, b.InvoiceIssued) else 1  # a credit note states it positive
    return [
        (ln.subscription_id or "", sign * ln.amount_minor)
        for ln in doc.lines
        if ln.charge_type == ChargeType.CUSTOMER_CREDIT
    ]


def test_each_credit_lands_once_on_the_invoice_of_whoever_bills_the_customer(
    hub: WorkerHub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(UTC).date()
    month_start = today.replace(day=1)
    period = f"{today:%Y-%m}"
    window = datetime.combine(month_start, datetime.min.time(), tzinfo=UTC)
    c = hub.catalog
    hub.publish([provisioned(c, s, month_start) for s in SUBS])
    hub.wait_for("credits index", lambda: index_updates(hub.worker) >= len(SUBS))
    hub.wait_for("purchases billed", lambda: len(charges(hub, ChargeType.NEW)) >= len(SUBS))

    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP_SERVERS", hub.kafka.bootstrap)
    monkeypatch.setenv("HUB_TOPIC_PREFIX", c.prefix)
    approve = ["credits", "approve", "EX40000", "--service", "exchange"]
    approve += ["--from", window.replace(hour=8).isoformat()]
    approve += ["--to", window.replace(hour=14).isoformat()]
    approve += ["--currency", "EUR", "--amount", "100.00", "--fx", "GBP=0.85", "--fx", "JPY=162.5"]
    assert cli.main(approve) == 0
    approved = c.name(Topic.CREDITS_APPROVED)
    (approval,) = [e for e in hub.read(approved) if isinstance(e, ServiceCreditApproved)]
    assert [(r.currency, r.rate) for r in approval.fx_rates] == [("GBP", "0.85"), ("JPY", "162.5")]

    def reports() -> list[ServiceCreditAllocationReported]:
        return [
            e
            for e in hub.read(Topic.CREDITS_AUDIT)
            if isinstance(e, ServiceCreditAllocationReported) and e.credit_id == approval.credit_id
        ]

    hub.wait_for("allocation report", lambda: bool(reports()))
    # The same approval delivered a second time: the same allocations again, nothing new.
    hub.publish([Outgoing(approved, approval.incident_id, approval)])
    hub.wait_for("the second delivery's report", lambda: len(reports()) >= 2)
    hub.wait_for(
        "both deliveries' credits in billing",
        lambda: len(charges(hub, ChargeType.CUSTOMER_CREDIT)) >= 2 * len(CREDITED),
    )

    assert cli.main(["billing", "close", "--period", period]) == 0
    expected_docs = {"ci-alpha": 2, "ci-beta": 2, "ci-gamma": 2, "ci-delta": 1}  # per currency
    hub.wait_for(
        "every reseller's invoices",
        lambda: all(len(documents(hub.partner(r))) >= n for r, n in expected_docs.items()),
    )

    (report,) = {r.event_id: r for r in reports()}.values()
    lines = {ln.subscription_id: ln for ln in report.lines}
    assert set(lines) == CREDITED
    assert [(x.subscription_id, x.reason) for x in report.excluded] == [("sub-a3", "no_fx_rate")]
    assert report.allocated_minor + report.remainder_minor == approval.amount_minor == 10_000

    owner = {s.sid: s for s in SUBS}
    seen: dict[str, int] = {}
    by_currency: dict[str, int] = {}
    for rid, mode in RESELLERS.items():
        docs = documents(hub.partner(rid))
        assert len(docs) == expected_docs[rid]
        for doc in docs.values():
            assert doc.reseller_id == rid
            for sid, amount in credit_lines(doc):
                assert sid not in seen, f"{sid} credited twice"
                seen[sid] = amount
                sub = owner[sid]
                assert sub.reseller == rid, f"{sid} credited on {rid}'s topic"
                assert doc.currency == sub.currency
                # Whoever bills the customer: the reseller, or the customer white-labelled.
                billed = sub.customer if mode is BillingMode.DISTRIBUTOR_WHITE_LABEL else rid
                assert doc.recipient.party_id == billed
                by_currency[doc.currency] = by_currency.get(doc.currency, 0) + amount
    assert set(seen) == CREDITED
    for sid, amount in seen.items():
        assert amount == lines[sid].customer_amount_minor > 0
    # Per currency, the invoices carry exactly what the allocation gave; in the approval's
    # currency, the shares add up to the approved amount minus the remainder.
    expected_by_currency: dict[str, int] = {}
    for ln in report.lines:
        cur = ln.customer_currency
        expected_by_currency[cur] = expected_by_currency.get(cur, 0) + ln.customer_amount_minor
    assert by_currency == expected_by_currency
    assert set(by_currency) == {"EUR", "GBP", "JPY"}
    assert sum(ln.amount_minor for ln in report.lines) == 10_000 - report.remainder_minor
    # At the stated rates, half up in the customer's minor unit.
    gbp = Decimal(lines["sub-b2"].amount_minor) * Decimal("0.85")
    jpy = Decimal(lines["sub-c2"].amount_minor) * Decimal("162.5") / 100
    assert by_currency["GBP"] == int(gbp.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert by_currency["JPY"] == int(jpy.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    # The pass-through events themselves went to their own reseller's topic only.
    for rid in RESELLERS:
        mine = {s.sid for s in SUBS if s.reseller == rid} & CREDITED
        passed = [e for e in hub.partner(rid) if isinstance(e, ServiceCreditAllocated)]
        assert {e.subscription_id for e in passed} == mine

    # The audit names the stated rate and both amounts of each foreign-currency credit.
    capsys.readouterr()
    assert cli.main(["credits", "show", "EX40000"]) == 0
    text = capsys.readouterr().out
    assert "0.85 GBP/EUR" in text
    assert "162.5 JPY/EUR" in text
    assert "excluded sub-a3" in text
