"""The relationships flow's wiring: customer onboarding with MCA attestation, and GDAP.

Topics and agents:
- ``relationships.onboarding`` (concurrency 1): ``hub.relationships.requests`` (by reseller,
  beside its state table ``relationships-state``) -> Partner Center (create the customer,
  record its agreement) -> ``ref.customer-agreements`` (the standing, by customer),
  ``ref.customers`` (the customer, usable for orders), ``hub.relationships.events`` and the
  reseller's ``partner.<id>.status``.
  The same agent creates GDAP relationships (``GdapRelationshipRequested``), keeps tickets
  escalation held for a missing support role (``GdapApprovalNeeded``) and runs the paged GDAP
  sweep (``RelationshipSweepTick``, sent by a timer to each owned partition): changes go to the
  compacted ``ref.customer-gdap``, expiry notices to the reseller's status topic, released
  tickets back to ``hub.support.correlation``.
- Every worker reads ``ref.customer-agreements`` and ``ref.customer-gdap`` whole
  (``agreements.AGREEMENTS``, ``gdap_book.GDAP``): the order intake refuses orders of a customer
  whose agreement is pending; escalation holds a ticket whose customer lacks a GDAP support role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.relationships import (
    CustomerAttestationRequested,
    CustomerOnboardingRequested,
    GdapApprovalNeeded,
    GdapRelationshipRequested,
    RelationshipSweepTick,
    SubscriptionDriftResolution,
    SubscriptionTransferRequested,
)
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.context import Context
from hub.streams.lifecycle import close_at_shutdown
from hub.streams.orders import _through, raw_topics, run_routes
from hub.streams.relationships import metrics
from hub.streams.relationships.agreements import AGREEMENTS, BookReader
from hub.streams.relationships.drift import DriftSweep
from hub.streams.relationships.gdap import GdapTracker
from hub.streams.relationships.gdap_book import GDAP
from hub.streams.relationships.onboarding import Onboarding
from hub.streams.relationships.partner_center import PartnerCenterCustomers
from hub.topics import Topic


class Requests:
    """Dispatches the events of ``hub.relationships.requests`` to their handler."""

    def __init__(
        self,
        onboarding: Onboarding,
        gdap: GdapTracker,
        drift: DriftSweep,
        billing_inputs: str,
        *,
        sweep_every_s: float = 60.0,
    ) -> None:
        self.onboarding = onboarding
        self.gdap = gdap
        self.drift = drift
        self.billing_inputs = billing_inputs
        self.requests_topic = ""
        # A tick older than two intervals (and 30 s) had newer ones sent after it: the sweep
        # has fallen behind (a Partner Center outage, a stopped worker), and sweeping for each
        # queued tick would only hold the flow's other requests longer.
        self.stale_after = timedelta(seconds=max(2 * sweep_every_s, 30.0))

    async def handle(self, event: Event) -> Sequence[Emit]:
        if isinstance(event, CustomerOnboardingRequested | CustomerAttestationRequested):
            return await self.onboarding.handle(event)
        if isinstance(event, GdapRelationshipRequested):
            return await self.gdap.on_request(event)
        if isinstance(event, GdapApprovalNeeded):
            return await self.gdap.on_task(event)
        if isinstance(event, RelationshipSweepTick):
            if self.gdap.clock() - event.event_time > self.stale_after:
                for sweep in ("gdap", "drift"):
                    metrics.SWEEPS.labels(sweep=sweep, outcome="stale").inc()
                return []
            return [*await self.gdap.on_tick(event), *await self.drift.on_tick(event)]
        if isinstance(event, SubscriptionChanged):
            return self.drift.on_changed(event)
        if isinstance(event, SubscriptionDriftResolution):
            return await self.drift.on_resolution(event)
        if isinstance(event, SubscriptionTransferRequested):
            # Billing, in the old reseller's partition, holds the subscription: it checks and
            # books the transfer (hub/streams/relationships/transfers.py).
            return [Emit(self.billing_inputs, event.reseller_id, event)]
        raise SchemaError(f"{type(event).__name__} does not belong on the relationship requests")

    async def observe(self, event: Event) -> Sequence[Emit]:
        """``hub.orders.provisioning`` (billing's): the subscriptions the drift sweep watches."""
        if isinstance(event, SubscriptionProvisioned):
            return self.drift.on_provisioned(event)
        return []

    async def reroute(self, event: Event) -> Sequence[Emit]:
        """``hub.subscriptions.events`` (keyed by subscription) -> the requests, by reseller."""
        if isinstance(event, SubscriptionChanged) and event.reseller_id:
            return [Emit(self.requests_topic, event.reseller_id, event)]
        return []


def register_books(app: faust.App, ctx: Context) -> None:
    """Every worker reads the customers' agreements and GDAP relationships whole, whatever
    flows it runs (``HUB_FLOWS``): the order intake checks attestation against them and
    escalation the GDAP support role, so they go with those flows, not with this one."""
    AGREEMENTS.reading = GDAP.reading = True
    loaded = asyncio.Event()
    AGREEMENTS.loaded = GDAP.loaded = loaded
    # An order arriving before the books are read would be refused as retriable and, retried
    # inline for a second or two, dead-lettered: the flows wait for them as for reference data.
    ctx.wait_for(loaded)

    def apply(event: Event) -> None:
        AGREEMENTS.apply(event)
        GDAP.apply(event)

    reader = BookReader(
        apply,
        loaded,
        ctx.codec,
        [ctx.topics.name(Topic.CUSTOMER_AGREEMENTS), ctx.topics.name(Topic.CUSTOMER_GDAP)],
        ctx.settings.kafka_bootstrap_servers,
        auth_from_settings(ctx.settings),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def read_agreements() -> None:
        await reader.run()


def register(app: faust.App, ctx: Context) -> None:
    """Registers the relationships agents and their table on ``app`` (the books every worker
    reads are ``register_books``', from the composition root)."""
    directory = PartnerCenterCustomers(PartnerCenterConfig.from_settings(ctx.settings))
    close_at_shutdown(app, directory.stop)
    journal = ctx.journal("relationships")
    # One view over the whole table: every key starts with its kind (onboarding|, gdap|, ...).
    state = journal.view("")
    onboarding = Onboarding(ctx.topics, ctx.reference.view, state, directory)
    gdap = GdapTracker(
        ctx.topics,
        ctx.reference.view,
        state,
        directory,
        page=ctx.settings.relationships_sweep_page,
    )
    drift = DriftSweep(
        ctx.topics,
        state,
        directory,
        gdap.microsoft_id,
        page=ctx.settings.relationships_sweep_page,
    )
    requests = Requests(
        onboarding,
        gdap,
        drift,
        ctx.topics.name(Topic.BILLING_INPUTS),
        sweep_every_s=ctx.settings.relationships_sweep_s,
    )
    requests_topic = ctx.topics.name(Topic.RELATIONSHIP_REQUESTS)
    requests.requests_topic = requests_topic

    # One agent writes the table: its own requests, and (observed, billing's topic) the
    # provisioned subscriptions the drift sweep watches, both keyed by reseller.
    owner = ctx.pipeline("relationships", journal=journal, batched=False)
    observer = ctx.pipeline("relationships", observer=True, journal=journal, batched=False)
    routes = {
        requests_topic: _through(owner, requests.handle),
        ctx.topics.name(Topic.PROVISIONING): _through(observer, requests.observe),
    }

    @app.agent(
        raw_topics(app, ctx, (Topic.RELATIONSHIP_REQUESTS, Topic.PROVISIONING)),
        name="relationships.onboarding",
        concurrency=1,
    )
    async def onboard(stream: Any) -> None:
        await run_routes(stream, routes, owner)

    @app.agent(ctx.source(Topic.SUBSCRIPTION_EVENTS), name="relationships.route", concurrency=1)
    async def reroute(stream: Any) -> None:
        # The orders flow owns the lifecycle topic; relationships only observes it.
        await ctx.pipeline("relationships.route", observer=True).run(stream, requests.reroute)

    @app.timer(interval=ctx.settings.relationships_sweep_s)  # type: ignore[untyped-decorator]
    async def sweep() -> None:
        # Timers never write state: each owned partition gets a tick its agent handles.
        for tp in app.assignor.assigned_actives():
            if tp.topic != requests_topic:
                continue
            tick = RelationshipSweepTick(
                event_id=new_event_id(),
                event_time=datetime.now(UTC),
                correlation_id=f"relationships-sweep-{tp.partition}",
                partition=tp.partition,
            )
            await ctx.raw_topic(requests_topic).send(
                key=None, value=ctx.codec.encode(tick), partition=tp.partition
            )
