"""The renewals flow's pages: ``GET /renewals/<reseller>/upcoming/?days=30`` and
``GET /renewals/<reseller>/preview/?month=YYYY-MM``. Any worker answers: it forwards to the one
that owns the reseller's partition of the renewals table (as the orders pages do)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import faust
from faust.web import Request, Response, View
from yarl import URL

from hub.domain.proration import add_months
from hub.domain.renewals import RenewalPolicy
from hub.runtime.journal import Journal
from hub.runtime.state import FaustStore
from hub.streams.context import Context
from hub.streams.ingress import home_partition
from hub.streams.orders.web import FORWARDED_HEADER, forward, owner_url
from hub.streams.renewals.promotions import PromotionBook
from hub.streams.renewals.views import month_preview, partition_records, upcoming

MAX_DAYS = 1100


def _next_month(today: date) -> date:
    return add_months(today.replace(day=1), 1)


def register_pages(
    app: faust.App,
    ctx: Context,
    journal: Journal,
    policy: RenewalPolicy,
    book: PromotionBook,
    policy_of: Callable[[str], RenewalPolicy] | None = None,
) -> None:
    """``policy_of``: the policy of one reseller (its approval requirement), else ``policy``."""
    store = journal.store
    partitions = ctx.settings.kafka_partitions

    def elsewhere(request: Request, partition: int) -> str | None:
        if not isinstance(store, FaustStore):
            return None
        changelog = store.table.changelog_topic.get_topic_name()
        owner = owner_url(app, changelog, partition)
        if owner is None or FORWARDED_HEADER in request.headers:
            return None
        mine, other = URL(str(app.conf.canonical_url)), URL(owner)
        return None if (mine.host, mine.port) == (other.host, other.port) else owner

    @app.page("/renewals/{reseller_id}/upcoming/")
    async def upcoming_page(self: View, request: Request, reseller_id: str) -> Response:
        try:
            days = int(request.query.get("days", "30"))
            if not 0 <= days <= MAX_DAYS:
                raise ValueError(f"days must be between 0 and {MAX_DAYS}")
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)
        partition = home_partition(reseller_id, partitions)
        owner = elsewhere(request, partition)
        if owner is not None:
            return await forward(app, ctx.settings, owner, self, request)
        now = datetime.now(UTC)
        records = partition_records(store, partition, reseller_id)
        theirs = policy_of(reseller_id) if policy_of is not None else policy
        rows = upcoming(records, ctx.reference.view(), theirs, now, days, book.all())
        doc: dict[str, Any] = {"reseller_id": reseller_id, "days": days, "renewals": rows}
        return self.json({**doc, "served_by": str(app.conf.canonical_url)})

    @app.page("/renewals/{reseller_id}/preview/")
    async def preview_page(self: View, request: Request, reseller_id: str) -> Response:
        try:
            text = request.query.get("month")
            month = (
                date.fromisoformat(f"{text}-01") if text else _next_month(datetime.now(UTC).date())
            )
        except ValueError:
            return self.json({"error": "month must be YYYY-MM"}, status=400)
        partition = home_partition(reseller_id, partitions)
        owner = elsewhere(request, partition)
        if owner is not None:
            return await forward(app, ctx.settings, owner, self, request)
        records = partition_records(store, partition, reseller_id)
        previews = month_preview(reseller_id, records, ctx.reference.view(), month, book.all())
        return self.json(
            {
                "reseller_id": reseller_id,
                "month": month.isoformat()[:7],
                "previews": [p.model_dump(mode="json") for p in previews],
                "served_by": str(app.conf.canonical_url),
            }
        )
