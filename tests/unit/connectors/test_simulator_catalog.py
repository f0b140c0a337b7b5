"""The simulator's catalogue built from the hub's reference file: Microsoft's cost per currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.connectors.reference_files import PriceList, ReferenceSet, load_reference_file
from hub.domain.enums import BillingCycle, Term
from hub.domain.money import CURRENCY_EXPONENTS
from hub.domain.reference import CatalogItem, PriceListEntry
from hub.ops.paths import ops_dir
from hub.simulator.partner_center.catalog import (
    SAMPLE_CATALOG,
    catalog_from_reference,
    sample_catalog,
)

ITEM = CatalogItem(
    product_id="P1",
    sku_id="0001",
    availability_id="A1",
    name="Widget Suite",
    service="m365",
    markets=("DE", "US"),
    max_quantity=40,
)


def entry(
    currency: str = "EUR",
    minor: int = 564,
    *,
    start: date = date(2026, 1, 1),
    end: date | None = None,
    product: str = "P1",
) -> PriceListEntry:
    return PriceListEntry(
        product_id=product,
        sku_id="0001",
        availability_id="A1",
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        currency=currency,
        unit_cost_minor=minor,
        effective_from=start,
        effective_to=end,
    )


def reference(*entries: PriceListEntry, items: tuple[CatalogItem, ...] = (ITEM,)) -> ReferenceSet:
    return ReferenceSet(catalog=list(items), price_lists=[PriceList("msft", tuple(entries))])


def test_reference_cost_becomes_the_price_in_major_units_per_currency() -> None:
    (item,) = catalog_from_reference(reference(entry("EUR", 564), entry("JPY", 900)))

    assert item.catalog_item_id == "P1:0001:A1"
    assert item.sku_name == "Widget Suite"
    assert item.max_quantity == 40
    assert item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "EUR") == Decimal("5.64")
    assert str(item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "EUR")) == "5.64"
    assert item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "JPY") == Decimal(900)
    assert item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "USD") is None
    assert item.currencies() == {"EUR", "JPY"}


def test_the_newest_price_list_entry_supersedes_an_older_one() -> None:
    old = entry("EUR", 500, start=date(2025, 1, 1))
    new = entry("EUR", 564, start=date(2026, 1, 1))

    (item,) = catalog_from_reference(reference(new, old))

    assert item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "EUR") == Decimal("5.64")


def test_a_date_picks_the_entry_in_force_on_it() -> None:
    old = entry("EUR", 500, start=date(2025, 1, 1), end=date(2025, 12, 31))
    new = entry("EUR", 564, start=date(2026, 1, 1))

    (item,) = catalog_from_reference(reference(old, new), on=date(2025, 6, 1))

    assert item.unit_price(Term.P1Y, BillingCycle.MONTHLY, "EUR") == Decimal("5.00")


def test_an_item_without_any_price_is_not_sold() -> None:
    unpriced = ITEM.model_copy(update={"product_id": "P2"})

    items = catalog_from_reference(reference(entry(), items=(ITEM, unpriced)))

    assert [item.product_id for item in items] == ["P1"]


def test_the_sample_reference_file_prices_every_offer_in_four_currencies() -> None:
    ref = load_reference_file(ops_dir() / "sample" / "reference.yaml")

    items = catalog_from_reference(ref)

    assert len(items) == len(ref.catalog) == 4
    assert all(item.currencies() == {"EUR", "GBP", "JPY", "USD"} for item in items)
    basic = next(item for item in items if item.product_id == "CFQ7TTC0LH18")
    assert basic.unit_price(Term.P1Y, BillingCycle.MONTHLY, "USD") == Decimal("6.00")
    assert basic.unit_price(Term.P1Y, BillingCycle.MONTHLY, "EUR") == Decimal("5.64")


def test_the_sample_catalogue_stays_in_dollars_by_default() -> None:
    assert {item.currencies() for item in SAMPLE_CATALOG} == {frozenset({"USD"})}
    assert {item.currencies() for item in sample_catalog("EUR")} == {frozenset({"EUR"})}


def test_the_sample_catalogue_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="XXX"):
        sample_catalog("XXX")


@given(
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
    minor=st.integers(min_value=0, max_value=10**12),
)
def test_the_major_unit_price_is_exactly_the_minor_cost(currency: str, minor: int) -> None:
    (item,) = catalog_from_reference(reference(entry(currency, minor)))

    price = item.unit_price(Term.P1Y, BillingCycle.MONTHLY, currency)

    assert price is not None
    assert price.scaleb(CURRENCY_EXPONENTS[currency]) == minor
    assert -price.as_tuple().exponent == CURRENCY_EXPONENTS[currency]  # type: ignore[operator]
