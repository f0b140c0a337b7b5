"""Drift: where Partner Center's subscriptions differ from the hub's view of them.

Changes made in the Partner Center portal, renewals and suspensions by Microsoft never pass
through the hub; a periodic sweep compares each subscription Partner Center lists with the hub's
record and classifies every difference, for ops to adopt (the hub takes Partner Center's
values), correct (the hub sends its values back to Partner Center) or ignore.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from hub.domain.enums import SubscriptionStatus


class DriftKind(StrEnum):
    CHANGED = "changed"  # quantity, auto-renew or status changed in the portal
    RENEWED = "renewed"  # the term moved on at Microsoft
    SUSPENDED_BY_MICROSOFT = "suspended_by_microsoft"
    UNKNOWN_TO_HUB = "unknown_to_hub"  # Partner Center has it, the hub never placed it


class Resolution(StrEnum):
    ADOPT = "adopt"
    CORRECT = "correct"
    IGNORE = "ignore"


class SubscriptionView(BaseModel):
    """One subscription as one side sees it (the fields the sweep compares)."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    customer_id: str
    status: SubscriptionStatus
    quantity: int
    auto_renew: bool
    term_end: date | None = None


class Drift(BaseModel):
    """One difference; ``fields`` maps a field to (hub value, Partner Center value)."""

    model_config = ConfigDict(frozen=True)

    kind: DriftKind
    subscription_id: str
    customer_id: str
    fields: dict[str, tuple[str | None, str]]


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_COMPARED = ("status", "quantity", "auto_renew", "term_end")


def classify(hub: SubscriptionView | None, pc: SubscriptionView) -> Drift | None:
    """The one drift of a subscription, or None when both sides agree.

    One kind per subscription, the most telling first: unknown to the hub; suspended by
    Microsoft (Partner Center says suspended where the hub has it active); renewed (its term
    ends later at Partner Center); otherwise changed. ``fields`` lists every differing field,
    so adopting takes all of them at once.
    """
    if hub is None:
        return Drift(
            kind=DriftKind.UNKNOWN_TO_HUB,
            subscription_id=pc.subscription_id,
            customer_id=pc.customer_id,
            fields={f: (None, _text(getattr(pc, f)) or "") for f in _COMPARED},
        )
    diff = {
        f: (_text(getattr(hub, f)), _text(getattr(pc, f)) or "")
        for f in _COMPARED
        if getattr(hub, f) != getattr(pc, f)
    }
    if not diff:
        return None
    if pc.status is SubscriptionStatus.SUSPENDED and hub.status is SubscriptionStatus.ACTIVE:
        kind = DriftKind.SUSPENDED_BY_MICROSOFT
    elif hub.term_end is not None and pc.term_end is not None and pc.term_end > hub.term_end:
        kind = DriftKind.RENEWED
    else:
        kind = DriftKind.CHANGED
    return Drift(
        kind=kind, subscription_id=pc.subscription_id, customer_id=pc.customer_id, fields=diff
    )


def resolution_refusal(kind: DriftKind, resolution: Resolution) -> str | None:
    """Why ops cannot resolve a drift of ``kind`` that way, or None.

    Correcting sends the hub's values to Partner Center: that cannot undo a renewal or a
    suspension Microsoft made, nor correct a subscription the hub has no values for.
    """
    if resolution is not Resolution.CORRECT:
        return None
    if kind is DriftKind.CHANGED:
        return None
    return (
        f"a {kind.value} drift cannot be corrected from the hub's values; adopt or ignore it "
        "(a suspension is lifted at Microsoft, a renewal cancelled within its window)"
    )
