"""Customer onboarding: request -> domain and agreement checks -> customer created at Partner
Center for the reseller -> MCA acceptance recorded -> customer usable for orders.

State (the flow's journal, keyed by reseller like its input): ``onboarding|<reseller>|<customer>``
holds the request that claimed a customer id, the Microsoft id once created, and the agreement
standing. A handler calls Partner Center, so its pipeline handles one message per journal entry:
a crash replays one call, which the idempotency key makes harmless.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from hub.connectors.partner_center.models import Address as PcAddress
from hub.connectors.partner_center.models import BillingProfile, CompanyProfile
from hub.connectors.partner_center.models import Customer as PcCustomer
from hub.connectors.partner_center.relationships import Agreement, AgreementContact
from hub.domain.ids import idempotency_key_for_customer
from hub.domain.money import CURRENCY_EXPONENTS
from hub.domain.orders import ReferenceView
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.relationships.customers import (
    Acceptance,
    Contact,
    Refusal,
    check_acceptance,
    check_domain,
    normalise_domain,
)
from hub.errors import SchemaError
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, caused_by
from hub.schemas.events.reference import CustomerUpserted
from hub.schemas.events.relationships import (
    AgreementState,
    CustomerAgreementRecorded,
    CustomerAttestationRequested,
    CustomerOnboarded,
    CustomerOnboardingRefused,
    CustomerOnboardingRequested,
)
from hub.streams.relationships import metrics
from hub.streams.relationships.partner_center import CustomerDirectory
from hub.topics import PartnerTopic, Topic, TopicCatalog

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def state_key(reseller_id: str, customer_id: str) -> str:
    return f"onboarding|{reseller_id}|{customer_id}"


class OnboardingRecord(BaseModel):
    request_id: str
    microsoft_customer_id: str | None = None
    domain: str
    agreement: AgreementState = "pending"


def _contact(contact: Contact) -> AgreementContact:
    return AgreementContact(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone_number=contact.phone_number,
    )


def microsoft_customer(
    request: CustomerOnboardingRequested, reseller: ResellerProfile
) -> PcCustomer:
    domain = normalise_domain(request.domain)
    address = request.address
    return PcCustomer(
        company_profile=CompanyProfile(domain=domain, company_name=request.company_name),
        billing_profile=BillingProfile(
            company_name=request.company_name,
            email=request.contact.email,
            culture=request.language if "-" in request.language else "en-US",
            language=request.language.split("-")[0],
            default_address=PcAddress(
                country=address.country,
                city=address.city,
                state=address.state,
                address_line1=address.address_line1,
                postal_code=address.postal_code,
                first_name=request.contact.first_name,
                last_name=request.contact.last_name,
                phone_number=request.contact.phone_number,
            ),
        ),
        associated_partner_id=reseller.partner_id,
    )


class Onboarding:
    """Handler of ``hub.relationships.requests``; ``state`` is a dict in unit tests."""

    def __init__(
        self,
        catalog: TopicCatalog,
        reference: Callable[[], ReferenceView],
        state: MutableMapping[str, Any],
        directory: CustomerDirectory,
        clock: Clock = utc_now,
    ) -> None:
        self.catalog = catalog
        self.reference = reference
        self.state = state
        self.directory = directory
        self.clock = clock

    async def handle(self, event: Event) -> Sequence[Emit]:
        if isinstance(event, CustomerOnboardingRequested):
            return await self._onboard(event)
        if isinstance(event, CustomerAttestationRequested):
            return await self._attest(event)
        raise SchemaError(f"{type(event).__name__} does not belong on the relationship requests")

    # -- onboarding --------------------------------------------------------------------------

    async def _onboard(self, request: CustomerOnboardingRequested) -> Sequence[Emit]:
        ref = self.reference()
        reseller = ref.resellers.get(request.reseller_id)
        key = state_key(request.reseller_id, request.customer_id)
        raw = self.state.get(key)
        record = None if raw is None else OnboardingRecord.model_validate(raw)
        refusal = self._refusal(request, reseller, ref, record)
        if refusal is not None or reseller is None:
            metrics.ONBOARDINGS.labels(outcome="refused").inc()
            return self._refused(request, refusal, known=reseller is not None)
        domain = normalise_domain(request.domain)
        acceptance = _acceptance(request)
        ms_id = await self.directory.create_customer(
            microsoft_customer(request, reseller),
            idempotency_key=idempotency_key_for_customer(request.customer_id),
            correlation_id=request.correlation_id,
        )
        standing: AgreementState = "pending"
        if acceptance is not None:
            await self._record(ms_id, acceptance, request.correlation_id)
            standing = "accepted"
        self.state[key] = OnboardingRecord(
            request_id=request.request_id,
            microsoft_customer_id=ms_id,
            domain=domain,
            agreement=standing,
        ).model_dump(mode="json")
        metrics.ONBOARDINGS.labels(outcome=f"onboarded_{standing}").inc()
        now = self.clock()
        customer = Customer(
            customer_id=request.customer_id,
            reseller_id=request.reseller_id,
            name=request.company_name,
            country=request.address.country,
            language=request.language,
            currency=request.currency,
            tenant_domain=domain,
        )
        onboarded = CustomerOnboarded(
            **caused_by(request, "CustomerOnboarded"),
            event_time=now,
            request_id=request.request_id,
            customer_id=request.customer_id,
            microsoft_customer_id=ms_id,
            domain=domain,
            agreement=standing,
        )
        # The standing first, then the customer: an order can only name a customer the
        # reseller learnt of from CustomerOnboarded, which comes last.
        return [
            self._standing(request, request.customer_id, acceptance, now),
            Emit(
                self.catalog.name(Topic.CUSTOMERS),
                request.customer_id,
                CustomerUpserted(
                    **caused_by(request, "CustomerUpserted"), event_time=now, customer=customer
                ),
            ),
            *self._tell(onboarded, request.customer_id),
        ]

    def _refusal(
        self,
        request: CustomerOnboardingRequested,
        reseller: ResellerProfile | None,
        ref: ReferenceView,
        record: OnboardingRecord | None,
    ) -> Refusal | None:
        if reseller is None:
            return Refusal(
                code="UnknownReseller",
                field="reseller_id",
                value=request.reseller_id,
                message=f"reseller {request.reseller_id!r} is not onboarded with the distributor",
            )
        claimed = record is not None and record.request_id != request.request_id
        if claimed or request.customer_id in ref.customers:
            return Refusal(
                code="CustomerExists",
                field="customer_id",
                value=request.customer_id,
                message=f"customer {request.customer_id!r} already exists; choose another id",
            )
        if request.currency not in CURRENCY_EXPONENTS:
            return Refusal(
                code="UnknownCurrency",
                field="currency",
                value=request.currency,
                message=f"currency {request.currency!r} is not one the distributor bills in",
            )
        problems = check_domain(request.domain)
        acceptance = _acceptance(request)
        if acceptance is not None:
            problems += check_acceptance(acceptance, self.clock())
        elif request.agreement_template_id or request.agreement_date or request.accepted_by:
            problems.append(
                Refusal(
                    code="IncompleteAttestation",
                    field="agreement",
                    value="",
                    message="an attestation needs the agreement version, the date agreed and "
                    "who accepted it; send all three or none",
                )
            )
        return problems[0] if problems else None

    def _refused(
        self, request: CustomerOnboardingRequested, refusal: Refusal | None, known: bool
    ) -> list[Emit]:
        assert refusal is not None
        refused = CustomerOnboardingRefused(
            **caused_by(request, "CustomerOnboardingRefused"),
            event_time=self.clock(),
            request_id=request.request_id,
            customer_id=request.customer_id,
            code=refusal.code,
            message=refusal.message,
        )
        if not known:
            return [
                Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), request.reseller_id, refused)
            ]
        return self._tell(refused, request.customer_id)

    def _tell(self, event: Event, customer_id: str) -> list[Emit]:
        reseller_id = event.reseller_id or ""
        return [
            Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), reseller_id, event),
            Emit(self.catalog.partner(reseller_id, PartnerTopic.STATUS), customer_id, event),
        ]

    def _standing(
        self, cause: Event, customer_id: str, acceptance: Acceptance | None, now: datetime
    ) -> Emit:
        recorded = CustomerAgreementRecorded(
            **caused_by(cause, "CustomerAgreementRecorded", customer_id),
            event_time=now,
            customer_id=customer_id,
            status="pending" if acceptance is None else "accepted",
            template_id=None if acceptance is None else acceptance.template_id,
            date_agreed=None if acceptance is None else acceptance.date_agreed,
            accepted_by_email=None if acceptance is None else acceptance.primary_contact.email,
        )
        return Emit(self.catalog.name(Topic.CUSTOMER_AGREEMENTS), customer_id, recorded)

    async def _record(self, ms_id: str, acceptance: Acceptance, correlation_id: str) -> None:
        await self.directory.record_agreement(
            ms_id,
            Agreement(
                template_id=acceptance.template_id,
                date_agreed=acceptance.date_agreed,
                primary_contact=_contact(acceptance.primary_contact),
            ),
            correlation_id=correlation_id,
        )

    # -- a later attestation -------------------------------------------------------------------

    async def _attest(self, request: CustomerAttestationRequested) -> Sequence[Emit]:
        key = state_key(request.reseller_id, request.customer_id)
        raw = self.state.get(key)
        record = None if raw is None else OnboardingRecord.model_validate(raw)
        acceptance = Acceptance(
            template_id=request.agreement_template_id,
            date_agreed=request.agreement_date,
            primary_contact=request.accepted_by,
        )
        problems = check_acceptance(acceptance, self.clock())
        if record is None or record.microsoft_customer_id is None or problems:
            message = (
                problems[0].message
                if problems
                else f"customer {request.customer_id!r} was not onboarded through the hub "
                f"for reseller {request.reseller_id!r}"
            )
            metrics.ONBOARDINGS.labels(outcome="refused").inc()
            refused = CustomerOnboardingRefused(
                **caused_by(request, "CustomerOnboardingRefused"),
                event_time=self.clock(),
                request_id=record.request_id if record else request.customer_id,
                customer_id=request.customer_id,
                code=problems[0].code if problems else "CustomerNotOnboarded",
                message=message,
            )
            return [
                Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), request.reseller_id, refused)
            ]
        await self._record(record.microsoft_customer_id, acceptance, request.correlation_id)
        self.state[key] = record.model_copy(update={"agreement": "accepted"}).model_dump(
            mode="json"
        )
        metrics.ONBOARDINGS.labels(outcome="attested").inc()
        now = self.clock()
        onboarded = CustomerOnboarded(
            **caused_by(request, "CustomerOnboarded"),
            event_time=now,
            request_id=record.request_id,
            customer_id=request.customer_id,
            microsoft_customer_id=record.microsoft_customer_id,
            domain=record.domain,
            agreement="accepted",
        )
        return [
            self._standing(request, request.customer_id, acceptance, now),
            *self._tell(onboarded, request.customer_id),
        ]


def _acceptance(request: CustomerOnboardingRequested) -> Acceptance | None:
    if request.agreement_template_id and request.agreement_date and request.accepted_by:
        return Acceptance(
            template_id=request.agreement_template_id,
            date_agreed=request.agreement_date,
            primary_contact=request.accepted_by,
        )
    return None
