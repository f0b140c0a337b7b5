"""The simulator's catalogue: a small built-in sample of new-commerce offers with unit prices.

Prices are per seat per billing period, keyed by term and billing cycle, as Decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hub.domain.enums import BillingCycle, Term

PriceKey = tuple[Term, BillingCycle]


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

    def unit_price(self, term: Term, cycle: BillingCycle) -> Decimal | None:
        return self.prices.get((term, cycle))


def _nce_prices(monthly_p1y: str) -> dict[PriceKey, Decimal]:
    """Microsoft's usual new-commerce shape: monthly term costs 20% more than annual."""
    month = Decimal(monthly_p1y)
    return {
        (Term.P1Y, BillingCycle.MONTHLY): month,
        (Term.P1Y, BillingCycle.ANNUAL): month * 12,
        (Term.P1M, BillingCycle.MONTHLY): month * Decimal("1.2"),
        (Term.P3Y, BillingCycle.ANNUAL): month * 12,
        (Term.P3Y, BillingCycle.TRIENNIAL): month * 36,
    }


SAMPLE_CATALOG: tuple[SimCatalogItem, ...] = (
    SimCatalogItem(
        "CFQ7TTC0LH18",
        "0001",
        "CFQ7TTC0K5DL",
        "Microsoft 365 Business Basic",
        "Microsoft 365 Business Basic",
        _nce_prices("6.00"),
    ),
    SimCatalogItem(
        "CFQ7TTC0LDPB",
        "0001",
        "CFQ7TTC0K5BB",
        "Microsoft 365 Business Standard",
        "Microsoft 365 Business Standard",
        _nce_prices("12.50"),
    ),
    SimCatalogItem(
        "CFQ7TTC0LFLZ",
        "0001",
        "CFQ7TTC0K3HG",
        "Microsoft 365 E3",
        "Microsoft 365 E3",
        _nce_prices("36.00"),
    ),
    SimCatalogItem(
        "CFQ7TTC0LH0R",
        "0001",
        "CFQ7TTC0K1SS",
        "Exchange Online (Plan 1)",
        "Exchange Online (Plan 1)",
        _nce_prices("4.00"),
        max_quantity=50,
    ),
)


class Catalog:
    def __init__(self, items: tuple[SimCatalogItem, ...] = SAMPLE_CATALOG) -> None:
        self._items = {item.catalog_item_id: item for item in items}

    def get(self, catalog_item_id: str) -> SimCatalogItem | None:
        return self._items.get(catalog_item_id)

    def __len__(self) -> int:
        return len(self._items)
