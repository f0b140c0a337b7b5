"""How the hub tunes faust and its RocksDB stores (the bare-faust benchmark uses the same)."""

from __future__ import annotations

from typing import Any

# Settings that decide throughput and latency; the bare-faust benchmark uses the same ones.
# The producer waits up to 5 ms to fill a batch of up to 256 KiB: with faust's defaults (no
# linger, 16 KiB) every few records cost a produce request and its socket write. Durability is
# unchanged: acks stay "all" and faust flushes the producer before it commits offsets.
FAUST_TUNING: dict[str, Any] = {
    "producer_linger_ms": 5,
    "producer_max_batch_size": 256 * 1024,
}

# RocksDB per table partition (every flow's state table and the reference tables, each partition
# its own database). faust's defaults are 64 MiB write buffers, three of them, and a 2 GiB block
# cache *per database*: some twenty-five databases in a worker could hold close to 5 GiB of
# memtables, and the month-end bench's worker grew to 1.3 GiB. Small buffers flush sooner; reads
# of recent state come from the OS page cache as well as the block cache.
ROCKSDB_OPTIONS: dict[str, Any] = {
    "write_buffer_size": 16 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 1024**2,
}
