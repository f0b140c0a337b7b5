"""The broker goes away for 20 s mid-stream and comes back: the worker recovers by itself.

A broker of this test's own (free ports, data in tmp_path) carries ``HUB_RESTART_EVENTS``
provisionings (default 1,500) through the rating path of one hub worker. Halfway, the broker is
stopped for 20 s and started again on the same ports and data directory; the worker is never
restarted. Afterwards every input has exactly one charge, no charge is doubled, money per
reseller equals the inputs, and the worker's log and metrics say what happened (the group
coordinator marked dead while the broker was away; charges counted after it came back).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import (
    Scenario,
    charge_output,
    events_out,
    inputs_of,
    outgoing_of,
    wait_events_out,
    wait_zero_lag,
)

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import publish
from hub.ops import local_kafka
from hub.ops.worker_process import WorkerProcess
from hub.schemas.codec import Codec
from hub.topics import Topic, TopicCatalog
from tests.support import checker

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS = int(os.environ.get("HUB_RESTART_EVENTS", "1500"))
OUTAGE_S = 20.0


def test_worker_rides_out_a_broker_outage_without_loss_or_duplicates(
    own_broker: Any, topic_name: Any, tmp_path: Path
) -> None:
    bootstrap = own_broker.bootstrap
    prefix = topic_name("restart") + "."
    scenario = Scenario.build(prefix, EVENTS * 10 // 6)
    provisioned = scenario.provisioned()
    half = len(provisioned) // 2
    t = scenario.topics
    asyncio.run(apply_topics(bootstrap, t.all(scenario.reseller_ids())))
    app_id = f"restart-{scenario.salt}"
    worker = WorkerProcess(
        bootstrap,
        tmp_path / "worker",
        topic_prefix=prefix,
        app_id=app_id,
        env={"HUB_LAG_INTERVAL_S": "2"},
    )
    codec = Codec()
    try:
        asyncio.run(publish(bootstrap, codec, scenario.reference()))
        worker.start().wait_ready()
        asyncio.run(publish(bootstrap, codec, outgoing_of(provisioned[:half])))
        wait_events_out(worker, "billing", half // 3, timeout_s=180)

        outage_start = time.monotonic()
        local_kafka.stop_broker(Path(own_broker.data_dir))
        time.sleep(OUTAGE_S)
        assert worker.running(), f"worker died while the broker was away:\n{worker.log_tail()}"
        local_kafka.start_broker(
            Path(own_broker.data_dir),
            port=own_broker.port,
            controller_port=own_broker.controller_port,
            die_with_parent=True,
        )
        outage_s = time.monotonic() - outage_start
        sent_before = events_out(worker, "billing")

        asyncio.run(publish(bootstrap, codec, outgoing_of(provisioned[half:])))
        wait_zero_lag(
            bootstrap, app_id, worker, required=[t.name(Topic.PROVISIONING)], timeout_s=300
        )

        async def check() -> checker.Report:
            outputs = await checker.read_outputs(bootstrap, t.name(Topic.CHARGES), charge_output)
            dlq = [TopicCatalog.dead_letter(t.name(Topic.PROVISIONING))]
            letters = await checker.read_dead_letters(bootstrap, dlq)
            return checker.check_outcomes(inputs_of(provisioned), outputs, letters)

        report = asyncio.run(check())
        print(
            f"\nbroker restart: {len(provisioned)} inputs, outage {outage_s:.0f}s\n"
            f"{report.summary()}"
        )
        report.assert_ok()
        assert worker.starts == 1
        assert worker.running()
        assert events_out(worker, "billing") > sent_before
        log = worker.log_text()
        # What happened, in the worker's own words: it lost and found its group coordinator.
        assert "Marking the coordinator dead" in log, log[-3000:]
    finally:
        worker.stop()
