"""The benchmark's results: one row per scenario, as JSON and as a Markdown table.

Throughput ratios compare each pipeline with the two baselines measured in the same run: the raw
aiokafka passthrough (what Kafka and Python allow) and faust's bare agent (what faust allows).
Scaling rows (one flow through 1, 2, 3 workers of one hub) get a table of their own, compared
with the one-worker row of the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from bench.baseline import Run, percentile

RAW = "raw aiokafka passthrough (baseline)"
FAUST = "faust bare agent passthrough (baseline)"
NOT_AVAILABLE = "not available"


class Kind(StrEnum):
    BASELINE = "baseline"
    PIPELINE = "pipeline"  # a burst: events/s is the measure, compared with the baselines
    LATENCY = "latency"  # a fixed offered load: p99 is the measure
    BATCH = "batch"  # in-process work (credit allocation): time and memory
    SCALING = "scaling"  # a burst through N workers of one group, compared with one worker


@dataclass(frozen=True)
class Result:
    """One scenario's numbers; ``status`` is "ok", "not available" or "failed: <why>"."""

    scenario: str
    kind: Kind
    status: str = "ok"
    events: int = 0
    seconds: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_s_per_1k: float | None = None
    peak_rss_mib: float | None = None
    offered_per_s: float | None = None
    note: str = ""
    workers: int | None = None  # scaling rows: how many workers shared the work
    peak_rss_each_mib: tuple[float, ...] = ()  # scaling rows: each worker's peak RSS
    group: str = ""  # scaling rows: the flow, whose rows compare with its one-worker row

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def measured(
    scenario: str,
    kind: Kind,
    run: Run,
    cpu_s: float | None,
    peak_rss_bytes: int | None,
    offered_per_s: float | None = None,
    note: str = "",
    *,
    workers: int | None = None,
    peak_rss_each_bytes: tuple[int, ...] = (),
    group: str = "",
) -> Result:
    """A result from a run plus the worker's CPU seconds over it and its peak RSS (with several
    workers: their CPU summed, the highest peak RSS, and each one's in ``peak_rss_each_bytes``)."""

    def ms(pct: float) -> float | None:
        return round(percentile(run.latencies_s, pct) * 1000, 1) if run.latencies_s else None

    return Result(
        scenario=scenario,
        kind=kind,
        events=run.messages,
        seconds=run.seconds,
        p50_ms=ms(50),
        p95_ms=ms(95),
        p99_ms=ms(99),
        cpu_s_per_1k=None if cpu_s is None else cpu_s / run.messages * 1000,
        peak_rss_mib=None if peak_rss_bytes is None else peak_rss_bytes / 2**20,
        offered_per_s=offered_per_s,
        note=note,
        workers=workers,
        peak_rss_each_mib=tuple(b / 2**20 for b in peak_rss_each_bytes),
        group=group,
    )


def unavailable(
    scenario: str,
    kind: Kind,
    why: str = NOT_AVAILABLE,
    workers: int | None = None,
    group: str = "",
) -> Result:
    return Result(scenario=scenario, kind=kind, status=why, workers=workers, group=group)


def ratio(result: Result, baseline: Result | None) -> float | None:
    """Throughput of ``result`` over ``baseline``'s; only bursts compare (latency runs don't)."""
    if (
        baseline is None
        or not (result.ok and baseline.ok)
        or result.kind not in (Kind.PIPELINE, Kind.BASELINE)
        or baseline.per_second == 0
        or result is baseline
    ):
        return None
    return result.per_second / baseline.per_second


def _find(results: Sequence[Result], name: str) -> Result | None:
    return next((r for r in results if r.scenario == name), None)


def _one_worker(results: Sequence[Result], group: str) -> Result | None:
    """The one-worker scaling row of ``group`` (a flow), if the run has one."""
    return next(
        (r for r in results if r.kind is Kind.SCALING and r.workers == 1 and r.group == group),
        None,
    )


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown(results: Sequence[Result], cpus: int | None = None) -> str:
    """The table: one line per scenario, unavailable or failed ones say so in place of numbers;
    scaling rows follow in a table of their own (``scaling_markdown``)."""
    scaling = [r for r in results if r.kind is Kind.SCALING]
    rest = [r for r in results if r.kind is not Kind.SCALING]
    parts = [_main_table(rest)] if rest or not scaling else []
    if scaling:
        parts.append(scaling_markdown(scaling, cpus))
    return "\n\n".join(parts)


