"""Agreements and GDAP relationships through the adapter against the simulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import START, new_customer

from hub.connectors.partner_center import PartnerCenterClient
from hub.connectors.partner_center.errors import PartnerCenterError
from hub.connectors.partner_center.relationships import (
    AccessDetails,
    Agreement,
    AgreementContact,
    CustomerParticipant,
    DelegatedAdminRelationship,
    UnifiedRole,
)
from hub.domain.relationships.gdap import DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR
from hub.simulator.partner_center.admin import SimulatorAdmin
from hub.simulator.partner_center.faults import Fault, FaultKind

CONTACT = AgreementContact(first_name="Ada", last_name="Lee", email="ada@contoso.example")


async def test_agreement_is_recorded_once_per_contact(client: PartnerCenterClient) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    agreement = Agreement(template_id="mca-2024", date_agreed=START, primary_contact=CONTACT)
    await client.create_agreement(customer.id, agreement, correlation_id="c")
    await client.create_agreement(customer.id, agreement, correlation_id="c")
    kept = await client.list_agreements(customer.id, correlation_id="c")
    assert [(a.template_id, a.primary_contact.email) for a in kept] == [
        ("mca-2024", "ada@contoso.example")
    ]


async def test_an_agreement_dated_in_the_future_is_refused(client: PartnerCenterClient) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    future = Agreement(
        template_id="mca-2024", date_agreed=START + timedelta(days=2), primary_contact=CONTACT
    )
    with pytest.raises(PartnerCenterError, match="future"):
        await client.create_agreement(customer.id, future, correlation_id="c")


async def test_agreement_survives_a_throttle(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    await admin.inject(Fault(kind=FaultKind.THROTTLE, operation="create_agreement", retry_after=0))
    agreement = Agreement(template_id="mca-2024", date_agreed=START, primary_contact=CONTACT)
    await client.create_agreement(customer.id, agreement, correlation_id="c")
    assert await admin.requests("create_agreement") == 2


async def test_gdap_relationship_is_pending_until_approved_then_active_with_an_end(
    client: PartnerCenterClient, admin: SimulatorAdmin
) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    request = DelegatedAdminRelationship(
        display_name="contoso-support",
        duration="P730D",
        customer=CustomerParticipant(tenant_id=customer.id),
        access_details=AccessDetails(
            unified_roles=[UnifiedRole(role_definition_id=DIRECTORY_READERS)]
        ),
    )
    created = await client.create_gdap_relationship(
        request, correlation_id="c", idempotency_key="k1"
    )
    again = await client.create_gdap_relationship(request, correlation_id="c", idempotency_key="k1")
    assert created.id == again.id
    assert created.status == "approvalPending"
    await admin._call(
        "POST",
        f"/admin/gdap/{created.id}",
        {"status": "active", "addRoles": [SERVICE_SUPPORT_ADMINISTRATOR]},
    )
    (seen,) = await client.list_gdap_relationships(customer.id, correlation_id="c")
    assert seen.status == "active"
    assert seen.role_ids() == (DIRECTORY_READERS, SERVICE_SUPPORT_ADMINISTRATOR)
    assert seen.end_date_time is not None
    assert seen.activated_date_time is not None
    assert seen.end_date_time - seen.activated_date_time == timedelta(days=730)
    assert seen.activated_date_time >= START


async def test_gdap_longer_than_730_days_is_refused(client: PartnerCenterClient) -> None:
    customer = await client.create_customer(new_customer(), correlation_id="c")
    assert customer.id is not None
    request = DelegatedAdminRelationship(
        display_name="too-long",
        duration="P731D",
        customer=CustomerParticipant(tenant_id=customer.id),
        access_details=AccessDetails(
            unified_roles=[UnifiedRole(role_definition_id=DIRECTORY_READERS)]
        ),
    )
    with pytest.raises(PartnerCenterError, match="P2Y"):
        await client.create_gdap_relationship(request, correlation_id="c", idempotency_key="k2")
