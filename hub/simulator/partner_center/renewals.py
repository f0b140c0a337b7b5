"""Scheduled next-term instructions in the simulator, as Partner Center keeps them.

A subscription PATCH carrying ``scheduledNextTermInstructions`` stores them (an active
subscription with auto-renew on only); any mid-term change (quantity or status) and switching
auto-renew off delete them, as Microsoft documents ("Create scheduled changes"). Faults injected
on ``UpdateSubscription`` apply to these PATCHes like any other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.renewals import ScheduledNextTermPatch
from hub.domain.enums import SubscriptionStatus
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.subscriptions import SubscriptionRecord

FIELD = "scheduledNextTermInstructions"


class ScheduledChanges:
    """Instructions by subscription id; what was deleted, for the admin view."""

    def __init__(self) -> None:
        self.instructions: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    def before_patch(self, record: SubscriptionRecord, body: dict[str, Any], now: datetime) -> None:
        """Check and store the instructions in ``body``, or delete them on a mid-term change.

        Runs before the PATCH's other fields apply, so a refused PATCH changes nothing."""
        raw = body.get(FIELD)
        if raw is not None:
            parsed = ScheduledNextTermPatch.model_validate(body).scheduled_next_term_instructions
            if record.status != SubscriptionStatus.ACTIVE or not record.auto_renew:
                raise SimError(
                    400,
                    ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE,
                    "scheduled changes need an active subscription with auto-renew on",
                )
            if now >= record.term_end:
                raise SimError(409, ErrorCode.CONFLICT_RENEWAL_IN_PROGRESS, "renewal in progress")
            assert parsed is not None
            self.instructions[record.id] = parsed.model_dump(mode="json", by_alias=True)
            return
        quantity = body.get("quantity")
        status = body.get("status")
        mid_term = (quantity is not None and quantity != record.quantity) or (
            status is not None and status != record.status
        )
        ends = mid_term or body.get("autoRenewEnabled") is False
        if ends and self.instructions.pop(record.id, None) is not None:
            self.deleted.append(record.id)

    def decorate(self, subscription_id: str, model: dict[str, Any]) -> dict[str, Any]:
        """The subscription's resource with its scheduled instructions, when it has some."""
        held = self.instructions.get(subscription_id)
        return {**model, FIELD: held} if held is not None else model
