"""Webhook bodies and signatures, checked with the stock Standard Webhooks verifier."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hub.schemas.events.ingress import IngressRejected
from hub.webhooks import signing
from hub.webhooks.records import Endpoint

EVENT = IngressRejected(
    event_id=UUID("9b2f6a4e-0c1d-4e5f-8a7b-6c5d4e3f2a1b"),
    event_time=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
    correlation_id="c1",
    reseller_id="r1",
    topic="reseller.orders",
    event_type="OrderRequested",
    rejected_event_id=UUID("1b2f6a4e-0c1d-4e5f-8a7b-6c5d4e3f2a1b"),
    code="unknown_type",
    field="event_type",
    value="X",
    message="not allowed",
)


def test_event_body_is_type_timestamp_and_the_events_json() -> None:
    body = signing.event_body(EVENT)
    doc = json.loads(body)
    assert doc["type"] == "IngressRejected"
    assert doc["timestamp"] == "2026-12-01T08:00:00+00:00"
    assert doc["data"] == EVENT.model_dump(mode="json")
    assert doc["data"]["rejected_event_id"] == "1b2f6a4e-0c1d-4e5f-8a7b-6c5d4e3f2a1b"
    assert signing.event_body(EVENT) == body  # same event, same bytes


def test_headers_verify_with_the_stock_library() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_")
    now = datetime.now(UTC)
    body = signing.event_body(EVENT)
    headers = signing.headers(str(EVENT.event_id), now, body, [secret])
    assert headers["webhook-id"] == str(EVENT.event_id)
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert Webhook(secret).verify(body, headers)["data"]["code"] == "unknown_type"
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("X", "Y"), headers)


def test_during_a_rotation_both_secrets_verify_until_the_overlap_ends() -> None:
    old, new = signing.new_secret(), signing.new_secret()
    now = datetime.now(UTC)
    endpoint = Endpoint(
        endpoint_id="ep1",
        reseller_id="r1",
        url="https://example.test/hook",
        secret=new,
        previous_secret=old,
        previous_secret_until=now + timedelta(hours=1),
        created_at=now,
        updated_at=now,
    )
    body = signing.event_body(EVENT)
    headers = signing.headers("m1", now, body, endpoint.secrets(now))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)
    Webhook(new).verify(body, headers)
    assert endpoint.secrets(now + timedelta(hours=2)) == (new,)
    assert "whsec" not in repr(endpoint)
