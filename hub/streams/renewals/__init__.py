"""The renewals flow's agents: notices before renewals, scheduled next-term changes, renewals.

Topics and agents (concurrency 1):
- ``renewals.rekey``: ``hub.subscriptions.events`` (by subscription) -> ``hub.renewals.inputs``
  by reseller, so every input of a reseller meets its state in one partition.
- ``renewals``: ``hub.orders.provisioning``, ``reseller.subscription-changes`` (through its
  ingress gate, ``NextTermChangeRequested`` and ``RenewalApproved`` only) and
  ``hub.billing.collections`` (transfers between resellers only), all observed, and
  ``hub.renewals.inputs`` (lifecycle facts, scheduler ticks), all keyed by reseller and
  co-partitioned with the flow's one table ``renewals-state``, written through its journal.
Faust timers run outside any message, so the scheduler never writes: every ``tick_s`` it looks
at the first entry of each owned partition's time index and, when it is due, sends that
partition a ``RenewalsDue`` tick; the agent then sends notices, renews, and moves the index.
With the approval policy (``HUB_RENEWALS_APPROVAL_RESELLERS``) an unapproved renewal's deadline
is in the index too: at it the flow sends ``AutoRenewSwitchOff`` on ``hub.subscriptions.commands``
(keyed by reseller) for the orders lifecycle, which owns the subscription, to carry out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import faust

from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.partner_center import PartnerCenterClient
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.connectors.partner_center.renewals_midterm import PartnerCenterMidTerm
from hub.runtime.dead_letter import SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Outcome, Pipeline, event_headers
from hub.schemas.envelope import Event, new_event_id
from hub.schemas.events.relationships import SubscriptionTransferred
from hub.schemas.events.renewals import RenewalsDue
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams import ingress
from hub.streams.context import Context
from hub.streams.lifecycle import close_at_shutdown
from hub.streams.relationships.agreements import BookReader
from hub.streams.renewals.config import RenewalsConfig
from hub.streams.renewals.flow import Renewals
from hub.streams.renewals.promotions import PromotionBook
from hub.streams.renewals.state import RenewalsState, due_ms
from hub.streams.renewals.web import register_pages
from hub.topics import Topic


def rekey_to(inputs: str) -> Any:
    async def rekey(event: Event) -> Sequence[Emit]:
        if isinstance(event, SubscriptionChanged):
            return [Emit(inputs, event.reseller_id, event)]
        return []  # rejections change nothing

    return rekey


async def transfers_only(renewals: Renewals, event: Event) -> Sequence[Emit]:
    """Of billing's collections topic the flow takes transfers between resellers only."""
    if isinstance(event, SubscriptionTransferred):
        return await renewals.handle(event)
    return []


async def _route(
    source: SourceMessage,
    ctx: Context,
    owner: Pipeline,
    observer: Pipeline,
    gate: ingress.IngressGate,
    renewals: Renewals,
) -> Outcome:
    key = source.key.decode() if source.key is not None else ""
    handle = partial(renewals.handle, key=key)
    if source.topic == ctx.topics.name(Topic.SUBSCRIPTION_CHANGES):
        return await ingress.process(observer, source, gate, handle)
    if source.topic == ctx.topics.name(Topic.RENEWAL_INPUTS):
        return await owner.process(source, handle)
    if source.topic == ctx.topics.name(Topic.COLLECTIONS):
        return await observer.process(source, partial(transfers_only, renewals))
    return await observer.process(source, handle)


def register(app: faust.App, ctx: Context) -> None:
    """Registers the renewals agents, table and scheduler on ``app``."""
    config = RenewalsConfig()
    catalog = ctx.topics
    client = PartnerCenterClient(PartnerCenterConfig.from_settings(ctx.settings))
    close_at_shutdown(app, client.stop)  # the flow's own session, started on first use

    journal = ctx.journal("renewals")
    partitions = ctx.settings.kafka_partitions
    book = PromotionBook()
    register_pages(app, ctx, journal, config.policy(), book, config.policy_for)
    reader = BookReader(
        book.apply,
        book.loaded,
        ctx.codec,
        [catalog.name(Topic.RENEWAL_PROMOTIONS)],
        ctx.settings.kafka_bootstrap_servers,
        auth_from_settings(ctx.settings),
    )

    @app.task  # type: ignore[untyped-decorator]
    async def read_promotions() -> None:
        await reader.run()

    adapter = PartnerCenterMidTerm(client)  # next-term instructions and mid-term changes
    renewals = Renewals(
        catalog,
        RenewalsState.of(journal),
        ctx.reference.view,
        adapter,
        config.policy(),
        partition_of=lambda reseller_id: ingress.home_partition(reseller_id, partitions),
        page=config.page,
        promotions=book.all,
        promotions_ready=book.ready,
        approval_required=config.approval_required,
        midterm=adapter,
    )
    inputs = catalog.name(Topic.RENEWAL_INPUTS)
    rekey_pipeline = ctx.pipeline("renewals", observer=True)  # one flow label, as billing

    @app.agent(ctx.source(Topic.SUBSCRIPTION_EVENTS), name="renewals.rekey", concurrency=1)
    async def rekey(stream: Any) -> None:
        await rekey_pipeline.run(stream, rekey_to(inputs))

    # Not batched: scheduled changes are sent to Microsoft from the handler.
    owner = ctx.pipeline("renewals", journal=journal, batched=False)
    observer = ctx.pipeline("renewals", observer=True, journal=journal, batched=False)
    gate = ingress.gate_for(ctx, Topic.SUBSCRIPTION_CHANGES)
    sources = app.topic(
        *(
            catalog.name(t)
            for t in (Topic.PROVISIONING, Topic.SUBSCRIPTION_CHANGES, Topic.COLLECTIONS)
        ),
        inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(sources, name="renewals", concurrency=1)
    async def renew(stream: Any) -> None:
        async for source in owner.messages(stream):
            await _route(source, ctx, owner, observer, gate, renewals)

    @app.timer(interval=config.tick_s)  # type: ignore[untyped-decorator]
    async def ticks() -> None:
        now = datetime.now(UTC)
        now_ms = int(time.time() * 1000)
        for tp in app.assignor.assigned_actives():
            if tp.topic != inputs:
                continue
            first = journal.first(tp.partition, "due", f"{tp.partition}|")
            if first is None or due_ms(first[0]) > now_ms:
                continue
            tick = RenewalsDue(
                event_id=new_event_id(),
                event_time=now,
                correlation_id="renewals-tick",
                partition=tp.partition,
                now=now,
            )
            await ctx.raw_topic(inputs).send(
                key=None,
                value=ctx.codec.encode(tick),
                partition=tp.partition,
                headers=event_headers(tick),
            )
