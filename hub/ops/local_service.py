"""What the local broker and the local registry share: a one-time Maven fetch into the cache,
a JSON state file per data directory, and a Java child process started and stopped cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hub.errors import ConfigError

Progress = Callable[[str], None]

_PR_SET_PDEATHSIG = 1
# Children this process started: reaped on stop so they do not linger as zombies.
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class _Handle(Protocol):
    @property
    def pid(self) -> int: ...


H = TypeVar("H", bound=_Handle)


def quiet(_: str) -> None:
    return None


def require(tool: str, hint: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise ConfigError(f"{tool!r} is not on PATH: {hint}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie (a zombie answers kill(0) too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def fetch_once(target: Path, stamp: str, fill: Callable[[Path], None]) -> Path:
    """``target``, filled by ``fill(staging)`` unless an earlier fetch completed it.

    The download goes to a staging directory renamed into place only when ``fill`` returns, so
    an interrupted fetch is never mistaken for a complete one.
    """
    if (target / ".complete").is_file():
        return target
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        fill(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    (staging / ".complete").write_text(stamp, encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def maven(mvn: str, args: list[str]) -> str | None:
    """Run ``mvn -q -B *args``; None when it succeeded, else its exit code and last lines."""
    result = subprocess.run([mvn, "-q", "-B", *args], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return None
    lines = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
    return f"(exit {result.returncode}):\n{lines}"


def read_state(path: Path, make: Callable[..., H], alive: Callable[[H], bool]) -> H | None:
    """The handle saved in ``path`` if its process is ``alive``; a stale file is removed."""
    if not path.is_file():
        return None
    try:
        handle = make(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError):
        path.unlink(missing_ok=True)
        return None
    if alive(handle):
        return handle
    path.unlink(missing_ok=True)
    return None


def write_state(path: Path, handle: Any) -> None:
    """Save ``handle`` (a dataclass) for ``read_state``."""
    path.write_text(json.dumps(asdict(handle)), encoding="utf-8")


def _set_pdeathsig() -> None:
    """In the child: die with the parent, so a killed ``hub run`` leaves no service behind."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


# Kafka asks for at least 100,000 open files: a broker keeps about one open file per partition
# (and two memory maps), and with a machine's default of 20,000 a broker of many resellers' topics
# (or a test suite's) died with "Too many open files".
OPEN_FILES = 1_048_576


def _raise_open_files() -> None:
    """In the child: as many open files as allowed, up to ``OPEN_FILES`` (root may raise the
    hard limit; anyone may raise the soft one to the hard one)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, max(hard, OPEN_FILES)))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _child_setup(die_with_parent: bool) -> Callable[[], None]:
    def setup() -> None:
        _raise_open_files()
        if die_with_parent:
            _set_pdeathsig()

    return setup


def spawn(
    argv: list[str], output: Path, cwd: Path, die_with_parent: bool
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, stdout and stderr to ``output``; kept for ``stop``."""
    with output.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_child_setup(die_with_parent),
            cwd=cwd,
        )
    CHILDREN[proc.pid] = proc
    return proc


def stop(pid: int, timeout_s: float, on_kill: Callable[[], None] = lambda: None) -> None:
    """SIGTERM ``pid`` and wait up to ``timeout_s`` for it to exit; then ``on_kill()`` and
    SIGKILL. A child of this process is reaped."""
    stop_all([pid], timeout_s, on_kill)


def stop_all(
    pids: Sequence[int], timeout_s: float, on_kill: Callable[[], None] = lambda: None
) -> None:
    """``stop`` for several processes at once: all get SIGTERM together and share one deadline,
    so stopping N nodes takes one timeout, not N; ``on_kill()`` once if any must be killed."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    children = {pid: CHILDREN.pop(pid, None) for pid in pids}

    def gone(pid: int) -> bool:
        child = children[pid]
        return child.poll() is not None if child is not None else not pid_alive(pid)

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return
        time.sleep(0.2)
    on_kill()
    for pid in pids:
        if not gone(pid):
            kill(pid, children[pid])


def kill(pid: int, child: subprocess.Popen[bytes] | None = None) -> None:
    """SIGKILL ``pid`` and reap it if this process started it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    child = child or CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(timeout=10)
