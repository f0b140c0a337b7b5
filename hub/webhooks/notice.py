"""The notice a reseller gets on its ``partner.<id>.status`` topic when the bridge disables one
of its endpoints.

The contract lives here, with its ``.avsc`` in ``hub/webhooks/avro``, and is encoded with a
catalogue of its own: until it joins the hub's event list (``hub.schemas.events.ALL_EVENTS``)
and the status topic's events in the topic catalogue, only this codec reads it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from uuid import UUID

from pydantic import Field

from hub.schemas.catalog import Catalog
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.types import Identifier, NonNegative, ResellerId, Text, UtcDatetime

AVRO_DIR = Path(__file__).parent / "avro"


class WebhookEndpointDisabled(Event):
    """The hub stopped delivering to a reseller's webhook endpoint after repeated failures;
    enable it again with ``hub webhooks enable`` and replay what it missed."""

    reseller_id: ResellerId
    endpoint_id: Identifier
    url: Text
    failures: NonNegative = Field(description="attempts in a row that failed")
    last_error: Text
    disabled_at: UtcDatetime


def notice_id(endpoint_id: str, disabled_at: str) -> UUID:
    """One id per disabling: a retried send of the same notice keeps its id."""
    return derived_event_id(endpoint_id, "WebhookEndpointDisabled", disabled_at)


@functools.cache
def notice_codec() -> Codec:
    """A codec that knows the notice (single-object encoding, as without a registry)."""
    return Codec(Catalog(AVRO_DIR, (WebhookEndpointDisabled,)))
