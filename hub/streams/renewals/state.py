"""What the renewals flow keeps, entity-keyed in its one journaled table.

- ``subs|<reseller>|<subscription>``: the subscription, its price today, the notices sent for
  the current term and any scheduled next term;
- ``due|<partition>|<due ms>|<reseller>|<subscription>``: a time index with one entry per
  subscription (its next notice or its renewal), so a tick reads only what is due, in order,
  never every subscription;
- ``changes|<reseller>|<change id>``: the outcome of each scheduled-change request, and under
  ``approval-<id>`` of each renewal approval (a retry gets the same answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from hub.domain.renewals import NextTerm
from hub.domain.subscriptions import Subscription
from hub.runtime.journal import Journal
from hub.runtime.state import View, scan


class RenewalRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    subscription: Subscription
    currency: str
    unit_price_minor: int
    unit_cost_minor: int
    partition: int
    sent: tuple[int, ...] = ()
    scheduled: NextTerm | None = None
    scheduled_change_id: str | None = None
    due_key: str | None = None
    # Approval policy: the term end the reseller approved renewing at, and the term end at
    # which auto-renew was switched off for want of an approval (each for the current term).
    approved_for: datetime | None = None
    switched_off_for: datetime | None = None


def entity_key(reseller_id: str, entity_id: str) -> str:
    return f"{reseller_id}|{entity_id}"


def due_key(partition: int, due_at: datetime, reseller_id: str, subscription_id: str) -> str:
    ms = int(due_at.timestamp() * 1000)
    return f"{partition}|{ms:015d}|{reseller_id}|{subscription_id}"


def due_ms(key: str) -> int:
    return int(key.split("|")[1])


@dataclass
class RenewalsState:
    subs: View
    due: View
    changes: View

    @classmethod
    def of(cls, journal: Journal) -> RenewalsState:
        return cls(journal.view("subs"), journal.view("due"), journal.view("changes"))

    def record(self, reseller_id: str, subscription_id: str) -> RenewalRecord | None:
        raw = self.subs.get(entity_key(reseller_id, subscription_id))
        return None if raw is None else RenewalRecord.model_validate(raw)

    def put(self, record: RenewalRecord) -> None:
        sub = record.subscription
        self.subs[entity_key(sub.reseller_id, sub.subscription_id)] = record.model_dump(mode="json")

    def remove(self, record: RenewalRecord) -> None:
        sub = record.subscription
        self.subs.pop(entity_key(sub.reseller_id, sub.subscription_id), None)
        if record.due_key is not None:
            self.due.pop(record.due_key, None)

    def of_reseller(self, reseller_id: str) -> Iterator[RenewalRecord]:
        for _, raw in scan(self.subs, f"{reseller_id}|"):
            yield RenewalRecord.model_validate(raw)

    def due_by(self, partition: int, now_ms: int) -> Iterator[tuple[str, str, str]]:
        """(key, reseller, subscription) of entries due by ``now_ms``, earliest first."""
        for key, _ in scan(self.due, f"{partition}|"):
            if due_ms(key) > now_ms:
                return
            _, _, reseller_id, subscription_id = key.split("|", 3)
            yield key, reseller_id, subscription_id
