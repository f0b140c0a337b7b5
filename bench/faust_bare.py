"""Faust's floor: a bare app whose one agent copies raw bytes (and headers) between two topics.

Configured like the hub's worker (raw-bytes topics, same partitions and processing guarantee, one
agent instance) but with no decoding, tables or sensors, so hub pipeline minus this is our logic.
Run as ``python -m bench.faust_bare worker -l warn`` with the ``BENCH_FAUST_*`` variables set.
"""

from __future__ import annotations

import os
from typing import Any

import faust

app = faust.App(
    os.environ.get("BENCH_FAUST_APP_ID", "bench-faust-bare"),
    broker=f"kafka://{os.environ.get('BENCH_FAUST_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    datadir=os.environ.get("BENCH_FAUST_DATADIR", "/tmp/bench-faust-bare"),
    web_host="127.0.0.1",
    web_port=int(os.environ.get("BENCH_FAUST_WEB_PORT", "6067")),
    processing_guarantee="at_least_once",
    topic_partitions=3,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
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


if __name__ == "__main__":
    app.main()
