"""What the benchmark runs: each hub flow as inputs, reference data and the outputs that end it.

A flow comes from its own bench module (bench/orders.py, support.py, billing.py, credits.py);
adding one is one line in ``HUB_FLOWS`` or ``BATCHES``. A module or function that is not there
yet makes its rows "not available" instead of failing the run.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.connectors.kafka_io import Outgoing
from hub.schemas.envelope import Event
from hub.topics import Topic, TopicCatalog


@dataclass(frozen=True)
class Milestone:
    """One row of the report: the time until every input reached ``event_type`` on ``topic``."""

    scenario: str
    topic: Topic
    event_type: str


@dataclass(frozen=True)
class HubFlow:
    """A hub pipeline driven through a real worker."""

    slug: str
    resellers: tuple[str, ...]
    reference: Callable[[TopicCatalog], list[Outgoing]]
    source: Topic
    make: Callable[[int], Event]  # the i-th input (ids derived from i stay unique per worker)
    milestones: tuple[Milestone, ...]
    latency_run: bool = False  # also measured at the fixed offered load (first milestone)
    note: str = ""
    handled_by: str = ""  # the hub flow consuming the inputs (its metrics' ``flow`` label)
    # The worker's flow group (HUB_FLOWS), as a distributor runs the hub at size: the flow alone
    # in its worker, not every flow reading the same events beside it. BENCH_ALL_FLOWS=1 runs
    # every flow in each worker instead (how runs before 20261205T1640Z measured). Several
    # groups, each a worker of its own: ``|`` between them.
    flows: str = ""
    # The group that stands for work a distributor runs on hosts of its own and that takes all
    # the CPU it gets while it has a backlog (provisioning). On the bench's one machine its
    # worker runs at the lowest CPU priority, so that it takes what the others leave, as it
    # would on its own host (runs.background_nice; BENCH_BACKGROUND_NICE=0: as equals).
    background: str = ""


def orders() -> HubFlow:
    from bench import orders as o

    return HubFlow(
        "orders",
        (o.RESELLER,),
        o.reference,
        Topic.ORDERS,
        lambda i: o.order(f"B-{i}"),
        (
            Milestone("order intake -> OrderAccepted", Topic.ORDER_DECISIONS, "OrderAccepted"),
            Milestone(
                "order -> SubscriptionProvisioned (simulator)",
                Topic.PROVISIONING,
                "SubscriptionProvisioned",
            ),
        ),
        latency_run=True,
        note=(
            "two workers, order intake and fulfilment each in its flow group, as a distributor "
            "runs them at size, fulfilment at the lowest CPU priority (it would have hosts of "
            "its own); CPU of both for both rows"
        ),
        flows="order-intake|fulfilment",
        background="fulfilment",
    )


def support() -> HubFlow:
    from bench import support as s

    return HubFlow(
        "support",
        (s.RESELLER,),
        s.reference,
        Topic.TICKETS,
        lambda i: s.ticket(f"T-{i}"),
        (
            Milestone(
                "ticket routing: TicketOpened -> TicketRouted", Topic.SUPPORT_EVENTS, "TicketRouted"
            ),
        ),
        latency_run=True,
        flows="support",
    )


def billing() -> HubFlow:
    from bench import billing as b

    return HubFlow(
        "billing",
        b.RESELLERS,
        b.reference,
        Topic.PROVISIONING,
        b.provisioned,
        (
            Milestone(
                "rating: SubscriptionProvisioned -> ChargeRated", Topic.CHARGES, "ChargeRated"
            ),
        ),
        flows="billing",
    )


def consumption() -> HubFlow:
    from bench import consumption as c

    return HubFlow(
        "consumption",
        c.RESELLERS,
        c.reference,
        Topic.CONSUMPTION_INPUTS,
        c.usage,
        (
            Milestone(
                "consumption: UsageRecorded -> UsageRated",
                Topic.CONSUMPTION_RATED,
                "UsageRated",
            ),
        ),
        note="daily Azure usage (versioned facts, accrual, budgets, anomaly rule) per record",
        handled_by="consumption",
        flows="consumption",
    )


@dataclass(frozen=True)
class Scaling:
    """Flows each driven through 1, 2, 3 workers of one hub (one group), each flow and count on
    its own topics and workers: every flow's inputs come from ``resellers``, whose data is
    ``reference``. Each flow has one milestone; its ``scenario`` labels the flow's table."""

    slug: str
    resellers: tuple[str, ...]
    reference: Callable[[TopicCatalog], list[Outgoing]]
    flows: tuple[HubFlow, ...]
    note: str


