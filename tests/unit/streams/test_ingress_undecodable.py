"""A reseller hears of its own undecodable message on its status topic; nobody else does."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Outcome, Pipeline, RetryPolicy
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.ingress import IngressRejected
from hub.streams import ingress
from hub.streams.ingress import ORIGIN_HEADER, WRITER_HEADER, IngressGate
from hub.streams.ingress.undecodable import UNDECODABLE, UNKNOWN_SCHEMA
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.unit.streams.test_ingress_gate import NOW, _advice, _reference

TOPICS = TopicCatalog("t.")
CODEC = Codec()
Sent = list[tuple[str, bytes | None, bytes | None, Headers]]
SECRET = b"card 4111111111111111 of reseller B"


def _pipeline(sent: Sent, observer: bool = False) -> Pipeline:
    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    return Pipeline(
        "test",
        CODEC,
        send,
        DeadLetters(send),
        RetryPolicy(max_attempts=1),
        rng=random.Random(1),
        observer=observer,
    )


async def _run(
    value: bytes, key: str | None, headers: Headers, *, authenticating: bool = False
) -> tuple[Outcome, Sent]:
    sent: Sent = []

    async def handler(_event: Event) -> Sequence[Emit]:
        raise AssertionError("an undecodable message reaches no handler")

    gate = IngressGate(TOPICS, Topic.ORDERS, _reference, authenticating, clock=lambda: NOW)
    source = SourceMessage(TOPICS.name(Topic.ORDERS), 4, 17, key and key.encode(), value, headers)
    outcome = await ingress.process(_pipeline(sent), source, gate, handler)
    return outcome, sent


def _status(sent: Sent, reseller: str) -> list[IngressRejected]:
    topic = TOPICS.partner(reseller, PartnerTopic.STATUS)
    reports = [CODEC.decode(v) for t, _, v, _ in sent if t == topic and v is not None]
    assert all(isinstance(r, IngressRejected) for r in reports)
    return reports  # type: ignore[return-value]


async def test_bytes_forwarded_from_a_resellers_own_topic_are_reported_to_it_with_origin() -> None:
    headers = [(WRITER_HEADER, b"A"), (ORIGIN_HEADER, b"t.reseller.A.orders/0/42")]
    outcome, sent = await _run(b'{"not": "avro"}', "A", headers, authenticating=True)
    assert outcome is Outcome.DEAD_LETTERED
    assert [t for t, *_ in sent] == [
        TOPICS.name(Topic.INGRESS_REJECTIONS),
        TOPICS.partner("A", PartnerTopic.STATUS),
        TOPICS.dead_letter(TOPICS.name(Topic.ORDERS)),
    ]
    (report,) = _status(sent, "A")
    assert report.code == UNDECODABLE
    assert report.reseller_id == "A"
    assert report.topic == "reseller.A.orders"
    assert report.value == "reseller.A.orders/0/42"
    assert "partition 0 offset 42" in report.message
    assert "unknown magic byte" in report.message


async def test_the_same_record_gives_the_same_report_id_on_a_redelivery() -> None:
    headers = [(WRITER_HEADER, b"A"), (ORIGIN_HEADER, b"t.reseller.A.orders/0/42")]
    _, first = await _run(b"\x00junk", "A", headers)
    _, again = await _run(b"\x00junk", "A", headers)
    assert _status(first, "A")[0].event_id == _status(again, "A")[0].event_id


async def test_an_unknown_schema_is_reported_as_such() -> None:
    unknown = b"\xc3\x01" + bytes(8) + b"\x02"
    _, sent = await _run(unknown, "A", [])
    (report,) = _status(sent, "A")
    assert report.code == UNKNOWN_SCHEMA
    assert report.topic == TOPICS.name(Topic.ORDERS).removeprefix("t.")
    assert report.value.endswith("/4/17")


async def test_a_report_echoes_no_payload_bytes() -> None:
    # An event whose body breaks its contract, wrapped around bytes of someone else's data.
    valid = CODEC.encode(_advice("A"))
    for value in (SECRET, valid[:12] + SECRET, valid[:-3]):
        _, sent = await _run(value, "A", [])
        for _topic, _key, raw, _headers in sent[:-1]:  # the dead letter keeps the bytes
            assert raw is not None
            assert b"4111" not in raw
            assert SECRET not in raw


async def test_with_authentication_only_the_gateway_named_writer_hears_of_it() -> None:
    # The key claims B; the authenticated writer is A: B hears nothing.
    headers = [(WRITER_HEADER, b"A")]
    _, sent = await _run(b"garbage", "B", headers, authenticating=True)
    assert len(_status(sent, "A")) == 1
    assert _status(sent, "B") == []


async def test_without_a_nameable_writer_only_the_dead_letter_holds_it() -> None:
    outcome, sent = await _run(b"garbage", None, [])
    assert outcome is Outcome.DEAD_LETTERED
    assert [t for t, *_ in sent] == [TOPICS.dead_letter(TOPICS.name(Topic.ORDERS))]


async def test_a_writer_never_onboarded_reaches_no_partner_topic() -> None:
    _, sent = await _run(b"garbage", "Z", [])
    assert [t for t, *_ in sent] == [
        TOPICS.name(Topic.INGRESS_REJECTIONS),
        TOPICS.dead_letter(TOPICS.name(Topic.ORDERS)),
    ]


async def test_an_observer_reports_nothing() -> None:
    sent: Sent = []

    async def handler(_event: Event) -> Sequence[Emit]:
        return []

    gate = IngressGate(TOPICS, Topic.ORDERS, _reference, clock=lambda: NOW)
    source = SourceMessage(TOPICS.name(Topic.ORDERS), 0, 1, b"A", b"garbage", [])
    outcome = await ingress.process(_pipeline(sent, observer=True), source, gate, handler)
    assert outcome is Outcome.LEFT_TO_OWNER
    assert sent == []


async def test_a_contract_violation_names_fields_and_rules_not_their_values() -> None:
    import io

    from fastavro import schemaless_writer

    from hub.schemas.framing import single_object_header

    body = io.BytesIO()
    record = _advice("A").model_dump()
    record["currency"] = "4111111111111111"
    advice = CODEC.catalog.for_model(type(_advice("A"))).current
    schemaless_writer(body, advice.parsed, record)
    value = single_object_header(advice.fingerprint) + body.getvalue()
    _, sent = await _run(value, "A", [])
    (report,) = _status(sent, "A")
    assert report.code == "invalid_event"
    assert "currency" in report.message
    assert "4111" not in report.message


def test_record_ids_differ_per_offset() -> None:
    from hub.streams.ingress.undecodable import Origin, undecodable_report

    one = undecodable_report("A", Origin("reseller.A.orders", 0, 1), ValueError("x"), NOW)
    two = undecodable_report("A", Origin("reseller.A.orders", 0, 2), ValueError("x"), NOW)
    assert one.rejected_event_id != two.rejected_event_id
    assert isinstance(one.rejected_event_id, uuid.UUID)
