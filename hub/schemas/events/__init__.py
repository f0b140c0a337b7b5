"""Every event contract of the hub, one pydantic model each, grouped by flow."""

from __future__ import annotations

from hub.schemas.envelope import Event
from hub.schemas.events.billing import EVENTS as BILLING
from hub.schemas.events.consumption import EVENTS as CONSUMPTION
from hub.schemas.events.credits import EVENTS as CREDITS
from hub.schemas.events.incentives import EVENTS as INCENTIVES
from hub.schemas.events.ingress import EVENTS as INGRESS
from hub.schemas.events.orders import EVENTS as ORDERS
from hub.schemas.events.reference import EVENTS as REFERENCE
from hub.schemas.events.relationships import EVENTS as RELATIONSHIPS
from hub.schemas.events.renewals import EVENTS as RENEWALS
from hub.schemas.events.subscriptions import EVENTS as SUBSCRIPTIONS
from hub.schemas.events.support import EVENTS as SUPPORT
from hub.schemas.events.webhooks import EVENTS as WEBHOOKS

ALL_EVENTS: tuple[type[Event], ...] = (
    *REFERENCE,
    *ORDERS,
    *SUBSCRIPTIONS,
    *BILLING,
    *SUPPORT,
    *CREDITS,
    *INGRESS,
    *WEBHOOKS,
    *CONSUMPTION,
    *INCENTIVES,
    *RENEWALS,
    *RELATIONSHIPS,
)
