"""Transfers: a subscription moves to another reseller (of this distributor, or in from or out
to another partner, Partner Center's transfer resources); who is liable for what, from when.

Liability changes hands at the start of the effective day: the old reseller pays for the days
before it, the new one from it on, both prorated daily over the charge period
(``hub.domain.proration``). The two parts are exact minor units and always sum to the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from hub.domain.enums import BillingCycle, SubscriptionStatus, Term
from hub.domain.proration import period_days, prorate
from hub.domain.subscriptions import Subscription


class TransferKind(StrEnum):
    BETWEEN_RESELLERS = "between_resellers"  # both indirect resellers of this distributor
    IN_FROM_PARTNER = "in_from_partner"  # another partner's subscription comes to a reseller
    OUT_TO_PARTNER = "out_to_partner"  # a reseller's subscription leaves the distributor


@dataclass(frozen=True)
class Split:
    """One charge period's amount split at the effective day."""

    old_minor: int  # the period's days before the effective day: the old reseller's
    new_minor: int  # the effective day onward: the new reseller's

    @property
    def whole_minor(self) -> int:
        return self.old_minor + self.new_minor


def split_liability(
    amount_minor: int, period_start: date, period_end: date, effective: date
) -> Split:
    """Split a period's charge at ``effective`` (both period days included).

    The new reseller's part is ``prorate`` from the effective day (the same rounding as every
    other proration in the hub); the old reseller's is the rest, so nothing is lost or doubled.
    """
    period_days(period_start, period_end)  # refuses an empty period
    new = prorate(amount_minor, period_start, period_end, effective)
    return Split(old_minor=amount_minor - new, new_minor=new)


def released_commitment(
    commitment_minor: int, term_start: date, term_end: date, effective: date
) -> int:
    """The part of the old reseller's open commitment (the term's value not yet invoiced, held
    in its credit exposure) that leaves with the subscription: the days from ``effective`` to
    the end of the term."""
    return prorate(commitment_minor, term_start, term_end, effective)


TRANSFERABLE = frozenset({SubscriptionStatus.ACTIVE})


def refusal(
    *,
    kind: TransferKind,
    status: SubscriptionStatus,
    from_reseller: str | None,
    to_reseller: str | None,
    known_resellers: frozenset[str] | set[str],
    currencies: tuple[str | None, str | None],
    effective: date,
    term_start: date,
    term_end: date,
) -> str | None:
    """Why a transfer cannot go ahead (Partner Center's eligibility, and the hub's own), or None."""
    if status not in TRANSFERABLE:
        return f"only an active subscription can be transferred; this one is {status.value}"
    if not term_start <= effective <= term_end:
        return (
            f"effective date {effective} is outside the subscription's term "
            f"{term_start}..{term_end}; pick a day within it"
        )
    needs_from = kind is not TransferKind.IN_FROM_PARTNER
    needs_to = kind is not TransferKind.OUT_TO_PARTNER
    for role, reseller, needed in (
        ("from", from_reseller, needs_from),
        ("to", to_reseller, needs_to),
    ):
        if needed and (reseller is None or reseller not in known_resellers):
            return f"{role}-reseller {reseller!r} is not a reseller of this distributor"
    if kind is TransferKind.BETWEEN_RESELLERS:
        if from_reseller == to_reseller:
            return "a transfer needs two different resellers"
        old, new = currencies
        if old != new:
            return (
                f"the resellers bill in different currencies ({old} and {new}); "
                "a transfer between them needs a repricing by finance first"
            )
    return None


def moved_subscription(
    *,
    subscription_id: str,
    transfer_id: str,
    to_reseller_id: str,
    customer_id: str,
    product_id: str,
    sku_id: str,
    availability_id: str,
    quantity: int,
    term: Term,
    billing_cycle: BillingCycle,
    auto_renew: bool,
    term_start: date,
    term_end: date,
) -> Subscription:
    """The subscription as the new reseller holds it after a transfer: the same term, seats and
    renewal setting, under the new reseller and the transfer (not the old reseller's order).

    The seats were bought, and their 7-day refund windows opened, by the old reseller: none of
    them is refundable by the new one (the cancellation window closes at the term's start), so
    a transfer inside the first week cannot be turned into a refund of another reseller's
    purchase."""
    start = datetime.combine(term_start, time(), UTC)
    return Subscription(
        subscription_id=subscription_id,
        order_id=f"transfer-{transfer_id}",
        reseller_id=to_reseller_id,
        customer_id=customer_id,
        product_id=product_id,
        sku_id=sku_id,
        availability_id=availability_id,
        quantity=quantity,
        term=term,
        billing_cycle=billing_cycle,
        status=SubscriptionStatus.ACTIVE,
        auto_renew=auto_renew,
        term_start=start,
        term_end=datetime.combine(term_end, time(), UTC),
        window_start=start,
        cancellation_allowed_until_date=start,
    )
