"""Every customer's GDAP relationships, whole in every worker, for the escalation check.

The relationships flow writes ``GdapRelationshipUpdated`` to the compacted ``ref.customer-gdap``
(keyed ``<customer>|<relationship>``); each worker reads it into ``GDAP``. Before a service
request is filed at Microsoft for a customer, escalation asks ``gdap_hold``: a customer the hub
tracks (onboarded through it, or with any GDAP relationship on record) needs an active
relationship with a support role; otherwise the ticket waits, the reseller gets a task saying
what to approve, and the ticket's queue is told why (its SLA clock keeps running). Customers the
hub has never tracked (reference data only) are filed as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from hub.domain.relationships.gdap import (
    GdapRelationship,
    GdapStatus,
    SupportAccess,
    support_access,
)
from hub.errors import RetriableError
from hub.schemas.envelope import Event
from hub.schemas.events.relationships import GdapRelationshipUpdated
from hub.streams.relationships.agreements import AGREEMENTS, AgreementBook


def relationship_of(event: GdapRelationshipUpdated) -> GdapRelationship:
    return GdapRelationship(
        relationship_id=event.relationship_id,
        customer_id=event.customer_id,
        reseller_id=event.reseller_id,
        display_name=event.display_name,
        roles=event.roles,
        duration_days=event.duration_days,
        status=GdapStatus(event.status),
        auto_extend_days=event.auto_extend_days,
        activated_at=event.activated_at,
        end_at=event.end_at,
    )


@dataclass
class GdapBook:
    """customer id -> relationship id -> relationship."""

    relationships: dict[str, dict[str, GdapRelationship]] = field(default_factory=dict)
    reading: bool = False
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    # Customers onboarded through the hub are tracked even before their first relationship.
    agreements: AgreementBook = field(default_factory=lambda: AGREEMENTS)

    def apply(self, event: Event) -> None:
        if isinstance(event, GdapRelationshipUpdated):
            mine = self.relationships.setdefault(event.customer_id, {})
            mine[event.relationship_id] = relationship_of(event)

    def tracked(self, customer_id: str) -> bool:
        return customer_id in self.relationships or customer_id in self.agreements.status

    def access(self, customer_id: str, at: datetime) -> SupportAccess | None:
        """The GDAP check for ``customer_id`` at ``at``; None for a customer not tracked."""
        if self.reading and not self.loaded.is_set():
            raise RetriableError("GDAP relationships not loaded yet")
        if not self.tracked(customer_id):
            return None
        return support_access(self.relationships.get(customer_id, {}).values(), customer_id, at)


GDAP = GdapBook()
