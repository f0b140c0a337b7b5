"""Events of the webhook bridge (``hub webhooks``) that partners read."""

from __future__ import annotations

from pydantic import Field

from hub.schemas.envelope import Event
from hub.schemas.types import Identifier, NonNegative, ResellerId, Text, UtcDatetime


class WebhookEndpointDisabled(Event):
    """The hub stopped delivering to a reseller's webhook endpoint after repeated failures;
    enable it again with ``hub webhooks enable`` and replay what it missed."""

    reseller_id: ResellerId
    endpoint_id: Identifier
    url: Text
    failures: NonNegative = Field(description="attempts in a row that failed")
    last_error: Text
    disabled_at: UtcDatetime


EVENTS: tuple[type[Event], ...] = (WebhookEndpointDisabled,)
