"""`hub credits` without a broker: the index rebuilt from topic events, claim rows, approval
entry and the audit joined from report parts."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hub.commands.credits import (
    Incident,
    approval_event,
    audit,
    claim_rows,
    parse_fx,
    rebuild_index,
    render_audit,
    render_csv,
)
from hub.domain.claims import select_affected
from hub.domain.enums import SubscriptionStatus
from hub.errors import ValidationFailed
from hub.schemas.events.credits import (
    FxRate,
    ServiceCreditAllocationReported,
    ServiceCreditApproved,
)
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CatalogItemUpserted, CustomerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from tests.support.samples import sample

T = datetime(2025, 3, 20, 9, tzinfo=UTC)
INCIDENT = Incident(
    "EX25194",
    "exchange",
    None,
    datetime(2025, 4, 2, 8, tzinfo=UTC),
    datetime(2025, 4, 2, 10, tzinfo=UTC),
)


def facts() -> list[object]:
    item = sample("CatalogItemUpserted")
    customer = sample("CustomerUpserted")
    prov = sample("SubscriptionProvisioned")
    assert isinstance(prov, SubscriptionProvisioned)
    other = prov.model_copy(update={"subscription_id": "sub-10", "event_id": uuid.uuid4()})
    change = sample("SubscriptionChanged")
    assert isinstance(change, SubscriptionChanged)
    cancel = change.model_copy(
        update={
            "subscription_id": "sub-10",
            "change_id": "cancel-10",
            "status": SubscriptionStatus.DELETED,
            "effective_at": datetime(2025, 3, 15, tzinfo=UTC),
        }
    )
    return [item, customer, prov, other, change, cancel]


def test_rebuilt_index_applies_changes_and_selects_the_active_subscriptions() -> None:
    index, customers = rebuild_index(facts())  # type: ignore[arg-type]
    assert set(index) == {"sub-9", "sub-10"}
    assert index["sub-9"].quantity_at(INCIDENT.window_start) == 20
    hits = select_affected(
        index.values(),
        service="exchange",
        window_start=INCIDENT.window_start,
        window_end=INCIDENT.window_end,
    )
    assert [h.entry.subscription_id for h in hits] == ["sub-9"]
    rows = claim_rows(INCIDENT, hits, customers)
    row = rows[0]
    assert row["tenant"] == "fabrikam.onmicrosoft.com"
    assert (row["seats"], row["monthly_fee"], row["currency"]) == (20, "128.80", "EUR")
    assert (row["affected_minutes"], row["incident_minutes"]) == (120, 120)


def test_subscription_of_an_unknown_product_is_left_out_of_the_rebuilt_index() -> None:
    events = [e for e in facts() if not isinstance(e, CatalogItemUpserted)]
    index, _ = rebuild_index(events)  # type: ignore[arg-type]
    assert index == {}


def test_claim_csv_has_a_header_and_one_row_per_subscription() -> None:
    index, customers = rebuild_index(facts())  # type: ignore[arg-type]
    hits = select_affected(
        index.values(),
        service="exchange",
        window_start=INCIDENT.window_start,
        window_end=INCIDENT.window_end,
    )
    rows = claim_rows(INCIDENT, hits, customers)
    parsed = list(csv.DictReader(io.StringIO(render_csv(rows, list(rows[0])))))
    assert [r["subscription_id"] for r in parsed] == ["sub-9"]
    assert parsed[0]["incident_id"] == "EX25194"
    assert isinstance(customers["a1b2c3d4-tenant"], CustomerUpserted)


def approve(
    amount: str | None = "123.45", tier: int | None = None, currency: str = "EUR"
) -> object:
    return approval_event(
        incident_id="EX25194",
        service="exchange",
        currency=currency,
        window_start=INCIDENT.window_start,
        window_end=INCIDENT.window_end,
        amount=None if amount is None else Decimal(amount),
        tier_percent=tier,
        region="eu-west",
        credit_id=None,
        now=T,
    )


def test_approved_amount_becomes_minor_units_and_a_stable_credit_id() -> None:
    event = approve()
    assert event.amount_minor == 12345  # type: ignore[attr-defined]
    assert event.credit_id == "EX25194:exchange"  # type: ignore[attr-defined]
    assert approve().credit_id == event.credit_id  # type: ignore[attr-defined]


def test_tier_percent_approval_has_no_amount() -> None:
    event = approve(None, 25)
    assert (event.amount_minor, event.percentage_tier) == (None, 25)  # type: ignore[attr-defined]


def test_amount_finer_than_the_currency_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        approve("10.005")
    with pytest.raises(ValidationFailed):
        approve("10.5", currency="JPY")


def report(part: int, parts: int) -> ServiceCreditAllocationReported:
    base = sample("ServiceCreditAllocationReported")
    assert isinstance(base, ServiceCreditAllocationReported)
    return base.model_copy(update={"part": part, "parts": parts, "event_id": uuid.uuid4()})


def test_audit_joins_report_parts_and_says_when_one_is_missing() -> None:
    approval = sample("ServiceCreditApproved")
    docs = audit("EX25194", [approval, report(0, 2), report(1, 2), report(1, 2)])
    assert docs[0]["status"] == "allocated"
    assert len(docs[0]["lines"]) == 2
    assert audit("EX25194", [approval, report(1, 2)])[0]["status"] == "partial report"
    assert audit("EX25194", [approval])[0]["status"] == "pending"
    assert audit("OTHER", [approval, report(0, 1)]) == []


def test_audit_text_shows_remainder_and_reason() -> None:
    text = render_audit(audit("EX25194", [sample("ServiceCreditApproved"), report(0, 1)]))
    assert "remainder 30.00 EUR (caps_reached)" in text
    assert "excluded sub-10" in text
    assert "no_fx_rate" in text


def test_fx_flags_become_the_approvals_stated_rates() -> None:
    rates = parse_fx(["GBP=0.85", "jpy=162.5"])
    assert rates == {"GBP": Decimal("0.85"), "JPY": Decimal("162.5")}
    event = approval_event(
        incident_id="EX25194",
        service="exchange",
        currency="EUR",
        window_start=INCIDENT.window_start,
        window_end=INCIDENT.window_end,
        amount=Decimal("100"),
        tier_percent=None,
        region=None,
        credit_id=None,
        now=T,
        fx_rates=rates,
    )
    assert [(r.currency, r.rate, r.rate_date) for r in event.fx_rates] == [
        ("GBP", "0.85", T.date()),
        ("JPY", "162.5", T.date()),
    ]


@pytest.mark.parametrize("bad", ["GBP", "GBP=abc", "GBP=0", "GBP=-1", "=1", "GBP=NaN"])
def test_an_fx_flag_that_is_not_a_positive_rate_is_refused(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_fx([bad])


def test_an_fx_currency_given_twice_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        parse_fx(["GBP=0.85", "GBP=0.86"])


def test_audit_text_shows_the_stated_rate_and_both_amounts() -> None:
    approval = sample("ServiceCreditApproved")
    assert isinstance(approval, ServiceCreditApproved)
    stated = approval.model_copy(
        update={
            "fx_rates": (FxRate(currency="GBP", rate="0.85", rate_date=T.date()),),
        }
    )
    base = report(0, 1)
    line = base.lines[0].model_copy(
        update={
            "customer_currency": "GBP",
            "rate_to_distributor": str(Decimal(1) / Decimal("0.85")),
            "amount_minor": 1000,
            "customer_amount_minor": 850,
        }
    )
    text = render_audit(audit("EX25194", [stated, base.model_copy(update={"lines": (line,)})]))
    assert "0.85 GBP/EUR" in text
    assert "10.00 EUR" in text
    assert "8.50 GBP" in text
