"""A minimal faust app for the foundation proof: one agent copies topic SRC to topic DST.

Run as ``python passthrough_app.py worker``; configured from the environment so the test
decides the broker, topics and ports.
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["PASSTHROUGH_APP_ID"],
    broker=f"kafka://{os.environ['PASSTHROUGH_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["PASSTHROUGH_DATADIR"],
    web_port=int(os.environ["PASSTHROUGH_WEB_PORT"]),
    web_host="127.0.0.1",
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    autodiscover=False,
)
source = app.topic(os.environ["PASSTHROUGH_SRC"], key_serializer="raw", value_serializer="raw")
sink = app.topic(os.environ["PASSTHROUGH_DST"], key_serializer="raw", value_serializer="raw")


@app.agent(source)
async def copy(stream: faust.StreamT[bytes]) -> None:
    async for key, value in stream.items():
        await sink.send(key=key, value=b"seen:" + value)


if __name__ == "__main__":
    app.main()
