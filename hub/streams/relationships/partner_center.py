"""The relationships flow's port to Partner Center: create a customer, record its MCA.

The client starts lazily inside the worker's event loop (``LazyPartnerCenterPort``).
A customer is created with the same idempotency key the order provisioning uses for it
(``idempotency_key_for_customer``), so the tenant onboarding creates is the one orders land in.
"""

from __future__ import annotations

from typing import Protocol

from hub.connectors.partner_center.lazy import LazyPartnerCenterPort
from hub.connectors.partner_center.models import Customer, Subscription, SubscriptionPatch
from hub.connectors.partner_center.relationships import Agreement, DelegatedAdminRelationship
from hub.errors import ValidationFailed


class CustomerDirectory(Protocol):
    async def create_customer(
        self, customer: Customer, *, idempotency_key: str, correlation_id: str
    ) -> str: ...

    async def record_agreement(
        self, microsoft_customer_id: str, agreement: Agreement, *, correlation_id: str
    ) -> None: ...

    async def create_gdap(
        self, relationship: DelegatedAdminRelationship, *, idempotency_key: str, correlation_id: str
    ) -> DelegatedAdminRelationship: ...

    async def list_gdap(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[DelegatedAdminRelationship]: ...

    async def list_subscriptions(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[Subscription]: ...

    async def update_subscription(
        self,
        microsoft_customer_id: str,
        subscription_id: str,
        patch: SubscriptionPatch,
        *,
        correlation_id: str,
    ) -> None: ...


class PartnerCenterCustomers(LazyPartnerCenterPort):
    """``CustomerDirectory`` through the Partner Center adapter."""

    async def create_customer(
        self, customer: Customer, *, idempotency_key: str, correlation_id: str
    ) -> str:
        pc = await self._pc()
        created = await pc.create_customer(
            customer, correlation_id=correlation_id, idempotency_key=idempotency_key
        )
        if created.id is None:
            raise ValidationFailed("customer.id", None, "Microsoft returned a customer without id")
        return created.id

    async def record_agreement(
        self, microsoft_customer_id: str, agreement: Agreement, *, correlation_id: str
    ) -> None:
        pc = await self._pc()
        await pc.create_agreement(microsoft_customer_id, agreement, correlation_id=correlation_id)

    async def create_gdap(
        self, relationship: DelegatedAdminRelationship, *, idempotency_key: str, correlation_id: str
    ) -> DelegatedAdminRelationship:
        pc = await self._pc()
        return await pc.create_gdap_relationship(
            relationship, correlation_id=correlation_id, idempotency_key=idempotency_key
        )

    async def list_gdap(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[DelegatedAdminRelationship]:
        pc = await self._pc()
        return await pc.list_gdap_relationships(
            microsoft_customer_id, correlation_id=correlation_id
        )

    async def list_subscriptions(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[Subscription]:
        pc = await self._pc()
        return await pc.list_subscriptions(microsoft_customer_id, correlation_id=correlation_id)

    async def update_subscription(
        self,
        microsoft_customer_id: str,
        subscription_id: str,
        patch: SubscriptionPatch,
        *,
        correlation_id: str,
    ) -> None:
        pc = await self._pc()
        await pc.update_subscription(
            microsoft_customer_id, subscription_id, patch, correlation_id=correlation_id
        )
