"""Benchmarks of the hub's pipelines, each measured next to a raw Kafka baseline in one run."""
