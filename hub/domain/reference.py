"""Reference data the rules read: reseller profiles, customers, the catalogue and price lists.

Every model refuses keys it does not know (``extra="forbid"``): a typo such as ``markup_bsp``
for ``markup_bps`` would otherwise load, drop the value and price the reseller at cost. The
same models travel inside the reference events (``hub/schemas/events/reference.py``), whose
envelope already forbids unknown keys, so the event path loses no leniency it had: Avro decoding
hands over exactly the reader schema's fields (a writer's extra field is dropped by schema
resolution, not passed on), and a stored event's document is the model's own dump.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.domain.enums import BillingCycle, BillingMode, ProductKind, SupportMode, Term
from hub.domain.money import check_currency

_COUNTRY = r"^[A-Z]{2}$"
_LANGUAGE = r"^[a-z]{2}(-[A-Z]{2})?$"


class Brand(BaseModel):
    """What a white-labelled customer sees instead of the distributor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str = Field(min_length=1)
    signature: str = Field(min_length=1)
    reply_to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


class ResellerProfile(BaseModel):
    """A 2-Tier (indirect) reseller, identified by its Partner Center PartnerID (MPN id)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reseller_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    partner_id: str = Field(pattern=r"^[0-9]{4,12}$", description="ResellerMpnId")
    name: str = Field(min_length=1)
    country: str = Field(pattern=_COUNTRY)
    currency: str
    languages: tuple[str, ...] = Field(min_length=1)
    billing_mode: BillingMode
    support_mode: SupportMode
    credit_limit_minor: int = Field(ge=0)
    payment_terms_days: int = Field(ge=0, le=180)
    markup_bps: int = Field(default=0, ge=-10_000, le=100_000, description="basis points on cost")
    tax_exempt_resale: bool = True
    on_credit_hold: bool = False
    brand: Brand | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for lang in value:
            if not re.fullmatch(_LANGUAGE, lang):
                raise ValueError(f"language {lang!r} is not a BCP 47 tag like 'de' or 'pt-BR'")
        return value

    @model_validator(mode="after")
    def _brand_for_white_label(self) -> Self:
        # Refused when the profile is loaded, not at month end when its first white-label
        # invoice (which must carry the reseller's brand) could not be issued.
        if self.brand is not None:
            return self
        if self.billing_mode is BillingMode.DISTRIBUTOR_WHITE_LABEL:
            raise ValueError(
                f"reseller {self.reseller_id} is billed white-label "
                "(distributor_white_label) but has no brand: its invoices carry the "
                "reseller's brand (display name, signature, reply-to)"
            )
        if self.support_mode is SupportMode.DISTRIBUTOR_WHITE_LABEL:
            raise ValueError(
                f"reseller {self.reseller_id} has white-label support "
                "(distributor_white_label) but no brand: the desk answers in the reseller's "
                "name (display name, signature, reply-to)"
            )
        return self


class Customer(BaseModel):
    """An end customer (a Microsoft tenant) that belongs to exactly one reseller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str = Field(min_length=1, max_length=64)
    reseller_id: str
    name: str = Field(min_length=1)
    country: str = Field(pattern=_COUNTRY)
    region: str | None = None
    language: str = Field(pattern=_LANGUAGE)
    currency: str
    tenant_domain: str | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)


class CatalogItem(BaseModel):
    """One sellable product/sku/availability, as Partner Center's catalogue names them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str = Field(min_length=1)
    sku_id: str = Field(min_length=1)
    availability_id: str = Field(min_length=1)
    name: str
    service: str = Field(description="the Microsoft service it runs on, e.g. 'exchange'")
    kind: ProductKind = ProductKind.SUBSCRIPTION
    markets: tuple[str, ...] = Field(min_length=1, description="ISO country codes sold in")
    min_quantity: int = Field(default=1, ge=1)
    max_quantity: int = Field(default=300, ge=1)

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"


class PriceListEntry(BaseModel):
    """Microsoft's cost to the distributor for one item, term and billing plan in one currency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    sku_id: str
    availability_id: str
    term: Term
    billing_cycle: BillingCycle
    currency: str
    unit_cost_minor: int = Field(ge=0, description="per seat per billing period")
    unit_price_minor: int | None = Field(
        default=None, ge=0, description="a fixed resale price; else cost plus the reseller markup"
    )
    effective_from: date
    effective_to: date | None = None

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return check_currency(value)

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"
