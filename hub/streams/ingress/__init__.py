"""The gate in front of every consumer of a reseller ingress topic: decode -> admit -> handle.

Each message's event goes through ``hub.domain.ingress.admit`` before the flow's handler sees
it. The owning flow dead-letters what is refused (through the one ``Pipeline``) and reports the
reason as ``IngressRejected`` on ``hub.ingress.rejections`` and, if the writer is an onboarded
reseller, on its status topic; an observer ignores it. A message that does not decode (bytes
that are no event, an unknown schema) is reported the same way (hub/streams/ingress/undecodable.py).

**Any producer's partitioner.** A flow reads a reseller's state (its exposure, its orders) from
the partition of the message it handles, and the hub writes that state from its own topics,
partitioned by aiokafka's default (murmur2 of the key, as the Java client). A reseller's client
may partition otherwise: librdkafka's default (confluent-kafka for Python, .NET, Go) is CRC32.
An admitted message found on another partition than its key's is not handled there: the owning
flow sends it again, keyed by the reseller id it was admitted under, so it lands on the
partition that holds the reseller's state and is handled there (the same event id: a second
copy is a redelivery). Counted in ``hub_ingress_moved_total``. Through the gateway
(hub/streams/ingress/gateway.py) every message already arrives on its key's partition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka.partitioner import murmur2
from prometheus_client import Counter

from hub.domain.ingress import Claim, DateKind, Inadmissible, Limits, QuantityClaim, Rules, Writer
from hub.domain.ingress import admit as admit_claim
from hub.domain.orders import ReferenceView
from hub.errors import HubError
from hub.runtime.dead_letter import Headers, SourceMessage
from hub.runtime.emit import Emit
from hub.runtime.pipeline import FailureHandler, Handler, Outcome, Pipeline, UndecodableHandler
from hub.schemas.envelope import Event, derived_event_id
from hub.schemas.events.billing import PaymentReceived
from hub.schemas.events.ingress import IngressRejected
from hub.schemas.events.orders import OrderRequested
from hub.schemas.events.subscriptions import SubscriptionChangeRequested
from hub.schemas.events.support import TicketUpdated
from hub.streams.context import Context
from hub.streams.ingress.config import IngressConfig
from hub.streams.ingress.undecodable import origin_of, undecodable_report
from hub.topics import PartnerTopic, Topic, TopicCatalog, hub_documents, reseller_events

# Set by the hub's ingress gateway on the shared topic: the reseller whose own topic it read.
WRITER_HEADER = "hub.ingress.writer"
# Where the gateway read it: ``<topic>/<partition>/<offset>`` of the reseller's own topic.
ORIGIN_HEADER = "hub.ingress.origin"

Clock = Callable[[], datetime]

MOVED = Counter(
    "hub_ingress_moved_total",
    "Admitted ingress messages found on another partition than their key's (a producer "
    "partitioning otherwise than murmur2), sent again to their key's partition",
    ["topic"],
)


def home_partition(key: str, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` as the hub's producer picks it: murmur2 of
    the key's bytes, positive, modulo the count (aiokafka's and the Java client's default)."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def utc_now() -> datetime:
    return datetime.now(UTC)


class IngressRefused(HubError):
    """An ingress event the rules refuse: dead-lettered by its owning flow, never retried."""

    def __init__(self, refusal: Inadmissible) -> None:
        self.refusal = refusal
        super().__init__(str(refusal))


def header(headers: Headers, name: str) -> str | None:
    """The last value of header ``name`` (a later one wins, as Kafka clients read them)."""
    found = [value for key, value in headers if key == name]
    return found[-1].decode("utf-8", "replace") if found else None


def claim_of(event: Event) -> Claim:
    """What an ingress event says that admission checks: identity, times, quantities, money."""
    dates: list[tuple[str, datetime, DateKind]] = []
    quantities: list[QuantityClaim] = []
    amounts: list[tuple[str, int]] = []
    if isinstance(event, OrderRequested):
        dates.append(("requested_at", event.requested_at, DateKind.REQUEST))
        quantities += [
            QuantityClaim(f"lines[{i}].quantity", line.quantity)
            for i, line in enumerate(event.lines)
        ]
    elif isinstance(event, SubscriptionChangeRequested):
        # A change may be asked ahead (next term, at most Microsoft's longest term out), never
        # backdated beyond the request window: the 7-day rule is judged at this date.
        dates.append(("requested_at", event.requested_at, DateKind.EFFECTIVE))
        if event.new_quantity is not None:
            quantities.append(QuantityClaim("new_quantity", event.new_quantity))
    elif isinstance(event, PaymentReceived):
        dates.append(("received_at", event.received_at, DateKind.PAYMENT))
        amounts.append(("amount_minor", event.amount_minor))
    return Claim(
        author=event.author if isinstance(event, TicketUpdated) else None,
        event_type=type(event).__name__,
        reseller_id=event.reseller_id,
        event_time=event.event_time,
        dates=dates,
        quantities=quantities,
        amounts=amounts,
    )


@dataclass
class IngressGate:
    """Admission for one shared ingress topic (``topic``) under one catalogue."""

    topics: TopicCatalog
    topic: Topic
    reference: Callable[[], ReferenceView]
    authenticating: bool = False
    clock: Clock = utc_now
    limits: Limits = field(default_factory=Limits)
    # The topic's partition count (HUB_KAFKA_PARTITIONS); None: placement is not checked.
    partitions: int | None = None

    def __post_init__(self) -> None:
        self.rules = Rules(reseller_events(self.topic), hub_documents(), self.limits)

    def writer(self, source: SourceMessage) -> Writer:
        key = None if source.key is None else source.key.decode("utf-8", "replace")
        return Writer(key, header(source.headers, WRITER_HEADER), self.authenticating)

    def check(self, event: Event, source: SourceMessage) -> Inadmissible | None:
        return admit_claim(claim_of(event), self.writer(source), self.rules, self.clock())

    def misplaced(self, event: Event, source: SourceMessage) -> bool:
        """True if admitted ``event`` sits on another partition than its reseller's."""
        if self.partitions is None or event.reseller_id is None:
            return False
        return source.partition != home_partition(event.reseller_id, self.partitions)

    def moved(self, event: Event) -> list[Emit]:
        """``event`` sent again to its reseller's partition (module docstring)."""
        assert event.reseller_id is not None  # admitted: the body names the key's reseller
        MOVED.labels(topic=self.topic.value).inc()
        return [Emit(self.topics.name(self.topic), event.reseller_id, event)]

    def onboarded(self, reseller_id: str) -> bool:
        return reseller_id in self.reference().resellers

    def refused(self, event: Event, source: SourceMessage, refusal: Inadmissible) -> list[Emit]:
        """The rejection report: to the hub's rejections, and to the writer if it is onboarded.

        Nothing if no writer can be named (the dead letter alone then holds the reason)."""
        writer = self.writer(source).reseller_id
        if writer is None or not _reseller_id(writer):
            return []
        report = IngressRejected(
            event_id=derived_event_id(event.event_id, "IngressRejected", source.topic),
            event_time=self.clock(),
            correlation_id=event.correlation_id,
            causation_id=event.event_id,
            reseller_id=writer,
            topic=self.topic.value,
            event_type=type(event).__name__,
            rejected_event_id=event.event_id,
            code=refusal.code.value,
            field=refusal.field,
            value=refusal.value[:256],
            message=refusal.message,
        )
        return self._reported(writer, report)

    def undecodable(self, source: SourceMessage, error: Exception) -> list[Emit]:
        """The report of a message that did not decode, to its writer if one can be named: the
        gateway's header or, on a broker that does not authenticate, the key."""
        writer = self.writer(source).reseller_id
        if writer is None or not _reseller_id(writer):
            return []
        origin = origin_of(source, header(source.headers, ORIGIN_HEADER), self.topics.prefix)
        return self._reported(writer, undecodable_report(writer, origin, error, self.clock()))

    def _reported(self, writer: str, report: IngressRejected) -> list[Emit]:
        out = [Emit(self.topics.name(Topic.INGRESS_REJECTIONS), writer, report)]
        if self.onboarded(writer):
            out.append(Emit(self.topics.partner(writer, PartnerTopic.STATUS), writer, report))
        return out


