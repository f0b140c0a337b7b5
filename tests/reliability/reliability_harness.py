"""Money-flow scenario for the crash tests: known inputs, their recomputation, and read-back.

Subscriptions of ``RESELLERS`` resellers on ``SERVICES`` Microsoft services are provisioned
(a ``new`` charge of quantity x unit price), a share of them gains seats on their first day (an
``addQuantity`` charge of the added seats x unit price, a full period), then one credit per
service is approved and allocated over that service's subscriptions.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from hub.commands.credits import approval_event
from hub.connectors.kafka_io import Outgoing, Record, open_consumer, producer
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.orders import ReferenceView
from hub.domain.reference import Brand, CatalogItem, Customer, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.runtime.lag import measure_lag
from hub.runtime.pipeline import event_headers
from hub.schemas.codec import Codec
from hub.schemas.envelope import Event
from hub.schemas.events.billing import ChargeRated
from hub.schemas.events.credits import ServiceCreditAllocated, ServiceCreditApproved
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import CatalogItemUpserted, CustomerUpserted, ResellerUpserted
from hub.schemas.events.subscriptions import SubscriptionChanged
from hub.streams.billing.ledger import BillingLedger, BillingTables, Distributor
from hub.topics import Topic, TopicCatalog
from tests.support.checker import Input, Output, fingerprint

RESELLERS = 20
CUSTOMERS_PER_RESELLER = 3
SERVICES = ("exchange", "teams", "sharepoint", "intune")
TERM_START = date(2025, 1, 1)
T0 = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
WINDOW = (datetime(2025, 1, 10, 8, tzinfo=UTC), datetime(2025, 1, 10, 20, tzinfo=UTC))


def item_of(service: str) -> CatalogItem:
    code = service.upper()[:4].ljust(4, "X")
    return CatalogItem(
        product_id=f"CFQ7TTC0{code}",
        sku_id="0001",
        availability_id=f"CFQ7TTC0{code}A",
        name=f"{service} plan",
        service=service,
        markets=("DE",),
    )


def _env(seed: str, rid: str | None, at: datetime = T0) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid5(uuid.NAMESPACE_URL, seed),
        "event_time": at,
        "correlation_id": seed[:60],
        "reseller_id": rid,
    }


@dataclass(frozen=True)
class Sub:
    sid: str
    rid: str
    cid: str
    service: str
    quantity: int
    unit_price: int


@dataclass
class Scenario:
    """Every input of one run, with the money each must produce."""

    prefix: str
    salt: str
    subs: list[Sub]
    added: dict[str, int]  # subscription id -> seats added on day one
    rng_seed: int

    @property
    def topics(self) -> TopicCatalog:
        return TopicCatalog(self.prefix)

    @classmethod
    def build(cls, prefix: str, events: int, seed: int = 7) -> Scenario:
        """About ``events`` inputs: 60% provisionings, 40% seat changes (plus one per service)."""
        rng = random.Random(seed)
        salt = uuid.uuid4().hex[:6]
        n_subs = max(len(SERVICES), events * 6 // 10)
        subs = []
        for n in range(n_subs):
            r = n % RESELLERS
            subs.append(
                Sub(
                    sid=f"s{salt}-{n:06d}",
                    rid=reseller_id(r),
                    cid=f"cx-c{r:02d}-{n % CUSTOMERS_PER_RESELLER}",
                    service=SERVICES[n % len(SERVICES)],
                    quantity=rng.randint(1, 40),
                    unit_price=rng.randint(100, 2_500),
                )
            )
        added = {s.sid: rng.randint(1, 10) for s in subs[: events - n_subs]}
        return cls(prefix, salt, subs, added, seed)

    def reseller_ids(self) -> list[str]:
        return [reseller_id(r) for r in range(RESELLERS)]

    def reference(self) -> list[Outgoing]:
        t = self.topics
        out: list[Outgoing] = []
        for r in range(RESELLERS):
            rid = reseller_id(r)
            mode = BillingMode.RESELLER_BILLS if r % 2 else BillingMode.DISTRIBUTOR_WHITE_LABEL
            profile = ResellerProfile(
                reseller_id=rid,
                partner_id=f"{1_000_000 + r}",
                name=f"Reseller {r}",
                country="DE",
                currency="EUR",
                languages=("de",),
                billing_mode=mode,
                support_mode=SupportMode.RESELLER_OWN,
                credit_limit_minor=10**12,
                payment_terms_days=30,
                brand=Brand(display_name=f"Reseller {r}", signature="Team", reply_to="b@r.de"),
            )
            out.append(
                Outgoing(
                    t.name(Topic.RESELLERS),
                    rid,
                    ResellerUpserted(**_env(f"{self.salt}-ref-{rid}", rid), reseller=profile),
                )
            )
            for c in range(CUSTOMERS_PER_RESELLER):
                cid = f"cx-c{r:02d}-{c}"
                customer = Customer(
                    customer_id=cid,
                    reseller_id=rid,
                    name=f"Customer {cid}",
                    country="DE",
                    region="eu-west",
                    language="de",
                    currency="EUR",
                )
                out.append(
                    Outgoing(
                        t.name(Topic.CUSTOMERS),
                        cid,
                        CustomerUpserted(**_env(f"{self.salt}-{cid}", rid), customer=customer),
                    )
                )
        for service in SERVICES:
            item = item_of(service)
            out.append(
                Outgoing(
                    t.name(Topic.CATALOG),
                    item.catalog_item_id,
                    CatalogItemUpserted(**_env(f"{self.salt}-cat-{service}", None), item=item),
                )
            )
        return out

    def provisioned(self) -> list[tuple[Outgoing, Input]]:
        out = []
        for s in self.subs:
            item = item_of(s.service)
            event = SubscriptionProvisioned(
                **_env(f"{self.salt}-prov-{s.sid}", s.rid),
                order_id=f"o-{s.sid}",
                line_index=0,
                customer_id=s.cid,
                subscription_id=s.sid,
                microsoft_order_id=f"ms-{s.sid}",
                product_id=item.product_id,
                sku_id=item.sku_id,
                availability_id=item.availability_id,
                quantity=s.quantity,
                term=Term.P1Y,
                billing_cycle=BillingCycle.MONTHLY,
                term_start=TERM_START,
                term_end=date(2025, 12, 31),
                unit_cost_minor=s.unit_price * 9 // 10,
                unit_price_minor=s.unit_price,
                currency="EUR",
            )
            out.append(
                (
                    Outgoing(self.topics.name(Topic.PROVISIONING), s.rid, event),
                    Input(str(event.event_id), s.rid, s.quantity * s.unit_price),
                )
            )
        return out

    def changes(self) -> list[tuple[Outgoing, Input]]:
        by_id = {s.sid: s for s in self.subs}
        out = []
        for sid, seats in self.added.items():
            s = by_id[sid]
            event = SubscriptionChanged(
                **_env(f"{self.salt}-chg-{sid}", s.rid),
                change_id=f"chg-{sid}",
                customer_id=s.cid,
                subscription_id=sid,
                kind="change_quantity",
                effective_at=T0,
                old_quantity=s.quantity,
                new_quantity=s.quantity + seats,
                status="active",
                auto_renew=True,
                currency="EUR",
            )
            out.append(
                (
                    Outgoing(self.topics.name(Topic.SUBSCRIPTION_EVENTS), sid, event),
                    Input(str(event.event_id), s.rid, seats * s.unit_price),
                )
            )
        return out

    def approvals(self) -> list[tuple[Outgoing, ServiceCreditApproved]]:
        out = []
        for n, service in enumerate(SERVICES):
            event = approval_event(
                incident_id=f"INC{self.salt}{n}",
                service=service,
                currency="EUR",
                window_start=WINDOW[0],
                window_end=WINDOW[1],
                amount=Decimal(1_234_567 + 1_001 * n) / 100,
                tier_percent=None,
                region=None,
                credit_id=None,
                now=datetime.now(UTC),
            )
            out.append((Outgoing(self.topics.name(Topic.CREDITS_APPROVED), service, event), event))
        return out


def reseller_id(r: int) -> str:
    return f"cx-r{r:02d}"


# --- reading outputs ------------------------------------------------------------------------


def charge_output(event: Event, record: Record) -> Output | None:
    if not isinstance(event, ChargeRated):
        return None
    return Output(
        event_id=str(event.event_id),
        cause_id=str(event.causation_id),
        key=event.reseller_id,
        amount_minor=event.price_minor,
        identity=event.charge_id,
        fingerprint=fingerprint(record.value),
    )


def allocation_output(event: Event, record: Record) -> Output | None:
    if not isinstance(event, ServiceCreditAllocated):
        return None
    return Output(
        event_id=str(event.event_id),
        cause_id=str(event.causation_id),
        key=f"credit:{event.credit_id}",
        amount_minor=event.amount_minor,
        identity=event.allocation_id,
        fingerprint=fingerprint(record.value),
        group=event.credit_id,
    )


# --- feeding and driving workers ---

_CODEC = Codec()


class Feeder(threading.Thread):
    """Sends ``items`` in small batches at a steady pace, from its own thread and producer
    (idempotent: each key's records keep their order)."""

    def __init__(self, bootstrap: str, items: list[Outgoing], per_batch: int, pause_s: float):
        super().__init__(daemon=True)
        self.bootstrap, self.items = bootstrap, items
        self.per_batch, self.pause_s = per_batch, pause_s
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._feed())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    async def _feed(self) -> None:
        async with producer(self.bootstrap) as client:
            for start in range(0, len(self.items), self.per_batch):
                batch = self.items[start : start + self.per_batch]
                futures = [
                    await client.send(
                        item.topic,
                        key=item.key.encode(),
                        value=_CODEC.encode(item.event),
                        headers=event_headers(item.event),
                    )
                    for item in batch
                ]
                await asyncio.gather(*futures)
                self.sent += len(batch)
                await asyncio.sleep(self.pause_s)


