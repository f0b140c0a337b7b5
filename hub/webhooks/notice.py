"""The notice a reseller gets on its ``partner.<id>.status`` topic when the bridge disables one
of its endpoints: ``WebhookEndpointDisabled`` (a hub event like any other, in
``hub.schemas.events.webhooks``), one id per disabling."""

from __future__ import annotations

from uuid import UUID

from hub.schemas.envelope import derived_event_id
from hub.schemas.events.webhooks import WebhookEndpointDisabled

__all__ = ["WebhookEndpointDisabled", "notice_id"]


def notice_id(endpoint_id: str, disabled_at: str) -> UUID:
    """One id per disabling: a retried send of the same notice keeps its id."""
    return derived_event_id(endpoint_id, "WebhookEndpointDisabled", disabled_at)
