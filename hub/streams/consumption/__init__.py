"""The consumption flow: Azure plan usage rated into accruals, alerts and month-end lines.

Topics and agents (concurrency 1):
- ``consumption.book``: ``hub.consumption.inputs`` (keyed by reseller, co-partitioned with its
  one state table ``consumption-state``) -> ``hub.consumption.rated`` (rated usage, adjustments,
  the month's lines), ``hub.consumption.accruals`` (read by the order intake: accrued
  consumption counts in the credit exposure), ``hub.consumption.alerts`` and the reseller's
  ``partner.<id>.status`` (budget thresholds, anomalies), and at month end
  ``hub.billing.inputs`` and ``partner.<id>.billing`` (the summarised lines).
Usage reaches the inputs topic from ``hub consumption ingest`` (hub/commands/consumption.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import faust

from hub.domain.consumption.anomaly import AnomalyRule
from hub.errors import ConfigError, ValidationFailed
from hub.runtime.emit import Emit
from hub.runtime.pipeline import RetryPolicy
from hub.schemas.envelope import Event
from hub.schemas.events import consumption as u
from hub.streams.consumption.book import ConsumptionBook
from hub.streams.consumption.close import ConsumptionClose
from hub.streams.context import Context
from hub.topics import Topic

# Reference data (resellers) loads beside the flows at start: give it time to arrive.
REFERENCE_RETRY = RetryPolicy(max_attempts=8, base_s=0.5, cap_s=10.0)
VIEWS = (
    "facts",
    "lines",
    "accrual",
    "spend",
    "days",
    "budgets",
    "fired",
    "markups",
    "settings",
    "anomalies",
    "medians",
    "adjust",
    "closed",
    "closing",
)


class ConsumptionHandler:
    """Dispatches the events of ``hub.consumption.inputs``."""

    def __init__(self, book: ConsumptionBook, close: ConsumptionClose) -> None:
        self.book = book
        self.close = close

    async def handle(self, event: Event) -> Sequence[Emit]:
        if isinstance(event, u.UsageRecorded):
            return self.book.on_usage(event)
        if isinstance(event, u.ConsumptionBudgetSet):
            return self.book.on_budget(event)
        if isinstance(event, u.ConsumptionMarkupSet):
            return self.book.on_markup(event)
        if isinstance(event, u.ConsumptionCloseRequested):
            return self.close.on_close(event)
        if isinstance(event, u.ConsumptionCloseContinued):
            return self.close.on_page(event)
        raise ValidationFailed("event", type(event).__name__, "not a consumption input")


def fx_rates(text: str) -> dict[tuple[str, str], Decimal]:
    """``"EUR/GBP=0.86,USD/SEK=10.4"`` -> {("EUR", "GBP"): Decimal("0.86"), ...}."""
    rates: dict[tuple[str, str], Decimal] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pair, _, rate = item.partition("=")
        base, _, quote = pair.partition("/")
        if not (base and quote and rate):
            raise ValueError(f"exchange rate {item!r} must read like EUR/GBP=0.86")
        rates[(base.strip().upper(), quote.strip().upper())] = Decimal(rate.strip())
    return rates


def register(app: faust.App, ctx: Context) -> None:
    """Registers the consumption agent and its state table on ``app``."""
    journal = ctx.journal("consumption")
    settings = ctx.settings
    try:
        rates = fx_rates(settings.consumption_fx_rates)
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"HUB_CONSUMPTION_FX_RATES: {exc}") from exc
    book = ConsumptionBook(
        {name: journal.view(name) for name in VIEWS},
        ctx.topics,
        ctx.reference.view,
        fx_rates=rates,
        anomaly=AnomalyRule(factor=settings.consumption_anomaly_factor),
    )
    handler = ConsumptionHandler(book, ConsumptionClose(book))

    @app.agent(ctx.source(Topic.CONSUMPTION_INPUTS), name="consumption.book", concurrency=1)
    async def consume(stream: Any) -> None:
        pipeline = ctx.pipeline("consumption", REFERENCE_RETRY, journal=journal)
        await pipeline.run(stream, handler.handle)
