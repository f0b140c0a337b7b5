"""Money survives SIGKILL: rating and service-credit allocation through four killed workers.

``HUB_CRASH_EVENTS`` inputs (default 2,000, about 6 minutes on a 2-core machine, much of it
waiting for each killed worker's group membership to expire; tens of thousands locally with the
variable): 60% ``SubscriptionProvisioned``, 40% ``SubscriptionChanged`` seat additions over 20
resellers, then one ``ServiceCreditApproved`` per service allocated over its subscriptions, each
allocation landing back in billing as a customer credit (about 4,400 outputs at the default). They
go through one real hub worker that is SIGKILLed four times: mid-stream while rating, during
startup recovery (before its web server answers), mid-stream with its local state directory
deleted afterwards (tables restore from their changelogs), and mid-allocation. After each restart
the test waits for zero consumer lag, then reads every output and dead letter with a
``read_committed`` consumer and checks: one outcome per input, no event id with two contents,
no effect twice, per-reseller and global money equal to the inputs, allocations equal to the
approved amounts, and the billing lines table (rebuilt from its changelog) equal to a clean
in-memory recomputation.

The same run goes again on a three-node cluster of its own (every topic at 3 replicas,
``min.insync.replicas=2``, as production has it): there, the broker leading the billing journal's
changelog partition 0 is SIGKILLed mid-stream before the first worker kill, stays down through
that kill, the kill during recovery and the drain after them, and is started again before the
seat changes. A message's journal entry and writes all go to one changelog partition, so
whichever broker leads it, a crash lands a prefix of them; the checks are the same.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import (
    Scenario,
    allocation_output,
    approved_amounts,
    charge_output,
    events_out,
    inputs_of,
    leader_of,
    outgoing_of,
    recompute_billing,
    wait_events_out,
    wait_zero_lag,
)

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.ops.local_cluster import LocalCluster
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.schemas.events.credits import ServiceCreditAllocated
from hub.topics import Topic, TopicCatalog
from tests.support import checker
from tests.support.broker import BrokerInfo, kafka_cluster  # noqa: F401 - the fixture
from tests.support.checker import Input

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS = int(os.environ.get("HUB_CRASH_EVENTS", "2000"))
CODEC = Codec()
# Topics the worker consumes that must be drained before a check (ingress and re-keyed).
CONSUMED = (
    Topic.PROVISIONING,
    Topic.SUBSCRIPTION_EVENTS,
    Topic.BILLING_INPUTS,
    Topic.CREDITS_SUBSCRIPTIONS,
    Topic.CREDITS_INDEX,
    Topic.CREDITS_APPROVED,
    Topic.CREDITS_ALLOCATED,
)


def send(bootstrap: str, items: list[Outgoing]) -> None:
    for start in range(0, len(items), 2000):
        asyncio.run(publish(bootstrap, CODEC, items[start : start + 2000]))


def read_allocations(bootstrap: str, topics: TopicCatalog) -> list[ServiceCreditAllocated]:
    async def read() -> list[ServiceCreditAllocated]:
        records = await checker.read_all(bootstrap, topics.name(Topic.CREDITS_ALLOCATED))
        seen: dict[str, ServiceCreditAllocated] = {}
        for r in records:
            event = CODEC.decode(r.value) if r.value else None
            if isinstance(event, ServiceCreditAllocated):
                seen.setdefault(str(event.event_id), event)
        return sorted(seen.values(), key=lambda e: e.allocation_id)

    return asyncio.run(read())


def check_money(
    bootstrap: str,
    scenario: Scenario,
    inputs: list[Input],
    approvals: dict[str, int],
    approval_inputs: list[Input],
) -> tuple[checker.Report, list[ServiceCreditAllocated]]:
    t = scenario.topics
    dlq = [TopicCatalog.dead_letter(t.name(topic)) for topic in CONSUMED]
    allocations = read_allocations(bootstrap, t)
    # Each allocation is an input of billing: a customer credit of minus its amount.
    credit_inputs = [Input(str(a.event_id), a.reseller_id, -a.amount_minor) for a in allocations]

    async def read() -> checker.Report:
        letters = await checker.read_dead_letters(bootstrap, dlq)
        charges = await checker.read_outputs(bootstrap, t.name(Topic.CHARGES), charge_output)
        allocated = await checker.read_outputs(
            bootstrap, t.name(Topic.CREDITS_ALLOCATED), allocation_output
        )
        report = checker.check_outcomes([*inputs, *credit_inputs], charges, letters)
        report.extend(checker.check_outcomes(approval_inputs, allocated, []))
        report.extend(checker.check_allocations(approvals, allocated))
        return report

    return asyncio.run(read()), allocations


def kill_when(worker: WorkerProcess, flow: str, sent: int, kills: list[str], why: str) -> None:
    wait_events_out(worker, flow, sent, timeout_s=300)
    worker.kill()
    kills.append(f"{why} after {flow} sent >= {sent}")


@dataclass
class BrokerKill:
    """One broker of a three-node cluster SIGKILLed while the worker rates (it then leads some
    of the journal's changelog partitions), kept down through the worker's next two deaths and
    its recovery, and started again before the seat changes."""

    cluster: LocalCluster
    changelog: str
    log: list[str] = field(default_factory=list)
    victim: int | None = None

    def kill(self) -> None:
        # The leader of the billing journal's changelog partition 0: its writes must fail over.
        self.victim, replicas = leader_of(self.cluster.bootstrap, self.changelog, 0)
        # Created by faust through the admin API (auto-creation is off), at the worker's factor.
        assert replicas == sorted(self.cluster.node_ids), f"{self.changelog}[0] on {replicas}"
        self.cluster.kill_node(self.victim)
        self.log.append(f"broker {self.victim} SIGKILLed")

    def restart(self) -> None:
        assert self.victim is not None
        started = time.monotonic()
        self.cluster.start_node(self.victim)
        self.log.append(f"broker {self.victim} back after {time.monotonic() - started:.0f}s")


def run_money_flows(
    bootstrap: str,
    prefix: str,
    tmp_path: Path,
    *,
    replication: int = 1,
    cluster: LocalCluster | None = None,
) -> None:
    """The four worker kills and the checks; with ``cluster``, a broker is killed as well."""
    started = time.monotonic()
    scenario = Scenario.build(prefix, EVENTS)
    t = scenario.topics
    asyncio.run(
        apply_topics(bootstrap, t.all(scenario.reseller_ids()), replication_factor=replication)
    )
    app_id = f"crash-{scenario.salt}"
    worker = WorkerProcess(
        bootstrap,
        tmp_path,
        topic_prefix=prefix,
        app_id=app_id,
        env={"HUB_LOG_LEVEL": "WARNING", "HUB_KAFKA_REPLICATION_FACTOR": str(replication)},
    )
    broker = BrokerKill(cluster, f"{app_id}-billing-state-changelog") if cluster else None
    required = [t.name(topic) for topic in CONSUMED]
    provisioned, changes = scenario.provisioned(), scenario.changes()
    approvals = scenario.approvals()
    kills: list[str] = []
    timings: dict[str, float] = {}

    def drain(label: str) -> None:
        timings[label] = wait_zero_lag(bootstrap, app_id, worker, required=required)

    try:
        send(bootstrap, scenario.reference())
        worker.start().wait_ready()
        drain("reference")

        # 1: killed while rating the provisionings (on a cluster, a broker dies first).
        send(bootstrap, outgoing_of(provisioned))
        if broker is not None:
            wait_events_out(worker, "billing", len(provisioned) // 6, timeout_s=300)
            broker.kill()
        kill_when(worker, "billing", len(provisioned) // 3, kills, "mid-stream (rating)")

        # 2: killed during startup recovery, before the worker is ready.
        worker.start()
        time.sleep(1.5)
        ready = events_out(worker, "billing") > 0
        worker.kill()
        kills.append(f"during startup (had sent events: {ready})")
        worker.start().wait_ready()
        drain("provisioned")
        if broker is not None:
            broker.restart()

        # 3: killed while rating seat changes; its local state is deleted before the restart.
        send(bootstrap, outgoing_of(changes))
        kill_when(worker, "billing", len(changes) // 2, kills, "mid-stream (changes)")
        tables = tmp_path / "tables" / app_id
        assert tables.exists()
        shutil.rmtree(tables)
        kills[-1] += ", state dir deleted"
        worker.start().wait_ready()
        drain("changes")

        # 4: killed while allocating the approved credits.
        send(bootstrap, [o for o, _ in approvals])
        kill_when(worker, "credits", len(scenario.subs) // 8, kills, "mid-allocation")
        worker.start().wait_ready()
        drain("credits")

        approved = approved_amounts(a for _, a in approvals)
        approval_inputs = [
            Input(str(a.event_id), f"credit:{a.credit_id}", a.amount_minor or 0)
            for _, a in approvals
        ]
        inputs = [*inputs_of(provisioned), *inputs_of(changes)]
        report, allocations = check_money(bootstrap, scenario, inputs, approved, approval_inputs)
        expected = recompute_billing(scenario, allocations)
        state = asyncio.run(checker.read_table(bootstrap, f"{app_id}-billing-state-changelog"))
        lines = {k[len("lines|") :]: v for k, v in state.items() if k.startswith("lines|")}
        report.extend(checker.check_state("billing-lines", lines, dict(expected.lines)))
        print(
            f"\ncrash test: {len(inputs)} inputs + {len(approvals)} approvals, "
            f"{len(allocations)} allocations, kills: {kills}, "
            f"brokers: {broker.log if broker else 'one, never killed'}, drains: "
            f"{ {k: round(v, 1) for k, v in timings.items()} }, "
            f"total {time.monotonic() - started:.0f}s\n{report.summary()}"
        )
        assert len(kills) == 4
        assert broker is None or len(broker.log) == 2
        assert len(allocations) >= len(scenario.subs) * 9 // 10
        report.assert_ok()
    finally:
        worker.stop()


def test_money_flows_survive_four_sigkills(
    kafka: BrokerInfo, topic_name: Any, tmp_path: Path
) -> None:
    run_money_flows(kafka.bootstrap, topic_name("crash") + ".", tmp_path)


def test_money_flows_survive_four_sigkills_and_a_killed_broker_on_a_cluster(
    kafka_cluster: LocalCluster,  # noqa: F811 - the imported fixture
    topic_name: Any,
    tmp_path: Path,
) -> None:
    run_money_flows(
        kafka_cluster.bootstrap,
        topic_name("crash") + ".",
        tmp_path / "worker",
        replication=3,
        cluster=kafka_cluster,
    )
