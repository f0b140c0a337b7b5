"""The demo's summary counts each order once, explains who got a service credit, and ends with
a "try next" block that says how to reach what the demo left running."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

from hub.demo.summary import HeldOrder, Summary, count_decisions, outage_of
from hub.demo.try_next import TryNext, render_try_next
from hub.domain.enums import Severity
from hub.domain.money import Money
from hub.schemas.envelope import Event
from hub.schemas.events.credits import CreditExclusion, ServiceCreditAllocationReported
from hub.schemas.events.support import IncidentDetected
from tests.support.samples import sample

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _as(name: str, order_id: str, reseller: str) -> Event:
    return sample(name).model_copy(update={"order_id": order_id, "reseller_id": reseller})


def test_a_released_order_counts_once_as_accepted_and_columns_sum_to_orders() -> None:
    decisions = [
        _as("OrderAccepted", "o1", "northwind-gb"),
        _as("OrderHeld", "o2", "northwind-gb"),
        _as("OrderRejected", "o3", "northwind-gb"),
        _as("OrderHeld", "o4", "northwind-gb"),
        _as("OrderAccepted", "o2", "northwind-gb"),  # finance released o2
        _as("OrderAccepted", "o1", "northwind-gb"),  # the same decision again (a resend)
        _as("OrderAccepted", "c1", "contoso-de"),
    ]
    s = Summary()
    count_decisions(s, decisions)

    assert s.orders["northwind-gb"] == {"accepted": 2, "held": 1, "rejected": 1}
    assert sum(sum(c.values()) for c in s.orders.values()) == 5  # five distinct orders
    assert s.released == {"northwind-gb": 1}
    assert s.hold_reasons == {"over_credit_limit": 2}
    assert s.still_held == [HeldOrder("o4", "northwind-gb", "over_credit_limit")]
    assert s.rejection_reasons == {"unknown_product": 1}
    shown = s.render()
    assert "Orders: 5, each counted once by its latest decision" in shown
    assert "northwind-gb    2 /  1 /  1" in shown
    assert "(1 accepted after finance released it)" in shown
    assert "  held for review (1 released since):\n    over_credit_limit x2  " in shown
    assert "the order would take its reseller past the credit limit" in shown
    assert "  rejected:\n    unknown_product x1\n" in shown


def _incident() -> IncidentDetected:
    return IncidentDetected(
        event_id="00000000-0000-0000-0000-000000000001",
        event_time=T0,
        correlation_id="c",
        reseller_id=None,
        incident_id="inc-1",
        service="exchange",
        region="westeurope",
        severity=Severity.MODERATE,
        window_start=T0,
        window_end=T0,
        ticket_ids=("t1", "t2", "t3"),
        reseller_ids=("northwind-gb", "fabrikam-fr", "contoso-de", "fabrikam-fr"),
    )


def _report(part: int) -> ServiceCreditAllocationReported:
    return ServiceCreditAllocationReported(
        event_id=f"00000000-0000-0000-0000-00000000001{part}",
        event_time=T0,
        correlation_id="c",
        reseller_id=None,
        credit_id="cr-1",
        incident_id="inc-1",
        service="exchange",
        currency="EUR",
        approved_minor=1000,
        allocated_minor=900,
        remainder_minor=100,
        remainder_reason="caps_reached",
        basis="percentage",
        percentage_tier=25,
        fx_difference_minor="0",
        affected_count=3,
        allocation_count=2,
        part=part,
        parts=2,
        excluded=(
            CreditExclusion(
                subscription_id=f"s{part}", customer_id="x", reseller_id="y", reason="no_fx_rate"
            ),
        ),
    )


def test_the_credit_note_says_why_reporting_resellers_got_nothing() -> None:
    s = Summary()
    s.credits["fabrikam-fr"].append(Money.of(1234, "EUR"))
    later = ["adatum-jp", "fabrikam-fr"]  # their tickets were linked once it was an incident
    s.outage = outage_of(_incident(), [_report(0), _report(1), _report(1)], 25, later)

    assert s.outage.reporting_resellers == (
        "adatum-jp",
        "contoso-de",
        "fabrikam-fr",
        "northwind-gb",
    )
    assert s.outage.affected_subscriptions == 3
    assert s.outage.excluded == (("no_fx_rate", 2),)  # the part written twice counts once
    shown = s.render()
    assert (
        "Microsoft's 25% credit for the exchange outage in westeurope goes to every exchange "
        "subscription live during it, whoever reported the outage (3 subscription(s))"
    ) in shown
    assert "  fabrikam-fr    1 credit(s), total" in shown
    assert (
        "  adatum-jp, contoso-de, northwind-gb: reported the outage but had no exchange "
        "subscription live during it, so nothing to credit"
    ) in shown
    assert "not credited: no_fx_rate x2" in shown


def _try_next(serving: bool, held: HeldOrder | None) -> str:
    return render_try_next(
        TryNext(
            bootstrap="127.0.0.1:40001",
            exports={
                "HUB_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:40001",
                "HUB_TOPIC_PREFIX": "",
                "HUB_STATE_DIR": "/home/x/my state",
            },
            metrics_url="http://127.0.0.1:6066/metrics",
            partner_topic="partner.northwind-gb.status",
            held=held,
            serving=serving,
        )
    )


def test_try_next_gives_exports_a_held_order_to_release_and_a_topic_to_read() -> None:
    text = _try_next(True, HeldOrder("ord-3004-1", "northwind-gb", "reseller_on_credit_hold"))

    assert "Broker: 127.0.0.1:40001" in text
    assert "metrics: http://127.0.0.1:6066/metrics" in text
    exports = [line.strip() for line in text.splitlines() if line.strip().startswith("export ")]
    assert exports == [
        "export HUB_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:40001",
        f"export HUB_STATE_DIR={shlex.quote('/home/x/my state')}",
        "export HUB_TOPIC_PREFIX=''",
    ]
    assert "northwind-gb's order ord-3004-1 is still held (reseller_on_credit_hold)" in text
    assert "  .venv/bin/hub orders list --held\n" in text
    assert ".venv/bin/hub orders release ord-3004-1 --reseller northwind-gb --reviewer you" in text
    assert ".venv/bin/python -m hub.demo.read partner.northwind-gb.status" in text
    assert "This run stops now" not in text


def test_try_next_without_serve_says_the_run_stops_and_needs_no_held_order() -> None:
    text = _try_next(False, None)
    assert "This run stops now; `./dev run` (hub demo --serve) keeps everything running" in text
    assert "orders release" not in text
    assert "python -m hub.demo.read partner.northwind-gb.status" in text


def test_the_topic_reader_shows_each_record_decoded_or_its_error() -> None:
    import json

    from hub.connectors.kafka_io import Record
    from hub.demo.read import render
    from hub.schemas.codec import Codec

    codec = Codec()
    held = sample("OrderHeld")
    good = Record("t", 0, 7, b"northwind-gb", codec.encode(held), [])
    bad = Record("t", 1, 3, None, b"not an event", [])

    line = json.loads(render(good, codec))
    assert (line["offset"], line["key"], line["type"]) == (7, "northwind-gb", "OrderHeld")
    assert line["reason_code"] == "over_credit_limit"
    assert json.loads(render(bad, codec))["error"]
