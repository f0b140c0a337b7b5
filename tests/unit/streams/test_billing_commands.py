"""`hub billing` command helpers: run commands and Microsoft's charge end dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.commands.billing import charge_end_day, run_command
from hub.connectors.partner_center.models import InvoiceLineItem
from hub.schemas.validation import ContractViolation


def item(start: datetime, end: datetime, sub_start: datetime | None) -> InvoiceLineItem:
    data: dict[str, Any] = {
        "PartnerId": "p",
        "CustomerId": "c",
        "OrderId": "o",
        "OrderDate": start,
        "ProductId": "P",
        "SkuId": "S",
        "AvailabilityId": "A",
        "ChargeType": "new",
        "UnitPrice": "6",
        "EffectiveUnitPrice": "6",
        "Quantity": 1,
        "BillableQuantity": 1,
        "Subtotal": "6",
        "TaxTotal": "0",
        "Total": "6",
        "Currency": "EUR",
        "SubscriptionId": "s",
        "ChargeStartDate": start,
        "ChargeEndDate": end,
        "TermAndBillingCycle": "",
        "BillingFrequency": "",
        "SubscriptionStartDate": sub_start,
    }
    return InvoiceLineItem.model_validate(data)


def test_an_end_at_the_subscriptions_start_time_is_exclusive() -> None:
    start = datetime(2026, 11, 2, 9, tzinfo=UTC)
    line = item(start, datetime(2026, 12, 2, 9, tzinfo=UTC), start)
    assert charge_end_day(line) == date(2026, 12, 1)


def test_a_midnight_end_date_is_the_last_day_itself() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    line = item(start, datetime(2026, 11, 30, tzinfo=UTC), start)
    assert charge_end_day(line) == date(2026, 11, 30)


def test_close_needs_a_period_and_runs_for_every_reseller() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    run = run_command("close", period="2026-11", as_of=date(2026, 12, 1), now=now)
    assert run.reseller_id is None
    with pytest.raises(ContractViolation, match="needs a period"):
        run_command("close", period=None, as_of=date(2026, 12, 1), now=now)
