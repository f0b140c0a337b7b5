"""Faust's floor: a bare app whose one agent copies raw bytes (and headers) between two topics.

Configured like the hub's worker (the same tuned app class and faust settings from
``hub.app``, raw-bytes topics, the same partitions (the hub's default) and processing guarantee,
one agent instance) but
with no decoding, tables or sensors, so hub pipeline minus this is our logic. Run as
``python -m bench.faust_bare worker -l warn`` with the ``BENCH_FAUST_*`` variables set;
``BENCH_FAUST_UNTUNED=1`` gives faust's stock consumer, settings and worker (for comparison);
``BENCH_FAUST_EXTRA`` (JSON) adds faust settings, ``BENCH_FAUST_FETCH_MAX_WAIT_MS`` the poll.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import faust

from hub.runtime.faust_transport import HubApp
from hub.runtime.tuning import FAUST_TUNING
from hub.topics import DEFAULT_PARTITIONS

_untuned = os.environ.get("BENCH_FAUST_UNTUNED", "") == "1"
if not _untuned and "BENCH_FAUST_FETCH_MAX_WAIT_MS" in os.environ:
    HubApp.fetch_max_wait_ms = int(os.environ["BENCH_FAUST_FETCH_MAX_WAIT_MS"])

app = (faust.App if _untuned else HubApp)(
    os.environ.get("BENCH_FAUST_APP_ID", "bench-faust-bare"),
    broker=f"kafka://{os.environ.get('BENCH_FAUST_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    datadir=os.environ.get("BENCH_FAUST_DATADIR", "/tmp/bench-faust-bare"),
    web_host="127.0.0.1",
    web_port=int(os.environ.get("BENCH_FAUST_WEB_PORT", "6067")),
    processing_guarantee="at_least_once",
    topic_partitions=DEFAULT_PARTITIONS,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
    **({} if _untuned else FAUST_TUNING),
    **json.loads(os.environ.get("BENCH_FAUST_EXTRA", "{}")),
)


def _raw(name: str) -> Any:
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


source = _raw(os.environ.get("BENCH_FAUST_SOURCE", "bench.in"))
sink = _raw(os.environ.get("BENCH_FAUST_SINK", "bench.out"))


@app.agent(source, name="bench.copy", concurrency=1)
async def copy(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        await sink.send(key=message.key, value=message.value, headers=message.headers)


def main() -> None:
    """Run the worker as ``hub worker`` does: no spinner (it sets root logging to DEBUG)."""
    if _untuned:
        app.main()
        return
    worker = faust.Worker(app, loglevel="warning", quiet=True)
    worker.spinner = None
    sys.argv = sys.argv[:1]  # faust's own CLI arguments (worker -l warn) are not needed here
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
