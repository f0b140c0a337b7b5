"""Several Apache Kafka (KRaft) nodes on 127.0.0.1 forming one cluster, from the same Maven jars
as the single local broker: for failover tests and ``hub kafka start --nodes 3``.

Each node is broker and controller (a static voter set), with its own ports and its own
``node-<id>/`` directory under the cluster's; ``cluster.json`` there says where they run.
Replication is a production cluster's (3 replicas, min ISR 2), so losing one broker loses no
acknowledged write and losing two stops writes. Nodes can be killed and started again by id.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from hub.errors import ConfigError
from hub.ops.local_kafka import (
    JAVA_HINT,
    base_properties,
    broker_argv,
    broker_status,
    cluster_id_for,
    fetch_jars,
    format_storage,
    is_our_broker,
    kafka_version,
    live_brokers,
    locked,
    overlay_properties,
    require_free_ports,
    wait_ready,
)
from hub.ops.local_service import (
    Progress,
    free_port,
    kill,
    pid_alive,
    quiet,
    require,
    spawn,
    stop_all,
)

_STATE_FILE = "cluster.json"
# Three replicas with min ISR 2 is the point of the cluster: fewer nodes could not hold them.
MIN_NODES = 3
# Node n listens on port + 2(n-1) and its controller on controller_port + 2(n-1), so the CLI's
# defaults (19092 and 19093) interleave into 19092..19097 without overlapping.
PORT_STRIDE = 2
_NODE_DIR = re.compile(r"^node-(\d+)$")


@dataclass(frozen=True)
class NodeHandle:
    """One node of a local cluster: its Kafka node id, ports, process and directory."""

    node_id: int
    port: int
    controller_port: int
    pid: int
    data_dir: str
    log_file: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def props(self) -> Path:
        return Path(self.data_dir) / "server.properties"


@dataclass(frozen=True)
class ClusterHandle:
    """Where a local cluster runs. ``bootstrap`` lists every node, so clients survive any one
    being down when they connect."""

    bootstrap: str
    nodes: tuple[NodeHandle, ...]
    data_dir: str
    cluster_id: str
    kafka_version: str
    min_heap_mb: int = 256
    max_heap_mb: int = 512
    security_protocol: str = "PLAINTEXT"

    def node(self, node_id: int) -> NodeHandle:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        known = ", ".join(str(node.node_id) for node in self.nodes)
        raise ConfigError(f"the cluster in {self.data_dir} has no node {node_id} (nodes: {known})")

    def with_pid(self, node_id: int, pid: int) -> ClusterHandle:
        nodes = tuple(
            replace(node, pid=pid) if node.node_id == node_id else node for node in self.nodes
        )
        return replace(self, nodes=nodes)


def node_ports(
    nodes: int,
    port: int | None,
    controller_port: int | None,
    pick: Callable[[], int] = free_port,
) -> list[tuple[int, int]]:
    """(port, controller port) for nodes 1..``nodes``, in order.

    A given base steps by ``PORT_STRIDE`` per node; a missing one is picked free (``pick``),
    never twice the same. Overlapping or out-of-range ports are refused before anything starts.
    """
    if nodes < 1:
        raise ConfigError(f"a cluster needs at least one node, not {nodes}")
    given = [
        [base + PORT_STRIDE * index for index in range(nodes)] if base is not None else None
        for base in (port, controller_port)
    ]
    taken = {value for series in given if series is not None for value in series}
    if len(taken) != sum(nodes for series in given if series is not None):
        raise ConfigError(
            f"node ports {given[0]} and controller ports {given[1]} overlap: choose "
            "--controller-port so that neither series meets the other (e.g. --port + 1)"
        )
    for value in taken:
        if not 0 < value < 65536:
            raise ConfigError(f"port {value} is out of range for {nodes} nodes")
    series_out: list[list[int]] = []
    for series in given:
        if series is None:
            series = []
            for _ in range(100 * nodes):
                candidate = pick()
                if candidate not in taken:
                    taken.add(candidate)
                    series.append(candidate)
                if len(series) == nodes:
                    break
            else:
                raise ConfigError("could not find enough free ports on 127.0.0.1")
        series_out.append(series)
    return list(zip(series_out[0], series_out[1], strict=True))


def voters(ports: list[tuple[int, int]]) -> str:
    """``controller.quorum.voters`` for nodes 1..n on their controller ports."""
    return ",".join(
        f"{node_id}@127.0.0.1:{controller}"
        for node_id, (_, controller) in enumerate(ports, start=1)
    )


def render_node_properties(
    node_id: int, port: int, controller_port: int, log_dir: Path, quorum: str
) -> str:
    """One node's ``server.properties``: the single-node template with the cluster overlay.

    The overlay's static ``controller.quorum.voters`` replaces the single node's
    ``controller.quorum.bootstrap.servers``: Kafka takes one or the other, not both.
    """
    return overlay_properties(
        base_properties(port, controller_port, log_dir),
        "cluster.properties.template",
        {"node_id": node_id, "voters": quorum},
        drop=("controller.quorum.bootstrap.servers",),
    )


def _read_handle(data_dir: Path) -> ClusterHandle | None:
    path = data_dir / _STATE_FILE
    if not path.is_file():
        return None
    try:
        fields: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        nodes = tuple(NodeHandle(**node) for node in fields.pop("nodes"))
        return ClusterHandle(nodes=nodes, **fields)
    except (ValueError, TypeError, KeyError):
        return None


def _write_handle(handle: ClusterHandle) -> None:
    path = Path(handle.data_dir) / _STATE_FILE
    path.write_text(json.dumps(asdict(handle)), encoding="utf-8")


def node_alive(node: NodeHandle) -> bool:
    """True when the node's broker runs (its properties file on the command line: a pid from
    an old state file may belong to another process by now)."""
    return pid_alive(node.pid) and is_our_broker(node.pid, node.props)


def cluster_status(data_dir: Path) -> ClusterHandle | None:
    """The cluster started from ``data_dir`` while any of its nodes runs, else None.

    The state file outlives a killed node (and every node killed), so ``start_node`` can bring
    it back on the same ports; ``node_alive`` says which nodes are up.
    """
    handle = _read_handle(data_dir.resolve())
    if handle is None or not any(node_alive(node) for node in handle.nodes):
        return None
    return handle


def _other_nodes(data_dir: Path, nodes: int) -> list[Path]:
    """Node directories beyond ``nodes`` that hold Kafka data (a cluster of another size)."""
    found: list[Path] = []
    for path in data_dir.glob("node-*"):
        match = _NODE_DIR.match(path.name)
        if match and int(match.group(1)) > nodes and (path / "data").exists():
            found.append(path)
    return sorted(found)


def _spawn_node(
    java: str, jars: Path, node: NodeHandle, handle: ClusterHandle, die_with_parent: bool
) -> subprocess.Popen[bytes]:
    node_dir = Path(node.data_dir)
    argv = broker_argv(
        java,
        jars,
        node.props,
        node_dir / "logs",
        min_heap_mb=handle.min_heap_mb,
        max_heap_mb=handle.max_heap_mb,
    )
    return spawn(argv, node_dir / "broker.out", node_dir, die_with_parent)


def start_cluster(
    data_dir: Path,
    *,
    nodes: int = MIN_NODES,
    port: int | None = None,
    controller_port: int | None = None,
    fresh: bool = False,
    min_heap_mb: int = 256,
    max_heap_mb: int = 512,
    die_with_parent: bool = False,
    timeout_s: float = 180.0,
    progress: Progress = quiet,
    secure: bool = False,
) -> ClusterHandle:
    """Start (or find) the cluster of ``data_dir``; return once an admin client sees every
    broker. A running cluster with a node down gets that node started again.

    ``port``/``controller_port`` are node 1's; node n adds ``PORT_STRIDE * (n - 1)``. Free
    ports are picked when not given.
    """
    if secure:
        raise ConfigError(
            "secure mode (SASL/SCRAM, ACLs) runs a single node only: "
            "start without --nodes, or without --secure"
        )
    if nodes < MIN_NODES:
        raise ConfigError(
            f"a cluster needs at least {MIN_NODES} nodes (its topics keep 3 replicas); "
            "for one broker start without --nodes"
        )
    data_dir = data_dir.resolve()
    java = require("java", JAVA_HINT)
    jars = fetch_jars(progress)
    with locked(data_dir):
        running = cluster_status(data_dir)
        if running is not None:
            if len(running.nodes) != nodes:
                raise ConfigError(
                    f"a {len(running.nodes)}-node cluster runs from {data_dir}; "
                    f"stop it first with: hub kafka stop --data-dir {data_dir}"
                )
            progress(f"cluster already running at {running.bootstrap}")
            for node in running.nodes:
                if not node_alive(node):
                    running = _start_node(java, jars, running, node.node_id, die_with_parent, 90.0)
                    progress(f"node {node.node_id} was down: started again on {node.bootstrap}")
            return running
        single = broker_status(data_dir)
        if single is not None:
            raise ConfigError(
                f"a single broker runs from {data_dir} ({single.bootstrap}); "
                f"stop it first with: hub kafka stop --data-dir {data_dir}"
            )
        plan = node_ports(nodes, port, controller_port)
        ports: dict[str, int] = {}
        for node_id, (broker_port, ctrl_port) in enumerate(plan, start=1):
            ports[f"node {node_id}'s port"] = broker_port
            ports[f"node {node_id}'s controller port"] = ctrl_port
        require_free_ports(ports, "choose others with --port/--controller-port or stop it")
        others = _other_nodes(data_dir, nodes)
        if others and not fresh:
            raise ConfigError(
                f"{data_dir} holds a cluster of more nodes ({others[-1].name} has data); "
                "start with --fresh to wipe it, or choose another --data-dir"
            )
        for other in others:
            shutil.rmtree(other)
        node_dirs = [data_dir / f"node-{node_id}" for node_id in range(1, nodes + 1)]
        cluster_id = cluster_id_for(data_dir, [node_dir / "data" for node_dir in node_dirs], fresh)
        quorum = voters(plan)
        handle = ClusterHandle(
            bootstrap=",".join(f"127.0.0.1:{broker_port}" for broker_port, _ in plan),
            nodes=tuple(
                NodeHandle(
                    node_id=node_id,
                    port=broker_port,
                    controller_port=ctrl_port,
                    pid=0,
                    data_dir=str(node_dir),
                    log_file=str(node_dir / "logs" / "broker.log"),
                )
                for node_id, node_dir, (broker_port, ctrl_port) in zip(
                    range(1, nodes + 1), node_dirs, plan, strict=True
                )
            ),
            data_dir=str(data_dir),
            cluster_id=cluster_id,
            kafka_version=kafka_version(),
            min_heap_mb=min_heap_mb,
            max_heap_mb=max_heap_mb,
        )
        for node in handle.nodes:
            (Path(node.data_dir) / "logs").mkdir(parents=True, exist_ok=True)
            node.props.write_text(
                render_node_properties(
                    node.node_id,
                    node.port,
                    node.controller_port,
                    Path(node.data_dir) / "data",
                    quorum,
                ),
                encoding="utf-8",
            )
        # Each format is a JVM of its own: side by side they take one start-up, not three.
        with concurrent.futures.ThreadPoolExecutor(max_workers=nodes) as pool:
            formats = [
                pool.submit(format_storage, java, jars, node.props, cluster_id, standalone=False)
                for node in handle.nodes
            ]
            for done in formats:
                done.result()
        progress(f"starting {nodes} Kafka {kafka_version()} nodes at {handle.bootstrap}")
        procs = {
            Path(node.data_dir): _spawn_node(java, jars, node, handle, die_with_parent)
            for node in handle.nodes
        }
        for node, proc in zip(handle.nodes, procs.values(), strict=True):
            handle = handle.with_pid(node.node_id, proc.pid)
        _write_handle(handle)
        wanted = {node.node_id for node in handle.nodes}
        wait_ready(
            procs,
            [node.port for node in handle.nodes],
            lambda: live_brokers(handle.bootstrap) == wanted,
            f"the {nodes}-node cluster at {handle.bootstrap}",
            timeout_s,
        )
        progress(f"cluster {cluster_id} ready at {handle.bootstrap} (data in {data_dir})")
        return handle


def _start_node(
    java: str,
    jars: Path,
    handle: ClusterHandle,
    node_id: int,
    die_with_parent: bool,
    timeout_s: float,
) -> ClusterHandle:
    node = handle.node(node_id)
    require_free_ports(
        {
            f"node {node_id}'s port": node.port,
            f"node {node_id}'s controller port": node.controller_port,
        },
        "stop that process, or stop the cluster and start it on other ports",
    )
    proc = _spawn_node(java, jars, node, handle, die_with_parent)
    handle = handle.with_pid(node_id, proc.pid)
    _write_handle(handle)
    # Ready when the node itself serves metadata that lists it: it has caught up with the
    # quorum and been unfenced, so it can lead partitions again.
    wait_ready(
        {Path(node.data_dir): proc},
        [node.port],
        lambda: node_id in (live_brokers(node.bootstrap) or set()),
        f"node {node_id} at {node.bootstrap}",
        timeout_s,
    )
    return handle


def start_node(
    data_dir: Path,
    node_id: int,
    *,
    die_with_parent: bool = False,
    timeout_s: float = 120.0,
    progress: Progress = quiet,
) -> ClusterHandle:
    """Start node ``node_id`` of the cluster of ``data_dir`` again, on its own directory and
    ports (after ``kill_node`` or a crash); a node that runs is left alone."""
    data_dir = data_dir.resolve()
    java = require("java", JAVA_HINT)
    jars = fetch_jars(progress)
    with locked(data_dir):
        handle = _read_handle(data_dir)
        if handle is None:
            raise ConfigError(f"no cluster was started from {data_dir}")
        if node_alive(handle.node(node_id)):
            return handle
        progress(f"starting node {node_id} at {handle.node(node_id).bootstrap}")
        return _start_node(java, jars, handle, node_id, die_with_parent, timeout_s)


def kill_node(data_dir: Path, node_id: int) -> None:
    """SIGKILL node ``node_id`` (a crash, for failover tests); ``start_node`` brings it back."""
    handle = _read_handle(data_dir.resolve())
    if handle is None:
        raise ConfigError(f"no cluster was started from {data_dir}")
    node = handle.node(node_id)
    if node_alive(node):
        kill(node.pid)


def stop_cluster(data_dir: Path, *, timeout_s: float = 30.0, progress: Progress = quiet) -> bool:
    """Stop every running node of ``data_dir``'s cluster cleanly (SIGTERM, then SIGKILL after
    ``timeout_s``). False if none ran."""
    data_dir = data_dir.resolve()
    handle = cluster_status(data_dir)
    if handle is None:
        (data_dir / _STATE_FILE).unlink(missing_ok=True)
        return False
    pids = [node.pid for node in handle.nodes if node_alive(node)]
    progress(f"stopping the Kafka cluster at {handle.bootstrap} (pids {pids})")
    stop_all(pids, timeout_s, lambda: progress("some nodes did not stop in time; killing them"))
    (data_dir / _STATE_FILE).unlink(missing_ok=True)
    return True


class LocalCluster:
    """A running local cluster that a test controls: nodes killed and started again by id.

    ``with LocalCluster.start(tmp) as cluster:`` stops every node on the way out.
    """

    def __init__(self, data_dir: Path, handle: ClusterHandle, die_with_parent: bool) -> None:
        self.data_dir = data_dir.resolve()
        self.handle = handle
        self._die_with_parent = die_with_parent

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        nodes: int = MIN_NODES,
        die_with_parent: bool = True,
        timeout_s: float = 180.0,
        progress: Progress = quiet,
    ) -> LocalCluster:
        handle = start_cluster(
            data_dir,
            nodes=nodes,
            die_with_parent=die_with_parent,
            timeout_s=timeout_s,
            progress=progress,
        )
        return cls(data_dir, handle, die_with_parent)

    @property
    def bootstrap(self) -> str:
        return self.handle.bootstrap

    @property
    def node_ids(self) -> list[int]:
        return [node.node_id for node in self.handle.nodes]

    def node(self, node_id: int) -> NodeHandle:
        return self.handle.node(node_id)

    def alive(self, node_id: int) -> bool:
        return node_alive(self.handle.node(node_id))

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one broker: no controlled shutdown, unflushed pages are the OS's."""
        kill_node(self.data_dir, node_id)

    def start_node(self, node_id: int, timeout_s: float = 120.0) -> None:
        """Start a killed broker again on its directory and ports; back when it is unfenced."""
        self.handle = start_node(
            self.data_dir, node_id, die_with_parent=self._die_with_parent, timeout_s=timeout_s
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        stop_cluster(self.data_dir, timeout_s=timeout_s)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
