"""Webhook bodies and their Standard Webhooks signature headers."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from hub.schemas.envelope import Event

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's prefix, no secret)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64, as the spec shows."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def body(event_type: str, timestamp: datetime, data: Mapping[str, Any]) -> str:
    """The JSON body: ``{"type", "timestamp", "data"}`` as the spec recommends, keys sorted and
    compact, so one event always gives the same bytes."""
    doc = {"type": event_type, "timestamp": timestamp.isoformat(), "data": data}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_body(event: Event) -> str:
    """An event as a webhook body: ``data`` is the hub's JSON of the event (its snake_case
    field names, UUIDs and times as strings, amounts in minor units), as on the topic."""
    return body(type(event).__name__, event.event_time, event.model_dump(mode="json"))


def headers(
    message_id: str, at: datetime, payload: str, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one ``v1,`` signature
    per secret, space-separated: during a rotation a receiver with either secret verifies)."""
    signatures = [Webhook(s).sign(message_id, at, payload) for s in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