SCALING_WORKERS = (1, 2, 3)


def scaling_row(workers: int, label: str = "intake") -> str:
    """The name of a scaling row (``--only scaling`` selects them all)."""
    return f"scaling: {label}, {workers} worker{'s' if workers > 1 else ''}"


def scaling() -> Scaling:
    """Order intake and ticket routing over resellers covering every partition."""
    from bench import scaling as sc

    partitions = len(sc.RESELLERS) // sc.PER_PARTITION

    def flow(
        slug: str, source: Topic, make: Callable[[int], Event], milestone: Milestone, by: str
    ) -> HubFlow:
        return HubFlow(slug, sc.RESELLERS, sc.reference, source, make, (milestone,), handled_by=by)

    return Scaling(
        "scaling",
        sc.RESELLERS,
        sc.reference,
        (
            flow(
                "intake",
                Topic.ORDERS,
                sc.order,
                Milestone(
                    "order intake (OrderRequested -> OrderAccepted)",
                    Topic.ORDER_DECISIONS,
                    "OrderAccepted",
                ),
                "orders",
            ),
            flow(
                "routing",
                Topic.TICKETS,
                sc.ticket,
                Milestone(
                    "ticket routing (TicketOpened -> TicketRouted)",
                    Topic.SUPPORT_EVENTS,
                    "TicketRouted",
                ),
                "support.intake",
            ),
        ),
        note=(
            f"{len(sc.RESELLERS)} resellers, {sc.PER_PARTITION} on each of the {partitions} "
            "partitions, inputs to them in turn; each flow and worker count on its own topics "
            "and workers; the order workers also provision (simulator) and rate the orders they "
            "accepted, inside the burst's CPU"
        ),
    )


SCALING: tuple[tuple[str, ...], Callable[[], Scaling]] = (
    tuple(scaling_row(n, label) for label in ("intake", "routing") for n in SCALING_WORKERS),
    scaling,
)

# Each entry: (the rows it reports if unavailable, the factory). One line per flow.
HUB_FLOWS: tuple[tuple[tuple[str, ...], Callable[[], HubFlow]], ...] = (
    (("order intake -> OrderAccepted", "order -> SubscriptionProvisioned (simulator)"), orders),
    (("rating: SubscriptionProvisioned -> ChargeRated",), billing),
    (("ticket routing: TicketOpened -> TicketRouted",), support),
    (("consumption: UsageRecorded -> UsageRated",), consumption),
)


@dataclass(frozen=True)
class Batch:
    """In-process work: ``function(n)`` run in a child process, returning a dict of numbers."""

    scenario: str
    target: str  # "module:function", called with the size, returns a JSON-able dict
    seconds: str  # the key of the dict holding the time the row reports
    kwargs: dict[str, Any]
    note: Callable[[dict[str, Any]], str]


def credits() -> Batch:
    module: Any = importlib.import_module("bench.credits")
    run = getattr(module, "run", None)
    if not callable(run):
        raise AttributeError("bench.credits has no run(n)")
    # Timed without tracemalloc (it slows allocation several-fold); memory comes from rusage.
    kwargs = {"trace": False} if "trace" in inspect.signature(run).parameters else {}
    return Batch(
        "service-credit allocation (one approval)",
        "bench.credits:run",
        "allocate_s",
        kwargs,
        lambda r: (
            f"building inputs {r.get('build_inputs_s')} s + allocate_credit "
            f"{r.get('allocate_s')} s (the row: allocate_credit only); peak RSS: the process"
        ),
    )


BATCHES: tuple[tuple[str, Callable[[], Batch]], ...] = (
    ("service-credit allocation (one approval)", credits),
)
