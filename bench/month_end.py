"""Month end at distributor scale, through a real ``hub worker``.

One white-label reseller with ``big`` subscriptions over ``big / 10`` customers and ``resellers``
reseller-billed resellers of ``each`` subscriptions. Every ``SubscriptionProvisioned`` goes in as
billing receives it; rating is timed per quarter of the big reseller's subscriptions (does it slow
as the reseller grows?). Then one ``BillingRunRequested`` closes the month: the time to the big
reseller's ``BillingRunCompleted`` and to every reseller's, every invoice checked issued once with
numbers without gaps. Last, the largest record of the worker's billing changelog and of every hub
topic, and the worker's peak RSS. ``python -m bench --only month`` runs it beside the baselines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.baseline import PRODUCER_TUNING
from bench.harness import CODEC, by_correlation, envelope
from bench.proc import Usage, usage
from bench.report import Kind, Result
from bench.runs import wait_reference
from hub.app import stream_modules
from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.domain.closing import CLOSE_PAGE
from hub.domain.enums import BillingCycle, BillingMode, SupportMode, Term
from hub.domain.reference import Brand, CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.ops.worker_process import WorkerProcess
from hub.runtime.pipeline import event_headers
from hub.schemas.envelope import Event
from hub.schemas.events.billing import BillingRunCompleted, BillingRunRequested, InvoiceIssued
from hub.schemas.events.orders import SubscriptionProvisioned
from hub.schemas.events.reference import (
    CatalogItemUpserted,
    CustomerUpserted,
    PriceListEntryUpserted,
    ResellerUpserted,
)
from hub.streams.billing.documents import fanned_out
from hub.topics import Topic, TopicCatalog

BIG = "mebig"
PERIOD, AS_OF = "2026-11", date(2026, 12, 1)
TERM_START, TERM_END = date(2026, 11, 1), date(2027, 11, 1)
ONE_MB = 1_000_000
CLOSE_TARGET_S = 300.0
RSS_TARGET = 2**30
ITEM = CatalogItem(
    product_id="CFQ7TTC0LH18",
    sku_id="0001",
    availability_id="CFQ7TTC0K5DL",
    name="Microsoft 365 Business Basic",
    service="exchange",
    markets=("DE",),
)
NAMES = (
    "month end: rating, big reseller, first quarter",
    "month end: rating, big reseller, last quarter",
    "month end: rating, other resellers",
    "month end: close, big reseller",
    "month end: close, all resellers",
)


@dataclass(frozen=True)
class Shape:
    """How big the month is: the white-label reseller's subscriptions, and the others."""

    big: int
    resellers: int
    each: int

    @property
    def small(self) -> tuple[str, ...]:
        return tuple(f"mesmall{k:03d}" for k in range(self.resellers))

    @property
    def all(self) -> tuple[str, ...]:
        return (BIG, *self.small)

    @property
    def customers(self) -> dict[str, int]:
        """Customers per reseller: one for every ten subscriptions."""
        return {BIG: max(1, self.big // 10), **{r: max(1, self.each // 10) for r in self.small}}


def shape_from_env(default: Shape) -> Shape:
    """``BENCH_MONTH=big,resellers,each`` overrides the size (e.g. a smaller full run)."""
    given = os.environ.get("BENCH_MONTH", "").strip()
    if not given:
        return default
    big, resellers, each = (int(part) for part in given.split(","))
    return Shape(big, resellers, each)


def _customer_id(rid: str, index: int) -> str:
    return f"{rid}-c{index:05d}"


def reference(shape: Shape) -> Any:
    """The reference events: resellers (the big one white-label, with a brand), customers, the
    catalogue item and its price."""

    def build(topics: TopicCatalog) -> list[Outgoing]:
        out: list[Outgoing] = [
            Outgoing(
                topics.name(Topic.CATALOG),
                ITEM.catalog_item_id,
                CatalogItemUpserted(**envelope(None), item=ITEM),
            ),
            Outgoing(
                topics.name(Topic.PRICES),
                ITEM.catalog_item_id,
                PriceListEntryUpserted(
                    **envelope(None),
                    price_list_id="msft",
                    entry=PriceListEntry(
                        product_id=ITEM.product_id,
                        sku_id=ITEM.sku_id,
                        availability_id=ITEM.availability_id,
                        term=Term.P1Y,
                        billing_cycle=BillingCycle.MONTHLY,
                        currency="EUR",
                        unit_cost_minor=600,
                        effective_from=date(2020, 1, 1),
                    ),
                ),
            ),
        ]
        brand = Brand(display_name="Big Reseller IT", signature="Big", reply_to="billing@big.de")
        for index, rid in enumerate(shape.all):
            white = rid == BIG
            profile = ResellerProfile(
                reseller_id=rid,
                partner_id=f"{4100000 + index}",
                name=f"{rid} GmbH",
                country="DE",
                currency="EUR",
                languages=("de",),
                billing_mode=BillingMode.DISTRIBUTOR_WHITE_LABEL
                if white
                else BillingMode.RESELLER_BILLS,
                support_mode=SupportMode.RESELLER_OWN,
                credit_limit_minor=10**15,
                payment_terms_days=30,
                brand=brand if white else None,
            )
            out.append(
                Outgoing(
                    topics.name(Topic.RESELLERS),
                    rid,
                    ResellerUpserted(**envelope(rid), reseller=profile),
                )
            )
            for c in range(shape.customers[rid]):
                customer = Customer(
                    customer_id=_customer_id(rid, c),
                    reseller_id=rid,
                    name=f"Customer {c} of {rid}",
                    country="DE",
                    language="de",
                    currency="EUR",
                )
                out.append(
                    Outgoing(
                        topics.name(Topic.CUSTOMERS),
                        customer.customer_id,
                        CustomerUpserted(**envelope(rid), customer=customer),
                    )
                )
        return out

    return build


def provisioned(rid: str, index: int, customers: int, correlation: str) -> SubscriptionProvisioned:
    """The ``index``-th subscription of ``rid``, its customer chosen round-robin."""
    return SubscriptionProvisioned(
        **{**envelope(rid), "correlation_id": correlation},
        order_id=f"o-{rid}-{index}",
        line_index=0,
        customer_id=_customer_id(rid, index % customers),
        subscription_id=f"s-{rid}-{index:06d}",
        microsoft_order_id=f"ms-{rid}-{index}",
        product_id=ITEM.product_id,
        sku_id=ITEM.sku_id,
        availability_id=ITEM.availability_id,
        quantity=1 + index % 20,
        term=Term.P1Y,
        billing_cycle=BillingCycle.MONTHLY,
        term_start=TERM_START,
        term_end=TERM_END,
        unit_cost_minor=600,
        unit_price_minor=700,
        currency="EUR",
    )


@dataclass
class Watch:
    """What the worker has sent so far on the charges, invoices and collections topics."""

    charged: dict[str, float] = field(default_factory=dict)  # correlation id -> first seen
    invoices: list[InvoiceIssued] = field(default_factory=list)
    completed: dict[str, tuple[float, BillingRunCompleted]] = field(default_factory=dict)


async def watch(bootstrap: str, topics: TopicCatalog, into: Watch, partitions: int) -> None:
    """Read the three sinks from the start until cancelled; only invoices and completions are
    decoded (charges are matched by their headers)."""
    names = [topics.name(t) for t in (Topic.CHARGES, Topic.INVOICES, Topic.COLLECTIONS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=4 << 20
    )
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in names for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    kind, correlation = by_correlation(record)
                    if kind == "ChargeRated":
                        into.charged.setdefault(correlation, now)
                    elif kind == "InvoiceIssued":
                        invoice = CODEC.decode(record.value or b"")
                        assert isinstance(invoice, InvoiceIssued)
                        into.invoices.append(invoice)
                    elif kind == "BillingRunCompleted":
                        done = CODEC.decode(record.value or b"")
                        assert isinstance(done, BillingRunCompleted)
                        into.completed.setdefault(done.run_event_id, (now, done))
    finally:
        await consumer.stop()


async def send_all(bootstrap: str, topic: str, events: Sequence[Event]) -> float:
    """Send pre-encoded events as a burst; returns when the first was sent."""
    encoded = [((e.reseller_id or "").encode(), CODEC.encode(e), event_headers(e)) for e in events]
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_TUNING)
    await client.start()
    try:
        start = time.monotonic()
        for key, value, headers in encoded:
            await client.send(topic, key=key, value=value, headers=headers)
        await client.flush()
    finally:
        await client.stop()
    return start


async def wait_charged(
    w: Watch, ids: Sequence[str], timeout_s: float, label: str, worker: WorkerProcess
) -> None:
    deadline = time.monotonic() + timeout_s
    last_note = time.monotonic()
    while True:
        missing = sum(1 for i in ids if i not in w.charged)
        if not missing:
            return
        if not worker.running():
            raise RuntimeError(f"the worker died while rating {label}: {worker.log_tail(1500)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{label}: {missing} of {len(ids)} never rated")
        if time.monotonic() - last_note > 30:
            _say(f"    {label}: {len(ids) - missing:,} of {len(ids):,} rated")
            last_note = time.monotonic()
        await asyncio.sleep(1.0)


def quarter_bounds(ids: Sequence[str], seen: dict[str, float]) -> list[float]:
    """When the first charge of ``ids`` arrived, then when each quarter's last one did (``ids``
    in send order): quarter q runs from bound q to bound q + 1."""
    n = len(ids)
    cuts = [0, n // 4, n // 2, 3 * n // 4, n]
    return [seen[ids[0]]] + [max(seen[i] for i in ids[cuts[q] : cuts[q + 1]]) for q in range(4)]


def quarter_rates(ids: Sequence[str], seen: dict[str, float]) -> list[tuple[int, float]]:
    """(charges, seconds) for each quarter of ``ids`` (the first charge opens the first)."""
    n = len(ids)
    cuts = [0, n // 4, n // 2, 3 * n // 4, n]
    bounds = quarter_bounds(ids, seen)
    return [
        (cuts[q + 1] - cuts[q] - (1 if q == 0 else 0), bounds[q + 1] - bounds[q]) for q in range(4)
    ]


def cpu_at(samples: Sequence[tuple[float, float]], when: float) -> float:
    """The worker's CPU seconds at ``when``, interpolated between (time, CPU) samples."""
    before = max((s for s in samples if s[0] <= when), default=samples[0])
    after = min((s for s in samples if s[0] >= when), default=samples[-1])
    if after[0] == before[0]:
        return before[1]
    share = (when - before[0]) / (after[0] - before[0])
    return before[1] + share * (after[1] - before[1])


_NUMBER = re.compile(r"^(.*)-(\d+)$")


def invoice_check(invoices: Sequence[InvoiceIssued], expected: dict[str, int]) -> dict[str, Any]:
    """Every invoice once (distinct ids == issued == expected recipients) and each series'
    numbers 1..n without a gap or a repeat."""
    ids = [i.invoice_id for i in invoices]
    series: dict[str, list[int]] = {}
    by_reseller: dict[str, int] = {}
    for invoice in invoices:
        match = _NUMBER.match(invoice.number)
        assert match is not None, invoice.number
        series.setdefault(match.group(1), []).append(int(match.group(2)))
        by_reseller[invoice.reseller_id] = by_reseller.get(invoice.reseller_id, 0) + 1
    gaps = [
        name
        for name, numbers in series.items()
        if sorted(numbers) != list(range(1, len(numbers) + 1))
    ]
    wrong = {
        r: (by_reseller.get(r, 0), n) for r, n in expected.items() if by_reseller.get(r, 0) != n
    }
    return {
        "issued": len(ids),
        "distinct_ids": len(set(ids)),
        "expected": sum(expected.values()),
        "series": len(series),
        "series_with_gaps_or_repeats": gaps[:5],
        "resellers_with_wrong_counts": dict(list(wrong.items())[:5]),
        "ok": len(ids) == len(set(ids)) == sum(expected.values()) and not gaps and not wrong,
    }


async def largest_records(bootstrap: str, names: Sequence[str]) -> dict[str, int]:
    """The largest record value on each topic of ``names``, read from the start to the end."""
    consumer = AIOKafkaConsumer(
        *names,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 60
        while {tp.topic for tp in consumer.assignment()} != set(names):
            if time.monotonic() > deadline:
                break  # a topic that does not exist has no record
            await asyncio.sleep(0.2)
        parts = sorted(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        left = {tp for tp, end in ends.items() if end > 0}
        biggest = dict.fromkeys(names, 0)
        while left:
            batches = await consumer.getmany(timeout_ms=1000, max_records=20000)
            for tp, records in batches.items():
                for record in records:
                    size = len(record.value or b"")
                    if size > biggest[tp.topic]:
                        biggest[tp.topic] = size
            for tp in list(left):
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
        return biggest
    finally:
        await consumer.stop()


async def topic_names(bootstrap: str) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sorted(await consumer.topics())
    finally:
        await consumer.stop()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Peak:
    """The worker's usage, sampled every few seconds so a dead worker still leaves its peak."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last: Usage = usage(pid)
        self.cpu: list[tuple[float, float]] = [(time.monotonic(), self.last.cpu_s)]

    async def run(self) -> None:
        while True:
            with contextlib.suppress(OSError, ValueError):
                self.last = usage(self.pid)
                self.cpu.append((time.monotonic(), self.last.cpu_s))
            await asyncio.sleep(1.0)


# The second flow group of the split run: every flow but billing.
OTHER_FLOWS = ",".join(name for name in stream_modules() if name != "billing")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


async def run(
    bootstrap: str,
    work: Path,
    run_id: str,
    shape: Shape,
    partitions: int,
    env: dict[str, str],
    detail: dict[str, Any],
) -> list[Result]:
    """The whole scenario; ``detail`` receives every number (for the JSON) as it is known."""
    prefix = f"bench.{run_id}.month."
    app_id = f"bench-month-{run_id}"
    topics = TopicCatalog(prefix)
    fixed = topics.fixed()
    specs = (
        fixed
        + topics.dead_letters(fixed)
        + tuple(s for rid in shape.all for s in topics.for_reseller(rid))
    )
    t0 = time.monotonic()
    await apply_topics(bootstrap, specs)
    ref = reference(shape)(topics)
    await publish(bootstrap, CODEC, ref)
    detail["shape"] = shape.__dict__
    detail["setup_s"] = round(time.monotonic() - t0, 1)
    _say(f"    topics and {len(ref):,} reference events in {detail['setup_s']} s")

    # Encoded before the worker starts: the clock measures the worker, not our encoding.
    big_ids = [f"{run_id}-big-{i}" for i in range(shape.big)]
    big_events = [provisioned(BIG, i, shape.customers[BIG], c) for i, c in enumerate(big_ids)]
    small_ids: list[str] = []
    small_events: list[SubscriptionProvisioned] = []
    for i in range(shape.each):  # round-robin over the resellers, as a month's orders come
        for rid in shape.small:
            cid = f"{run_id}-{rid}-{i}"
            small_ids.append(cid)
            small_events.append(provisioned(rid, i, shape.customers[rid], cid))

    # By default billing runs in a flow group of its own (HUB_FLOWS=billing), as a distributor
    # runs it at this size, and the flows that read the same events (order intake, the credits
    # chain, support) in a second worker: the numbers below are the billing worker's.
    # BENCH_MONTH_FLOWS=one runs every flow in one worker instead.
    split = os.environ.get("BENCH_MONTH_FLOWS", "split").strip() != "one"
    detail["flow_groups"] = ["billing", OTHER_FLOWS] if split else ["every flow"]
    billing_env = {**env, "HUB_FLOWS": "billing"} if split else env
    worker = WorkerProcess(
        bootstrap, work / "month", topic_prefix=prefix, app_id=app_id, env=billing_env
    )
    others = (
        WorkerProcess(
            bootstrap,
            work / "month",
            topic_prefix=prefix,
            app_id=app_id,
            env={**env, "HUB_FLOWS": OTHER_FLOWS},
            name="others",
        )
        if split
        else None
    )
    w = Watch()
    watcher = asyncio.create_task(watch(bootstrap, topics, w, partitions))
    results: list[Result] = []
    try:
        await asyncio.to_thread(worker.start().wait_ready)
        if others is not None:
            await asyncio.to_thread(others.start().wait_ready)
            await asyncio.to_thread(wait_reference, others, len(ref), 600)
        await asyncio.to_thread(wait_reference, worker, len(ref), 600)
        assert worker.proc is not None
        pid = worker.proc.pid
        peak = Peak(pid)
        sampler = asyncio.create_task(peak.run())
        source = topics.name(Topic.PROVISIONING)

        # Rating, the big reseller first (one partition, so arrivals follow send order).
        before = usage(pid)
        start = await send_all(bootstrap, source, big_events)
        await wait_charged(w, big_ids, 300 + shape.big / 10, "big reseller", worker)
        after = usage(pid)
        quarters = quarter_rates(big_ids, w.charged)
        rates = [n / s if s > 0 else 0.0 for n, s in quarters]
        ratio = rates[3] / rates[0] if rates[0] else 0.0
        # CPU per charge per quarter: the slowdown the worker causes itself, whatever else the
        # machine runs (other engineers' tests share these two cores).
        bounds = quarter_bounds(big_ids, w.charged)
        peak.cpu.append((time.monotonic(), after.cpu_s))
        cpu_ms = [
            (cpu_at(peak.cpu, bounds[q + 1]) - cpu_at(peak.cpu, bounds[q])) / n * 1000
            for q, (n, _) in enumerate(quarters)
        ]
        cpu_ratio = cpu_ms[0] / cpu_ms[3] if cpu_ms[3] else 0.0
        big_s = max(w.charged[i] for i in big_ids) - start
        detail["rating_big"] = {
            "charges": shape.big,
            "seconds_from_first_send": round(big_s, 1),
            "quarters": [
                {"charges": n, "seconds": round(s, 2), "per_second": round(r, 1)}
                for (n, s), r in zip(quarters, rates, strict=True)
            ],
            "last_over_first": round(ratio, 3),
            "cpu_ms_per_charge": [round(c, 2) for c in cpu_ms],
            "last_over_first_per_cpu_second": round(cpu_ratio, 3),
            "cpu_s": round(after.cpu_s - before.cpu_s, 1),
        }
        _say(f"    big reseller rated: quarters {[round(r) for r in rates]}/s")
        cpu_per_1k = (after.cpu_s - before.cpu_s) / shape.big * 1000
        rss = after.peak_rss_bytes / 2**20
        for q, name in ((0, NAMES[0]), (3, NAMES[1])):
            n, s = quarters[q]
            results.append(
                Result(
                    scenario=name,
                    kind=Kind.PIPELINE,
                    events=n,
                    seconds=s,
                    cpu_s_per_1k=cpu_ms[q],  # ms per charge == s per 1,000
                    peak_rss_mib=rss,
                    note=(
                        f"{shape.big:,} subscriptions over {shape.customers[BIG]:,} customers, "
                        f"one burst; quarters {', '.join(f'{r:,.0f}' for r in rates)} /s, "
                        f"worker CPU {', '.join(f'{c:.1f}' for c in cpu_ms)} ms per charge "
                        f"(all of the worker's {cpu_per_1k:.1f} ms per charge on average)"
                        if q == 0
                        else f"last quarter {ratio:.0%} of the first in charges/s (target >= 90%: "
                        f"{_met(ratio >= 0.9)}); per CPU second {cpu_ratio:.0%} "
                        "(the same comparison without the machine's other load)"
                    ),
                )
            )

        # The other resellers, round-robin.
        if small_events:
            before = usage(pid)
            start = await send_all(bootstrap, source, small_events)
            await wait_charged(w, small_ids, 300 + len(small_ids) / 10, "other resellers", worker)
            after = usage(pid)
            small_s = max(w.charged[i] for i in small_ids) - start
            detail["rating_others"] = {
                "charges": len(small_ids),
                "seconds": round(small_s, 1),
                "per_second": round(len(small_ids) / small_s, 1),
                "cpu_s": round(after.cpu_s - before.cpu_s, 1),
            }
            results.append(
                Result(
                    scenario=NAMES[2],
                    kind=Kind.PIPELINE,
                    events=len(small_ids),
                    seconds=small_s,
                    cpu_s_per_1k=(after.cpu_s - before.cpu_s) / len(small_ids) * 1000,
                    peak_rss_mib=after.peak_rss_bytes / 2**20,
                    note=f"{shape.resellers} resellers of {shape.each:,} (reseller-billed), "
                    "one burst from first send to last charge",
                )
            )

        # The close.
        event_id = uuid.uuid4()
        run_cmd = BillingRunRequested(
            event_id=event_id,
            event_time=datetime.now(UTC),
            correlation_id=f"bench-close-{event_id}",
            run="close",
            period=PERIOD,
            as_of=AS_OF,
            requested_by="bench",
        )
        expected_runs = {str(fanned_out(run_cmd, rid).event_id): rid for rid in shape.all}
        big_run = next(k for k, v in expected_runs.items() if v == BIG)
        before = usage(pid)
        start = time.monotonic()
        await publish(
            bootstrap, CODEC, [Outgoing(topics.name(Topic.BILLING_INPUTS), "all", run_cmd)]
        )
        deadline = start + 600 + shape.big / 20 + len(small_ids) / 20
        last_note = start
        while not all(k in w.completed for k in expected_runs):
            if not worker.running():
                raise RuntimeError(f"the worker died during the close: {worker.log_tail(2000)}")
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"close: {len(w.completed)} of {len(expected_runs)} resellers completed, "
                    f"{len(w.invoices)} invoices after {time.monotonic() - start:.0f} s"
                )
            if time.monotonic() - last_note > 30:
                _say(
                    f"    close: {len(w.completed)}/{len(expected_runs)} done, "
                    f"{len(w.invoices):,} invoices ({time.monotonic() - start:.0f} s)"
                )
                last_note = time.monotonic()
            await asyncio.sleep(0.5)
        after = usage(pid)
        big_done_at, big_done = w.completed[big_run]
        all_done_at = max(w.completed[k][0] for k in expected_runs)
        # White-label: one invoice per customer; reseller-billed: the reseller's month in parts
        # of whole customers, about CLOSE_PAGE lines each (one line per subscription here).
        parts = -(-shape.each // CLOSE_PAGE)
        expected_invoices = {BIG: shape.customers[BIG], **dict.fromkeys(shape.small, parts)}
        grace = time.monotonic() + 30  # invoices travel another topic than the completions
        while len(w.invoices) < sum(expected_invoices.values()) and time.monotonic() < grace:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # and a duplicate would come after
        check = invoice_check(w.invoices, expected_invoices)
        reported = sum(w.completed[k][1].invoices_issued for k in expected_runs)
        check["reported_by_completions"] = reported
        check["ok"] = check["ok"] and reported == check["issued"]
        big_close_s, all_close_s = big_done_at - start, all_done_at - start
        detail["close"] = {
            "big_seconds": round(big_close_s, 1),
            "all_seconds": round(all_close_s, 1),
            "big_pages": big_done.pages,
            "big_invoices": big_done.invoices_issued,
            "invoices": check,
            "cpu_s": round(after.cpu_s - before.cpu_s, 1),
        }
        _say(f"    close: big {big_close_s:.0f} s, all {all_close_s:.0f} s, {check}")
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        final = usage(pid)
        peak_mib = final.peak_rss_bytes / 2**20
        detail["worker_peak_rss_mib"] = round(peak_mib, 1)
        close_cpu = (after.cpu_s - before.cpu_s) / max(1, check["issued"]) * 1000
        results.append(
            Result(
                scenario=NAMES[3],
                kind=Kind.BATCH,
                events=big_done.invoices_issued,
                seconds=big_close_s,
                cpu_s_per_1k=close_cpu,
                peak_rss_mib=peak_mib,
                note=f"BillingRunRequested to its BillingRunCompleted, {big_done.pages} pages, "
                f"{big_done.invoices_issued:,} invoices (target < 5 min: "
                f"{_met(big_close_s < CLOSE_TARGET_S)}); worker peak RSS over the whole "
                f"scenario {peak_mib:,.0f} MiB (target < 1 GiB: "
                f"{_met(final.peak_rss_bytes < RSS_TARGET)})",
            )
        )
        results.append(
            Result(
                scenario=NAMES[4],
                kind=Kind.BATCH,
                events=check["issued"],
                seconds=all_close_s,
                cpu_s_per_1k=close_cpu,
                peak_rss_mib=peak_mib,
                note=f"{len(expected_runs)} resellers; invoices issued {check['issued']:,}, "
                f"distinct ids {check['distinct_ids']:,}, expected {check['expected']:,}, "
                f"completions say {reported:,}, {check['series']} series, numbers without "
                f"gaps: {'yes' if not check['series_with_gaps_or_repeats'] else 'NO'} "
                f"(every invoice once: {_met(check['ok'])})",
            )
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await asyncio.to_thread(worker.stop)
        if others is not None:
            await asyncio.to_thread(others.stop)

    # Record sizes, read after the worker stopped (nothing left to write).
    group = f"{app_id}.billing" if split else app_id  # Settings.worker_group
    changelog = f"{group}-billing-state-changelog"
    try:
        existing = await topic_names(bootstrap)
        names = [t for t in existing if t.startswith(prefix) or t == changelog]
        sizes = await largest_records(bootstrap, names)
    except Exception as exc:  # noqa: BLE001 - the run's other numbers stand without this one
        _say(f"    largest records not read: {type(exc).__name__}: {exc}")
        sizes = {}
    hub_max = max(((s, t) for t, s in sizes.items() if t != changelog), default=(0, "-"))
    detail["largest_record"] = {
        "billing_changelog_bytes": sizes.get(changelog, 0),
        "hub_topic_bytes": hub_max[0],
        "hub_topic": hub_max[1],
        "top_topics": sorted(((s, t) for t, s in sizes.items()), reverse=True)[:5],
    }
    changelog_max = sizes.get(changelog, 0)
    _say(f"    largest records: {detail['largest_record']}")
    results[-1] = replace(
        results[-1],
        note=results[-1].note
        + f"; largest record: billing-state changelog {changelog_max:,} B (target < 1 MB: "
        f"{_met(0 < changelog_max < ONE_MB)}), any hub topic {hub_max[0]:,} B "
        f"({hub_max[1].removeprefix(prefix)})",
    )
    return results
