"""Mid-term changes in the simulator, as new commerce makes them.

- A subscription PATCH carrying ``billingCycle`` changes the billing frequency: an active
  subscription before its term end, not a triennial term, a cycle its term is sold with; a new
  term starts that day at the list price of the new cycle.
- A PATCH carrying ``termDuration`` (with the ``billingCycle`` to bill it, or the current one)
  lengthens the term: only to a longer term sold with that cycle; a new term starts that day at
  its list price. A shorter term is refused (it can only be scheduled for the renewal).
- ``POST .../subscriptions/{id}/transitions`` upgrades to another offer sold on the same plan
  at a higher price (its upgrade paths here), for the rest of the term (its end kept).
Either deletes the scheduled next-term instructions. Faults injected on ``update_subscription``
(the PATCH) and ``transition_subscription`` apply as to any other operation. The ledger's
proration lines of a change are not simulated: the hub bills them from its own rules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hub.connectors.partner_center import wire_json
from hub.connectors.partner_center.errors import ErrorCode
from hub.connectors.partner_center.renewals_midterm import TRANSITION, Transition
from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.orders import TERM_MONTHS
from hub.simulator.partner_center.billing import billing_period_months
from hub.simulator.partner_center.catalog import Catalog
from hub.simulator.partner_center.errors import SimError
from hub.simulator.partner_center.renewals import ScheduledChanges
from hub.simulator.partner_center.subscriptions import REFUND_WINDOW, Lot, SubscriptionRecord

FIELD = "billingCycle"
TERM_FIELD = "termDuration"


def _changeable(record: SubscriptionRecord, now: datetime) -> None:
    if record.status != SubscriptionStatus.ACTIVE:
        raise SimError(
            400, ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE, "only an active subscription can change"
        )
    if now >= record.term_end:
        raise SimError(409, ErrorCode.CONFLICT_RENEWAL_IN_PROGRESS, "renewal in progress")


class MidTermChanges:
    """Billing-frequency changes and transitions; what changed, for tests and the admin view."""

    def __init__(self, catalog: Catalog, scheduled: ScheduledChanges) -> None:
        self.catalog = catalog
        self.scheduled = scheduled
        self.changed: list[tuple[str, str]] = []  # (subscription id, what)

    def before_patch(self, record: SubscriptionRecord, body: dict[str, Any], now: datetime) -> None:
        """Apply a ``billingCycle`` and/or ``termDuration`` in a PATCH body (checked first: a
        refusal changes nothing)."""
        raw, raw_term = body.get(FIELD), body.get(TERM_FIELD)
        if raw is None and raw_term is None:
            return
        try:
            cycle = record.cycle if raw is None else BillingCycle(str(raw).lower())
        except ValueError as exc:
            raise SimError(400, ErrorCode.BAD_REQUEST, f"unknown billingCycle {raw!r}") from exc
        try:
            term = record.term if raw_term is None else Term(str(raw_term).upper())
        except ValueError as exc:
            said = f"unknown termDuration {raw_term!r}"
            raise SimError(400, ErrorCode.BAD_REQUEST, said) from exc
        if cycle == record.cycle and term == record.term:
            return
        _changeable(record, now)
        if term != record.term and TERM_MONTHS[term] < TERM_MONTHS[record.term]:
            raise SimError(
                400,
                ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE,
                "a term can only grow mid-term; schedule a shorter one for the renewal",
            )
        if term == record.term and record.term is Term.P3Y:
            raise SimError(
                400,
                ErrorCode.SUBSCRIPTION_NOT_MODIFIABLE,
                "a triennial term's billing frequency cannot change mid-term",
            )
        months = billing_period_months(term, cycle)
        price = record.item.unit_price(term, cycle, record.context.currency)
        if months is None or price is None:
            raise SimError(400, ErrorCode.BAD_REQUEST, f"term {term} is not sold billed {cycle}")
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
        changed = [f"billingCycle={cycle}"] if cycle != record.cycle else []
        changed += [f"termDuration={term}"] if term != record.term else []
        record.term = term
        record.cycle = cycle
        record.period_months = months
        record.unit_price = price
        record.term_start = start
        record.period_index = 0
        record.lots = [Lot(record.quantity, start + REFUND_WINDOW)]
        record.context = replace(
            record.context,
            billing_frequency=cycle.capitalize(),
            subscription_start=start,
            subscription_end=record.term_end,
        )
        self._changed(record.id, ",".join(changed))

    def transition(self, record: SubscriptionRecord, body: Transition, now: datetime) -> None:
        _changeable(record, now)
        target = self.catalog.get(body.to_catalog_item_id)
        price = (
            None
            if target is None
            else target.unit_price(record.term, record.cycle, record.context.currency)
        )
        if target is None or price is None or price <= record.unit_price:
            # An upgrade path: another offer sold on the same plan, priced higher.
            raise SimError(
                400,
                ErrorCode.CATALOG_ITEM_ID_IS_NOT_VALID,
                f"{body.to_catalog_item_id} is not an upgrade path of this subscription",
            )
        record.item = target
        record.unit_price = price
        record.context = replace(
            record.context,
            sku_id=target.sku_id,
            availability_id=target.availability_id,
            sku_name=target.sku_name,
        )
        self._changed(record.id, f"transition={target.catalog_item_id}")

    def _changed(self, subscription_id: str, what: str) -> None:
        self.changed.append((subscription_id, what))
        if self.scheduled.instructions.pop(subscription_id, None) is not None:
            self.scheduled.deleted.append(subscription_id)

    def routes(
        self, subscription_path: str, find: Any, clock: Any
    ) -> list[tuple[str, str, Any, str]]:
        """The transitions route; ``find(customer_id, subscription_id)`` and ``clock()`` are
        the simulator's."""

        async def post_transition(request: web.Request) -> web.Response:
            info = request.match_info
            try:
                body = Transition.model_validate(wire_json.loads(await request.read()))
            except ValueError as exc:
                raise SimError(400, ErrorCode.BAD_REQUEST, f"body is not valid: {exc}") from exc
            record = find(info["customer_id"], info["subscription_id"])
            self.transition(record, body, clock())
            payload = {"id": f"tr-{record.id}", "status": "completed", **body.model_dump()}
            return web.Response(
                text=wire_json.dumps(payload), status=201, content_type="application/json"
            )

        return [("POST", subscription_path + "/transitions", post_transition, TRANSITION)]
