"""Endpoint records folded from the compacted topic, and the retry topic's chains read again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition

from hub.connectors.kafka_io import Record
from hub.errors import ConfigError
from hub.settings import load_settings
from hub.webhooks.bridge import Bridge, partner_pattern
from hub.webhooks.records import Endpoint, Parked

T0 = datetime(2026, 12, 1, tzinfo=UTC)
TP = TopicPartition("hub.webhooks.retries", 0)


def _endpoint(endpoint_id: str, url: str) -> Endpoint:
    return Endpoint(
        endpoint_id=endpoint_id,
        reseller_id="r1",
        url=url,
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        created_at=T0,
        updated_at=T0,
    )


def _record(key: str, value: bytes | None, offset: int) -> Record:
    return Record("hub.webhooks.endpoints", 0, offset, key.encode(), value, [])


def test_the_latest_endpoint_record_wins_and_a_tombstone_removes_it() -> None:
    from hub.webhooks.store import fold_endpoints

    records = [
        _record("ep1", _endpoint("ep1", "https://a.test/1").to_bytes(), 0),
        _record("ep2", _endpoint("ep2", "https://a.test/2").to_bytes(), 1),
        _record("ep1", _endpoint("ep1", "https://a.test/new").to_bytes(), 2),
        _record("ep2", None, 3),
        _record("ep3", b"not json", 4),
    ]
    assert {k: e.url for k, e in fold_endpoints(records).items()} == {"ep1": "https://a.test/new"}


def _parked(event_id: str, attempt: int, *, closed: bool = False) -> bytes:
    return Parked(
        endpoint_id="ep1",
        reseller_id="r1",
        event_id=event_id,
        event_type="InvoiceIssued",
        body="{}",
        attempt=attempt,
        due_at=0.0,
        closed=closed,
    ).to_bytes()


def test_a_retry_topic_read_again_keeps_only_each_chains_open_attempt() -> None:
    bridge = Bridge(load_settings())
    bridge._hold(TP, 10, _parked("e1", 1))
    bridge._hold(TP, 11, _parked("e2", 1))
    bridge._hold(TP, 12, _parked("e1", 2))  # e1's first attempt failed: only its second is open
    bridge._hold(TP, 13, _parked("e2", 1, closed=True))  # e2 was delivered before the restart
    bridge._hold(TP, 14, _parked("e3", 1))
    assert bridge._open[TP] == {12, 14}
    assert bridge._next[TP] == 15


def test_the_bridge_reads_partner_topics_and_its_retry_topic_under_its_prefix() -> None:
    pattern = partner_pattern(load_settings(topic_prefix="p."))
    for name in ("p.partner.contoso.status", "p.partner.r-1.billing", "p.hub.webhooks.retries"):
        assert pattern.fullmatch(name), name
    for name in (
        "partner.contoso.status",
        "p.partner.contoso.status.dlq",
        "p.reseller.contoso.orders",
        "p.partner.contoso.other",
    ):
        assert not pattern.fullmatch(name), name


@pytest.mark.parametrize("schedule", [(), (5.0, -1.0)])
def test_a_bridge_refuses_an_unusable_retry_schedule(schedule: tuple[float, ...]) -> None:
    with pytest.raises(ConfigError, match="HUB_WEBHOOK_RETRY_SCHEDULE_S"):
        Bridge(load_settings(webhook_retry_schedule_s=schedule))
