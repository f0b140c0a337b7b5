"""Renewals in billing: a renewal is billed as the renewals flow renewed it.

The renewals flow's ``SubscriptionRenewed`` (re-keyed onto ``hub.billing.inputs``) is noted in
billing's state under the subscription and its renewal day; when the month-end close renews the
subscription it takes the noted SKU, quantity, term and billing cycle (a scheduled next-term
change) and prices them from the list in force on the renewal day. Without a note (the renewals
flow not running, or behind the close) the close renews the same values, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.domain import charges as ch
from hub.runtime.emit import Emit
from hub.schemas.events.renewals import SubscriptionRenewed

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
