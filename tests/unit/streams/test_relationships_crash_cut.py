"""The relationships flow is crash-safe against its journal: a message whose writes a crash cut
short at any point, handled again over what landed, ends in the uncut run's state and outputs.

Onboarding, GDAP tracking and the drift sweep share one journaled store through one view, as
the worker wires them (``hub/streams/relationships/flow.py``); a crash lands a prefix of that
store's writes (``tests/support/crash_cut.py``). The richest message is a sweep tick that
releases held tickets, refreshes a relationship, sends an expiry notice and reports drift; an
onboarding, a GDAP request, a drift adoption and a transfer request are cut too. A replay that
handles the message anew asks Partner Center again: the fake, like Partner Center, gives a
creation replayed under its idempotency key what the first call made.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from hub.domain.enums import SubscriptionStatus
from hub.domain.relationships.gdap import DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.relationships import (
    CustomerOnboarded,
    GdapApprovalNeeded,
    GdapExpiryNotice,
    GdapRelationshipRequested,
    GdapRelationshipUpdated,
    RelationshipSweepTick,
    SubscriptionDriftDetected,
    SubscriptionDriftResolution,
    SubscriptionDriftResolved,
    SubscriptionTransferRequested,
)
from hub.schemas.events.support import TicketUpdated
from hub.streams.relationships.drift import DriftSweep
from hub.streams.relationships.flow import Requests
from hub.streams.relationships.gdap import GdapTracker
from hub.streams.relationships.onboarding import Onboarding
from hub.topics import Topic, TopicCatalog
from tests.support import crash_cut
from tests.support.relationships_partner_center import FakePartnerCenter
from tests.unit.streams.test_drift_sweep_handler import NOW, _pc_sub, _provisioned
from tests.unit.streams.test_onboarding_handler import _reference, _request

CATALOG = TopicCatalog()
RID, CUSTOMER = "A", "fabrikam"
# The journal's head of partition 0 (hub/runtime/journal.py ``Journal._key``): written after the
# entry's body and before the message's writes.
HEAD = "~j|0|h"
JOURNAL = "~j|"


class World:
    """The relationships handlers over one journaled store, as ``flow.register`` wires them."""

    def __init__(self, pc: FakePartnerCenter, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else crash_cut.RecordingStore()
        self.journal = Journal(self.store, "relationships")
        state = self.journal.view("")
        gdap = GdapTracker(CATALOG, _reference, state, pc, page=10, clock=lambda: NOW)
        self.requests = Requests(
            Onboarding(CATALOG, _reference, state, pc, clock=lambda: NOW),
            gdap,
            DriftSweep(CATALOG, state, pc, gdap.microsoft_id, page=10, clock=lambda: NOW),
            CATALOG.name(Topic.BILLING_INPUTS),
        )
        self.requests.requests_topic = CATALOG.name(Topic.RELATIONSHIP_REQUESTS)

    async def request(self, event: Event) -> Sequence[Emit]:
        """One message of ``hub.relationships.requests`` (keyed by reseller; a tick has no
        key), through the journal as the pipeline runs it."""
        message = f"{self.requests.requests_topic}|{event.reseller_id or ''}|{event.event_id}"
        return await self.journal.run(0, message, lambda: self.requests.handle(event))

    async def observe(self, event: Event) -> Sequence[Emit]:
        """One message of billing's ``hub.orders.provisioning``, observed into the same table."""
        message = f"{CATALOG.name(Topic.PROVISIONING)}|{event.reseller_id}|{event.event_id}"
        return await self.journal.run(0, message, lambda: self.requests.observe(event))


def tick() -> RelationshipSweepTick:
    return RelationshipSweepTick(
        event_id=new_event_id(), event_time=NOW, correlation_id="sweep", partition=0
    )


def gdap_request(name: str) -> GdapRelationshipRequested:
    return GdapRelationshipRequested(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id=name,
        reseller_id=RID,
        customer_id=CUSTOMER,
        display_name=name,
        roles=(DIRECTORY_READERS,),
    )


def held(ticket_id: str) -> GdapApprovalNeeded:
    return GdapApprovalNeeded(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id=ticket_id,
        reseller_id=RID,
        customer_id=CUSTOMER,
        ticket_id=ticket_id,
        correlation_key="exchange|eu",
        missing_role=SERVICE_SUPPORT_ADMINISTRATOR,
        message="no active GDAP relationship",
    )


def flow_state(data: dict[str, Any]) -> dict[str, Any]:
    """The flow's own entries, without the journal's."""
    return {k: v for k, v in data.items() if not k.startswith(JOURNAL)}


async def history() -> tuple[World, FakePartnerCenter]:
    """A customer onboarded, a GDAP relationship asked for, two tickets held for its support
    role, two subscriptions provisioned; the customer approves the role and a tick sees it."""
    pc = FakePartnerCenter(NOW)
    world = World(pc)
    await world.request(_request())
    (updated, _) = await world.request(gdap_request("fabrikam-support"))
    assert isinstance(updated.event, GdapRelationshipUpdated)
    for ticket_id in ("T-1", "T-2"):
        await world.request(held(ticket_id))
    for sub_id in ("s1", "s2"):
        await world.observe(_provisioned(CUSTOMER, sub_id))
    ms_id = next(iter(pc.customers.values()))
    pc.subs[ms_id] = {sub_id: _pc_sub(sub_id, 10) for sub_id in ("s1", "s2")}
    roles = [DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR]
    pc.approve(updated.event.relationship_id, roles, NOW + timedelta(days=700))
    first = await world.request(tick())
    assert [type(e.event) for e in first] == [GdapRelationshipUpdated] * 2
    return world, pc


