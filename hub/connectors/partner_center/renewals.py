"""Partner Center's scheduled next-term instructions: the wire shape and the adapter call.

``PATCH /v1/customers/{customerId}/subscriptions/{subscriptionId}`` with
``scheduledNextTermInstructions`` ({``product``: {``productId``, ``skuId``, ``availabilityId``,
``billingCycle``, ``termDuration``, ``promotionId``}, ``quantity``, ``customTermEndDate``})
("Create scheduled changes"). Microsoft deletes them on any mid-term change.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from pydantic import Field

from hub.connectors.partner_center.client import PartnerCenterClient
from hub.connectors.partner_center.models import WireModel
from hub.domain.enums import BillingCycle, Term
from hub.domain.ids import idempotency_key_for_customer
from hub.domain.reference import Customer, ResellerProfile
from hub.domain.renewals import NextTerm


class NextTermProduct(WireModel):
    product_id: str = Field(alias="productId")
    sku_id: str = Field(alias="skuId")
    availability_id: str = Field(alias="availabilityId")
    billing_cycle: BillingCycle = Field(alias="billingCycle")
    term_duration: Term = Field(alias="termDuration")
    promotion_id: str | None = Field(default=None, alias="promotionId")


class ScheduledNextTermInstructions(WireModel):
    product: NextTermProduct
    quantity: int = Field(ge=1)
    custom_term_end_date: date | None = Field(default=None, alias="customTermEndDate")


class ScheduledNextTermPatch(WireModel):
    scheduled_next_term_instructions: ScheduledNextTermInstructions | None = Field(
        default=None, alias="scheduledNextTermInstructions"
    )


def instructions_for(next_term: NextTerm) -> ScheduledNextTermInstructions:
    return ScheduledNextTermInstructions(
        product=NextTermProduct(
            product_id=next_term.product_id,
            sku_id=next_term.sku_id,
            availability_id=next_term.availability_id,
            billing_cycle=next_term.billing_cycle,
            term_duration=next_term.term,
        ),
        quantity=next_term.quantity,
        custom_term_end_date=next_term.custom_term_end_date,
    )


class NextTermScheduler(Protocol):
    """What the renewals flow asks of Partner Center (a fake in unit tests)."""

    async def schedule(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        next_term: NextTerm,
        *,
        correlation_id: str,
    ) -> None: ...


class PartnerCenterNextTerm:
    """Sends scheduled next-term instructions through the Partner Center client.

    The customer's Microsoft tenant id is the one the hub created for it: creating it again
    under the hub's idempotency key for that customer returns the existing tenant, as
    provisioning relies on for a repeat order (``hub.domain.ids``).
    """

    def __init__(self, client: PartnerCenterClient) -> None:
        self.client = client
        self._tenants: dict[str, str] = {}

    async def _tenant(self, customer: Customer, reseller: ResellerProfile, cid: str) -> str:
        known = self._tenants.get(customer.customer_id)
        if known is not None:
            return known
        from hub.streams.orders.provisioning import microsoft_customer

        created = await self.client.create_customer(
            microsoft_customer(customer, reseller),
            correlation_id=cid,
            idempotency_key=idempotency_key_for_customer(customer.customer_id),
        )
        tenant = created.id or customer.customer_id
        self._tenants[customer.customer_id] = tenant
        return tenant

    async def schedule(
        self,
        customer: Customer,
        reseller: ResellerProfile,
        subscription_id: str,
        next_term: NextTerm,
        *,
        correlation_id: str,
    ) -> None:
        await self.client.start()
        tenant = await self._tenant(customer, reseller, correlation_id)
        await self.client.schedule_next_term(
            tenant,
            subscription_id,
            ScheduledNextTermPatch(scheduled_next_term_instructions=instructions_for(next_term)),
            correlation_id=correlation_id,
        )