def _reseller_id(value: str) -> bool:
    try:
        TopicCatalog().partner_prefix(value)
    except ValueError:
        return False
    return True


async def process(
    pipeline: Pipeline, source: SourceMessage, gate: IngressGate, handler: Handler
) -> Outcome:
    """One ingress message: refused ones never reach ``handler`` (dead-lettered and reported by
    the owner, ignored by an observer)."""
    admitted, report = admission(source, gate, handler, observer=pipeline.observer)
    return await pipeline.process(source, admitted, report, gate.undecodable)


def admission(
    source: SourceMessage, gate: IngressGate, handler: Handler, *, observer: bool = False
) -> tuple[Handler, FailureHandler]:
    """``handler`` behind ``gate`` for ``source``, and the failure handler that reports a
    refusal; also what a tick gives a parked ingress message (checked at the gate again)."""

    async def admitted(event: Event) -> Sequence[Emit]:
        refusal = gate.check(event, source)
        if refusal is None:
            if not gate.misplaced(event, source):
                return await handler(event)
            return () if observer else gate.moved(event)
        if observer:
            return ()
        raise IngressRefused(refusal)

    async def report(event: Event, error: Exception, _attempts: int) -> Sequence[Emit]:
        if isinstance(error, IngressRefused):
            return gate.refused(event, source, error.refusal)
        return ()

    return admitted, report


async def run(pipeline: Pipeline, stream: Any, gate: IngressGate, handler: Handler) -> None:
    """Drive a faust stream of an ingress topic (raw bytes) through the gate and ``handler``."""
    async for source in pipeline.messages(stream):
        await process(pipeline, source, gate, handler)


class GatedPipeline(Pipeline):
    """A flow's ``Pipeline`` with the gate in front of its handler for messages of the gate's
    topic, for agents that read an ingress topic beside others through their own loop."""

    def __init__(self, inner: Pipeline, gate: IngressGate) -> None:
        # No state of its own: everything but ``process`` is the inner pipeline's.
        self._inner = inner
        self._gate = gate
        self._topic = gate.topics.name(gate.topic)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def process(
        self,
        source: SourceMessage,
        handler: Handler,
        on_failure: FailureHandler | None = None,
        on_undecodable: UndecodableHandler | None = None,
    ) -> Outcome:
        if source.topic != self._topic:
            return await self._inner.process(source, handler, on_failure, on_undecodable)
        return await process(self._inner, source, self._gate, handler)


def gate_for(ctx: Context, topic: Topic) -> IngressGate:
    """The gate of ``topic`` in a worker: the broker authenticates unless it speaks PLAINTEXT."""
    secure = ctx.settings.kafka_security_protocol != "PLAINTEXT"
    limits = IngressConfig().limits()
    return IngressGate(
        ctx.topics,
        topic,
        ctx.reference.view,
        authenticating=secure,
        limits=limits,
        partitions=ctx.settings.kafka_partitions,
    )


def gated(ctx: Context, topic: Topic, pipeline: Pipeline) -> Pipeline:
    """``pipeline`` with the gate of ``topic`` in front of its handler."""
    return GatedPipeline(pipeline, gate_for(ctx, topic))
