"""The ports a demo needs, checked together before it starts anything.

A worker that cannot bind its web port dies with the reason only in its log, and a second demo
on the same port would then read the first demo's worker as its own. So every port is checked
up front, and a taken one is named with what most likely holds it: another demo (from the runs
registered under the state directory) or the process listening there (from ``/proc``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.demo.runs import DemoRun
from hub.errors import ConfigError


@dataclass(frozen=True)
class PortNeed:
    """One port the demo will bind: what for, and how a user picks another."""

    what: str
    port: int
    change: str


def port_taken(port: int) -> bool:
    """True when binding ``port`` would fail, on loopback or on every interface.

    A listener on 0.0.0.0 blocks a bind on 127.0.0.1 and the other way round; checking both
    covers a worker that binds either.
    """
    for host in ("127.0.0.1", "0.0.0.0"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                return True
    return False


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 the socket inode.
            if len(fields) <= 9 or fields[3] != "0A":
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listener_pid(port: int) -> int | None:
    """The pid listening on TCP ``port``, when this system shows it (Linux, own processes)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in targets:
                    return int(proc.name)
        except OSError:  # another user's process, or it just exited
            continue
    return None


def command_of(pid: int) -> str:
    """A short description of process ``pid`` from its command line."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"process {pid}"
    argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    line = " ".join(" ".join(argv).split())
    if "hub.cli worker" in line or "hub worker" in line:
        return f"a hub worker (pid {pid})"
    if "kafka.Kafka" in line:
        return f"a Kafka broker (pid {pid})"
    if "partner-center" in line:
        return f"a Partner Center simulator (pid {pid})"
    if "hub.cli demo" in line or "hub demo" in line:
        return f"a hub demo (pid {pid})"
    shown = line if len(line) <= 60 else line[:57] + "..."
    return f"pid {pid} ({shown})"


def holder(port: int, runs: Iterable[DemoRun]) -> str:
    """What most likely holds ``port``: a running demo that claimed it, else its listener."""
    for run in runs:
        if port in run.ports.values():
            return f"another hub demo ({run.describe()})"
    pid = listener_pid(port)
    if pid is not None:
        return command_of(pid)
    return "another process"


def first_free(start: int, avoid: Iterable[int] = ()) -> int:
    """The first port from ``start`` up that is free and not in ``avoid`` (for a suggestion)."""
    skip = set(avoid)
    port = start
    while port < 65535 and (port in skip or port_taken(port)):
        port += 1
    return port


def check_ports(needs: Sequence[PortNeed], running: Sequence[DemoRun]) -> None:
    """Refuse, naming every taken port, what holds it and how to pick another.

    A port a running demo claimed counts as taken even before that demo binds it.
    """
    claimed = {p for run in running for p in run.ports.values()}
    problems = []
    for need in needs:
        if need.port not in claimed and not port_taken(need.port):
            continue
        by = holder(need.port, running)
        stop = "stop that demo (Ctrl-C in its terminal)" if "demo" in by else "stop that process"
        problems.append(f"port {need.port} ({need.what}) is taken by {by}; {stop} or {need.change}")
    if problems:
        raise ConfigError("the demo cannot start: " + " | ".join(problems))
