"""Print a topic's events, decoded, one JSON line each: what a reseller's system would read.

``python -m hub.demo.read TOPIC`` against ``HUB_KAFKA_BOOTSTRAP_SERVERS`` (the demo's "try
next" block prints the exports). Records that do not decode are shown with their error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from hub.connectors.kafka_auth import auth_from_settings
from hub.connectors.kafka_io import Record, read_all
from hub.errors import HubError
from hub.schemas.codec import Codec
from hub.settings import load_settings


def render(record: Record, codec: Codec) -> str:
    """One record as a JSON line: its position, key, event type and fields."""
    head: dict[str, object] = {
        "partition": record.partition,
        "offset": record.offset,
        "key": record.key.decode(errors="replace") if record.key is not None else None,
    }
    if record.value is None:
        return json.dumps(head | {"value": None})
    try:
        event = codec.decode(record.value)
    except Exception as exc:  # noqa: BLE001 - shown, not raised: the reader goes on
        return json.dumps(head | {"error": f"{type(exc).__name__}: {exc}"})
    body = event.model_dump(mode="json")
    return json.dumps(head | {"type": type(event).__name__} | body, ensure_ascii=False)


async def read(topic: str) -> list[str]:
    settings = load_settings()
    records = await read_all(
        settings.kafka_bootstrap_servers, topic, auth=auth_from_settings(settings)
    )
    codec = Codec()
    return [render(r, codec) for r in sorted(records, key=lambda r: (r.partition, r.offset))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.demo.read", description=__doc__)
    parser.add_argument("topic", help="full topic name, e.g. partner.contoso-de.status")
    args = parser.parse_args(argv)
    try:
        lines = asyncio.run(read(args.topic))
    except (HubError, KafkaError, OSError) as exc:
        print(f"read: error: {exc}", file=sys.stderr)
        return 2
    if not lines:
        print(f"read: {args.topic} is empty or does not exist", file=sys.stderr)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
