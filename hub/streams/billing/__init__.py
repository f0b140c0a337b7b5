"""The billing flow's agents: rating, month-end close, collections, reconciliation.

Every agent runs the shared ``BillingLedger`` through the pipeline (decode, handle, send, or
dead-letter). Inputs not keyed by reseller (lifecycle facts by subscription, service credits)
are first re-keyed onto ``hub.billing.inputs`` so all billing state of a reseller lives on its
partition. Money agents run with concurrency 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust

from hub.domain.invoicing import Distributor
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.schemas.events.renewals import MidTermChangeApplied, SubscriptionRenewed
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.billing import payments
from hub.streams.billing.ledger import BillingLedger, BillingTables
from hub.streams.context import Context
from hub.topics import Topic

# Sources whose events billing needs, keyed otherwise than by reseller.
_REKEYED = (Topic.SUBSCRIPTION_EVENTS, Topic.CREDITS_ALLOCATED, Topic.RENEWAL_EVENTS)
# Sources keyed by reseller, handled in place. Reseller payments are advices until finance
# confirms them (hub/streams/billing/payments.py); confirmed ones arrive on the inputs topic.
_BY_RESELLER = (Topic.PROVISIONING, Topic.BILLING_INPUTS)


def register(app: faust.App, ctx: Context) -> None:
    """Re-keying agents, then the one agent that owns billing's state: it reads every
    reseller-keyed source, co-partitioned with the flow's one table, through its journal."""
    journal = ctx.journal("billing")
    ledger = BillingLedger(
        BillingTables.of(journal),
        ctx.topics,
        ctx.reference.view(),
        Distributor(
            party_id=ctx.settings.distributor_partner_id,
            name=ctx.settings.distributor_name,
            country=ctx.settings.distributor_country,
        ),
        policy=ctx.settings.reconciliation_policy,
    )
    inputs = ctx.topics.name(Topic.BILLING_INPUTS)

    async def rekey(event: Event) -> Sequence[Emit]:
        renewals = SubscriptionRenewed | MidTermChangeApplied
        if isinstance(event, SubscriptionChanged | ServiceCreditAllocated | renewals):
            return [Emit(inputs, event.reseller_id, event)]
        return []  # rejections and the like bill nothing

    for topic in _REKEYED:
        pipeline = ctx.pipeline("billing")

        @app.agent(ctx.source(topic), name=f"billing.rekey.{topic.value}", concurrency=1)
        async def forward(stream: Any, pipeline: Any = pipeline) -> None:
            await pipeline.run(stream, rekey)

    # A message billing cannot handle yet (a change before its subscription's provisioning)
    # is parked in billing's state and retried on ticks sent to its inputs topic.
    parking = ctx.parking(Topic.BILLING_INPUTS, journal)
    sources = app.topic(
        *(ctx.topics.name(topic) for topic in _BY_RESELLER),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    @app.agent(sources, name="billing.ledger", concurrency=1)
    async def bill(stream: Any) -> None:
        pipeline = ctx.pipeline("billing", journal=journal, parking=parking)
        await pipeline.run(stream, ledger.handle)

    payments.register(app, ctx)
