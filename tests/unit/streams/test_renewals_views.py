"""The renewals pages' answers: upcoming renewals at their renewal price, a month's preview."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from test_renewals_flow import World, provisioned, reference, request

from hub.commands.renewals import preview_text, upcoming_text
from hub.domain.renewals import RenewalPolicy
from hub.streams.renewals.views import month_preview, partition_records, upcoming

NOW = datetime(2026, 2, 10, tzinfo=UTC)


async def test_upcoming_lists_what_renews_within_the_days_at_the_renewal_price():
    w = World()
    await w.send(provisioned("sub-1"))
    await w.send(provisioned("sub-2", qty=5))
    await w.send(request(quantity=101))  # sub-1's next term
    records = list(partition_records(w.store, 0, "contoso"))
    rows = upcoming(records, reference(), RenewalPolicy(), NOW, 30)
    assert [r["subscription_id"] for r in rows] == ["sub-1", "sub-2"]
    one = rows[0]
    assert (one["quantity"], one["current_quantity"], one["scheduled_change"]) == (101, 200, True)
    # Next month's annual list: 13_200 + 10 % markup.
    assert (one["unit_price_minor"], one["current_unit_price_minor"]) == (14_520, 13_200)
    assert one["change_bps"] == 1000
    assert upcoming(records, reference(), RenewalPolicy(), NOW, 10) == []
    text = upcoming_text({"reseller_id": "contoso", "days": 30, "renewals": rows})
    assert "2026-03-01  sub-1  cust-1  101 x CFQ7TTC0LH18:0001:AV1 P1Y/annual" in text
    assert "145.20 EUR" in text
    assert "[scheduled change]" in text


async def test_another_resellers_records_are_not_read():
    w = World()
    await w.send(provisioned("sub-1"))
    assert list(partition_records(w.store, 0, "fabrikam")) == []


async def test_the_preview_prices_next_months_renewals_and_totals_the_effect():
    w = World()
    await w.send(provisioned("sub-1"))
    await w.send(provisioned("sub-2", qty=5))
    records = list(partition_records(w.store, 0, "contoso"))
    (p,) = month_preview("contoso", records, reference(), date(2026, 3, 1))
    assert [ln.renewal_unit_price_minor for ln in p.lines] == [14_520, 14_520]
    assert p.exposure_change_minor == (14_520 - 13_200) * 205
    assert p.revenue_change_minor == (14_520 - 13_200) * 205  # annual: one period a term
    assert month_preview("contoso", records, reference(), date(2026, 4, 1)) == []
    doc = {"reseller_id": "contoso", "month": "2026-03", "previews": [p.model_dump(mode="json")]}
    text = preview_text(doc)
    assert "132.00 EUR -> 145.20 EUR" in text
    assert "credit exposure at renewal 2706.00 EUR" in text


def test_the_month_and_days_arguments_are_checked():
    from hub.commands.renewals import _days, _month

    assert _month("2026-03") == "2026-03"
    for bad in ("2026-13", "March", "2026-3-1"):
        try:
            _month(bad)
        except argparse.ArgumentTypeError:
            continue
        raise AssertionError(bad)
    assert _days("30") == 30
    for bad in ("-1", "x", "5000"):
        try:
            _days(bad)
        except argparse.ArgumentTypeError:
            continue
        raise AssertionError(bad)
