"""The test-broker order: KAFKA_BOOTSTRAP_SERVERS, then Docker, then the local Maven broker."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from tests.support.broker import BrokerSource, select_source


def _docker(answer: bool) -> object:
    return lambda: answer


def test_bootstrap_servers_in_the_environment_win_over_docker() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "10.0.0.1:9092"}
    assert select_source(env, lambda: True) is BrokerSource.ENV


def test_docker_is_used_when_no_broker_is_named_and_an_engine_answers() -> None:
    assert select_source({}, lambda: True) is BrokerSource.DOCKER


def test_local_broker_is_the_fallback_without_docker() -> None:
    assert select_source({}, lambda: False) is BrokerSource.LOCAL


def test_blank_bootstrap_servers_do_not_count_as_set() -> None:
    assert select_source({"KAFKA_BOOTSTRAP_SERVERS": "  "}, lambda: False) is BrokerSource.LOCAL


def test_a_forced_choice_overrides_detection() -> None:
    env = {"HUB_TEST_BROKER": "local", "KAFKA_BOOTSTRAP_SERVERS": "h:1"}
    assert select_source(env, lambda: True) is BrokerSource.LOCAL


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HUB_TEST_BROKER": "podman"}, "use env, docker or local"),
        ({"HUB_TEST_BROKER": "env"}, "KAFKA_BOOTSTRAP_SERVERS is not set"),
    ],
)
def test_a_bad_forced_choice_is_a_clear_error(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        select_source(env, lambda: False)
