"""`hub webhooks run` as its own process: it serves its metrics, delivers a signed event to a
local receiver and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from hub.connectors.kafka_admin import apply_topics
from hub.connectors.kafka_io import Outgoing, publish
from hub.schemas.codec import Codec
from hub.topics import PartnerTopic, TopicCatalog
from tests.support.broker import BrokerInfo
from tests.support.hub_cli import explain, hub, user_env
from tests.support.webhooks import RESELLER, Receiver, rejections, serve, wait


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def test_hub_webhooks_run_delivers_and_stops_on_sigterm(kafka: BrokerInfo, tmp_path: Path) -> None:
    prefix = f"t.webhooks-run.{uuid.uuid4().hex[:8]}."
    env = user_env(
        tmp_path,
        kafka_bootstrap_servers=kafka.bootstrap,
        topic_prefix=prefix,
        kafka_partitions="3",
        webhook_group=f"{prefix}webhooks",
    )
    catalog = TopicCatalog(prefix, 3)
    asyncio.run(apply_topics(kafka.bootstrap, catalog.for_reseller(RESELLER)))
    receiver = Receiver()
    server = serve(receiver)
    bridge: subprocess.Popen[str] | None = None
    try:
        url = f"http://127.0.0.1:{receiver.port}/p"
        added = hub("webhooks", "add", RESELLER, url, "--id", "ep-p", env=env)
        assert added.returncode == 0, explain(added)
        receiver.secrets["p"] = added.stdout.rsplit(": ", 1)[1].strip()

        port = _free_port()
        bridge = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "webhooks", "run", "--metrics-port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait("the bridge's metrics", lambda: "hub_webhook_deliveries_total" in _metrics(port))
        events = rejections(2)
        status = catalog.partner(RESELLER, PartnerTopic.STATUS)
        outgoing = [Outgoing(status, str(e.event_id), e) for e in events]
        asyncio.run(publish(kafka.bootstrap, Codec(), outgoing))
        ids = {str(e.event_id) for e in events}
        wait("both events delivered", lambda: ids <= set(receiver.ids("p")))
        assert receiver.unverified == []
        assert 'hub_webhook_deliveries_total{outcome="delivered"} 2.0' in _metrics(port)

        # An endpoint added while the bridge runs gets an event written right after.
        url = f"http://127.0.0.1:{receiver.port}/q"
        added = hub("webhooks", "add", RESELLER, url, "--id", "ep-q", env=env)
        assert added.returncode == 0, explain(added)
        receiver.secrets["q"] = added.stdout.rsplit(": ", 1)[1].strip()
        (event,) = rejections(1)
        asyncio.run(publish(kafka.bootstrap, Codec(), [Outgoing(status, "k", event)]))
        wait("the new endpoint's first event", lambda: str(event.event_id) in receiver.ids("q"))
        assert receiver.ids("q") == {str(event.event_id): 1}

        bridge.send_signal(signal.SIGTERM)
        out, _ = bridge.communicate(timeout=60)
        assert bridge.returncode == 0, out
        assert "Traceback" not in out
    finally:
        if bridge is not None and bridge.poll() is None:
            os.kill(bridge.pid, signal.SIGKILL)
            bridge.wait()
        server.close()