# --- driving the worker ---------------------------------------------------------------------


async def _uncommitted(
    bootstrap: str, app_id: str, required: Sequence[str]
) -> dict[tuple[str, int], int]:
    """Lag per partition: the group's (``measure_lag``) plus every message of a required
    topic's partition the group has never committed on (``measure_lag`` cannot see those)."""
    lags = await measure_lag(bootstrap, app_id)
    async with open_consumer(bootstrap) as consumer:
        await consumer._client.force_metadata_update()
        parts = [
            TopicPartition(t, p)
            for t in required
            for p in sorted(consumer.partitions_for_topic(t) or ())
            if (t, p) not in lags
        ]
        ends = await consumer.end_offsets(parts) if parts else {}
    lags.update(((tp.topic, tp.partition), end) for tp, end in ends.items())
    return {tp: lag for tp, lag in lags.items() if lag}


def leader_of(bootstrap: str, topic: str, partition: int) -> tuple[int, list[int]]:
    """The node leading ``topic``'s ``partition`` now, and the nodes holding its replicas."""

    async def ask() -> tuple[int, list[int]]:
        async with open_consumer(bootstrap) as consumer:
            await consumer._client.force_metadata_update()
            found = consumer._client.cluster._partitions.get(topic, {}).get(partition)
        assert found is not None, f"{topic}[{partition}] is unknown"
        assert found.leader >= 0, f"{topic}[{partition}] has no leader"
        return int(found.leader), sorted(found.replicas)

    return asyncio.run(ask())


