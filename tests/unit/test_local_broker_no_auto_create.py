"""Every local broker kind refuses to create a topic because a client wrote to it or asked.

A topic auto-created by a worker's subscription or a stray write gets the broker's defaults
(3 partitions here), not the catalogue's: the worker then dead-lettered reference data
``PartitionsMismatch`` and rejected orders. Topics come from the catalogue only.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from hub.ops import local_cluster, local_kafka


def _values(text: str, key: str) -> list[str]:
    return [
        line.partition("=")[2].strip()
        for line in text.splitlines()
        if not line.startswith("#") and line.partition("=")[0].strip() == key
    ]


def test_the_single_broker_refuses_auto_creation(tmp_path: Path) -> None:
    text = local_kafka._render_properties(19092, 19093, tmp_path, None)
    assert _values(text, "auto.create.topics.enable") == ["false"]


def test_the_secure_broker_refuses_auto_creation(tmp_path: Path) -> None:
    secure = local_kafka._Secure("hub", {"hub": SecretStr("password-1")}, "bpw", "cpw")
    text = local_kafka._render_properties(19092, 19093, tmp_path, secure)
    assert _values(text, "auto.create.topics.enable") == ["false"]


def test_every_cluster_node_refuses_auto_creation(tmp_path: Path) -> None:
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    for node, (port, controller) in enumerate([(19092, 19093), (19094, 19095), (19096, 19097)]):
        text = local_cluster.render_node_properties(
            node + 1, port, controller, tmp_path / f"node-{node + 1}", voters
        )
        assert _values(text, "auto.create.topics.enable") == ["false"]
