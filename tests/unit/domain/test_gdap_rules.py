from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.relationships.gdap import (
    DIRECTORY_READERS,
    GLOBAL_ADMINISTRATOR,
    HELPDESK_ADMINISTRATOR,
    SERVICE_SUPPORT_ADMINISTRATOR,
    GdapRelationship,
    GdapStatus,
    auto_extend_days,
    check_request,
    due_notices,
    duration_days,
    support_access,
)

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def rel(
    roles=(SERVICE_SUPPORT_ADMINISTRATOR,),
    status=GdapStatus.ACTIVE,
    end_in_days=100.0,
    rid="r1",
    auto=0,
    customer="c-1",
):
    return GdapRelationship(
        relationship_id=rid,
        customer_id=customer,
        reseller_id="res-a",
        display_name="support",
        roles=tuple(roles),
        duration_days=730,
        status=status,
        auto_extend_days=auto,
        activated_at=NOW - timedelta(days=10),
        end_at=NOW + timedelta(days=end_in_days),
    )


def test_duration_is_at_most_730_days():
    assert duration_days("P730D") == 730
    assert duration_days("P2Y") == 730
    assert duration_days("P1D") == 1
    with pytest.raises(ValueError, match="1 to 730"):
        duration_days("P731D")
    with pytest.raises(ValueError, match="ISO 8601"):
        duration_days("730")


def test_auto_extend_is_none_or_six_months():
    assert auto_extend_days("PT0S") == 0
    assert auto_extend_days("P180D") == 180
    with pytest.raises(ValueError, match="P180D"):
        auto_extend_days("P90D")


def test_global_admin_cannot_auto_extend():
    problems = check_request([GLOBAL_ADMINISTRATOR], "P730D", "P180D")
    assert len(problems) == 1
    assert "Global Administrator" in problems[0]
    assert check_request([SERVICE_SUPPORT_ADMINISTRATOR], "P730D", "P180D") == []


@pytest.mark.parametrize(
    "role", [SERVICE_SUPPORT_ADMINISTRATOR, HELPDESK_ADMINISTRATOR, GLOBAL_ADMINISTRATOR]
)
def test_a_support_role_on_an_active_relationship_allows_a_service_request(role):
    access = support_access([rel(roles=(role,))], "c-1", NOW)
    assert access.allowed
    assert access.relationship_id == "r1"


def test_an_active_relationship_without_a_support_role_says_which_role_to_approve():
    access = support_access([rel(roles=(DIRECTORY_READERS,))], "c-1", NOW)
    assert not access.allowed
    assert access.missing_role == SERVICE_SUPPORT_ADMINISTRATOR
    assert "Service Support Administrator" in access.reason
    assert "r1" in access.reason


def test_no_relationship_or_an_expired_or_pending_one_does_not_allow():
    for rels in (
        [],
        [rel(status=GdapStatus.EXPIRED)],
        [rel(status=GdapStatus.APPROVAL_PENDING)],
        [rel(end_in_days=-1)],
        [rel(customer="c-2")],
    ):
        access = support_access(rels, "c-1", NOW)
        assert not access.allowed
        assert "no active GDAP relationship" in access.reason


def test_an_expiring_relationship_still_allows_until_its_end():
    assert support_access([rel(status=GdapStatus.EXPIRING, end_in_days=2)], "c-1", NOW).allowed


def test_notices_at_30_7_and_1_days_each_once():
    assert due_notices(rel(end_in_days=31), NOW) == []
    assert due_notices(rel(end_in_days=30), NOW) == [30]
    assert due_notices(rel(end_in_days=20), NOW, sent=[30]) == []
    assert due_notices(rel(end_in_days=7), NOW, sent=[30]) == [7]
    assert due_notices(rel(end_in_days=0.5), NOW, sent=[30, 7]) == [1]
    assert due_notices(rel(end_in_days=0.5), NOW, sent=[30, 7, 1]) == []


def test_a_late_sweep_sends_only_the_nearest_notice():
    assert due_notices(rel(end_in_days=3), NOW) == [7]


def test_an_auto_extending_relationship_gets_no_expiry_notice():
    assert due_notices(rel(end_in_days=5, auto=180), NOW) == []


@given(st.floats(min_value=-5, max_value=60), st.sets(st.sampled_from([30, 7, 1])))
def test_at_most_one_notice_and_never_one_already_sent(days, sent):
    due = due_notices(rel(end_in_days=days), NOW, sent=sent)
    assert len(due) <= 1
    assert not set(due) & sent