def portal_changes(pc: FakePartnerCenter) -> None:
    """At Partner Center: the relationship now ends in six days, one subscription has more
    seats, one is suspended, and one the hub never provisioned appeared."""
    (rel,) = pc.gdap.values()
    roles = [DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR]
    pc.approve(str(rel.id), roles, NOW + timedelta(days=6))
    subs = pc.subs[rel.customer.tenant_id]
    subs["s1"] = _pc_sub("s1", 14)
    subs["s2"] = _pc_sub("s2", 10, SubscriptionStatus.SUSPENDED)
    subs["s9"] = _pc_sub("s9", 5)


async def assert_every_cut_replays(
    world: World, pc: FakePartnerCenter, last: Event, *, writes_state: bool = True
) -> list[Emit]:
    """Handles ``last`` whole, then again, in a restarted worker, over every prefix of its
    writes; each replay must give the uncut run's outputs and end in its state."""
    log: list[tuple[str, Any]] = world.store.log  # type: ignore[attr-defined]
    start = len(log)
    before = flow_state(world.store.data)
    outputs = list(await world.request(last))
    after = dict(world.store.data)
    assert len(log) - start > 2, "the message must write several entries to be cut"
    head = next(i for i in range(start, len(log)) if log[i][0] == HEAD)
    # Not vacuous: a cut before the head leaves the message to be handled anew, a cut after it
    # leaves an entry the restarted journal must complete; neither landed state is the final.
    # (A message that writes no state of its own ends with its head: its outputs' slot is
    # written before it.)
    assert start < head <= len(log) - 1
    assert crash_cut.landed(log[:head]).data != after
    if writes_state:
        assert head < len(log) - 1, "the head lies between the entry's body and its writes"
        assert crash_cut.landed(log[: head + 1]).data != after
        assert before != flow_state(after)
        assert flow_state(crash_cut.landed(log[: head + 1]).data) == before
    else:
        assert before == flow_state(after)
    for cut in range(start, len(log) + 1):
        replay = World(pc, crash_cut.landed(log[:cut]))
        assert list(await replay.request(last)) == outputs, f"cut after {cut - start} writes"
        assert replay.store.data == after, f"cut after {cut - start} writes"
    return outputs


async def test_a_sweep_tick_cut_short_releases_notifies_and_reports_drift_once_on_replay() -> None:
    world, pc = await history()
    portal_changes(pc)
    out = await assert_every_cut_replays(world, pc, tick())
    kinds = [type(e.event) for e in out]
    assert kinds.count(TicketUpdated) == 2  # both held tickets released, their waits deleted
    assert kinds.count(GdapRelationshipUpdated) == 2
    assert kinds.count(GdapExpiryNotice) == 2
    drifts = {
        e.event.subscription_id: e.event.kind
        for e in out
        if isinstance(e.event, SubscriptionDriftDetected)
    }
    assert drifts == {
        "s1": "changed",
        "s2": "suspended_by_microsoft",
        "s9": "unknown_to_hub",
    }
    assert not [k for k in world.store.data if k.startswith("|gdapwait|")]


async def test_an_onboarding_cut_short_creates_one_customer_and_publishes_it_once() -> None:
    world, pc = await history()
    request = _request(request_id="req-2", customer_id="northwind", domain="northwind")
    out = await assert_every_cut_replays(world, pc, request)
    onboarded = [e.event for e in out if isinstance(e.event, CustomerOnboarded)]
    assert [(e.customer_id, e.agreement) for e in onboarded] == [("northwind", "accepted")] * 2
    assert len(pc.customers) == 2  # every replay's call made under the same idempotency key


async def test_a_gdap_request_cut_short_creates_one_relationship_on_replay() -> None:
    world, pc = await history()
    out = await assert_every_cut_replays(world, pc, gdap_request("fabrikam-readers"))
    assert [e.topic for e in out] == [
        CATALOG.name(Topic.CUSTOMER_GDAP),
        CATALOG.name(Topic.RELATIONSHIP_EVENTS),
    ]
    assert len(pc.gdap) == 2


async def test_a_drift_adoption_cut_short_takes_partner_centers_values_once() -> None:
    world, pc = await history()
    portal_changes(pc)
    await world.request(tick())
    adopt = SubscriptionDriftResolution(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="ops",
        reseller_id=RID,
        customer_id=CUSTOMER,
        subscription_id="s1",
        resolution="adopt",
    )
    (done,) = await assert_every_cut_replays(world, pc, adopt)
    assert isinstance(done.event, SubscriptionDriftResolved)
    assert done.event.outcome == "adopted"
    assert world.store.data[f"|subs|{RID}|{CUSTOMER}|s1"]["quantity"] == 14


async def test_a_transfer_request_cut_short_is_handed_to_billing_once_on_replay() -> None:
    world, pc = await history()
    transfer = SubscriptionTransferRequested(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="transfer",
        reseller_id=RID,
        to_reseller_id="B",
        subscription_id="s1",
        effective_date=date(2026, 4, 1),
    )
    # Billing books the transfer; the relationships flow only hands it on, keeping its outputs.
    (handed,) = await assert_every_cut_replays(world, pc, transfer, writes_state=False)
    assert (handed.topic, handed.key, handed.event) == (
        CATALOG.name(Topic.BILLING_INPUTS),
        RID,
        transfer,
    )
