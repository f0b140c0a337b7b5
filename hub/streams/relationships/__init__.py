"""The relationships flow: customer onboarding with MCA attestation before any order.

Topics and agents:
- ``relationships.onboarding`` (concurrency 1): ``hub.relationships.requests`` (by reseller,
  beside its state table ``relationships-state``) -> Partner Center (create the customer,
  record its agreement) -> ``ref.customer-agreements`` (the standing, by customer),
  ``ref.customers`` (the customer, usable for orders), ``hub.relationships.events`` and the
  reseller's ``partner.<id>.status``.
- Every worker reads ``ref.customer-agreements`` whole (``agreements.AGREEMENTS``): the order
  intake refuses orders of a customer whose agreement is pending.
"""

from __future__ import annotations

from typing import Any

import faust
import mode

from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.partner_center.config import PartnerCenterConfig
from hub.streams.context import Context
from hub.streams.relationships.agreements import AGREEMENTS, AgreementReader
from hub.streams.relationships.onboarding import Onboarding
from hub.streams.relationships.partner_center import PartnerCenterCustomers
from hub.topics import Topic


def register(app: faust.App, ctx: Context) -> None:
    """Registers the relationships agents, their table and the agreements reader on ``app``."""
    directory = PartnerCenterCustomers(PartnerCenterConfig.from_settings(ctx.settings))
    journal = ctx.journal("relationships")
    onboarding = Onboarding(ctx.topics, ctx.reference.view, journal.view("customers"), directory)
    reader = AgreementReader(
        AGREEMENTS,
        ctx.codec,
        ctx.topics.name(Topic.CUSTOMER_AGREEMENTS),
        ctx.settings.kafka_bootstrap_servers,
        auth_from_settings(ctx.settings),
    )

    @app.service
    class RelationshipsPartnerCenter(mode.Service):
        async def on_stop(self) -> None:
            await directory.stop()

    @app.task  # type: ignore[untyped-decorator]
    async def read_agreements() -> None:
        await reader.run()

    @app.agent(
        ctx.source(Topic.RELATIONSHIP_REQUESTS), name="relationships.onboarding", concurrency=1
    )
    async def onboard(stream: Any) -> None:
        pipeline = ctx.pipeline("relationships", journal=journal, batched=False)
        await pipeline.run(stream, onboarding.handle)