def stuck_report(lags: dict[tuple[str, int], int], log: str) -> str:
    """The lagging partitions, and what the worker's last consumer report says of them."""
    lines = [f"{topic}[{partition}] lag {lag}" for (topic, partition), lag in sorted(lags.items())]
    report = log.rsplit("consumer report:", 1)
    if len(report) == 2:
        lines.append("its last consumer report on them:")
        lines += [
            line.strip()
            for line in report[1].splitlines()
            if any(f"{topic}[{partition}]" in line for topic, partition in lags)
        ]
    return "\n".join(lines)


class Watched(Protocol):
    """A worker child process as ``wait_zero_lag`` watches it."""

    def running(self) -> bool: ...

    def log_tail(self, chars: int = 3000) -> str: ...

    def log_text(self) -> str: ...

    def request_report(self) -> None: ...


def wait_zero_lag(
    bootstrap: str,
    app_id: str,
    worker: Watched,
    *,
    required: Sequence[str] = (),
    timeout_s: float = 600,
    settle_s: float = 3.0,
) -> float:
    """Until the group's committed offsets reach every end offset, for ``settle_s``."""
    start = time.monotonic()
    deadline = start + timeout_s
    zero_since: float | None = None
    last_lag, moved_at, reported = -2, start, False
    while True:
        assert worker.running(), f"worker died:\n{worker.log_tail()}"
        try:
            lags = asyncio.run(_uncommitted(bootstrap, app_id, required))
            lag = sum(lags.values())
        except KafkaError:  # e.g. no coordinator yet for a group that never committed
            lags, lag = {}, -1
        now = time.monotonic()
        if lag == 0:
            zero_since = zero_since or now
            if now - zero_since >= settle_s:
                return now - start
        else:
            zero_since = None
        if lag != last_lag:
            last_lag, moved_at, reported = lag, now, False
        elif not reported and now - moved_at > 60:
            worker.request_report()  # the log then says where the stuck records are
            reported = True
        assert now < deadline, (
            f"lag {lag} after {timeout_s}s:\n{stuck_report(lags, worker.log_text())}\n"
            f"the worker's log ends:\n{worker.log_tail()}"
        )
        time.sleep(1.0)


