"""A transfer between two resellers in billing and in the exposure: each side's period part is
prorated at the effective day in exact minor units, the old side's cycles stop, the new one's
start, and the commitment moves from one exposure to the other."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub.domain.credit import Exposure
from hub.domain.enums import ChargeType, ProductKind
from hub.domain.reference import CatalogItem
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.events import billing as b
from hub.schemas.events.relationships import (
    SubscriptionTransferred,
    SubscriptionTransferRefused,
    SubscriptionTransferRequested,
)
from hub.streams.orders.state import IntakeState
from hub.streams.relationships.transfers import transfer_exposure
from tests.unit.streams.test_billing_ledger import Journaled, env, provisioned

MID_NOVEMBER = date(2026, 11, 16)  # November has 30 days: the old reseller keeps 1..15


def _request(effective: date = MID_NOVEMBER, to: str = "fabrikam") -> SubscriptionTransferRequested:
    return SubscriptionTransferRequested(
        **env(f"transfer-{effective}-{to}", "contoso", datetime(2026, 11, 16, 8, tzinfo=UTC)),
        to_reseller_id=to,
        subscription_id="sub-1",
        effective_date=effective,
    )


def _lines(emits: Any) -> list[tuple[str, ChargeType, int]]:
    return [
        (e.event.reseller_id, e.event.charge_type, e.event.price_minor)
        for e in emits
        if isinstance(e.event, b.ChargeRated)
    ]


async def test_mid_month_transfer_splits_the_period_exactly_and_moves_the_subscription():
    hub = Journaled()
    await hub.handle(provisioned("sub-1", "contoso", "cust-de"))
    emits = await hub.handle(_request())
    # 10 seats at 7.00 for November: contoso gives back 16..30 (15 of 30 days).
    assert _lines(emits) == [("contoso", ChargeType.REMOVE_QUANTITY, -3500)]
    moved = [e for e in emits if isinstance(e.event, SubscriptionTransferred)]
    to_side = next(e for e in moved if e.event.side == "to" and e.topic == "t.hub.billing.inputs")
    assert to_side.key == "fabrikam"
    event = to_side.event
    # fabrikam's price is cost (6.50) without markup: 6500 for the month, 3250 for 16..30.
    assert (event.from_period_minor, event.to_period_minor) == (3500, 3250)
    assert {e.topic for e in moved} >= {
        "t.partner.contoso.status",
        "t.partner.fabrikam.status",
        "t.hub.billing.collections",
    }
    # The old reseller's copy also goes to the orders lifecycle, beside its record.
    commands = [e for e in moved if e.topic == "t.hub.subscriptions.commands"]
    assert [(e.key, e.event.side) for e in commands] == [("contoso", "from")]
    booked = await hub.handle(event)
    assert _lines(booked) == [("fabrikam", ChargeType.ADD_QUANTITY, 3250)]
    assert hub.ledger._sub("sub-1").reseller_id == "fabrikam"


async def test_a_transfer_to_an_unknown_reseller_or_outside_the_term_is_refused():
    hub = Journaled()
    await hub.handle(provisioned("sub-1", "contoso", "cust-de"))
    for request in (_request(to="nobody"), _request(effective=date(2028, 1, 1))):
        emits = await hub.handle(request)
        refused = [e.event for e in emits if isinstance(e.event, SubscriptionTransferRefused)]
        assert refused, request
        assert not _lines(emits)


async def test_the_commitment_moves_from_the_old_exposure_to_the_new_once():
    journal = Journal(MemoryStore(), "orders")
    state = IntakeState.of(journal)
    hub = Journaled()
    await hub.handle(provisioned("sub-1", "contoso", "cust-de"))
    moved = [
        e.event
        for e in await hub.handle(_request())
        if isinstance(e.event, SubscriptionTransferred) and e.topic == "t.hub.billing.collections"
    ]
    committed = Exposure(reseller_id="contoso", currency="EUR", committed_minor=84_000)

    async def seed() -> list[Any]:
        state.put_exposure(committed)
        return []

    await journal.run(0, "seed", seed)
    for event in [*moved, *moved]:  # a redelivery moves nothing twice

        async def apply(event: SubscriptionTransferred = event) -> list[Any]:
            return transfer_exposure(state, event)

        await journal.run(0, f"{event.event_id}-{id(event)}", apply)
    old, new = state.exposure_of("contoso", "EUR"), state.exposure_of("fabrikam", "EUR")
    from_side = next(e for e in moved if e.side == "from")
    to_side = next(e for e in moved if e.side == "to")
    assert old.committed_minor == 84_000 - from_side.released_commitment_minor
    assert new.committed_minor == to_side.taken_commitment_minor
    # 12 months at 70.00, from 16 Nov 2026 to 31 Oct 2027: 350 of 365 days.
    assert from_side.released_commitment_minor == 80_548


async def test_the_new_side_keeps_the_products_kind_from_the_catalogue():
    hub = Journaled()
    await hub.handle(provisioned("sub-1", "contoso", "cust-de"))
    emits = await hub.handle(_request())
    to_side = next(
        e.event
        for e in emits
        if isinstance(e.event, SubscriptionTransferred)
        and e.event.side == "to"
        and e.topic == "t.hub.billing.inputs"
    )
    # A service product (taxed as one) stays a service for the new reseller.
    support = CatalogItem(
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0K5DL",
        name="Premier support",
        service="support",
        kind=ProductKind.SERVICE,
        markets=("DE",),
    )
    hub.ledger.ref.catalogue["CFQ7TTC0LH18:0001:CFQ7TTC0K5DL"] = support
    await hub.handle(to_side)
    assert hub.ledger._sub("sub-1").kind is ProductKind.SERVICE
