"""Transfers between two resellers of the distributor, in billing and in the credit exposure.

``SubscriptionTransferRequested`` reaches billing (``hub.billing.inputs``, keyed by the old
reseller) through the relationships flow. ``book_transfer`` runs inside the billing ledger:

- on the old reseller's side it checks the transfer (hub/domain/relationships/transfers.py),
  ends the old reseller's liability at the effective day (a ``removeQuantity`` refund of every
  seat from that day to the period's end, rated like any proration) and stops its later cycles,
  then sends ``SubscriptionTransferred``: to billing keyed by the new reseller, to both
  resellers' status topics, and to ``hub.billing.collections`` keyed by each (the exposure);
- on the new reseller's side it opens the subscription under the new reseller at its own price
  and books the rest of the period from the effective day (``addQuantity``); its later cycles
  are the new reseller's.

``transfer_exposure`` runs inside the order intake: the old reseller's open commitment for the
rest of the term is released, the new one's taken on, each once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from hub.domain import charges as ch
from hub.domain import credit
from hub.domain.enums import ChargeType, ProductKind, SubscriptionStatus
from hub.domain.orders import billing_periods_per_term, find_price, line_unit_price
from hub.domain.prorated_charges import prorated_charge
from hub.domain.rating import rate_charge
from hub.domain.relationships.transfers import (
    TransferKind,
    refusal,
    released_commitment,
)
from hub.errors import RetriableError
from hub.runtime.emit import Emit
from hub.schemas.envelope import caused_by
from hub.schemas.events.relationships import (
    SubscriptionTransferred,
    SubscriptionTransferRefused,
    SubscriptionTransferRequested,
)
from hub.topics import PartnerTopic, Topic

if TYPE_CHECKING:
    from hub.streams.billing.ledger import BillingLedger
    from hub.streams.orders.state import IntakeState


def _term_value(unit_price_minor: int, sub: ch.BilledSubscription) -> int:
    return unit_price_minor * sub.quantity * billing_periods_per_term(sub.term, sub.billing_cycle)


def book_transfer(
    ledger: BillingLedger, ev: SubscriptionTransferRequested | SubscriptionTransferred
) -> list[Emit]:
    """Billing's part of a transfer (see the module docstring)."""
    if isinstance(ev, SubscriptionTransferRequested):
        return _from_side(ledger, ev)
    if ev.side == "to":
        return _to_side(ledger, ev)
    return []


def _refused(ledger: BillingLedger, ev: SubscriptionTransferRequested, why: str) -> list[Emit]:
    refused = SubscriptionTransferRefused(
        **caused_by(ev, "SubscriptionTransferRefused"),
        event_time=ev.event_time,
        to_reseller_id=ev.to_reseller_id,
        subscription_id=ev.subscription_id,
        message=why,
    )
    return [
        Emit(ledger.topics.name(Topic.RELATIONSHIP_EVENTS), ev.reseller_id, refused),
        Emit(
            ledger.topics.partner(ev.reseller_id, PartnerTopic.STATUS), ev.subscription_id, refused
        ),
    ]


