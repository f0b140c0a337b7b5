"""Run by test_fixture_uses_kafka_bootstrap_servers_when_set in a child pytest, never directly."""

from __future__ import annotations

import os

from tests.support.broker import BrokerInfo, BrokerSource


def test_kafka_fixture_is_the_broker_named_in_the_environment(kafka: BrokerInfo) -> None:
    assert kafka.source is BrokerSource.ENV
    assert kafka.bootstrap == os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    assert kafka.data_dir is None