def _main_table(results: Sequence[Result]) -> str:
    raw, bare = _find(results, RAW), _find(results, FAUST)
    lines = [
        "| scenario | events | events/s | p50 ms | p95 ms | p99 ms | worker CPU s / 1k events "
        "| peak RSS MiB | x raw | x faust |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        name = r.scenario
        if r.offered_per_s:
            name += f" @ {r.offered_per_s:,.0f}/s offered"
        if not r.ok:
            lines.append(f"| {name} | {r.status} | - | - | - | - | - | - | - | - |")
            continue
        lines.append(
            f"| {name} | {r.events:,} | {_num(r.per_second)} | {_num(r.p50_ms)} | "
            f"{_num(r.p95_ms)} | {_num(r.p99_ms)} | {_num(r.cpu_s_per_1k, 3)} | "
            f"{_num(r.peak_rss_mib)} | {_times(ratio(r, raw))} | {_times(ratio(r, bare))} |"
        )
    notes = [f"- {r.scenario}: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def scaling_note(cpus: int | None) -> str:
    """What the scaling table can and cannot show on a machine of ``cpus`` cores."""
    machine = f"This machine has {cpus} cores" if cpus else "The machine's core count is unknown"
    return (
        f"{machine}: the N workers compete for the same cores (with the broker, the simulator "
        "and the bench itself), so events/s cannot grow in proportion to N here; scaling "
        "efficiency is limited by the machine. CPU ms/event is the CPU of all N workers over "
        "the burst (utime + stime) per event: flat as N grows means each event costs the same "
        "spread over more workers, rising means the workers add work of their own (each one's "
        "polling and heartbeats, and with 2 or more faust's standby table copies: every "
        "changelog write applied again on another worker). Other processes share the cores too: "
        "each row's note gives the load average as its burst began."
    )


def scale_up(result: Result, one_worker: Result | None) -> float | None:
    """Throughput of ``result`` over the one-worker row's of the same flow and run."""
    if one_worker is None or not (result.ok and one_worker.ok) or one_worker.per_second == 0:
        return None
    return result.per_second / one_worker.per_second


def _rss_each(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:,.1f}" for v in values) if values else "-"


def scaling_markdown(results: Sequence[Result], cpus: int | None = None) -> str:
    """Scaling rows, one table per flow ("Workers | events/s | vs 1 worker | CPU ms/event | peak
    RSS per worker"), in worker order; the machine note and each row's own note below."""
    groups = list(dict.fromkeys(r.group for r in results))
    parts = [_scaling_table(results, group) for group in groups]
    notes = [f"- {r.scenario}: {r.note}" for r in results if r.note]
    return "\n\n".join([*parts, scaling_note(cpus), *(["\n".join(notes)] if notes else [])])


def _scaling_table(results: Sequence[Result], group: str) -> str:
    rows = sorted(
        (r for r in results if r.group == group),
        key=lambda r: (r.workers is None, r.workers or 0),
    )
    one = _one_worker(rows, group)
    lines = [f"{group}:", ""] if group else []
    lines += [
        "| Workers | events/s | vs 1 worker | CPU ms/event | peak RSS per worker (MiB) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        workers = str(r.workers) if r.workers is not None else r.scenario
        if not r.ok:
            lines.append(f"| {workers} | {r.status} | - | - | - |")
            continue
        # CPU s per 1k events is CPU ms per event.
        lines.append(
            f"| {workers} | {_num(r.per_second)} | {_times(scale_up(r, one))} | "
            f"{_num(r.cpu_s_per_1k, 2)} | {_rss_each(r.peak_rss_each_mib)} |"
        )
    return "\n".join(lines)


def to_json(results: Sequence[Result], meta: dict[str, Any]) -> dict[str, Any]:
    raw, bare = _find(results, RAW), _find(results, FAUST)
    rows = [
        {
            **asdict(r),
            "kind": r.kind.value,
            "per_second": r.per_second,
            "ratio_raw": ratio(r, raw),
            "ratio_faust": ratio(r, bare),
            **({"vs_one_worker": scale_up(r, _one_worker(results, r.group))} if r.workers else {}),
        }
        for r in results
    ]
    return {**meta, "results": rows}
