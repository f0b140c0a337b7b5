"""The orders lifecycle carries out the renewals flow's ``AutoRenewSwitchOff``: auto-renew off at
Partner Center (the simulator) and in the orders flow's own record, ``SubscriptionChanged`` as for
a reseller's request, once however often the command arrives."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import pytest

from hub.connectors.partner_center import PartnerCenterClient, PartnerCenterError
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.renewals import AutoRenewSwitchOff, RenewalApproved
from hub.schemas.events.subscriptions import SubscriptionChanged, SubscriptionChangeRejected
from hub.simulator.partner_center.faults import Fault, FaultKind
from hub.simulator.partner_center.server import SimulatorHandle
from hub.streams.relationships.agreements import AGREEMENTS
from hub.topics import PartnerTopic, Topic
from tests.unit.streams.test_orders_handlers import (
    START,
    TOPICS,
    Flow,
    _provisioned,
    client,  # noqa: F401  (fixture)
    sim,  # noqa: F401  (fixture)
)


@pytest.fixture(autouse=True)
def no_agreement_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orders here are of reference-data customers: no agreements reader runs in this process
    (another test module may have left the shared book marked as reading)."""
    monkeypatch.setattr(AGREEMENTS, "reading", False)


async def command(flow: Flow, event: Event) -> Sequence[Emit]:
    """One message of ``orders.fulfilment`` from ``hub.subscriptions.commands``."""
    run = flow.lifecycle.on_command
    return await flow.fulfilment_journal.run(0, str(event.event_id), lambda: run(event))


def switch_off(sub: SubscriptionProvisioned, **kw: object) -> AutoRenewSwitchOff:
    values: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "event_time": START + timedelta(days=30),
        "correlation_id": f"renewal-{sub.subscription_id}",
        "reseller_id": sub.reseller_id,
        "customer_id": sub.customer_id,
        "subscription_id": sub.subscription_id,
        "renews_at": START + timedelta(days=32),
        "reason": "the renewal was not approved",
        **kw,
    }
    return AutoRenewSwitchOff.model_validate(values)


async def test_a_switch_off_turns_auto_renew_off_at_microsoft_and_in_the_record_once(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    assert sim.simulator.state.subscriptions.records[sub.subscription_id].auto_renew
    order = switch_off(sub)

    out = await command(flow, order)

    changed = out[0].event
    assert isinstance(changed, SubscriptionChanged)
    assert (changed.kind, changed.auto_renew) == ("set_auto_renew", False)
    assert {e.topic for e in out} == {
        TOPICS.name(Topic.SUBSCRIPTION_EVENTS),
        TOPICS.partner(sub.reseller_id or "", PartnerTopic.STATUS),
    }
    assert not sim.simulator.state.subscriptions.records[sub.subscription_id].auto_renew
    record = flow.fulfilment.subscription(sub.reseller_id or "", sub.subscription_id)
    assert record is not None
    assert not record.subscription.auto_renew
    # A redelivery answers the same without a second PATCH.
    patches = sim.simulator.state.requests["update_subscription"]
    again = await command(flow, order.model_copy(update={"event_id": uuid.uuid4()}))
    assert again[0].event == changed
    assert sim.simulator.state.requests["update_subscription"] == patches


async def test_a_switch_off_of_another_resellers_subscription_changes_nothing(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    out = await command(flow, switch_off(sub, reseller_id="fabrikam"))
    assert isinstance(out[0].event, SubscriptionChangeRejected)
    assert out[0].event.code == "SubscriptionNotFound"
    assert sim.simulator.state.subscriptions.records[sub.subscription_id].auto_renew


async def test_a_throttled_switch_off_is_retried_by_the_pipeline_and_then_lands(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    sim.simulator.faults.add(
        Fault(kind=FaultKind.SERVER_ERROR, count=1, operation="update_subscription")
    )
    order = switch_off(sub)
    with pytest.raises(PartnerCenterError) as raised:
        await command(flow, order)
    assert raised.value.retriable
    record = flow.fulfilment.subscription(sub.reseller_id or "", sub.subscription_id)
    assert record is not None
    assert record.subscription.auto_renew  # nothing half-written
    out = await command(flow, order)
    assert isinstance(out[0].event, SubscriptionChanged)
    assert not sim.simulator.state.subscriptions.records[sub.subscription_id].auto_renew


async def test_the_lifecycle_leaves_a_resellers_approval_to_the_renewals_flow(
    sim: SimulatorHandle,  # noqa: F811
    client: PartnerCenterClient,  # noqa: F811
) -> None:
    flow = Flow(client)
    sub = await _provisioned(flow)
    approval = RenewalApproved(
        event_id=uuid.uuid4(),
        event_time=START,
        correlation_id="apr",
        reseller_id=sub.reseller_id,
        approval_id="apr-1",
        customer_id=sub.customer_id,
        subscription_id=sub.subscription_id,
        requested_at=START,
    )
    assert await flow.change(approval) == []
