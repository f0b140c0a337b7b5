"""Partner Center's relationship resources: customer agreements (Microsoft Customer Agreement
attestation) and GDAP delegated admin relationships, as the adapter and the simulator speak them.

``POST /v1/customers/{id}/agreements`` takes an Agreement (``type``, ``templateId``,
``dateAgreed``, ``primaryContact``); GDAP follows Microsoft Graph's
``delegatedAdminRelationship`` (``accessDetails.unifiedRoles``, ``duration``, ``status``,
``autoExtendDuration``, ``endDateTime``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from hub.connectors.partner_center.models import WireModel

MCA_TYPE = "MicrosoftCustomerAgreement"


class AgreementContact(WireModel):
    first_name: str = Field(alias="firstName")
    last_name: str = Field(alias="lastName")
    email: str
    phone_number: str | None = Field(default=None, alias="phoneNumber")


class Agreement(WireModel):
    """A partner's confirmation that the customer accepted an agreement."""

    type: str = MCA_TYPE
    template_id: str = Field(alias="templateId")
    date_agreed: datetime = Field(alias="dateAgreed")
    primary_contact: AgreementContact = Field(alias="primaryContact")
    user_id: str | None = Field(default=None, alias="userId")
    agreement_link: str | None = Field(default=None, alias="agreementLink")


class UnifiedRole(WireModel):
    role_definition_id: str = Field(alias="roleDefinitionId")


class AccessDetails(WireModel):
    unified_roles: list[UnifiedRole] = Field(default_factory=list, alias="unifiedRoles")


class CustomerParticipant(WireModel):
    tenant_id: str = Field(alias="tenantId")
    display_name: str | None = Field(default=None, alias="displayName")


class DelegatedAdminRelationship(WireModel):
    id: str | None = None
    display_name: str = Field(alias="displayName")
    duration: str = "P730D"
    customer: CustomerParticipant
    access_details: AccessDetails = Field(alias="accessDetails")
    status: str | None = None
    auto_extend_duration: str = Field(default="PT0S", alias="autoExtendDuration")
    activated_date_time: datetime | None = Field(default=None, alias="activatedDateTime")
    end_date_time: datetime | None = Field(default=None, alias="endDateTime")

    def role_ids(self) -> tuple[str, ...]:
        return tuple(r.role_definition_id for r in self.access_details.unified_roles)
