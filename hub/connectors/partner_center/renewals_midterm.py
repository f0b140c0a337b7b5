"""Mid-term changes at Partner Center: a billing-frequency change, a longer term, an upgrade.

New commerce changes a subscription's billing frequency with a subscription PATCH carrying
``billingCycle`` (a new term starts that day), lengthens its term with a PATCH carrying
``termDuration`` and the ``billingCycle`` to bill it (a new term from that day); it upgrades
to another SKU of the family with a transition (``POST .../subscriptions/{id}/transitions``,
``toCatalogItemId``, the quantity and ``transitionType``). All are retried like any
subscription change: the client's transport retries throttling and 5xx with backoff, and a
refusal arrives as a ``PartnerCenterError``.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from hub.connectors.partner_center.client import PartnerCenterClient
from hub.connectors.partner_center.models import WireModel
from hub.connectors.partner_center.renewals import PartnerCenterNextTerm
from hub.domain.enums import BillingCycle, Term
from hub.domain.reference import Customer, ResellerProfile

# The operation name of a transition: the client's metric label and the simulator's fault target.
TRANSITION = "transition_subscription"


class BillingCyclePatch(WireModel):
    billing_cycle: BillingCycle = Field(alias="billingCycle")


class TermPatch(WireModel):
    """A longer term, mid-term: the new ``termDuration`` and the ``billingCycle`` it bills."""

    term_duration: Term = Field(alias="termDuration")
    billing_cycle: BillingCycle = Field(alias="billingCycle")


class Transition(WireModel):
    """Partner Center's transition resource (the fields the hub sends)."""

    to_catalog_item_id: str = Field(alias="toCatalogItemId")
    quantity: int = Field(ge=1)
    transition_type: str = Field(default="transition_only", alias="transitionType")


class MidTermChanger(Protocol):
    async def change_billing_cycle(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        cycle: BillingCycle,
        *,
        correlation_id: str,
    ) -> None: ...

    async def change_term(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        term: Term,
        cycle: BillingCycle,
        *,
        correlation_id: str,
    ) -> None: ...

    async def upgrade(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        to_catalog_item_id: str,
        quantity: int,
        *,
        correlation_id: str,
    ) -> None: ...


class PartnerCenterMidTerm(PartnerCenterNextTerm):
    """Mid-term changes through the Partner Center client, in the customer's tenant."""

    def __init__(self, client: PartnerCenterClient) -> None:
        super().__init__(client)

    async def change_billing_cycle(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        cycle: BillingCycle,
        *,
        correlation_id: str,
    ) -> None:
        await self.client.start()
        tenant = await self._tenant(customer, reseller, correlation_id)
        await self.client.patch_subscription(
            tenant, subscription_id, BillingCyclePatch(billing_cycle=cycle), correlation_id
        )

    async def change_term(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        term: Term,
        cycle: BillingCycle,
        *,
        correlation_id: str,
    ) -> None:
        await self.client.start()
        tenant = await self._tenant(customer, reseller, correlation_id)
        await self.client.patch_subscription(
            tenant,
            subscription_id,
            TermPatch(term_duration=term, billing_cycle=cycle),
            correlation_id,
        )

    async def upgrade(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        to_catalog_item_id: str,
        quantity: int,
        *,
        correlation_id: str,
    ) -> None:
        await self.client.start()
        tenant = await self._tenant(customer, reseller, correlation_id)
        await self.client.transition_subscription(
            tenant,
            subscription_id,
            Transition(to_catalog_item_id=to_catalog_item_id, quantity=quantity),
            TRANSITION,
            correlation_id,
        )
