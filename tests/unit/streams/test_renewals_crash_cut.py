"""The renewals flow is crash-safe against its journal.

Every write of the flow goes to its one journaled table, so a crash lands a *prefix* of the
store's writes (hub/runtime/journal.py). For a message cut short at every write, a replay of
the same message over the landed prefix must end in the uncut run's state with the uncut run's
outputs: the journal completes the message's entry if its head landed, else the flow handles
the message anew and decides the same. Proved here for the richest message, the renewal-day
tick (a scheduled change applied, a plain renewal, an expiry and a notice, at once), and for a
scheduled-change request, whose replay must call Partner Center again only if none of its entry
landed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from hub.domain.enums import BillingCycle
from hub.domain.renewals import RenewalPolicy
from hub.runtime.emit import Emit
from hub.runtime.journal import Journal
from hub.runtime.state import MemoryStore
from hub.schemas.envelope import Event
from hub.schemas.events.renewals import (
    NextTermChangeScheduled,
    RenewalNoticeIssued,
    RenewalsDue,
    SubscriptionRenewed,
)
from hub.streams.renewals.flow import Renewals
from hub.streams.renewals.state import RenewalsState
from tests.support import crash_cut
from tests.unit.streams.test_renewals_flow import (
    RENEWS,
    TOPICS,
    FakeScheduler,
    World,
    provisioned,
    reference,
    request,
)

HEAD = "~j|0|h"  # the journal's head of partition 0: once it lands, the entry is completed


class Recorded(World):
    """``World`` over a given store, by default one that records its writes."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else crash_cut.RecordingStore()
        self.journal = Journal(self.store, "renewals")
        self.state = RenewalsState.of(self.journal)
        self.scheduler = FakeScheduler()
        self.flow = Renewals(
            TOPICS, self.state, reference, self.scheduler, RenewalPolicy(), partition_of=lambda _: 0
        )

    @property
    def log(self) -> list[tuple[str, object]]:
        assert isinstance(self.store, crash_cut.RecordingStore)
        return self.store.log


def due(seed: str, now: datetime) -> RenewalsDue:
    """A tick with a fixed id: its replay is the same message."""
    return RenewalsDue(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, seed),
        event_time=now,
        correlation_id=seed,
        partition=0,
        now=now,
    )


def subscriptions() -> list[Event]:
    """sub-1 and sub-2 renew on RENEWS, sub-3 later, sub-4 not at all (auto-renew off)."""
    later = provisioned("sub-3").model_copy(
        update={"term_start": date(2025, 3, 25), "term_end": date(2026, 3, 25)}
    )
    return [
        provisioned("sub-1"),
        provisioned("sub-2"),
        later,
        provisioned("sub-4").model_copy(update={"auto_renew": False}),
    ]


SCHEDULE = request(quantity=101, billing_cycle=BillingCycle.MONTHLY)
# The 7-day notices of sub-1 and sub-2 (sub-3's first notice is not due yet).
NOTICES = due("tick-notices", RENEWS - timedelta(days=7))
# sub-1 renews with its scheduled change, sub-2 as it is, sub-4 expires, sub-3 gets its notice.
RENEWAL_DAY = due("tick-renewal-day", RENEWS + timedelta(hours=1))


async def feed(world: World, events: Sequence[Event]) -> list[Emit]:
    out: list[Emit] = []
    for event in events:
        out += await world.send(event)
    return out


def sent(emits: Sequence[Emit]) -> list[tuple[str, str, Event]]:
    return [(e.topic, e.key, e.event) for e in emits]


async def test_a_renewal_day_tick_cut_short_at_any_write_replays_to_the_uncut_run() -> None:
    whole = Recorded()
    await feed(whole, [*subscriptions(), SCHEDULE, NOTICES])
    log = whole.log
    start = len(log)
    expected = await whole.send(RENEWAL_DAY)
    renewed = [e.event for e in expected if isinstance(e.event, SubscriptionRenewed)]
    assert sorted((r.subscription_id, r.scheduled_change_applied) for r in renewed) == [
        ("sub-1", True),
        ("sub-1", True),  # to the renewals topic and to the reseller's status topic
        ("sub-2", False),
        ("sub-2", False),
    ]
    notices = [e.event for e in expected if isinstance(e.event, RenewalNoticeIssued)]
    assert [(n.subscription_id, n.lead_days) for n in notices] == [("sub-3", 30)] * 2
    assert len(log) - start > 2, "the tick writes next to nothing: nothing to cut short"

    torn: list[int] = []  # the head landed, some of the tick's writes did not
    anew: list[int] = []  # the head did not land: the tick is handled again
    for cut in range(start, len(log) + 1):
        landed = crash_cut.landed(log[:cut])
        if landed.data != whole.store.data:
            head_landed = any(key == HEAD for key, _ in log[start:cut])
            (torn if head_landed else anew).append(cut - start)
        replay = Recorded(landed)
        replayed = await replay.send(RENEWAL_DAY)
        assert sent(replayed) == sent(expected), f"cut after {cut - start} writes"
        assert replay.store.data == whole.store.data, f"cut after {cut - start} writes"
    # Not vacuous: cuts left the state short of the uncut run's, both before the head
    # (handled anew) and after it (completed from the entry).
    assert anew, "no cut before the head left the state different"
    assert torn, "no cut after the head left the state different"
    assert (len(log) - start) // 2 in torn + anew, "the middle cut left the state as it ends"


async def test_a_scheduled_change_cut_short_calls_partner_center_again_only_if_unkept() -> None:
    whole = Recorded()
    await feed(whole, subscriptions())
    log = whole.log
    start = len(log)
    expected = await whole.send(SCHEDULE)
    assert isinstance(expected[0].event, NextTermChangeScheduled)
    assert len(whole.scheduler.calls) == 1
    assert len(log) - start > 2, "the request writes next to nothing: nothing to cut short"

    differed = 0
    for cut in range(start, len(log) + 1):
        landed = crash_cut.landed(log[:cut])
        differed += landed.data != whole.store.data
        head_landed = any(key == HEAD for key, _ in log[start:cut])
        replay = Recorded(landed)
        replayed = await replay.send(SCHEDULE)
        assert sent(replayed) == sent(expected), f"cut after {cut - start} writes"
        assert replay.store.data == whole.store.data, f"cut after {cut - start} writes"
        # Kept under the head: the outcome is re-sent, Partner Center is not asked again.
        calls = [] if head_landed else whole.scheduler.calls
        assert replay.scheduler.calls == calls, f"cut after {cut - start} writes"
    assert differed, "no cut left the state different from the uncut run's"
