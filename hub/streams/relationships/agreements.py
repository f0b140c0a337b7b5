"""Every onboarded customer's MCA standing, whole in every worker, for the order intake.

The onboarding flow writes ``CustomerAgreementRecorded`` to the compacted
``ref.customer-agreements`` (keyed by customer); each worker reads it from its start into
``AGREEMENTS``, as reference data is read (hub/streams/reference.py). The order intake asks
``agreement_rejections`` about an order's customer: a customer recorded ``pending`` is refused
with the reason; one with no record (given by reference data, never onboarded through the hub)
counts as attested (hub/domain/relationships/customers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from prometheus_client import Gauge

from hub.connectors.kafka_auth import KafkaAuth
from hub.connectors.kafka_replay import replay
from hub.domain.orders import Rejection, RejectionCode
from hub.domain.relationships.customers import AgreementStatus, attestation_refusal
from hub.errors import RetriableError
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.relationships import CustomerAgreementRecorded

log = logging.getLogger(__name__)

AGREEMENT_RECORDS = Gauge(
    "hub_customer_agreements",
    "Customers onboarded through the hub that this worker knows, by MCA standing",
    ["status"],
)
for _status in AgreementStatus:
    AGREEMENT_RECORDS.labels(status=_status.value)


@dataclass
class AgreementBook:
    """customer id -> its MCA standing; ``reading`` once a reader started in this worker."""

    status: dict[str, AgreementStatus] = field(default_factory=dict)
    reading: bool = False
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, event: Event) -> None:
        if not isinstance(event, CustomerAgreementRecorded):
            return
        before = self.status.get(event.customer_id)
        after = AgreementStatus(event.status)
        self.status[event.customer_id] = after
        if before is not None:
            AGREEMENT_RECORDS.labels(status=before.value).dec()
        AGREEMENT_RECORDS.labels(status=after.value).inc()

    def refusal(self, customer_id: str) -> str | None:
        if self.reading and not self.loaded.is_set():
            # Until the book is read a pending customer would pass as a reference one.
            raise RetriableError("customer agreements not loaded yet")
        return attestation_refusal(customer_id, self.status.get(customer_id))


AGREEMENTS = AgreementBook()


def agreement_rejections(customer_id: str, book: AgreementBook = AGREEMENTS) -> list[Rejection]:
    """The order intake's attestation check (empty: the customer may order)."""
    reason = book.refusal(customer_id)
    if reason is None:
        return []
    return [
        Rejection(
            code=RejectionCode.AGREEMENT_NOT_ACCEPTED,
            field="customer_id",
            value=customer_id,
            message=reason,
        )
    ]


class BookReader:
    """Reads compacted topics from their start, outside any consumer group, handing each
    record to ``apply``; ``loaded`` is set once it has read up to where they ended at start."""

    def __init__(
        self,
        apply: Callable[[Event], None],
        loaded: asyncio.Event,
        codec: Codec,
        topics: Sequence[str],
        bootstrap: str,
        auth: KafkaAuth | None,
    ) -> None:
        self.apply, self.loaded, self.codec, self.topics = apply, loaded, codec, list(topics)
        self.bootstrap, self.auth = bootstrap, auth

    async def run(self) -> None:
        async with contextlib.aclosing(replay(self.topics, self.bootstrap, self.auth)) as polls:
            async for batch, caught_up in polls:
                for records in batch.values():
                    for record in records:
                        self._take(record.value)
                if caught_up and not self.loaded.is_set():
                    self.loaded.set()
                    log.info("relationship books loaded from %s", ", ".join(self.topics))

    def _take(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            event = self.codec.decode(value)
        except Exception as exc:  # noqa: BLE001 - a record another writer got wrong is skipped
            log.warning("relationship record not taken: %r", exc)
            return
        self.apply(event)
