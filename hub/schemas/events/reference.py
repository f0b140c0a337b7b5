"""Reference data events (compacted topics): resellers, customers, catalogue and price lists."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from hub.domain.reference import CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.schemas.envelope import Event
from hub.schemas.types import ResellerId


class ResellerUpserted(Event):
    """A reseller profile was created or changed (billing/support mode, credit limit, brand)."""

    reseller_id: ResellerId
    reseller: ResellerProfile

    @model_validator(mode="after")
    def _same_reseller(self) -> Self:
        if self.reseller.reseller_id != self.reseller_id:
            raise ValueError(
                f"reseller.reseller_id {self.reseller.reseller_id!r} must equal the envelope's "
                f"reseller_id {self.reseller_id!r}"
            )
        return self


class CustomerUpserted(Event):
    """An end customer (Microsoft tenant) of one reseller was created or changed."""

    reseller_id: ResellerId
    customer: Customer

    @model_validator(mode="after")
    def _same_reseller(self) -> Self:
        if self.customer.reseller_id != self.reseller_id:
            raise ValueError(
                f"customer.reseller_id {self.customer.reseller_id!r} must equal the envelope's "
                f"reseller_id {self.reseller_id!r}: a customer belongs to exactly one reseller"
            )
        return self


class CatalogItemUpserted(Event):
    """A product/sku/availability entered or changed in the catalogue (distributor-wide)."""

    item: CatalogItem
    active: bool = Field(default=True, description="false withdraws the item from sale")


class PriceListEntryUpserted(Event):
    """A price list entry changed; ``reseller_id`` set means a price for that reseller only."""

    price_list_id: str = Field(min_length=1, max_length=64)
    entry: PriceListEntry


EVENTS: tuple[type[Event], ...] = (
    ResellerUpserted,
    CustomerUpserted,
    CatalogItemUpserted,
    PriceListEntryUpserted,
)
