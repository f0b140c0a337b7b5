"""Sample instances of the relationships flow's events (see tests/support/samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hub.domain.enums import BillingCycle, Term
from hub.domain.relationships.customers import Address, Contact
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.events import relationships as rel

T0 = datetime(2025, 3, 14, 9, 26, 53, 589793, tzinfo=UTC)
CAUSE = UUID("0b7e4f5c-1d2a-4e3b-9c8d-7a6b5c4d3e2f")
SUPPORT_ROLE = "f023fd81-a637-4b56-95fd-791ac0226033"
CONTACT = Contact(first_name="Ada", last_name="Lee", email="ada@fabrikam.example")


def _envelope(kind: str) -> dict[str, object]:
    return {
        "event_id": derived_event_id(CAUSE, kind),
        "event_time": T0,
        "correlation_id": "onboard-1",
        "causation_id": CAUSE,
        "reseller_id": "contoso",
    }


BUILDERS: dict[str, Callable[[], Event]] = {
    "CustomerOnboardingRequested": lambda: rel.CustomerOnboardingRequested(
        **_envelope("cor"),
        request_id="onboard-1",
        customer_id="fabrikam",
        company_name="Fabrikam GmbH",
        domain="fabrikam",
        address=Address(
            address_line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"
        ),
        contact=CONTACT,
        language="de",
        currency="EUR",
        agreement_template_id="mca-2024-01",
        agreement_date=T0,
        accepted_by=CONTACT,
    ),
    "CustomerAttestationRequested": lambda: rel.CustomerAttestationRequested(
        **_envelope("car"),
        customer_id="fabrikam",
        agreement_template_id="mca-2024-01",
        agreement_date=T0,
        accepted_by=CONTACT,
    ),
    "CustomerOnboarded": lambda: rel.CustomerOnboarded(
        **_envelope("co"),
        request_id="onboard-1",
        customer_id="fabrikam",
        microsoft_customer_id="6b1c4a2e-0000-4000-8000-000000000001",
        domain="fabrikam.onmicrosoft.com",
        agreement="accepted",
    ),
    "CustomerOnboardingRefused": lambda: rel.CustomerOnboardingRefused(
        **_envelope("cof"),
        request_id="onboard-1",
        customer_id="fabrikam",
        code="InvalidDomain",
        message="domain prefix 'fab-rikam' must be 1-27 letters or digits",
    ),
    "CustomerAgreementRecorded": lambda: rel.CustomerAgreementRecorded(
        **_envelope("cagr"),
        customer_id="fabrikam",
        status="accepted",
        template_id="mca-2024-01",
        date_agreed=T0,
        accepted_by_email="ada@fabrikam.example",
    ),
    "GdapRelationshipRequested": lambda: rel.GdapRelationshipRequested(
        **_envelope("gdapreq"),
        customer_id="fabrikam",
        display_name="fabrikam-support",
        roles=(SUPPORT_ROLE,),
        duration="P730D",
        auto_extend="P180D",
    ),
    "GdapRelationshipUpdated": lambda: rel.GdapRelationshipUpdated(
        **_envelope("gdapupd"),
        customer_id="fabrikam",
        relationship_id="5e1f0c2a-0000-4000-8000-000000000002",
        display_name="fabrikam-support",
        roles=(SUPPORT_ROLE,),
        status="active",
        duration_days=730,
        auto_extend_days=180,
        activated_at=T0,
        end_at=T0 + timedelta(days=730),
    ),
    "GdapExpiryNotice": lambda: rel.GdapExpiryNotice(
        **_envelope("gdapexp"),
        customer_id="fabrikam",
        relationship_id="5e1f0c2a-0000-4000-8000-000000000002",
        threshold_days=30,
        end_at=T0 + timedelta(days=29),
        message="GDAP relationship ends within 30 days: renew it",
    ),
    "GdapApprovalNeeded": lambda: rel.GdapApprovalNeeded(
        **_envelope("gdaptask"),
        customer_id="fabrikam",
        ticket_id="T-1",
        correlation_key="exchange|westeurope",
        relationship_id=None,
        missing_role=SUPPORT_ROLE,
        message="customer fabrikam has no active GDAP relationship",
    ),
    "RelationshipSweepTick": lambda: rel.RelationshipSweepTick(
        **{**_envelope("tick"), "reseller_id": None}, partition=3
    ),
    "SubscriptionTransferRequested": lambda: rel.SubscriptionTransferRequested(
        **_envelope("str"),
        to_reseller_id="fabrikam-it",
        subscription_id="sub-9",
        effective_date=date(2025, 3, 16),
    ),
    "SubscriptionTransferred": lambda: rel.SubscriptionTransferred(
        **_envelope("st"),
        side="from",
        from_reseller_id="contoso",
        to_reseller_id="fabrikam-it",
        subscription_id="sub-9",
        customer_id="fabrikam",
        effective_date=date(2025, 3, 16),
        product_id="CFQ7TTC0LH18",
        sku_id="0001",
        availability_id="CFQ7TTC0LDPB",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency="EUR",
        quantity=10,
        term_start=date(2025, 3, 1),
        term_end=date(2026, 3, 1),
        auto_renew=True,
        unit_cost_minor=600,
        from_unit_price_minor=700,
        to_unit_price_minor=650,
        period_start=date(2025, 3, 1),
        period_end=date(2025, 3, 31),
        from_period_minor=3387,
        to_period_minor=3355,
        released_commitment_minor=80000,
        taken_commitment_minor=74000,
    ),
    "SubscriptionTransferRefused": lambda: rel.SubscriptionTransferRefused(
        **_envelope("strf"),
        to_reseller_id="fabrikam-it",
        subscription_id="sub-9",
        message="only an active subscription can be transferred; this one is suspended",
    ),
    "SubscriptionDriftDetected": lambda: rel.SubscriptionDriftDetected(
        **_envelope("sdd"),
        customer_id="fabrikam",
        subscription_id="sub-9",
        kind="changed",
        fields=(rel.DriftField(name="quantity", hub="10", microsoft="14"),),
        fingerprint="3f2a9c0d1e4b5a6c",
    ),
    "SubscriptionDriftResolution": lambda: rel.SubscriptionDriftResolution(
        **_envelope("sdr"),
        customer_id="fabrikam",
        subscription_id="sub-9",
        resolution="adopt",
        note="the customer asked for more seats in the portal",
    ),
    "SubscriptionDriftResolved": lambda: rel.SubscriptionDriftResolved(
        **_envelope("sdrd"),
        customer_id="fabrikam",
        subscription_id="sub-9",
        outcome="adopted",
        message="the hub took Partner Center's values: quantity",
    ),
}
