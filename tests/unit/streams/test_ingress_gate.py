"""The ingress gate in front of the flows, and payments from advice to confirmation."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hub.domain.enums import BillingMode, SupportMode
from hub.domain.orders import ReferenceView
from hub.domain.reference import ResellerProfile
from hub.runtime.dead_letter import DeadLetters, Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import Outcome, Pipeline, RetryPolicy
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.billing import PaymentReceived
from hub.schemas.events.ingress import IngressRejected, PaymentAdviceRecorded, PaymentConfirmed
from hub.streams import ingress
from hub.streams.billing.payments import Payments
from hub.streams.ingress import WRITER_HEADER, IngressGate
from hub.topics import PartnerTopic, Topic, TopicCatalog
from tests.support.samples import sample

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
TOPICS = TopicCatalog("t.")
CODEC = Codec()
Sent = list[tuple[str, bytes | None, bytes | None, Headers]]


def _reseller(rid: str) -> ResellerProfile:
    return ResellerProfile(
        reseller_id=rid,
        partner_id="1234567",
        name=rid,
        country="US",
        currency="USD",
        languages=("en",),
        billing_mode=BillingMode.RESELLER_BILLS,
        support_mode=SupportMode.RESELLER_OWN,
        credit_limit_minor=10**9,
        payment_terms_days=30,
    )


def _reference() -> ReferenceView:
    return ReferenceView(
        resellers={"A": _reseller("A"), "B": _reseller("B")}, customers={}, catalogue={}, prices={}
    )


def _pipeline(sent: Sent, observer: bool = False) -> Pipeline:
    async def send(topic: str, key: bytes | None, value: bytes | None, headers: Headers) -> None:
        sent.append((topic, key, value, headers))

    async def no_sleep(_: float) -> None:
        return None

    return Pipeline(
        "test",
        CODEC,
        send,
        DeadLetters(send),
        RetryPolicy(max_attempts=2),
        sleep=no_sleep,
        rng=random.Random(1),
        observer=observer,
    )


def _gate(
    topic: Topic = Topic.PAYMENTS, authenticating: bool = False, partitions: int | None = None
) -> IngressGate:
    return IngressGate(
        TOPICS, topic, _reference, authenticating, clock=lambda: NOW, partitions=partitions
    )


def _advice(rid: str = "A", **changes: object) -> PaymentReceived:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "event_time": NOW,
        "correlation_id": "pay",
        "reseller_id": rid,
        "payment_id": "pay-1",
        "amount_minor": 5_000,
        "currency": "USD",
        "received_at": NOW - timedelta(days=1),
        "method": "bank_transfer",
        **changes,
    }
    return PaymentReceived(**fields)  # type: ignore[arg-type]


def _source(
    event: Event, key: str | None, headers: Headers | None = None, partition: int = 0
) -> SourceMessage:
    name = TOPICS.name(Topic.PAYMENTS)
    value = CODEC.encode(event)
    return SourceMessage(name, partition, 3, key and key.encode(), value, headers or [])


async def _run(source: SourceMessage, *, observer: bool = False, **gate: object) -> tuple:
    sent: Sent = []
    handled: list[Event] = []

    async def handler(event: Event) -> Sequence[Emit]:
        handled.append(event)
        return await Payments(TOPICS, _reference).on_advice(event)

    outcome = await ingress.process(
        _pipeline(sent, observer),
        source,
        _gate(**gate),
        handler,  # type: ignore[arg-type]
    )
    return outcome, handled, sent


def _decoded(sent: Sent, topic: str) -> list[Event]:
    return [CODEC.decode(v) for t, _, v, _ in sent if t == topic and v is not None]


async def test_an_admitted_advice_is_recorded_and_frees_nothing() -> None:
    outcome, handled, sent = await _run(_source(_advice(), "A"))
    assert outcome is Outcome.PROCESSED
    assert len(handled) == 1
    assert [t for t, *_ in sent] == [
        TOPICS.name(Topic.COLLECTIONS),
        TOPICS.partner("A", PartnerTopic.BILLING),
    ]
    assert all(isinstance(e, PaymentAdviceRecorded) for e in _decoded(sent, sent[0][0]))


async def test_a_payment_keyed_by_one_reseller_for_another_is_dead_lettered_and_reported() -> None:
    outcome, handled, sent = await _run(_source(_advice("B"), "A"))
    assert outcome is Outcome.DEAD_LETTERED
    assert handled == []
    status = TOPICS.partner("A", PartnerTopic.STATUS)
    assert [t for t, *_ in sent] == [
        TOPICS.name(Topic.INGRESS_REJECTIONS),
        status,
        TOPICS.dead_letter(TOPICS.name(Topic.PAYMENTS)),
    ]
    (report,) = _decoded(sent, status)
    assert isinstance(report, IngressRejected)
    assert report.code == "ResellerIdentityMismatch"
    assert report.reseller_id == "A"
    assert not any(t == TOPICS.partner("B", PartnerTopic.STATUS) for t, *_ in sent)


async def test_a_refused_record_of_a_writer_never_onboarded_reaches_no_partner_topic() -> None:
    outcome, _, sent = await _run(_source(_advice("stranger"), "ghost"))
    assert outcome is Outcome.DEAD_LETTERED
    assert not any(".partner." in t or t.startswith("t.partner.") for t, *_ in sent)


async def test_a_payment_dated_in_year_9999_is_dead_lettered_with_the_reason() -> None:
    late = _advice(received_at=datetime(9999, 1, 1, tzinfo=UTC))
    outcome, handled, sent = await _run(_source(late, "A"))
    assert outcome is Outcome.DEAD_LETTERED
    assert handled == []
    letter = sent[-1]
    reason = dict(letter[3])["dlq.error.message"].decode()
    assert "DateOutOfRange" in reason
    assert "received_at" in reason


async def test_a_hub_document_on_the_payments_topic_is_refused_before_any_flow_sees_it() -> None:
    for name in ("CreditNoteIssued", "InvoiceIssued", "DunningStageReached"):
        forged = sample(name).model_copy(update={"reseller_id": "A", "event_time": NOW})
        outcome, handled, sent = await _run(_source(forged, "A"))
        assert outcome is Outcome.DEAD_LETTERED, name
        assert handled == []
        (report,) = _decoded(sent, TOPICS.partner("A", PartnerTopic.STATUS))
        assert report.code == "HubDocumentFromReseller"


async def test_an_observer_ignores_what_the_owner_refuses() -> None:
    outcome, handled, sent = await _run(_source(_advice("B"), "A"), observer=True)
    assert outcome is Outcome.PROCESSED
    assert handled == []
    assert sent == []


async def test_with_authentication_the_gateway_header_names_the_writer_not_key_or_body() -> None:
    forged = _source(_advice("B"), "B", [(WRITER_HEADER, b"A")])
    outcome, handled, sent = await _run(forged, authenticating=True)
    assert outcome is Outcome.DEAD_LETTERED
    assert handled == []
    (report,) = _decoded(sent, TOPICS.partner("A", PartnerTopic.STATUS))
    assert report.reseller_id == "A"
    own = _source(_advice("A"), "A", [(WRITER_HEADER, b"A")])
    assert (await _run(own, authenticating=True))[0] is Outcome.PROCESSED
    unnamed = _source(_advice("A"), "A")
    assert (await _run(unnamed, authenticating=True))[0] is Outcome.DEAD_LETTERED


async def test_a_forged_writer_header_without_authentication_must_agree_with_the_key() -> None:
    forged = _source(_advice("A"), "A", [(WRITER_HEADER, b"B")])
    outcome, handled, _ = await _run(forged)
    assert outcome is Outcome.DEAD_LETTERED
    assert handled == []


async def test_a_confirmed_payment_goes_to_billing_and_to_the_exposure_once_named() -> None:
    payments = Payments(TOPICS, _reference)
    confirmed = PaymentConfirmed(
        event_id=uuid.uuid4(),
        event_time=NOW,
        correlation_id="pay",
        reseller_id="A",
        payment_id="pay-1",
        amount_minor=5_000,
        currency="USD",
        received_at=NOW,
        method="bank_transfer",
        confirmed_by="finance",
        source="ops",
    )
    emits = await payments.on_confirmed(confirmed)
    assert [e.topic for e in emits] == [
        TOPICS.name(Topic.BILLING_INPUTS),
        TOPICS.name(Topic.COLLECTIONS),
        TOPICS.partner("A", PartnerTopic.BILLING),
    ]
    assert isinstance(emits[0].event, PaymentReceived)
    assert emits[0].event.amount_minor == 5_000
    again = await payments.on_confirmed(confirmed)
    assert [e.event for e in again] == [e.event for e in emits]


def test_a_ticket_update_in_the_name_of_microsoft_is_refused_at_the_gate() -> None:
    update = sample("TicketUpdated").model_copy(
        update={"reseller_id": "A", "event_time": NOW, "author": "microsoft"}
    )
    source = SourceMessage(TOPICS.name(Topic.TICKETS), 0, 1, b"A", CODEC.encode(update), [])
    refusal = _gate(Topic.TICKETS).check(update, source)
    assert refusal is not None
    assert refusal.code.value == "AuthorNotAllowed"
    as_reseller = update.model_copy(update={"author": "reseller"})
    assert _gate(Topic.TICKETS).check(as_reseller, source) is None


def test_the_home_partition_is_the_java_clients_murmur2() -> None:
    # Printed by Kafka 4.1.1's Java client: Utils.toPositive(Utils.murmur2(key.getBytes())) % 12.
    keys = ("contoso", "A", "B", "fabrikam")
    assert [ingress.home_partition(k, 12) for k in keys] == [6, 10, 4, 11]


async def test_an_admitted_message_on_another_partition_than_its_keys_is_moved_there() -> None:
    """A producer partitioning otherwise (librdkafka's CRC32) put it beside another reseller's
    state: it is not handled there but sent again, keyed alike, to its key's partition."""
    home = ingress.home_partition("A", 12)
    away = (home + 1) % 12
    advice = _advice()
    outcome, handled, sent = await _run(_source(advice, "A", partition=away), partitions=12)
    assert outcome is Outcome.PROCESSED
    assert handled == []
    ((topic, key, _value, _headers),) = sent
    assert (topic, key) == (TOPICS.name(Topic.PAYMENTS), b"A")
    assert _decoded(sent, topic) == [advice]

    outcome, handled, _ = await _run(_source(advice, "A", partition=home), partitions=12)
    assert (outcome, handled) == (Outcome.PROCESSED, [advice])
    observed = await _run(_source(advice, "A", partition=away), partitions=12, observer=True)
    assert observed[1:] == ([], [])


async def test_a_misplaced_message_keyed_for_another_reseller_is_still_refused() -> None:
    away = (ingress.home_partition("A", 12) + 1) % 12
    outcome, handled, sent = await _run(_source(_advice("B"), "A", partition=away), partitions=12)
    assert outcome is Outcome.DEAD_LETTERED
    assert handled == []
    assert sent[-1][0] == TOPICS.dead_letter(TOPICS.name(Topic.PAYMENTS))
