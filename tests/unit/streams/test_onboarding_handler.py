"""The onboarding handler with a fake Partner Center, and the intake's attestation check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.connectors.partner_center.models import Customer as PcCustomer
from hub.connectors.partner_center.relationships import Agreement
from hub.domain.enums import BillingMode, SupportMode
from hub.domain.orders import ReferenceView, RejectionCode
from hub.domain.reference import ResellerProfile
from hub.domain.relationships.customers import Address, AgreementStatus, Contact
from hub.errors import RetriableError
from hub.schemas.envelope import new_event_id
from hub.schemas.events.reference import CustomerUpserted
from hub.schemas.events.relationships import (
    CustomerAgreementRecorded,
    CustomerAttestationRequested,
    CustomerOnboarded,
    CustomerOnboardingRefused,
    CustomerOnboardingRequested,
)
from hub.streams.relationships.agreements import AgreementBook, agreement_rejections
from hub.streams.relationships.onboarding import Onboarding
from hub.topics import TopicCatalog

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
CONTACT = Contact(first_name="Ada", last_name="Lee", email="ada@fabrikam.example")
CATALOG = TopicCatalog()


class FakeDirectory:
    def __init__(self) -> None:
        self.customers: dict[str, PcCustomer] = {}
        self.agreements: list[tuple[str, Agreement]] = []

    async def create_customer(
        self, customer: PcCustomer, *, idempotency_key: str, correlation_id: str
    ) -> str:
        self.customers.setdefault(idempotency_key, customer)
        return f"ms-{len(self.customers)}"

    async def record_agreement(
        self, microsoft_customer_id: str, agreement: Agreement, *, correlation_id: str
    ) -> None:
        self.agreements.append((microsoft_customer_id, agreement))


def _reference() -> ReferenceView:
    reseller = ResellerProfile(
        reseller_id="A",
        partner_id="4812345",
        name="Reseller A",
        country="DE",
        currency="EUR",
        languages=("de",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**9,
        payment_terms_days=30,
    )
    return ReferenceView(resellers={"A": reseller}, customers={}, catalogue={}, prices={})


def _request(attest: bool = True, **over: object) -> CustomerOnboardingRequested:
    fields: dict[str, object] = {
        "event_id": new_event_id(),
        "event_time": NOW,
        "correlation_id": "onb-1",
        "reseller_id": "A",
        "request_id": "req-1",
        "customer_id": "fabrikam",
        "company_name": "Fabrikam GmbH",
        "domain": "fabrikam",
        "address": Address(
            address_line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE"
        ),
        "contact": CONTACT,
        "language": "de",
        "currency": "EUR",
    }
    if attest:
        fields |= {
            "agreement_template_id": "mca-2024",
            "agreement_date": NOW - timedelta(hours=1),
            "accepted_by": CONTACT,
        }
    fields |= over
    return CustomerOnboardingRequested.model_validate(fields)


def _flow() -> tuple[Onboarding, FakeDirectory, dict[str, object]]:
    directory = FakeDirectory()
    state: dict[str, object] = {}
    return Onboarding(CATALOG, _reference, state, directory, clock=lambda: NOW), directory, state


async def test_an_attested_onboarding_creates_the_customer_records_the_mca_and_publishes_it():
    flow, directory, _ = _flow()
    emits = await flow.handle(_request())
    kinds = [(e.topic, type(e.event).__name__) for e in emits]
    assert kinds == [
        ("ref.customer-agreements", "CustomerAgreementRecorded"),
        ("ref.customers", "CustomerUpserted"),
        ("hub.relationships.events", "CustomerOnboarded"),
        ("partner.A.status", "CustomerOnboarded"),
    ]
    (created,) = directory.customers.values()
    assert created.company_profile.domain == "fabrikam.onmicrosoft.com"
    assert created.associated_partner_id == "4812345"
    ((ms_id, agreement),) = directory.agreements
    assert ms_id == "ms-1"
    assert agreement.template_id == "mca-2024"
    recorded = emits[0].event
    assert isinstance(recorded, CustomerAgreementRecorded)
    assert recorded.status == "accepted"
    upserted = emits[1].event
    assert isinstance(upserted, CustomerUpserted)
    assert upserted.customer.tenant_domain == "fabrikam.onmicrosoft.com"


async def test_without_attestation_the_customer_is_created_pending_then_attested_later():
    flow, directory, _ = _flow()
    emits = await flow.handle(_request(attest=False))
    onboarded = emits[-1].event
    assert isinstance(onboarded, CustomerOnboarded)
    assert onboarded.agreement == "pending"
    assert directory.agreements == []
    later = CustomerAttestationRequested(
        event_id=new_event_id(),
        event_time=NOW,
        correlation_id="att-1",
        reseller_id="A",
        customer_id="fabrikam",
        agreement_template_id="mca-2024",
        agreement_date=NOW - timedelta(minutes=5),
        accepted_by=CONTACT,
    )
    emits = await flow.handle(later)
    standing = emits[0].event
    assert isinstance(standing, CustomerAgreementRecorded)
    assert standing.status == "accepted"
    assert len(directory.agreements) == 1


@pytest.mark.parametrize(
    ("over", "code"),
    [
        ({"domain": "fab-rikam"}, "InvalidDomain"),
        ({"reseller_id": "Z"}, "UnknownReseller"),
        ({"agreement_date": NOW + timedelta(days=1)}, "AgreementDateInFuture"),
        ({"currency": "XXX"}, "UnknownCurrency"),
    ],
)
async def test_a_refused_request_creates_nothing_and_says_why(over, code):
    flow, directory, state = _flow()
    emits = await flow.handle(_request(**over))
    refused = emits[0].event
    assert isinstance(refused, CustomerOnboardingRefused)
    assert refused.code == code
    assert directory.customers == {}
    assert state == {}


async def test_a_second_request_for_a_claimed_customer_id_is_refused():
    flow, directory, _ = _flow()
    await flow.handle(_request())
    emits = await flow.handle(_request(request_id="req-2"))
    refused = emits[0].event
    assert isinstance(refused, CustomerOnboardingRefused)
    assert refused.code == "CustomerExists"
    assert len(directory.customers) == 1


def test_intake_refuses_a_pending_customer_and_passes_a_reference_one():
    book = AgreementBook()
    book.status["pending-co"] = AgreementStatus.PENDING
    book.status["accepted-co"] = AgreementStatus.ACCEPTED
    (rejection,) = agreement_rejections("pending-co", book)
    assert rejection.code is RejectionCode.AGREEMENT_NOT_ACCEPTED
    assert "MicrosoftCustomerAgreement" in rejection.message
    assert agreement_rejections("accepted-co", book) == []
    assert agreement_rejections("from-reference-data", book) == []


def test_intake_waits_while_a_started_reader_has_not_loaded_the_book():
    book = AgreementBook(reading=True)
    with pytest.raises(RetriableError):
        agreement_rejections("anyone", book)
    book.loaded.set()
    assert agreement_rejections("anyone", book) == []
