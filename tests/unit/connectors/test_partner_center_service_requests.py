"""Service requests: create, Microsoft answers, the partner reads, adds a note and closes."""

from __future__ import annotations

from hub.connectors.partner_center import PartnerCenterClient
from hub.connectors.partner_center.models import ServiceRequest, ServiceRequestStatus
from hub.domain.enums import Severity
from hub.simulator.partner_center.admin import SimulatorAdmin


async def test_service_request_round_trip(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    created = await client.create_service_request(
        ServiceRequest(
            title="Exchange Online not reachable",
            description="Users in tenant contoso cannot reach OWA since 08:10 UTC.",
            severity=Severity.CRITICAL,
            support_topic_id="32444671",
            country_code="DE",
        ),
        correlation_id="c",
        idempotency_key="ticket-1",
    )
    assert created.id is not None
    assert created.status == ServiceRequestStatus.OPEN

    await admin.microsoft_updates_service_request(
        created.id, status="attention_needed", note="Please send the message trace."
    )
    seen = await client.get_service_request(created.id, correlation_id="c")
    assert seen.status == ServiceRequestStatus.ATTENTION_NEEDED
    assert [(n.created_by_name, n.text) for n in seen.notes] == [
        ("Microsoft Support", "Please send the message trace.")
    ]

    closed = await client.update_service_request(
        created.id,
        correlation_id="c",
        status=ServiceRequestStatus.CLOSED,
        note="Trace attached; resolved.",
    )
    assert closed.status == ServiceRequestStatus.CLOSED
    assert [n.text for n in closed.notes][-1] == "Trace attached; resolved."


async def test_repeated_create_with_same_key_is_one_service_request(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    request = ServiceRequest(
        title="t", description="d", severity=Severity.MINIMAL, support_topic_id="1"
    )
    first = await client.create_service_request(request, correlation_id="c", idempotency_key="k")
    second = await client.create_service_request(request, correlation_id="c", idempotency_key="k")

    assert first.id == second.id
    assert (await admin.state())["serviceRequests"] == 1
