"""Support for the hub's own test suite and benchmarks: finding or starting a real broker."""
