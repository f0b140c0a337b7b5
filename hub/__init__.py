"""The hub: a Kafka-native integration hub for a Microsoft CSP 2-Tier distributor."""

__version__ = "0.1.0"
