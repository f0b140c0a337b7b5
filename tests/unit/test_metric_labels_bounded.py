"""Metric labels stay bounded whatever the number of resellers: a topic label names a topic
family (``partner.billing``), never a reseller's own topic."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from hub.metrics import EVENTS_OUT, topic_family
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Pipeline
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.samples import sample

CODEC = Codec()


@pytest.mark.parametrize(
    ("topic", "family"),
    [
        ("partner.contoso.billing", "partner.billing"),
        ("p.partner.r-1.status", "p.partner.status"),
        ("reseller.acme.orders", "reseller.orders"),
        ("reseller.acme.subscription-changes.dlq", "reseller.subscription-changes.dlq"),
        ("reseller.orders", "reseller.orders"),
        ("hub.ingress.rejections", "hub.ingress.rejections"),
        # A prefix that looks like an owner is no reseller's topic.
        ("x.partner.reseller.orders", "x.partner.reseller.orders"),
        ("partner.acme.unknown-kind", "partner.acme.unknown-kind"),
    ],
)
def test_a_topic_label_is_its_family(topic: str, family: str) -> None:
    assert topic_family(topic) == family


def _series(flow: str) -> set[tuple[tuple[str, str], ...]]:
    found = set()
    for metric in REGISTRY.collect():
        for s in metric.samples:
            if s.name == "hub_events_out_total" and s.labels.get("flow") == flow:
                found.add(tuple(sorted(s.labels.items())))
    return found


async def _send_to(resellers: Sequence[str], flow: str) -> None:
    topics = TopicCatalog()
    event = sample("IngressRejected")

    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        return None

    async def handler(_: Event) -> Sequence[Emit]:
        return [
            Emit(topics.partner(rid, kind), rid, event)
            for rid in resellers
            for kind in (PartnerTopic.STATUS, PartnerTopic.BILLING)
        ]

    pipeline = Pipeline(flow, CODEC, send, DeadLetters(send))
    source = SourceMessage(topics.name(Topic.PAYMENTS), 0, 1, b"k", CODEC.encode(event), [])
    await pipeline.process(source, handler)


async def test_events_out_series_do_not_grow_with_the_number_of_resellers() -> None:
    await _send_to([f"r{i}" for i in range(3)], "bounded-a")
    few = _series("bounded-a")
    await _send_to([f"r{i}" for i in range(500)], "bounded-a")
    assert _series("bounded-a") == few
    assert {dict(s)["topic"] for s in few} == {"partner.status", "partner.billing"}
    before = EVENTS_OUT.labels(
        flow="bounded-a", topic="partner.billing", event_type="IngressRejected"
    )._value.get()
    assert before == 503
