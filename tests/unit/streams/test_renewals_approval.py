"""The approval policy in the renewals flow: an unapproved renewal gets auto-renew switched off
(a command to the orders lifecycle, the reseller told why) and expires; an approval, checked to
be the reseller's own subscription, keeps it renewing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.renewals import RenewalPolicy
from hub.runtime.emit import Emit
from hub.schemas.events.renewals import (
    AutoRenewSwitchOff,
    RenewalApprovalRecorded,
    RenewalApprovalRejected,
    RenewalApproved,
    RenewalNotApproved,
    RenewalNoticeIssued,
    RenewalsDue,
    SubscriptionRenewed,
)
from hub.streams.renewals.config import RenewalsConfig
from hub.streams.renewals.flow import Renewals
from hub.streams.renewals.views import upcoming
from hub.topics import PartnerTopic, Topic
from tests.unit.streams.test_renewals_flow import (
    RENEWS,
    TOPICS,
    World,
    changed,
    ids,
    provisioned,
    reference,
)

COMMANDS = TOPICS.name(Topic.SUBSCRIPTION_COMMANDS)
STATUS = TOPICS.partner("contoso", PartnerTopic.STATUS)


def approving_world(*resellers: str) -> World:
    w = World()
    config = RenewalsConfig(approval_resellers=",".join(resellers), approval_deadline_days=2)
    w.flow = Renewals(
        TOPICS,
        w.state,
        reference,
        w.scheduler,
        RenewalPolicy(),
        partition_of=lambda _: 0,
        approval_required=config.approval_required,
    )
    return w


async def tick(w: World, now: datetime) -> list[Emit]:
    due = RenewalsDue(
        event_id=uuid.uuid4(), event_time=now, correlation_id="tick", partition=0, now=now
    )
    return list(await w.send(due))


def approval(approval_id: str = "apr-1", **kw: object) -> RenewalApproved:
    values: dict[str, object] = {
        **ids(approval_id),
        "approval_id": approval_id,
        "customer_id": "cust-1",
        "subscription_id": "sub-1",
        "requested_at": datetime(2026, 2, 10, tzinfo=UTC),
        **kw,
    }
    return RenewalApproved.model_validate(values)


def test_the_setting_names_the_resellers_that_must_approve() -> None:
    assert RenewalsConfig(approval_resellers="contoso,fabrikam").approval_required("fabrikam")
    assert not RenewalsConfig(approval_resellers="contoso").approval_required("fabrikam")
    assert RenewalsConfig(approval_resellers="*").approval_required("anyone")
    assert not RenewalsConfig().approval_required("contoso")


async def test_without_approval_auto_renew_is_switched_off_at_the_deadline_and_it_expires() -> None:
    w = approving_world("contoso")
    await w.send(provisioned())
    # The 7-day notice says by when to approve; before the deadline nothing is switched off.
    out = await tick(w, RENEWS - timedelta(days=7))
    (notice,) = {e.event for e in out if isinstance(e.event, RenewalNoticeIssued)}
    assert notice.approve_by == RENEWS - timedelta(days=2)
    assert not [e for e in out if e.topic == COMMANDS]
    assert not [
        e for e in await tick(w, RENEWS - timedelta(days=2, minutes=1)) if e.topic == COMMANDS
    ]

    out = await tick(w, RENEWS - timedelta(days=2))
    (command,) = [e for e in out if e.topic == COMMANDS]
    assert isinstance(command.event, AutoRenewSwitchOff)
    assert command.key == "contoso"  # beside the orders flow's record of the subscription
    assert (command.event.subscription_id, command.event.renews_at) == ("sub-1", RENEWS)
    told = [e for e in out if e.topic == STATUS]
    assert [type(e.event) for e in told] == [RenewalNotApproved]
    assert "not approved" in told[0].event.message
    # Nothing on the reseller's own ingress, in its name.
    assert not [e for e in out if "subscription-changes" in e.topic]

    # Sent once: later ticks send no second command and no 1-day notice promising a renewal.
    assert await tick(w, RENEWS - timedelta(days=1)) == []
    # The lifecycle's SubscriptionChanged (auto-renew off) reaches the flow; at term end it expires.
    await w.send(changed("set_auto_renew", 200, auto_renew=False))
    out = await tick(w, RENEWS + timedelta(hours=1))
    assert not [e for e in out if isinstance(e.event, SubscriptionRenewed)]
    record = w.state.record("contoso", "sub-1")
    assert record is not None
    assert record.subscription.status == "expired"


async def test_it_expires_unapproved_even_if_the_switch_off_never_landed() -> None:
    w = approving_world("contoso")
    await w.send(provisioned())
    await tick(w, RENEWS - timedelta(days=2))
    out = await tick(w, RENEWS + timedelta(hours=1))
    assert not [e for e in out if isinstance(e.event, SubscriptionRenewed)]


async def test_with_approval_nothing_is_switched_off_and_it_renews() -> None:
    w = approving_world("contoso")
    await w.send(provisioned())
    out = await w.send(approval())
    recorded = [e.event for e in out if e.topic == STATUS]
    assert isinstance(recorded[0], RenewalApprovalRecorded)
    assert recorded[0].renews_at == RENEWS
    assert not [e for e in await tick(w, RENEWS - timedelta(days=2)) if e.topic == COMMANDS]
    renewed = [
        e.event
        for e in await tick(w, RENEWS + timedelta(hours=1))
        if isinstance(e.event, SubscriptionRenewed) and e.topic == STATUS
    ]
    assert len(renewed) == 1
    # The approval was for that term: the next one needs its own.
    nxt = RENEWS.replace(year=RENEWS.year + 1)
    out = await tick(w, nxt - timedelta(days=2))
    assert [type(e.event) for e in out if e.topic == COMMANDS] == [AutoRenewSwitchOff]


async def test_an_approval_for_another_customers_or_resellers_subscription_is_not_found() -> None:
    w = approving_world("contoso", "fabrikam")
    await w.send(provisioned())
    foreign = approval("apr-x", reseller_id="fabrikam")
    out = await w.send(foreign)
    (rejected,) = {e.event for e in out}
    assert isinstance(rejected, RenewalApprovalRejected)
    assert rejected.code == "SubscriptionNotFound"
    wrong_customer = await w.send(approval("apr-y", customer_id="cust-2"))
    assert wrong_customer[0].event.code == "SubscriptionNotFound"  # type: ignore[attr-defined]
    # contoso's renewal is still unapproved: it is switched off at the deadline.
    out = await tick(w, RENEWS - timedelta(days=2))
    assert [type(e.event) for e in out if e.topic == COMMANDS] == [AutoRenewSwitchOff]


async def test_an_approval_after_the_switch_off_is_refused_and_says_what_to_do() -> None:
    w = approving_world("contoso")
    await w.send(provisioned())
    await tick(w, RENEWS - timedelta(days=2))
    out = await w.send(approval(requested_at=RENEWS - timedelta(days=1)))
    assert out[0].event.code == "ApprovalDeadlinePassed"  # type: ignore[attr-defined]
    assert "set_auto_renew" in out[0].event.message  # type: ignore[attr-defined]
    # The reseller turns auto-renew on itself: that approves, and it renews.
    await w.send(changed("set_auto_renew", 200, auto_renew=False))
    await w.send(changed("set_auto_renew", 201, auto_renew=True))
    policy = RenewalsConfig(approval_resellers="contoso").policy_for("contoso")
    day_before = RENEWS - timedelta(days=1)
    (row,) = upcoming(w.state.of_reseller("contoso"), reference(), policy, day_before, 30)
    assert (row["renews"], row["approved"]) == (True, True)
    out = await tick(w, RENEWS + timedelta(hours=1))
    assert [type(e.event) for e in out if e.topic == STATUS] == [SubscriptionRenewed]


async def test_an_approval_is_refused_when_the_reseller_needs_none_and_a_retry_answers_alike() -> (
    None
):
    w = approving_world("fabrikam")
    await w.send(provisioned())
    first = await w.send(approval())
    again = await w.send(approval().model_copy(update={"event_id": uuid.uuid4()}))
    assert first[0].event.code == "ApprovalNotRequired"  # type: ignore[attr-defined]
    assert first == again
    # No policy: nothing is switched off and it renews.
    assert not [e for e in await tick(w, RENEWS - timedelta(days=2)) if e.topic == COMMANDS]
    out = await tick(w, RENEWS + timedelta(hours=1))
    assert [type(e.event) for e in out if e.topic == STATUS] == [SubscriptionRenewed]


async def test_upcoming_shows_by_when_to_approve_and_that_an_unapproved_renewal_expires() -> None:
    w = approving_world("contoso")
    await w.send(provisioned())
    policy = RenewalsConfig(approval_resellers="contoso").policy_for("contoso")
    now = RENEWS - timedelta(days=10)
    (row,) = upcoming(w.state.of_reseller("contoso"), reference(), policy, now, 30)
    assert (row["renews"], row["approved"]) == (True, False)
    assert row["approve_by"] == (RENEWS - timedelta(days=2)).isoformat()
    await tick(w, RENEWS - timedelta(days=2))
    (row,) = upcoming(w.state.of_reseller("contoso"), reference(), policy, now, 30)
    assert not row["renews"]
    assert "expires" in row["note"]
    # A reseller without the policy sees no approval fields.
    (plain,) = upcoming(w.state.of_reseller("contoso"), reference(), RenewalPolicy(), now, 30)
    assert "approve_by" not in plain


@settings(max_examples=40, deadline=None)
@given(
    deadline_days=st.integers(min_value=1, max_value=10),
    offsets=st.lists(st.integers(min_value=0, max_value=40 * 24), min_size=1, max_size=12),
)
def test_an_unapproved_renewal_is_switched_off_once_never_before_its_deadline(
    deadline_days: int, offsets: list[int]
) -> None:
    """Whatever ticks arrive (late, repeated, out of step with the notices), at most one
    switch-off is sent, none before the deadline, and one once a tick reaches it."""

    async def run() -> None:
        w = approving_world("contoso")
        w.flow.policy = RenewalPolicy(approval_deadline_days=deadline_days)
        await w.send(provisioned())
        deadline = RENEWS - timedelta(days=deadline_days)
        sent: list[datetime] = []
        for hours in sorted(offsets):
            now = RENEWS - timedelta(days=40) + timedelta(hours=hours)
            if now >= RENEWS:
                break
            out = await tick(w, now)
            sent += [now for e in out if e.topic == COMMANDS]
        ticked = [RENEWS - timedelta(days=40) + timedelta(hours=h) for h in offsets]
        reached = any(deadline <= t < RENEWS for t in ticked)
        assert len(sent) == (1 if reached else 0)
        assert all(t >= deadline for t in sent)

    asyncio.run(run())
