"""Customer onboarding: what a reseller's request must hold, and the Microsoft Customer
Agreement attestation that must be recorded before any order for the customer is taken.

Partner Center creates a customer for an indirect reseller with ``POST /v1/customers``
(``companyProfile.domain`` is the tenant's initial ``<prefix>.onmicrosoft.com`` domain,
``associatedPartnerId`` the reseller's PartnerID), and records the customer's acceptance with
``POST /v1/customers/{id}/agreements`` (``type: MicrosoftCustomerAgreement``, ``templateId``,
``dateAgreed``, ``primaryContact``).

Customers that reached the hub as reference data (``ref.customers``) before onboarding existed
count as attested: the distributor loaded them from its own records, where the agreement was
confirmed. Only a customer the onboarding flow knows and has not seen accept is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MCA = "MicrosoftCustomerAgreement"
ONMICROSOFT = ".onmicrosoft.com"
# Partner Center's initial domain prefix: letters and digits only, at most 27 characters.
_PREFIX = re.compile(r"^[a-z0-9]{1,27}$")
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class Address(BaseModel):
    """A customer's billing address, with Partner Center's field names."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address_line1: str = Field(min_length=1, max_length=256)
    city: str = Field(min_length=1, max_length=128)
    state: str | None = None
    postal_code: str = Field(min_length=1, max_length=32)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class Contact(BaseModel):
    """A person at the customer (``primaryContact`` in Partner Center)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_name: str = Field(min_length=1, max_length=64)
    last_name: str = Field(min_length=1, max_length=64)
    email: str = Field(pattern=_EMAIL)
    phone_number: str | None = None


class AgreementStatus(StrEnum):
    """Where a customer's Microsoft Customer Agreement stands in the hub's view."""

    PENDING = "pending"  # created at Partner Center, acceptance not recorded yet
    ACCEPTED = "accepted"


class Acceptance(BaseModel):
    """Who accepted the agreement, when, and which version (Partner Center's Agreement)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agreement_type: str = MCA
    template_id: str = Field(min_length=1, max_length=64, description="the agreement version")
    date_agreed: AwareDatetime
    primary_contact: Contact


class Refusal(BaseModel):
    """One broken onboarding rule: the field, the value, and what to do about it."""

    model_config = ConfigDict(frozen=True)

    code: str
    field: str
    value: str
    message: str


def normalise_domain(domain: str) -> str:
    """``Contoso`` and ``contoso.onmicrosoft.com`` both name the tenant domain prefix
    ``contoso``; the full initial domain is what Partner Center stores."""
    name = domain.strip().lower()
    return name if name.endswith(ONMICROSOFT) else f"{name}{ONMICROSOFT}"


def check_domain(domain: str, taken: bool = False) -> list[Refusal]:
    """The initial domain a new tenant asks for: a valid ``onmicrosoft.com`` prefix, not in use."""
    full = normalise_domain(domain)
    prefix = full.removesuffix(ONMICROSOFT)
    if not _PREFIX.fullmatch(prefix):
        return [
            Refusal(
                code="InvalidDomain",
                field="domain",
                value=domain,
                message=f"domain prefix {prefix!r} must be 1-27 letters or digits "
                f"(the tenant's <prefix>{ONMICROSOFT}); choose another",
            )
        ]
    if taken:
        return [
            Refusal(
                code="DomainTaken",
                field="domain",
                value=full,
                message=f"{full} is already used by another tenant; choose another prefix",
            )
        ]
    return []


def check_acceptance(acceptance: Acceptance, now: datetime) -> list[Refusal]:
    """An attestation Partner Center would take: the MCA, agreed in the past."""
    out: list[Refusal] = []
    if acceptance.agreement_type != MCA:
        out.append(
            Refusal(
                code="WrongAgreementType",
                field="agreement_type",
                value=acceptance.agreement_type,
                message=f"new commerce needs the {MCA}; record that agreement's acceptance",
            )
        )
    if acceptance.date_agreed > now:
        out.append(
            Refusal(
                code="AgreementDateInFuture",
                field="date_agreed",
                value=acceptance.date_agreed.isoformat(),
                message="the customer cannot have accepted the agreement in the future; "
                "send the date and time they accepted it",
            )
        )
    return out


def attestation_refusal(customer_id: str, status: AgreementStatus | None) -> str | None:
    """Why an order for ``customer_id`` must be refused, or None if it may go on.

    ``status`` is what the onboarding flow knows of the customer; None (it never onboarded
    through the hub: a reference customer) counts as attested, see the module docstring.
    """
    if status is None or status is AgreementStatus.ACCEPTED:
        return None
    return (
        f"customer {customer_id!r} has not accepted the {MCA}: record the acceptance "
        "(who, when, which version) with `hub customers attest` or in the onboarding request, "
        "then order again"
    )
