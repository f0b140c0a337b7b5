"""Pulling Azure plan usage from Partner Center into ``UsageRecorded`` events, one per line.

Unbilled lines are estimates; each pull stamps them with a revision that grows with time, so a
figure Microsoft revised replaces the one pulled before (an unchanged one moves nothing). Billed
lines are final figures; pulled again as corrections (with a reason) they supersede the final
ones. Lines whose ``resellerMpnId`` names no onboarded reseller are counted and left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from hub.connectors.partner_center.client import PartnerCenterClient
from hub.connectors.partner_center.usage import DailyRatedUsageLineItem, usage_event
from hub.schemas.events.consumption import UsageRecorded


@dataclass(frozen=True)
class UsageSource:
    """Where to pull from: unbilled (``currency``, ``period``) or an invoice's billed usage."""

    currency: str = "USD"
    period: Literal["current", "previous"] = "current"
    invoice_id: str | None = None
    correction_reason: str | None = None
    day: date | None = None  # only this usage day


@dataclass
class Pulled:
    events: list[UsageRecorded] = field(default_factory=list)
    unknown_resellers: Counter[str] = field(default_factory=Counter)
    lines: int = 0


def revision_at(now: datetime) -> int:
    """Minutes since the epoch: a later pull's estimate is a later revision."""
    return int(now.timestamp()) // 60


async def pull_usage(
    client: PartnerCenterClient,
    resellers_by_mpn: Mapping[str, str],
    source: UsageSource,
    *,
    now: datetime,
    correlation_id: str,
) -> Pulled:
    pulled = Pulled()
    if source.invoice_id is None:
        lines = client.unbilled_usage_line_items(
            source.currency, source.period, correlation_id=correlation_id
        )
    else:
        lines = client.billed_usage_line_items(source.invoice_id, correlation_id=correlation_id)
    async for item in lines:
        pulled.lines += 1
        if source.day is not None and item.usage_date != source.day:
            continue
        event = _event(item, resellers_by_mpn, source, now)
        if event is None:
            pulled.unknown_resellers[item.reseller_mpn_id or ""] += 1
        else:
            pulled.events.append(event)
    return pulled


def _event(
    item: DailyRatedUsageLineItem,
    resellers_by_mpn: Mapping[str, str],
    source: UsageSource,
    now: datetime,
) -> UsageRecorded | None:
    reseller_id = resellers_by_mpn.get(item.reseller_mpn_id or "")
    if reseller_id is None:
        return None
    if source.invoice_id is None:
        return usage_event(
            item, reseller_id, stage="estimate", revision=revision_at(now), event_time=now
        )
    if source.correction_reason is not None:
        return usage_event(
            item,
            reseller_id,
            stage="correction",
            revision=revision_at(now),
            event_time=now,
            reason=source.correction_reason,
        )
    return usage_event(item, reseller_id, stage="final", revision=0, event_time=now)
