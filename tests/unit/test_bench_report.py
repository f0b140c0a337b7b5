"""The benchmark's pure parts: percentiles, /proc parsing, metric parsing and the report table."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

# bench/ sits beside hub/ but is not an installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hypothesis import given
from hypothesis import strategies as st

from bench.baseline import Run, percentile
from bench.harness import combined
from bench.month_end import cpu_at, invoice_check, quarter_bounds, quarter_rates
from bench.proc import Usage, cpu_ticks, peak_rss_bytes
from bench.report import (
    FAUST,
    RAW,
    Kind,
    markdown,
    measured,
    ratio,
    scaling_markdown,
    to_json,
    unavailable,
)
from bench.runs import events_in, reference_loaded
from bench.scaling import pick_resellers
from bench.scenarios import scaling_row
from hub.streams.ingress import home_partition

# A real /proc/<pid>/stat line, with a command name holding a space and a parenthesis.
STAT = (
    "4242 (python (bench) x) S 1 4242 4242 0 -1 4194560 9021 0 0 0 "
    "1234 56 0 0 20 0 3 0 777 123456789 4321 18446744073709551615 0 0 0 0 0 0 0 16781312 "
    "16386 0 0 0 17 1 0 0 0 0 0"
)
STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n"


def test_cpu_ticks_adds_utime_and_stime_after_a_command_name_with_spaces() -> None:
    assert cpu_ticks(STAT) == 1234 + 56


def test_peak_rss_is_vmhwm_in_bytes() -> None:
    assert peak_rss_bytes(STATUS) == 123456 * 1024


def test_status_without_vmhwm_is_an_error() -> None:
    try:
        peak_rss_bytes("Name:\tkthreadd\nState:\tS (sleeping)\n")
    except ValueError:
        return
    raise AssertionError("a missing VmHWM must not read as zero")


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([], 99) == 0.0


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_a_percentile_is_a_sample_and_grows_with_the_rank(
    values: list[float], low: float, high: float
) -> None:
    low, high = min(low, high), max(low, high)
    assert percentile(values, low) in values
    assert percentile(values, low) <= percentile(values, high)


def test_reference_events_are_summed_from_the_worker_metrics() -> None:
    page = "\n".join(
        [
            "# HELP hub_events_in_total Events consumed by a flow",
            'hub_events_in_total{event_type="ResellerUpserted",flow="reference",topic="a"} 1.0',
            'hub_events_in_total{event_type="CustomerUpserted",flow="reference",topic="b"} 2.0',
            'hub_events_in_total{event_type="OrderRequested",flow="orders",topic="c"} 9.0',
            'hub_events_in_created{event_type="ResellerUpserted",flow="reference"} 1.7e9',
        ]
    )
    assert reference_loaded(page) == 3.0


def _run(messages: int, seconds: float) -> Run:
    return Run(messages, seconds, tuple(i / 1000 for i in range(1, messages + 1)))


def test_pipelines_are_compared_with_both_baselines_measured_in_the_run() -> None:
    raw = measured(RAW, Kind.BASELINE, _run(1000, 1.0), 0.2, 40 * 2**20)
    bare = measured(FAUST, Kind.BASELINE, _run(1000, 2.0), 0.5, 60 * 2**20)
    intake = measured("order intake", Kind.PIPELINE, _run(1000, 4.0), 3.0, 110 * 2**20)
    assert ratio(intake, raw) == 0.25
    assert ratio(intake, bare) == 0.5
    assert ratio(raw, raw) is None
    assert intake.cpu_s_per_1k == 3.0
    assert intake.p99_ms == 990.0
    table = markdown([raw, bare, intake])
    line = next(row for row in table.splitlines() if row.startswith("| order intake |"))
    assert line == (
        "| order intake | 1,000 | 250.0 | 500.0 | 950.0 | 990.0 | 3.000 | 110.0 | 0.25x | 0.50x |"
    )


def test_a_fixed_rate_run_reports_latency_not_a_throughput_ratio() -> None:
    raw = measured(RAW, Kind.BASELINE, _run(100, 0.1), 0.0, 2**20)
    steady = measured("ticket routing", Kind.LATENCY, _run(100, 1.0), 0.1, 2**20, 1000.0)
    assert ratio(steady, raw) is None
    line = markdown([raw, steady]).splitlines()[-1]
    assert line.startswith("| ticket routing @ 1,000/s offered | 100 | 100.0 |")
    assert line.endswith("| - | - |")


def test_a_missing_scenario_is_a_row_that_says_so() -> None:
    table = markdown([unavailable("rating", Kind.PIPELINE)])
    assert "| rating | not available | - |" in table
    rows = to_json([unavailable("rating", Kind.PIPELINE)], {"at": "now"})["results"]
    assert rows[0]["status"] == "not available"
    assert rows[0]["ratio_raw"] is None


def _invoice(reseller: str, number: str, invoice_id: str) -> Any:
    return SimpleNamespace(reseller_id=reseller, number=number, invoice_id=invoice_id)


def test_month_end_invoices_pass_only_once_each_with_numbers_without_gaps() -> None:
    expected = {"big": 3, "small": 1}
    good = [_invoice("big", f"BIG-{n:08d}", f"i{n}") for n in (2, 1, 3)]
    good.append(_invoice("small", "D41-SMALL-00000001", "s1"))
    assert invoice_check(good, expected)["ok"]
    twice = [*good, _invoice("big", "BIG-00000004", "i3")]
    assert not invoice_check(twice, expected)["ok"]
    gap = [_invoice("big", f"BIG-{n:08d}", f"i{n}") for n in (1, 2, 4)] + good[3:]
    assert invoice_check(gap, expected)["series_with_gaps_or_repeats"] == ["BIG"]
    assert not invoice_check(good[:2] + good[3:], expected)["ok"]  # a customer without one


def test_month_end_quarters_run_from_the_first_charge_to_each_quarters_last() -> None:
    ids = [f"c{i}" for i in range(8)]
    seen = {f"c{i}": 10.0 + i for i in range(8)}
    seen["c1"] = 30.0  # a late charge of the first quarter ends that quarter
    assert quarter_bounds(ids, seen) == [10.0, 30.0, 13.0, 15.0, 17.0]
    assert quarter_rates(ids, seen)[0] == (1, 20.0)
    assert quarter_rates(ids, seen)[3] == (2, 2.0)


def test_worker_cpu_between_samples_is_interpolated() -> None:
    samples = [(0.0, 1.0), (2.0, 3.0), (4.0, 3.0)]
    assert cpu_at(samples, 1.0) == 2.0
    assert cpu_at(samples, 3.0) == 3.0
    assert cpu_at(samples, 9.0) == 3.0


def _scaled(
    workers: int, seconds: float, cpu_s: float, rss_mib: tuple[int, ...], group: str = ""
) -> Any:
    return measured(
        scaling_row(workers),
        Kind.SCALING,
        _run(1000, seconds),
        cpu_s,
        max(rss_mib) * 2**20,
        workers=workers,
        peak_rss_each_bytes=tuple(m * 2**20 for m in rss_mib),
        group=group,
    )


def test_scaling_rows_are_compared_with_one_worker_and_show_cpu_per_event() -> None:
    one = _scaled(1, 2.0, 9.0, (150,))
    two = _scaled(2, 1.6, 9.6, (140, 141))
    failed = unavailable(scaling_row(3), Kind.SCALING, "failed: TimeoutError: late", workers=3)
    table = scaling_markdown([failed, two, one], cpus=2)
    lines = table.splitlines()
    assert lines[:5] == [
        "| Workers | events/s | vs 1 worker | CPU ms/event | peak RSS per worker (MiB) |",
        "|---:|---:|---:|---:|---:|",
        "| 1 | 500.0 | 1.00x | 9.00 | 150.0 |",
        "| 2 | 625.0 | 1.25x | 9.60 | 140.0 / 141.0 |",
        "| 3 | failed: TimeoutError: late | - | - | - |",
    ]
    assert "This machine has 2 cores" in table
    assert "CPU ms/event" in lines[6]


def test_each_flow_gets_its_own_scaling_table_compared_with_its_own_one_worker_row() -> None:
    rows = [
        _scaled(1, 1.0, 1.0, (100,), "ticket routing"),
        _scaled(2, 0.5, 1.0, (100, 100), "ticket routing"),
        _scaled(1, 4.0, 9.0, (150,), "order intake"),
        _scaled(2, 2.0, 9.0, (150, 150), "order intake"),
    ]
    table = scaling_markdown(rows, cpus=2)
    routing, intake = table.split("\n\n")[0:2], table.split("\n\n")[2:4]
    assert routing[0] == "ticket routing:"
    assert routing[1].splitlines()[-1] == "| 2 | 2,000.0 | 2.00x | 1.00 | 100.0 / 100.0 |"
    assert intake[0] == "order intake:"
    assert intake[1].splitlines()[-1] == "| 2 | 500.0 | 2.00x | 9.00 | 150.0 / 150.0 |"
    json_rows = to_json(rows, {})["results"]
    assert [r["vs_one_worker"] for r in json_rows] == [1.0, 2.0, 1.0, 2.0]
    assert json_rows[3]["group"] == "order intake"


def test_scaling_without_a_one_worker_row_has_no_ratio() -> None:
    line = scaling_markdown([_scaled(2, 1.0, 1.0, (100, 100))]).splitlines()[2]
    assert line == "| 2 | 1,000.0 | - | 1.00 | 100.0 / 100.0 |"


def test_scaling_rows_get_their_own_table_and_stay_out_of_the_main_one() -> None:
    raw = measured(RAW, Kind.BASELINE, _run(1000, 1.0), 0.2, 40 * 2**20)
    one, two = _scaled(1, 2.0, 9.0, (150,)), _scaled(2, 1.0, 9.0, (150, 150))
    table = markdown([raw, one, two], cpus=2)
    main, scaling = table.split("\n\n", 1)
    assert "scaling" not in main
    assert scaling.startswith("| Workers |")
    assert "| 2 | 1,000.0 | 2.00x | 9.00 | 150.0 / 150.0 |" in scaling
    only = markdown([one, two])
    assert only.startswith("| Workers |")  # no empty main table for a scaling-only run


def test_scaling_json_keeps_the_worker_count_each_rss_and_the_ratio() -> None:
    one, two = _scaled(1, 2.0, 9.0, (150,)), _scaled(2, 1.0, 9.0, (150, 151))
    rows = to_json([one, two], {"at": "now"})["results"]
    assert rows[1]["workers"] == 2
    assert rows[1]["kind"] == "scaling"
    assert rows[1]["vs_one_worker"] == 2.0
    assert list(rows[1]["peak_rss_each_mib"]) == [150.0, 151.0]
    assert rows[1]["cpu_s_per_1k"] == 9.0


def test_several_workers_count_as_their_cpu_summed_and_their_highest_peak_rss() -> None:
    assert combined([Usage(1.5, 100), Usage(2.0, 300), Usage(0.5, 200)]) == Usage(4.0, 300)


def test_events_handled_are_summed_over_topics_for_one_flow_and_type() -> None:
    page = "\n".join(
        [
            'hub_events_in_total{event_type="OrderRequested",flow="orders",topic="a"} 5.0',
            'hub_events_in_total{event_type="OrderRequested",flow="orders",topic="b"} 2.0',
            'hub_events_in_total{event_type="OrderRequested",flow="credits",topic="a"} 9.0',
            'hub_events_in_total{event_type="OrderAccepted",flow="orders",topic="a"} 4.0',
        ]
    )
    assert events_in(page, "orders", "OrderRequested") == 7.0


def test_scaling_resellers_give_every_partition_the_same_share() -> None:
    resellers = pick_resellers(12, 2)
    assert len(set(resellers)) == 24
    homes = [home_partition(rid, 12) for rid in resellers]
    assert sorted(homes) == sorted(list(range(12)) * 2)
