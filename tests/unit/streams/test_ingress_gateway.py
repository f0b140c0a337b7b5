"""The ingress gateway names the writer by the topic the broker let it write, never by headers."""

from __future__ import annotations

from hub.streams.ingress import ORIGIN_HEADER, WRITER_HEADER
from hub.streams.ingress.gateway import forward_of
from hub.topics import INGRESS, TopicCatalog

TOPICS = TopicCatalog("t.")


def test_each_resellers_own_topic_is_forwarded_to_the_shared_one_keyed_by_its_writer() -> None:
    for topic in INGRESS:
        forward = forward_of(TOPICS, TOPICS.ingress("A", topic), 0, 41, b"bytes", [])
        assert forward is not None
        assert forward.topic == TOPICS.name(topic)
        assert forward.key == b"A"
        assert forward.value == b"bytes"
        assert (WRITER_HEADER, b"A") in forward.headers
        assert (ORIGIN_HEADER, f"{TOPICS.ingress('A', topic)}/0/41".encode()) in forward.headers


def test_a_writer_header_set_by_the_writer_is_dropped_and_other_headers_kept() -> None:
    forged = [(WRITER_HEADER, b"B"), ("hub.ingress.anything", b"x"), ("trace", b"1")]
    forward = forward_of(TOPICS, TOPICS.ingress("A", INGRESS[0]), 0, 0, None, forged)
    assert forward is not None
    assert [v for k, v in forward.headers if k == WRITER_HEADER] == [b"A"]
    assert ("hub.ingress.anything", b"x") not in forward.headers
    assert ("trace", b"1") in forward.headers
    assert forward.value is None


def test_topics_that_are_no_resellers_own_ingress_are_not_forwarded() -> None:
    for name in (
        "t.reseller.orders",
        "t.reseller.orders.dlq",
        "t.reseller.A.invoices",
        "x.reseller.A.orders",
    ):
        assert forward_of(TOPICS, name, 0, 0, b"", []) is None
