"""The raw baseline's relay as its own process: aiokafka consume -> produce, batching tuned.

Run as ``python -m bench.relay --bootstrap H:P --source IN --sink OUT --group G``; it copies key,
value and headers until terminated, so its CPU and memory are measured like a hub worker's.
"""

from __future__ import annotations

import argparse
import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.baseline import PRODUCER_TUNING


async def relay(bootstrap: str, source: str, sink: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_TUNING)
    await asyncio.gather(consumer.start(), producer.start())
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            for messages in batches.values():
                for message in messages:
                    # send() only enqueues into the batch; delivery is awaited by the producer.
                    await producer.send(
                        sink, key=message.key, value=message.value, headers=list(message.headers)
                    )
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__)
    for name in ("--bootstrap", "--source", "--sink", "--group"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    asyncio.run(relay(args.bootstrap, args.source, args.sink, args.group))


if __name__ == "__main__":
    main()
