"""The hub writes a partner topic only for an onboarded reseller."""

from __future__ import annotations

from hub.streams import partner_guard
from hub.topics import PartnerTopic, Topic, TopicCatalog

TOPICS = TopicCatalog("t.")


def test_an_onboarded_resellers_partner_topic_is_written_as_asked() -> None:
    topic = TOPICS.partner("A", PartnerTopic.STATUS)
    assert partner_guard.route(TOPICS, {"A"}.__contains__, topic, []) == (topic, [])


def test_a_stranger_partner_topic_goes_to_the_distributors_dead_letters_instead() -> None:
    meant = TOPICS.partner("ghost", PartnerTopic.STATUS)
    topic, headers = partner_guard.route(TOPICS, {"A"}.__contains__, meant, [("x", b"1")])
    assert topic == TOPICS.name(Topic.PARTNER_DEAD_LETTERS)
    assert ("x", b"1") in headers
    assert (partner_guard.MEANT_FOR, meant.encode()) in headers


def test_other_topics_are_not_partner_topics() -> None:
    for name in (TOPICS.name(Topic.ORDERS), "t.partnerx.A.status", "other.partner.A.status"):
        assert partner_guard.route(TOPICS, lambda _rid: False, name, []) == (name, [])
    assert TOPICS.partner_owner("t.partner.A.billing") == "A"
    assert TOPICS.partner_owner("t.partner.") is None
