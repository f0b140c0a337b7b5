from datetime import UTC, datetime, timedelta

from hub.domain.relationships.customers import (
    Acceptance,
    AgreementStatus,
    Contact,
    attestation_refusal,
    check_acceptance,
    check_domain,
    normalise_domain,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
CONTACT = Contact(first_name="Ada", last_name="Lee", email="ada@contoso.example")


def test_a_reference_customer_counts_as_attested():
    assert attestation_refusal("c-1", None) is None


def test_an_accepted_customer_may_order():
    assert attestation_refusal("c-1", AgreementStatus.ACCEPTED) is None


def test_an_order_before_attestation_is_refused_with_what_to_do():
    reason = attestation_refusal("c-1", AgreementStatus.PENDING)
    assert reason is not None
    assert "c-1" in reason
    assert "MicrosoftCustomerAgreement" in reason
    assert "attest" in reason


def test_domain_prefix_is_normalised_to_the_initial_domain():
    assert normalise_domain(" Contoso ") == "contoso.onmicrosoft.com"
    assert normalise_domain("contoso.onmicrosoft.com") == "contoso.onmicrosoft.com"
    assert check_domain("contoso") == []


def test_a_domain_with_a_dot_or_dash_is_refused():
    for bad in ("con-toso", "contoso.com", "", "a" * 28):
        refusals = check_domain(bad)
        assert [r.code for r in refusals] == ["InvalidDomain"], bad


def test_a_taken_domain_is_refused():
    assert [r.code for r in check_domain("contoso", taken=True)] == ["DomainTaken"]


def test_acceptance_in_the_future_is_refused():
    future = Acceptance(
        template_id="v1", date_agreed=NOW + timedelta(hours=1), primary_contact=CONTACT
    )
    assert [r.code for r in check_acceptance(future, NOW)] == ["AgreementDateInFuture"]
    past = Acceptance(
        template_id="v1", date_agreed=NOW - timedelta(days=1), primary_contact=CONTACT
    )
    assert check_acceptance(past, NOW) == []


def test_another_agreement_type_is_refused():
    mca = Acceptance(
        agreement_type="MicrosoftCloudAgreement",
        template_id="v1",
        date_agreed=NOW,
        primary_contact=CONTACT,
    )
    assert [r.code for r in check_acceptance(mca, NOW)] == ["WrongAgreementType"]
