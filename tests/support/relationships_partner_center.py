"""Partner Center as the relationships flow sees it, for tests: a creation replayed under its
idempotency key gets what the first call made (as Microsoft's API does, and as a replay after a
crash needs); listings show what it holds now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from hub.connectors.partner_center.models import Customer as PcCustomer
from hub.connectors.partner_center.models import Subscription, SubscriptionPatch
from hub.connectors.partner_center.relationships import (
    Agreement,
    DelegatedAdminRelationship,
    UnifiedRole,
)


class FakePartnerCenter:
    """See the module docstring; ``now``: when an approval is said to have happened, a day
    before it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.customers: dict[str, str] = {}  # idempotency key -> Microsoft customer id
        self.agreements: list[tuple[str, str]] = []
        self.gdap: dict[str, DelegatedAdminRelationship] = {}  # idempotency key -> relationship
        self.subs: dict[str, dict[str, Subscription]] = {}  # Microsoft customer id -> its subs
        self.patches: list[tuple[str, SubscriptionPatch]] = []

    async def create_customer(
        self, customer: PcCustomer, *, idempotency_key: str, correlation_id: str
    ) -> str:
        if idempotency_key not in self.customers:
            self.customers[idempotency_key] = f"ms-{len(self.customers) + 1}"
        return self.customers[idempotency_key]

    async def record_agreement(
        self, microsoft_customer_id: str, agreement: Agreement, *, correlation_id: str
    ) -> None:
        self.agreements.append((microsoft_customer_id, agreement.template_id))

    async def create_gdap(
        self, relationship: DelegatedAdminRelationship, *, idempotency_key: str, correlation_id: str
    ) -> DelegatedAdminRelationship:
        if idempotency_key not in self.gdap:
            self.gdap[idempotency_key] = relationship.model_copy(
                update={"id": f"rel-{len(self.gdap)}", "status": "approvalPending"}
            )
        return self.gdap[idempotency_key]

    async def list_gdap(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[DelegatedAdminRelationship]:
        return [r for r in self.gdap.values() if r.customer.tenant_id == microsoft_customer_id]

    async def list_subscriptions(
        self, microsoft_customer_id: str, *, correlation_id: str
    ) -> list[Subscription]:
        return list(self.subs.get(microsoft_customer_id, {}).values())

    async def update_subscription(
        self,
        microsoft_customer_id: str,
        subscription_id: str,
        patch: SubscriptionPatch,
        *,
        correlation_id: str,
    ) -> None:
        self.patches.append((subscription_id, patch))

    def approve(self, relationship_id: str, roles: Sequence[str], end: datetime) -> None:
        """The customer's admin approves (or Microsoft changes) a relationship."""
        key, rel = next((k, r) for k, r in self.gdap.items() if r.id == relationship_id)
        access = rel.access_details.model_copy(
            update={"unified_roles": [UnifiedRole(role_definition_id=r) for r in roles]}
        )
        self.gdap[key] = rel.model_copy(
            update={
                "status": "active",
                "access_details": access,
                "activated_date_time": self.now - timedelta(days=1),
                "end_date_time": end,
            }
        )
