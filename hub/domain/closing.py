"""How a month-end close is cut into pages, so no message's work grows with a reseller's size."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

# Subscriptions cycled, lines invoiced or revenue schedules recognised per close message. An
# invoice page of 500 lines stays far below a Kafka record's limit in every document it makes.
CLOSE_PAGE = 500


def whole_customer_page(items: Iterable[tuple[str, T]], page: int) -> tuple[list[T], str | None]:
    """The next page of ``(customer, item)`` pairs, in order: whole customers only, ending at the
    first customer boundary once ``page`` items are taken (a customer's lines are never split
    over two invoices). Returns the items and, if more may follow, the last customer taken."""
    taken: list[T] = []
    customer = ""
    for item_customer, item in items:
        if item_customer != customer and len(taken) >= page:
            return taken, customer
        customer = item_customer
        taken.append(item)
    return taken, None
