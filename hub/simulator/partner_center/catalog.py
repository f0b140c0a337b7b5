"""The simulator's catalogue: new-commerce offers with Microsoft's cost per market currency.

Prices are per seat per billing period, keyed by term, billing cycle and currency, in Decimal
major units. The built-in sample prices one currency; ``catalog_from_reference`` loads the
hub's own price lists, so the simulator charges what the hub expects Microsoft to charge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from hub.domain.enums import BillingCycle, Term
from hub.domain.money import exponent
from hub.domain.reference import PriceListEntry

if TYPE_CHECKING:  # the simulator itself never reads files; only the loader's caller does
    from hub.connectors.reference_files import ReferenceSet

PriceKey = tuple[Term, BillingCycle, str]


@dataclass(frozen=True)
class SimCatalogItem:
    product_id: str
    sku_id: str
    availability_id: str
    product_name: str
    sku_name: str
    prices: dict[PriceKey, Decimal] = field(default_factory=dict)
    max_quantity: int = 300

    @property
    def catalog_item_id(self) -> str:
        return f"{self.product_id}:{self.sku_id}:{self.availability_id}"

    def unit_price(self, term: Term, cycle: BillingCycle, currency: str) -> Decimal | None:
        return self.prices.get((term, cycle, currency))

    def currencies(self) -> frozenset[str]:
        return frozenset(currency for _, _, currency in self.prices)


def _nce_prices(monthly_p1y: str, currency: str) -> dict[PriceKey, Decimal]:
    """Microsoft's usual new-commerce shape: monthly term costs 20% more than annual."""
    month = Decimal(monthly_p1y)
    return {
        (Term.P1Y, BillingCycle.MONTHLY, currency): month,
        (Term.P1Y, BillingCycle.ANNUAL, currency): month * 12,
        (Term.P1M, BillingCycle.MONTHLY, currency): month * Decimal("1.2"),
        (Term.P3Y, BillingCycle.ANNUAL, currency): month * 12,
        (Term.P3Y, BillingCycle.TRIENNIAL, currency): month * 36,
    }


_SAMPLE: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("CFQ7TTC0LH18", "0001", "CFQ7TTC0K5DL", "Microsoft 365 Business Basic", "6.00", 300),
    ("CFQ7TTC0LDPB", "0001", "CFQ7TTC0K5BB", "Microsoft 365 Business Standard", "12.50", 300),
    ("CFQ7TTC0LFLZ", "0001", "CFQ7TTC0K3HG", "Microsoft 365 E3", "36.00", 300),
    ("CFQ7TTC0LH0R", "0001", "CFQ7TTC0K1SS", "Exchange Online (Plan 1)", "4.00", 50),
)


def sample_catalog(currency: str = "USD") -> tuple[SimCatalogItem, ...]:
    """The four built-in offers, their sample figures priced in ``currency``."""
    exponent(currency)  # refuses a currency the hub does not know
    return tuple(
        SimCatalogItem(
            product,
            sku,
            availability,
            name,
            name,
            _nce_prices(monthly, currency),
            max_quantity=max_quantity,
        )
        for product, sku, availability, name, monthly, max_quantity in _SAMPLE
    )


SAMPLE_CATALOG: tuple[SimCatalogItem, ...] = sample_catalog("USD")


def _major(entry: PriceListEntry) -> Decimal:
    return Decimal(entry.unit_cost_minor).scaleb(-exponent(entry.currency))


def _in_force(entry: PriceListEntry, on: date | None) -> bool:
    if on is None:
        return True
    return entry.effective_from <= on and (entry.effective_to is None or on <= entry.effective_to)


def catalog_from_reference(
    ref: ReferenceSet, *, on: date | None = None
) -> tuple[SimCatalogItem, ...]:
    """Items from the reference file's catalogue, priced at Microsoft's cost from its price lists.

    ``unit_cost_minor`` is what Microsoft charges the distributor, so it is the simulator's
    price. Of several entries for one item, term, cycle and currency, the one that started
    latest wins (a new price list supersedes), among those in force on ``on`` when given.
    An item without any price is left out: Partner Center would not sell it.
    """
    chosen: dict[tuple[str, Term, BillingCycle, str], PriceListEntry] = {}
    for price_list in ref.price_lists:
        for entry in price_list.entries:
            if not _in_force(entry, on):
                continue
            key = (entry.catalog_item_id, entry.term, entry.billing_cycle, entry.currency)
            best = chosen.get(key)
            if best is None or entry.effective_from > best.effective_from:
                chosen[key] = entry
    prices: dict[str, dict[PriceKey, Decimal]] = {}
    for (item_id, term, cycle, currency), entry in chosen.items():
        prices.setdefault(item_id, {})[(term, cycle, currency)] = _major(entry)
    return tuple(
        SimCatalogItem(
            item.product_id,
            item.sku_id,
            item.availability_id,
            item.name,
            item.name,
            prices[item.catalog_item_id],
            max_quantity=item.max_quantity,
        )
        for item in ref.catalog
        if item.catalog_item_id in prices
    )


class Catalog:
    def __init__(self, items: tuple[SimCatalogItem, ...] = SAMPLE_CATALOG) -> None:
        self._items = {item.catalog_item_id: item for item in items}

    def get(self, catalog_item_id: str) -> SimCatalogItem | None:
        return self._items.get(catalog_item_id)

    def __len__(self) -> int:
        return len(self._items)