def _from_side(ledger: BillingLedger, ev: SubscriptionTransferRequested) -> list[Emit]:
    sub = ledger._sub(ev.subscription_id)
    if sub is None:
        raise RetriableError(f"subscription {ev.subscription_id} is not provisioned yet")
    if sub.reseller_id != ev.reseller_id:
        return _refused(ledger, ev, f"subscription {ev.subscription_id} is not {ev.reseller_id}'s")
    new = ledger.ref.resellers.get(ev.to_reseller_id)
    why = refusal(
        kind=TransferKind.BETWEEN_RESELLERS,
        status=SubscriptionStatus.ACTIVE if sub.active else SubscriptionStatus.DELETED,
        from_reseller=ev.reseller_id,
        to_reseller=ev.to_reseller_id,
        known_resellers=set(ledger.ref.resellers),
        currencies=(sub.currency, None if new is None else new.currency),
        effective=ev.effective_date,
        term_start=sub.term_start,
        term_end=sub.term_end - timedelta(days=1),
    )
    entry = find_price(
        ledger.ref.prices,
        sub.catalog_item_id,
        sub.term,
        sub.billing_cycle,
        sub.currency,
        sub.term_start,
    )
    if why is None and (new is None or entry is None):
        why = f"no price of {sub.catalog_item_id} for {ev.to_reseller_id} in {sub.currency}"
    if why is not None or new is None or entry is None:
        return _refused(ledger, ev, why or "refused")
    to_price = line_unit_price(entry, new)
    source = str(ev.event_id)
    refund = rate_charge(
        prorated_charge(sub, source, ChargeType.REMOVE_QUANTITY, ev.effective_date, refund=True),
        [sub.protected_entry()],
        0,
        rounding=ledger.policy.rounding,
    )
    emits = ledger._book(ev, refund, sub)
    ledger._save_sub(sub.model_copy(update={"active": False}))
    # The new reseller's part, as its own booking will rate it (same rule, its price).
    to_sub = sub.model_copy(update={"reseller_id": ev.to_reseller_id, "unit_price_minor": to_price})
    added = rate_charge(
        prorated_charge(to_sub, source, ChargeType.ADD_QUANTITY, ev.effective_date, refund=False),
        [to_sub.protected_entry()],
        0,
        rounding=ledger.policy.rounding,
    )
    period = ch.billing_period(sub, ev.effective_date)
    last_day = sub.term_end - timedelta(days=1)
    common = {
        "event_time": ev.event_time,
        "from_reseller_id": ev.reseller_id,
        "to_reseller_id": ev.to_reseller_id,
        "subscription_id": sub.subscription_id,
        "customer_id": sub.customer_id,
        "effective_date": ev.effective_date,
        "product_id": sub.product_id,
        "sku_id": sub.sku_id,
        "availability_id": sub.availability_id,
        "term": sub.term,
        "billing_cycle": sub.billing_cycle,
        "currency": sub.currency,
        "quantity": sub.quantity,
        "term_start": sub.term_start,
        "term_end": sub.term_end,
        "auto_renew": sub.auto_renew,
        "unit_cost_minor": sub.unit_cost_minor,
        "from_unit_price_minor": sub.unit_price_minor,
        "to_unit_price_minor": to_price,
        "period_start": period[0],
        "period_end": period[1],
        "from_period_minor": sub.unit_price_minor * sub.quantity + refund.price_minor,
        "to_period_minor": added.price_minor,
        "released_commitment_minor": released_commitment(
            _term_value(sub.unit_price_minor, sub), sub.term_start, last_day, ev.effective_date
        ),
        "taken_commitment_minor": released_commitment(
            _term_value(to_price, sub), sub.term_start, last_day, ev.effective_date
        ),
    }
    old = SubscriptionTransferred(
        **{**caused_by(ev, "SubscriptionTransferred", "from"), **common},
        side="from",
    )
    new_side = SubscriptionTransferred(
        **{
            **caused_by(ev, "SubscriptionTransferred", "to"),
            **common,
            "reseller_id": ev.to_reseller_id,
        },
        side="to",
    )
    topics = ledger.topics
    return [
        *emits,
        Emit(topics.name(Topic.BILLING_INPUTS), ev.to_reseller_id, new_side),
        Emit(topics.partner(ev.reseller_id, PartnerTopic.STATUS), sub.subscription_id, old),
        Emit(topics.partner(ev.to_reseller_id, PartnerTopic.STATUS), sub.subscription_id, new_side),
        Emit(topics.name(Topic.COLLECTIONS), ev.reseller_id, old),
        Emit(topics.name(Topic.COLLECTIONS), ev.to_reseller_id, new_side),
        Emit(topics.name(Topic.RELATIONSHIP_EVENTS), ev.reseller_id, old),
        # The orders lifecycle's record moves too: the old reseller may no longer change it.
        Emit(topics.name(Topic.SUBSCRIPTION_COMMANDS), ev.reseller_id, old),
    ]


def _to_side(ledger: BillingLedger, ev: SubscriptionTransferred) -> list[Emit]:
    existing = ledger._sub(ev.subscription_id)
    # The product's kind from the catalogue, as at provisioning: tax differs for a service.
    item = ledger.ref.catalogue.get(f"{ev.product_id}:{ev.sku_id}:{ev.availability_id}")
    sub = ch.BilledSubscription(
        subscription_id=ev.subscription_id,
        customer_id=ev.customer_id,
        reseller_id=ev.to_reseller_id,
        product_id=ev.product_id,
        sku_id=ev.sku_id,
        availability_id=ev.availability_id,
        kind=item.kind if item is not None else ProductKind.SUBSCRIPTION,
        term=ev.term,
        billing_cycle=ev.billing_cycle,
        currency=ev.currency,
        quantity=ev.quantity,
        term_start=ev.term_start,
        term_end=ev.term_end,
        auto_renew=ev.auto_renew,
        unit_cost_minor=ev.unit_cost_minor,
        unit_price_minor=ev.to_unit_price_minor,
        provisioned_by=str(ev.event_id),
    )
    if existing is None or existing.provisioned_by != sub.provisioned_by:
        ledger._save_sub(sub)
    line = rate_charge(
        prorated_charge(
            sub,
            str(ev.causation_id or ev.event_id),
            ChargeType.ADD_QUANTITY,
            ev.effective_date,
            refund=False,
        ),
        [sub.protected_entry()],
        0,
        rounding=ledger.policy.rounding,
    )
    return ledger._book(ev, line, sub)


def transfer_exposure(state: IntakeState, ev: SubscriptionTransferred) -> list[Emit]:
    """The order intake's part: each side's exposure moves once (``state.applied``)."""
    from hub.streams.orders.state import entity_key

    applied = entity_key(ev.reseller_id, str(ev.event_id))
    if applied in state.applied:
        return []
    exposure = state.exposure_of(ev.reseller_id, ev.currency)
    if ev.side == "from":
        moved = credit.release_refused_order(exposure, ev.released_commitment_minor)
    else:
        moved = credit.apply_commitment(exposure, ev.taken_commitment_minor)
    state.put_exposure(moved)
    state.applied[applied] = 1
    return []
