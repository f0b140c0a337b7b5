"""The drift sweep: Partner Center's subscriptions against the hub's view of them.

The hub's view is kept here, entity-keyed in the relationships table: every provisioned
subscription (``hub.orders.provisioning``, keyed by reseller like the flow's input) and every
change the hub made (``hub.subscriptions.events``, re-keyed by reseller onto the flow's input)
under ``subs|<reseller>|<customer>|<subscription>``, and each customer with subscriptions under
``drift|<reseller>|<customer>``. Each sweep tick lists the subscriptions at Partner Center of
the partition's next page of customers (a cursor per partition), so a tick's work does not grow
with a reseller's size, and classifies every difference (hub/domain/relationships/drift.py).
A difference is reported once (``driftseen|...``) until it changes; ops adopt, correct or
ignore it with ``SubscriptionDriftResolution``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from hub.connectors.partner_center.models import Subscription, SubscriptionPatch
from hub.domain.enums import SubscriptionStatus
from hub.domain.relationships.drift import (
    Drift,
    Resolution,
    SubscriptionView,
    classify,
    resolution_refusal,
)
from hub.runtime.emit import Emit
from hub.schemas.envelope import Event, caused_by, derived_event_id
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.relationships import (
    DriftField,
    RelationshipSweepTick,
    SubscriptionDriftDetected,
    SubscriptionDriftResolution,
    SubscriptionDriftResolved,
)
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.relationships import metrics
from hub.streams.relationships.onboarding import utc_now
from hub.streams.relationships.partner_center import CustomerDirectory
from hub.streams.relationships.sweep import sweep_page
from hub.topics import Topic, TopicCatalog

Clock = Callable[[], datetime]
# The Microsoft customer id of a customer (onboarding record, or the tenant provisioning made).
MicrosoftId = Callable[[str, str, Event], Awaitable[str]]

_OUTCOME = {
    Resolution.ADOPT: "adopted",
    Resolution.CORRECT: "corrected",
    Resolution.IGNORE: "ignored",
}


class Seen(BaseModel):
    """The last difference reported for a subscription, and whether ops ignored it."""

    fingerprint: str
    drift: Drift
    ignored: bool = False


def _view_of(pc: Subscription, customer_id: str) -> SubscriptionView:
    return SubscriptionView(
        subscription_id=pc.id,
        customer_id=customer_id,
        status=pc.status,
        quantity=pc.quantity,
        auto_renew=pc.auto_renew_enabled,
        term_end=pc.commitment_end_date.date(),
    )


def fingerprint(drift: Drift) -> str:
    text = json.dumps([drift.kind.value, sorted(drift.fields.items())])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class DriftSweep:
    """Handlers of the hub's subscription facts, sweep ticks and resolutions."""

    def __init__(
        self,
        catalog: TopicCatalog,
        state: MutableMapping[str, Any],
        directory: CustomerDirectory,
        microsoft_id: MicrosoftId,
        page: int = 50,
        clock: Clock = utc_now,
    ) -> None:
        self.catalog = catalog
        self.state = state
        self.directory = directory
        self.microsoft_id = microsoft_id
        self.page = page
        self.clock = clock

    # -- the hub's view ----------------------------------------------------------------------

    def on_provisioned(self, ev: SubscriptionProvisioned) -> Sequence[Emit]:
        key = f"subs|{ev.reseller_id}|{ev.customer_id}|{ev.subscription_id}"
        if key not in self.state:
            self.state[key] = SubscriptionView(
                subscription_id=ev.subscription_id,
                customer_id=ev.customer_id,
                status=SubscriptionStatus.ACTIVE,
                quantity=ev.quantity,
                auto_renew=ev.auto_renew,
                term_end=ev.term_end,
            ).model_dump(mode="json")
        customer = f"drift|{ev.reseller_id}|{ev.customer_id}"
        if customer not in self.state:
            self.state[customer] = {"reseller_id": ev.reseller_id, "customer_id": ev.customer_id}
        return []

    def on_changed(self, ev: SubscriptionChanged) -> Sequence[Emit]:
        key = f"subs|{ev.reseller_id}|{ev.customer_id}|{ev.subscription_id}"
        raw = self.state.get(key)
        if raw is None:
            return []  # not provisioned through the hub: the sweep reports it
        view = SubscriptionView.model_validate(raw)
        self.state[key] = view.model_copy(
            update={"status": ev.status, "quantity": ev.new_quantity, "auto_renew": ev.auto_renew}
        ).model_dump(mode="json")
        return []

    # -- the sweep ---------------------------------------------------------------------------

    async def on_tick(self, tick: RelationshipSweepTick) -> list[Emit]:
        async def visit(_key: str, doc: Any) -> list[Emit]:
            return await self._customer(tick, doc["reseller_id"], doc["customer_id"])

        return await sweep_page(
            self.state,
            sweep="drift",
            cursor_key=f"driftcursor|{tick.partition}",
            prefix="drift|",
            page=self.page,
            visit=visit,
        )

    async def _customer(
        self, tick: RelationshipSweepTick, reseller_id: str, customer_id: str
    ) -> list[Emit]:
        ms_id = await self.microsoft_id(reseller_id, customer_id, tick)
        listed = await self.directory.list_subscriptions(
            ms_id, correlation_id=f"drift-sweep-{tick.partition}"
        )
        prefix = f"subs|{reseller_id}|{customer_id}|"
        out: list[Emit] = []
        for pc in listed:
            raw = self.state.get(prefix + pc.id)
            hub = None if raw is None else SubscriptionView.model_validate(raw)
            drift = classify(hub, _view_of(pc, customer_id))
            seen_key = f"driftseen|{reseller_id}|{customer_id}|{pc.id}"
            if drift is None:
                if seen_key in self.state:
                    del self.state[seen_key]
                continue
            mark = fingerprint(drift)
            seen_raw = self.state.get(seen_key)
            if seen_raw is not None and Seen.model_validate(seen_raw).fingerprint == mark:
                continue  # reported (or ignored) already
            self.state[seen_key] = Seen(fingerprint=mark, drift=drift).model_dump(mode="json")
            metrics.DRIFTS.labels(kind=drift.kind.value).inc()
            detected = SubscriptionDriftDetected(
                **{
                    **caused_by(tick, "SubscriptionDriftDetected"),
                    "event_id": derived_event_id(pc.id, "SubscriptionDriftDetected", mark),
                    "reseller_id": reseller_id,
                },
                event_time=self.clock(),
                customer_id=customer_id,
                subscription_id=pc.id,
                kind=drift.kind.value,
                fields=tuple(
                    DriftField(name=name, hub=hub_value, microsoft=ms_value)
                    for name, (hub_value, ms_value) in sorted(drift.fields.items())
                ),
                fingerprint=mark,
            )
            out.append(Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), reseller_id, detected))
        return out

    # -- ops resolutions ---------------------------------------------------------------------

    async def on_resolution(self, cmd: SubscriptionDriftResolution) -> list[Emit]:
        seen_key = f"driftseen|{cmd.reseller_id}|{cmd.customer_id}|{cmd.subscription_id}"
        raw = self.state.get(seen_key)
        resolution = Resolution(cmd.resolution)
        if raw is None:
            return self._resolved(cmd, "refused", "no open drift for this subscription")
        seen = Seen.model_validate(raw)
        why = resolution_refusal(seen.drift.kind, resolution)
        if why is not None:
            return self._resolved(cmd, "refused", why)
        key = f"subs|{cmd.reseller_id}|{cmd.customer_id}|{cmd.subscription_id}"
        if resolution is Resolution.ADOPT:
            self.state[key] = self._adopted(seen.drift, self.state.get(key)).model_dump(mode="json")
            del self.state[seen_key]
            message = "the hub took Partner Center's values: " + ", ".join(seen.drift.fields)
        elif resolution is Resolution.CORRECT:
            hub = SubscriptionView.model_validate(self.state[key])
            ms_id = await self.microsoft_id(cmd.reseller_id, cmd.customer_id, cmd)
            await self.directory.update_subscription(
                ms_id,
                cmd.subscription_id,
                SubscriptionPatch(quantity=hub.quantity, auto_renew_enabled=hub.auto_renew),
                correlation_id=cmd.correlation_id,
            )
            del self.state[seen_key]
            message = f"Partner Center got the hub's values back: {hub.quantity} seats"
        else:
            self.state[seen_key] = seen.model_copy(update={"ignored": True}).model_dump(mode="json")
            message = "ignored until the difference changes"
        return self._resolved(cmd, _OUTCOME[resolution], message)

    @staticmethod
    def _adopted(drift: Drift, raw: Any) -> SubscriptionView:
        values = {name: ms for name, (_, ms) in drift.fields.items()}
        base = (
            SubscriptionView.model_validate(raw)
            if raw is not None
            else SubscriptionView(
                subscription_id=drift.subscription_id,
                customer_id=drift.customer_id,
                status=SubscriptionStatus(values["status"]),
                quantity=int(values["quantity"]),
                auto_renew=values["auto_renew"] == "true",
            )
        )
        update: dict[str, Any] = {}
        if "status" in values:
            update["status"] = SubscriptionStatus(values["status"])
        if "quantity" in values:
            update["quantity"] = int(values["quantity"])
        if "auto_renew" in values:
            update["auto_renew"] = values["auto_renew"] == "true"
        if values.get("term_end"):
            update["term_end"] = datetime.fromisoformat(values["term_end"]).date()
        return base.model_copy(update=update)

    def _resolved(self, cmd: SubscriptionDriftResolution, outcome: str, message: str) -> list[Emit]:
        metrics.DRIFT_RESOLUTIONS.labels(outcome=outcome).inc()
        resolved = SubscriptionDriftResolved(
            **caused_by(cmd, "SubscriptionDriftResolved"),
            event_time=self.clock(),
            customer_id=cmd.customer_id,
            subscription_id=cmd.subscription_id,
            outcome=outcome,  # type: ignore[arg-type]
            message=message,
        )
        return [Emit(self.catalog.name(Topic.RELATIONSHIP_EVENTS), cmd.reseller_id, resolved)]
