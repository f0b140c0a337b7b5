"""The local cluster's pure parts: port plans, each node's properties, what is refused before
any JVM starts, and stopping several processes under one deadline."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from hub.cli import build_parser
from hub.errors import ConfigError
from hub.ops import local_cluster, local_kafka, local_service
from tests.support.broker import BrokerSource, select_source


def _props(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


def test_given_bases_step_by_two_so_the_cli_defaults_interleave() -> None:
    assert local_cluster.node_ports(3, 19092, 19093) == [
        (19092, 19093),
        (19094, 19095),
        (19096, 19097),
    ]


def test_overlapping_port_series_are_refused() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        local_cluster.node_ports(3, 19092, 19096)


def test_ports_past_the_range_are_refused() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        local_cluster.node_ports(3, 65532, 65533)


def test_picked_ports_are_distinct_and_avoid_the_given_ones() -> None:
    picks = iter([19092, 5000, 5000, 19094, 5001, 5002])
    assert local_cluster.node_ports(3, 19092, None, pick=lambda: next(picks)) == [
        (19092, 5000),
        (19094, 5001),
        (19096, 5002),
    ]


def test_a_picker_that_finds_nothing_new_is_an_error_not_a_hang() -> None:
    with pytest.raises(ConfigError, match="free ports"):
        local_cluster.node_ports(3, None, None, pick=lambda: 5000)


def test_free_ports_give_every_node_two_of_its_own() -> None:
    counter = itertools.count(40000)
    plan = local_cluster.node_ports(3, None, None, pick=lambda: next(counter))
    flat = [port for pair in plan for port in pair]
    assert len(set(flat)) == 6


def test_voters_name_every_node_on_its_controller_port() -> None:
    plan = [(1, 11), (2, 12), (3, 13)]
    assert local_cluster.voters(plan) == "1@127.0.0.1:11,2@127.0.0.1:12,3@127.0.0.1:13"


def test_a_node_gets_static_voters_and_production_replication(tmp_path: Path) -> None:
    text = local_cluster.render_node_properties(
        2, 19094, 19095, tmp_path / "data", "1@127.0.0.1:19093,2@127.0.0.1:19095"
    )
    props = _props(text)
    assert all(len(values) == 1 for values in props.values()), props
    assert props["node.id"] == ["2"]
    assert props["process.roles"] == ["broker,controller"]
    assert props["controller.quorum.voters"] == ["1@127.0.0.1:19093,2@127.0.0.1:19095"]
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == ["PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"]
    assert props["log.dirs"] == [str(tmp_path / "data")]
    for key, value in {
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "group.initial.rebalance.delay.ms": "0",
    }.items():
        assert props[key] == [value], key


def test_the_single_node_properties_are_unchanged_by_the_cluster(tmp_path: Path) -> None:
    props = _props(local_kafka.base_properties(19092, 19093, tmp_path))
    assert props["controller.quorum.bootstrap.servers"] == ["127.0.0.1:19093"]
    assert props["offsets.topic.replication.factor"] == ["1"]
    assert "controller.quorum.voters" not in props


def test_secure_mode_still_replaces_the_listeners_in_place(tmp_path: Path) -> None:
    secure = local_kafka._Secure("hub", {"hub": SecretStr("password-1")}, "bpw", "cpw")
    props = _props(local_kafka._render_properties(19092, 19093, tmp_path, secure))
    assert all(len(values) == 1 for values in props.values()), props
    assert props["listeners"] == ["SASL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"]
    assert props["super.users"] == ["User:controller;User:broker;User:hub"]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"secure": True}, "runs a single node only"),
        ({"nodes": 2}, "at least 3 nodes"),
    ],
)
def test_what_a_cluster_cannot_be_is_refused_before_anything_starts(
    tmp_path: Path, kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(ConfigError, match=needle):
        local_cluster.start_cluster(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_a_cluster_without_state_has_no_status(tmp_path: Path) -> None:
    assert local_cluster.cluster_status(tmp_path) is None
    assert not local_cluster.stop_cluster(tmp_path)
    with pytest.raises(ConfigError, match="no cluster was started"):
        local_cluster.kill_node(tmp_path, 1)


def test_the_cli_takes_one_or_three_nodes() -> None:
    parser = build_parser()
    assert parser.parse_args(["kafka", "start"]).nodes == 1
    assert parser.parse_args(["kafka", "start", "--nodes", "3"]).nodes == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["kafka", "start", "--nodes", "2"])


def test_the_session_broker_can_be_a_cluster() -> None:
    assert select_source({"HUB_TEST_BROKER": "cluster"}, lambda: True) is BrokerSource.CLUSTER


def test_stop_all_shares_one_deadline_and_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    polite = [
        local_service.spawn(["sleep", "60"], tmp_path / f"p{index}.out", tmp_path, False)
        for index in range(2)
    ]
    stubborn = local_service.spawn(
        ["sh", "-c", "trap '' TERM; exec sleep 60"], tmp_path / "s.out", tmp_path, False
    )
    time.sleep(0.2)  # let the shell install its trap
    kills: list[str] = []
    started = time.monotonic()
    local_service.stop_all(
        [proc.pid for proc in [*polite, stubborn]], 1.0, lambda: kills.append("kill")
    )
    assert time.monotonic() - started < 5
    assert kills == ["kill"]
    assert all(proc.poll() is not None for proc in [*polite, stubborn])
