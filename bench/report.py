"""The benchmark's results: one row per scenario, as JSON and as a Markdown table.

Throughput ratios compare each pipeline with the two baselines measured in the same run: the raw
aiokafka passthrough (what Kafka and Python allow) and faust's bare agent (what faust allows).
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
) -> Result:
    """A result from a run plus the worker's CPU seconds over it and its peak RSS."""

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
    )


def unavailable(scenario: str, kind: Kind, why: str = NOT_AVAILABLE) -> Result:
    return Result(scenario=scenario, kind=kind, status=why)


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


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def markdown(results: Sequence[Result]) -> str:
    """The table: one line per scenario, unavailable or failed ones say so in place of numbers."""
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


def to_json(results: Sequence[Result], meta: dict[str, Any]) -> dict[str, Any]:
    raw, bare = _find(results, RAW), _find(results, FAUST)
    rows = [
        {
            **asdict(r),
            "kind": r.kind.value,
            "per_second": r.per_second,
            "ratio_raw": ratio(r, raw),
            "ratio_faust": ratio(r, bare),
        }
        for r in results
    ]
    return {**meta, "results": rows}
