"""Renewals in billing: a renewal is billed as the renewals flow renewed it.

The renewals flow's ``SubscriptionRenewed`` (re-keyed onto ``hub.billing.inputs``) is noted in
billing's state under the subscription and its renewal day; when the month-end close renews the
subscription it takes the noted SKU, quantity, term and billing cycle (a scheduled next-term
change) and prices them from the list in force on the renewal day. Without a note (the renewals
flow not running, or behind the close) the close renews the same values, as before.

A mid-term change (``MidTermChangeApplied``, re-keyed the same way) is rated here as Microsoft
bills it and as ``hub.domain.renewals_midterm`` says: the rest of the current billing period
credited at the old price (the refund line), and the new charge at the new price (the full
first period of the new term after a billing-frequency change; the rest of the period on the new
SKU after an upgrade). Billing's record then holds the new term, cycle, SKU and price, so later
cycles and the renewal bill those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.domain import charges as ch
from hub.domain.prorated_charges import prorated_charge
from hub.domain.renewals_midterm import MIDTERM_CHARGE_TYPES, restarts_term
from hub.errors import RetriableError
from hub.runtime.emit import Emit
from hub.schemas.events.renewals import MidTermChangeApplied, SubscriptionRenewed

if TYPE_CHECKING:
    from hub.streams.billing.ledger import BillingLedger

_FIELDS = ("product_id", "sku_id", "availability_id", "quantity", "term", "billing_cycle")


def _key(subscription_id: str, renewal_day: str) -> str:
    return f"{subscription_id}|{renewal_day}"


def note_renewal(ledger: BillingLedger, ev: SubscriptionRenewed) -> list[Emit]:
    """Keep what ``ev``'s subscription renews as, for the close that bills the renewal."""
    day = ev.term_start.date().isoformat()
    ledger.t.next_terms[_key(ev.subscription_id, day)] = {
        f: getattr(ev, f) if f == "quantity" else str(getattr(ev, f)) for f in _FIELDS
    }
    return []


def renew_as_scheduled(
    ledger: BillingLedger, sub: ch.BilledSubscription, markup_bps: int
) -> ch.BilledSubscription:
    """``sub``'s next term: the noted renewal's values if there is one, priced on renewal day."""
    key = _key(sub.subscription_id, sub.term_end.isoformat())
    noted = ledger.t.next_terms.get(key)
    if noted is not None:
        sub = ch.BilledSubscription.model_validate({**sub.model_dump(), **noted})
        del ledger.t.next_terms[key]
    prices = list(ledger.ref.prices.get(sub.catalog_item_id) or [])
    return ch.renew(sub, prices, markup_bps)


def bill_mid_term(ledger: BillingLedger, ev: MidTermChangeApplied) -> list[Emit]:
    """The credit and the new charge of a mid-term change; billing's record moves with it."""
    old = ledger._sub(ev.subscription_id)
    if old is None:
        # The provisioning fact travels another topic and may not be here yet.
        raise RetriableError(f"subscription {ev.subscription_id} is not provisioned yet")
    ct = MIDTERM_CHARGE_TYPES[ev.kind]
    new_term = restarts_term(ev.kind)
    day = ev.lines[0].charge_start if ev.lines else ev.event_time.date()
    source = str(ev.event_id)
    # The record before the change, kept beside the noted renewals: a replay of this change
    # (after the record moved) rates the same lines again, which booking does not add twice.
    before = _key(ev.subscription_id, f"midterm-{source}")
    kept = ledger.t.next_terms.get(before)
    if kept is not None:
        old = ch.BilledSubscription.model_validate(kept)
    else:
        ledger.t.next_terms[before] = old.model_dump(mode="json")
    new = old.model_copy(
        update={
            "product_id": ev.product_id,
            "sku_id": ev.sku_id,
            "availability_id": ev.availability_id,
            "term": ev.term,
            "billing_cycle": ev.billing_cycle,
            "term_start": ev.term_start.date(),
            "term_end": ev.term_end.date(),
            "unit_cost_minor": ev.unit_cost_minor,
            "unit_price_minor": ev.unit_price_minor,
            "window_start": ev.term_start if new_term else old.window_start,
        }
    )
    emits = ledger._rate(ev, old, prorated_charge(old, source, ct, day, refund=True))
    charge_day = new.term_start if new_term else day
    emits += ledger._rate(ev, new, prorated_charge(new, source, ct, charge_day, refund=False))
    ledger._save_sub(new)
    return emits
