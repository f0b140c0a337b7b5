"""What a process has cost so far, read from ``/proc`` (no psutil): CPU seconds and peak RSS."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ticks(stat: str) -> int:
    """utime + stime (fields 14 and 15 of ``/proc/<pid>/stat``), in clock ticks.

    The command name (field 2) is in parentheses and may itself hold spaces or parentheses, so
    fields are counted from the last ``)``.
    """
    rest = stat[stat.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): utime is field 14, stime field 15.
    return int(rest[11]) + int(rest[12])


def peak_rss_bytes(status: str) -> int:
    """``VmHWM`` (the resident set's high-water mark) of ``/proc/<pid>/status``, in bytes."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"unexpected VmHWM unit {unit!r}")
            return int(value) * 1024
    raise ValueError("no VmHWM line (is this a kernel thread or a zombie?)")


@dataclass(frozen=True)
class Usage:
    """CPU seconds used and the peak RSS reached by one process, up to the moment it was read."""

    cpu_s: float
    peak_rss_bytes: int


def usage(pid: int, proc: Path = Path("/proc")) -> Usage:
    stat = (proc / str(pid) / "stat").read_text()
    status = (proc / str(pid) / "status").read_text()
    return Usage(cpu_ticks(stat) / CLOCK_TICKS, peak_rss_bytes(status))
