"""How the hub tunes faust and its RocksDB stores (the bare-faust benchmark uses the same)."""

from __future__ import annotations

from typing import Any

# Settings that decide throughput and latency; the bare-faust benchmark uses the same ones.
# The producer waits up to 5 ms to fill a batch of up to 256 KiB: with faust's defaults (no
# linger, 16 KiB) every few records cost a produce request and its socket write. Durability is
# unchanged: acks stay "all" and faust flushes the producer before it commits offsets.
#
# Group membership: a worker that dies without leaving (SIGKILL, a lost host) holds its partitions
# until the broker stops hearing its heartbeats for broker_session_timeout; with faust's 60 s the
# group's lag stood still a minute. 6 s, the least the broker accepts by default
# (group.min.session.timeout.ms): the broker drops the dead member 5..6 s after the kill, the
# survivor hears of it at its next heartbeat, and the rebalance, the recovery of the tables it
# takes over and its backlog there took another 3..7 s on a 2-core machine, more the busier the
# machine (tests/reliability/test_two_workers.py measures it and requires < 15 s; with 8 s it
# measured up to 15.6 s while other tests ran beside it). A heartbeat every second (faust: 3 s)
# lets a live worker miss five in a row before it counts as dead: heartbeats run on faust's
# consumer thread, which shares the GIL and, on a 2-core machine, the CPU with processing, so
# under load they come late, but not seconds late; and 1 s also shortens how long a survivor takes
# to hear of a rebalance. faust requires the session timeout to stay below broker_request_timeout
# (90 s). The rebalance timeout stays faust's 60 s: it bounds how long live members may take to
# rejoin (faust waits for its streams and flushes the producer when partitions are revoked), and
# a dead member is removed by its session timeout, not by it.
FAUST_TUNING: dict[str, Any] = {
    "producer_linger_ms": 5,
    "producer_max_batch_size": 256 * 1024,
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 60.0,
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