_METRIC = re.compile(r"^hub_events_out_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)


def events_out(worker: WorkerProcess, flow: str) -> int:
    """The worker's own count of events sent by ``flow`` since it started (0 if unreachable)."""
    try:
        text = worker.metrics()
    except OSError:
        return 0
    return int(sum(float(v) for labels, v in _METRIC.findall(text) if f'flow="{flow}"' in labels))


def wait_events_out(worker: WorkerProcess, flow: str, at_least: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while events_out(worker, flow) < at_least:
        assert worker.running(), f"worker died:\n{worker.log_tail()}"
        assert time.monotonic() < deadline, f"{flow} sent < {at_least}:\n{worker.log_tail()}"
        time.sleep(0.3)


def approved_amounts(approvals: Iterable[ServiceCreditApproved]) -> dict[str, int]:
    return {a.credit_id: a.amount_minor or 0 for a in approvals}


def inputs_of(pairs: Sequence[tuple[Outgoing, Input]]) -> list[Input]:
    return [i for _, i in pairs]


def outgoing_of(pairs: Sequence[tuple[Outgoing, Any]]) -> list[Outgoing]:
    return [o for o, _ in pairs]


Clock = Callable[[], float]


# --- recomputation ---------------------------------------------------------------------------


def reference_view(scenario: Scenario) -> ReferenceView:
    events = [o.event for o in scenario.reference()]
    return ReferenceView(
        resellers={
            e.reseller.reseller_id: e.reseller for e in events if isinstance(e, ResellerUpserted)
        },
        customers={
            e.customer.customer_id: e.customer for e in events if isinstance(e, CustomerUpserted)
        },
        catalogue={
            e.item.catalog_item_id: e.item for e in events if isinstance(e, CatalogItemUpserted)
        },
        prices={},
    )


def recompute_billing(
    scenario: Scenario, allocations: Sequence[ServiceCreditAllocated]
) -> BillingTables:
    """The billing tables a single clean pass over the inputs gives (in memory, no broker)."""
    tables = BillingTables.in_memory()
    ledger = BillingLedger(
        tables, scenario.topics, reference_view(scenario), Distributor("5000000", "D", "DE")
    )

    async def run() -> None:
        for event in [
            *(o.event for o, _ in scenario.provisioned()),
            *(o.event for o, _ in scenario.changes()),
            *allocations,
        ]:
            await ledger.handle(event)

    asyncio.run(run())
    return tables
