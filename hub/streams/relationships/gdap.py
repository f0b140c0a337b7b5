"""GDAP tracking: relationships created through the adapter, refreshed by a paged sweep,
expiry notices at 30/7/1 days, and tickets held for a missing support role released.

State (the relationships journal, keyed by reseller like its input topic):
- ``gdap|<reseller>|<customer>|<relationship>``: the relationship as last seen, the customer's
  Microsoft id, the notices sent;
- ``gdapwait|<reseller>|<customer>|<ticket>``: a ticket escalation holds until the customer
  grants a support role;
- ``sweep|<partition>``: where the partition's sweep stopped.

The sweep is paged: each ``RelationshipSweepTick`` (a timer sends one to every partition this
worker owns) looks at the next ``page`` relationships of that partition only, so a tick's work
does not grow with a reseller's size. A held ticket is released by the tick after the one that
saw the role granted, once every worker's book has the relationship that allows it.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hub.connectors.partner_center.relationships import (
    AccessDetails,
    CustomerParticipant,
    DelegatedAdminRelationship,
    UnifiedRole,
)
from hub.domain.ids import idempotency_key_for_customer
from hub.domain.orders import ReferenceView
from hub.domain.relationships.gdap import (
    GdapRelationship,
    GdapStatus,
    auto_extend_days,
    check_request,
    due_notices,
    duration_days,
    support_access,
)
from hub.errors import BusinessRuleViolation
from hub.runtime.emit import Emit
from hub.runtime.state import scan
from hub.schemas.envelope import Event, caused_by, derived_event_id
from hub.schemas.events.relationships import (
    GdapApprovalNeeded,
    GdapExpiryNotice,
    GdapRelationshipRequested,
    GdapRelationshipUpdated,
    RelationshipSweepTick,
)
from hub.schemas.events.support import TicketUpdated
from hub.streams.orders.provisioning import microsoft_customer
from hub.streams.relationships import metrics
from hub.streams.relationships.onboarding import OnboardingRecord, state_key, utc_now
from hub.streams.relationships.partner_center import CustomerDirectory
from hub.streams.relationships.sweep import sweep_page
from hub.topics import PartnerTopic, Topic, TopicCatalog

Clock = Callable[[], datetime]


class Tracked(BaseModel):
    relationship: GdapRelationship
    microsoft_customer_id: str
    sent: list[int] = []
    # The relationship allowed support requests when a tick last looked (held tickets are
    # released by the next tick, once every worker's book agrees).
    allows_support: bool = False


class Waiting(BaseModel):
    ticket_id: str
    correlation_key: str
    correlation_id: str
    cause: str


def gdap_key(reseller_id: str, customer_id: str, relationship_id: str) -> str:
    return f"gdap|{reseller_id}|{customer_id}|{relationship_id}"


def wait_key(reseller_id: str, customer_id: str, ticket_id: str) -> str:
    return f"gdapwait|{reseller_id}|{customer_id}|{ticket_id}"


def from_partner_center(
    rel: DelegatedAdminRelationship, customer_id: str, reseller_id: str
) -> GdapRelationship:
    try:
        status = GdapStatus(rel.status or "created")
    except ValueError:
        status = GdapStatus.CREATED  # a status Microsoft added since: not usable until known
    return GdapRelationship(
        relationship_id=rel.id or "",
        customer_id=customer_id,
        reseller_id=reseller_id,
        display_name=rel.display_name,
        roles=rel.role_ids(),
        duration_days=duration_days(rel.duration),
        status=status,
        auto_extend_days=auto_extend_days(rel.auto_extend_duration),
        activated_at=rel.activated_date_time,
        end_at=rel.end_date_time,
    )


class GdapTracker:
    """Handlers of GDAP requests, escalation tasks and sweep ticks; ``state`` a dict in tests."""

    def __init__(
        self,
        catalog: TopicCatalog,
        reference: Callable[[], ReferenceView],
        state: MutableMapping[str, Any],
        directory: CustomerDirectory,
        page: int = 50,
        clock: Clock = utc_now,
    ) -> None:
        self.catalog = catalog
        self.reference = reference
        self.state = state
        self.directory = directory
        self.page = page
        self.clock = clock

    # -- a new relationship ----------------------------------------------------------------

    async def on_request(self, request: GdapRelationshipRequested) -> Sequence[Emit]:
        problems = check_request(request.roles, request.duration, request.auto_extend)
        if problems:
            raise BusinessRuleViolation("GdapRequestInvalid", "; ".join(problems))
        ms_id = await self.microsoft_id(request.reseller_id, request.customer_id, request)
        created = await self.directory.create_gdap(
            DelegatedAdminRelationship(
                display_name=request.display_name,
                duration=request.duration,
                customer=CustomerParticipant(tenant_id=ms_id),
                access_details=AccessDetails(
                    unified_roles=[UnifiedRole(role_definition_id=r) for r in request.roles]
                ),
                auto_extend_duration=request.auto_extend,
            ),
            idempotency_key=str(request.event_id),
            correlation_id=request.correlation_id,
        )
        rel = from_partner_center(created, request.customer_id, request.reseller_id)
        key = gdap_key(request.reseller_id, request.customer_id, rel.relationship_id)
        self.state[key] = Tracked(relationship=rel, microsoft_customer_id=ms_id).model_dump(
            mode="json"
        )
        metrics.GDAP.labels(what="created").inc()
        return self._updated(request, rel)

    async def microsoft_id(self, reseller_id: str, customer_id: str, cause: Event) -> str:
        """The customer's Microsoft id: from its onboarding, or the tenant provisioning made."""
        raw = self.state.get(state_key(reseller_id, customer_id))
        if raw is not None:
            known = OnboardingRecord.model_validate(raw).microsoft_customer_id
            if known:
                return known
        # A customer given by reference data: its tenant is the one order provisioning creates
        # under the same idempotency key.
        ref = self.reference()
        customer = ref.customers.get(customer_id)
        reseller = ref.resellers.get(reseller_id)
        if customer is None or reseller is None or customer.reseller_id != reseller_id:
            raise BusinessRuleViolation(
                "CustomerNotFound", f"customer {customer_id!r} of reseller {reseller_id!r}"
            )
        return await self.directory.create_customer(
            microsoft_customer(customer, reseller),
            idempotency_key=idempotency_key_for_customer(customer_id),
            correlation_id=cause.correlation_id,
        )

    def _updated(self, cause: Event, rel: GdapRelationship) -> list[Emit]:
        envelope = caused_by(
            cause, "GdapRelationshipUpdated", rel.relationship_id, rel.status.value
        )
        updated = GdapRelationshipUpdated(
            **{**envelope, "reseller_id": rel.reseller_id},
            event_time=self.clock(),
            customer_id=rel.customer_id,
            relationship_id=rel.relationship_id,
            display_name=rel.display_name,
            roles=rel.roles,
            status=rel.status.value,
            duration_days=rel.duration_days,
            auto_extend_days=rel.auto_extend_days,
            activated_at=rel.activated_at,
            end_at=rel.end_at,
        )
        return [
            Emit(
                self.catalog.name(Topic.CUSTOMER_GDAP),
                f"{rel.customer_id}|{rel.relationship_id}",
                updated,
            ),
            Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), rel.reseller_id, updated),
        ]

    # -- a ticket waits --------------------------------------------------------------------

    async def on_task(self, task: GdapApprovalNeeded) -> Sequence[Emit]:
        self.state[wait_key(task.reseller_id, task.customer_id, task.ticket_id)] = Waiting(
            ticket_id=task.ticket_id,
            correlation_key=task.correlation_key,
            correlation_id=task.correlation_id,
            cause=str(task.event_id),
        ).model_dump(mode="json")
        metrics.GDAP.labels(what="ticket_held").inc()
        return [Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), task.reseller_id, task)]

    # -- the sweep -------------------------------------------------------------------------

    async def on_tick(self, tick: RelationshipSweepTick) -> Sequence[Emit]:
        now = self.clock()

        async def visit(key: str, raw: Any) -> list[Emit]:
            tracked = Tracked.model_validate(raw)
            # Partner Center first: if it fails, nothing of this entry has changed yet.
            refreshed = await self._refresh(tick, key, tracked, now)
            return [*self._release(tick, tracked), *refreshed]

        return await sweep_page(
            self.state,
            sweep="gdap",
            cursor_key=f"sweep|{tick.partition}",
            prefix="gdap|",
            page=self.page,
            visit=visit,
        )

    def _release(self, tick: RelationshipSweepTick, tracked: Tracked) -> list[Emit]:
        if not tracked.allows_support:
            return []
        rel = tracked.relationship
        out: list[Emit] = []
        prefix = f"gdapwait|{rel.reseller_id}|{rel.customer_id}|"
        for key, raw in list(scan(self.state, prefix)):
            waiting = Waiting.model_validate(raw)
            release = TicketUpdated(
                event_id=derived_event_id(waiting.cause, "relationships.gdap.release"),
                event_time=self.clock(),
                correlation_id=waiting.correlation_id,
                causation_id=tick.event_id,
                reseller_id=rel.reseller_id,
                ticket_id=waiting.ticket_id,
                author="distributor",
                status="escalated",
                note=f"GDAP relationship {rel.relationship_id} now grants a support role: "
                "escalating to Microsoft",
            )
            out.append(
                Emit(self.catalog.name(Topic.SUPPORT_CORRELATION), waiting.correlation_key, release)
            )
            del self.state[key]
            metrics.GDAP.labels(what="ticket_released").inc()
        return out

    async def _refresh(
        self, tick: RelationshipSweepTick, key: str, tracked: Tracked, now: datetime
    ) -> list[Emit]:
        old = tracked.relationship
        seen = await self.directory.list_gdap(
            tracked.microsoft_customer_id, correlation_id=f"gdap-sweep-{tick.partition}"
        )
        current = next((r for r in seen if r.id == old.relationship_id), None)
        rel = old
        out: list[Emit] = []
        if current is not None:
            rel = from_partner_center(current, old.customer_id, old.reseller_id)
            if rel != old:
                out += self._updated(tick, rel)
                metrics.GDAP.labels(what="changed").inc()
        notices = due_notices(rel, now, tracked.sent)
        for days in notices:
            out += self._notice(tick, rel, days)
        allows = support_access([rel], rel.customer_id, now).allowed
        updated = tracked.model_copy(
            update={
                "relationship": rel,
                "sent": [*tracked.sent, *notices],
                "allows_support": allows,
            }
        )
        if updated != tracked:
            self.state[key] = updated.model_dump(mode="json")
        return out

    def _notice(self, cause: Event, rel: GdapRelationship, days: int) -> list[Emit]:
        assert rel.end_at is not None
        envelope = {
            **caused_by(cause, "GdapExpiryNotice"),
            "reseller_id": rel.reseller_id,
            # One notice per relationship, threshold and end date, however often it is swept.
            "event_id": derived_event_id(
                rel.relationship_id, "GdapExpiryNotice", days, rel.end_at.isoformat()
            ),
        }
        notice = GdapExpiryNotice(
            **envelope,
            event_time=self.clock(),
            customer_id=rel.customer_id,
            relationship_id=rel.relationship_id,
            threshold_days=days,
            end_at=rel.end_at,
            message=(
                f"GDAP relationship {rel.relationship_id} of customer {rel.customer_id} ends "
                f"{rel.end_at:%Y-%m-%d} (within {days} days): renew it, or the distributor "
                "cannot open support requests for this customer"
            ),
        )
        metrics.GDAP.labels(what="expiry_notice").inc()
        return [
            Emit(
                self.catalog.partner(rel.reseller_id, PartnerTopic.STATUS), rel.customer_id, notice
            ),
            Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), rel.reseller_id, notice),
        ]
