"""The demo's runs under ``<state_dir>/demo``: which are running, and pruning the others.

Each run keeps its broker data, logs and worker tables in a directory of its own (8-11 MB) and
registers itself in ``run.json`` there (its pid, ports and start time). A new run removes every
earlier run that is no longer running, so one finished run (the last, for its logs) is kept at
most, and another demo still running is found by its registration.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hub.ops.local_service import pid_alive

REGISTRATION = "run.json"


@dataclass(frozen=True)
class DemoRun:
    """A demo run as registered: who runs it and which ports it claimed."""

    directory: Path
    pid: int
    started: datetime
    ports: dict[str, int]

    def describe(self) -> str:
        return f"pid {self.pid}, started {self.started:%H:%M:%S} UTC, state in {self.directory}"

    def save(self) -> None:
        doc = {
            "pid": self.pid,
            "started": self.started.isoformat(),
            "ports": self.ports,
        }
        (self.directory / REGISTRATION).write_text(json.dumps(doc, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> DemoRun | None:
        try:
            doc = json.loads((directory / REGISTRATION).read_text(encoding="utf-8"))
            return cls(
                directory=directory,
                pid=int(doc["pid"]),
                started=datetime.fromisoformat(doc["started"]),
                ports={str(k): int(v) for k, v in doc["ports"].items()},
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def runs_root(state_dir: Path) -> Path:
    return state_dir / "demo"


def running_runs(state_dir: Path, *, own_pid: int | None = None) -> list[DemoRun]:
    """Runs registered under ``state_dir`` whose process is still alive (not ``own_pid``)."""
    root = runs_root(state_dir)
    if not root.is_dir():
        return []
    found = []
    for directory in sorted(root.iterdir()):
        run = DemoRun.load(directory) if directory.is_dir() else None
        if run is not None and run.pid != own_pid and pid_alive(run.pid):
            found.append(run)
    return found


def prune_finished(state_dir: Path, *, keep: Path | None = None) -> list[Path]:
    """Remove every run directory that is neither ``keep`` nor a running demo's; return them.

    Directories without a registration (runs of earlier versions, or a run killed before it
    registered) are finished runs too.
    """
    root = runs_root(state_dir)
    if not root.is_dir():
        return []
    live = {run.directory.resolve() for run in running_runs(state_dir)}
    removed = []
    for directory in sorted(root.iterdir()):
        if not directory.is_dir() or directory.resolve() in live:
            continue
        if keep is not None and directory.resolve() == keep.resolve():
            continue
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(directory)
    return removed
