"""Benchmark: one approved credit allocated across 1,000,000 affected subscriptions.

Times building the inputs (index entries' fees and days -> ``AffectedSubscription``) and the pure
``allocate_credit`` call, with the process's peak RSS (getrusage); ``--tracemalloc`` adds Python's
peak allocation but slows everything down several times. Writes Markdown and JSON to
``bench/results/``. Run: ``.venv/bin/python bench/credits.py [N] [--tracemalloc]``.
"""

from __future__ import annotations

import json
import platform
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from hub.domain.allocation import AffectedSubscription, allocate_credit
from hub.domain.claims import monthly_fee_minor
from hub.domain.enums import BillingCycle

RESULTS = Path(__file__).parent / "results"
CYCLES = (BillingCycle.MONTHLY, BillingCycle.ANNUAL, BillingCycle.TRIENNIAL)
# A share of customers billed in other currencies, at stated rates to EUR.
RATES = {"EUR": Decimal(1), "GBP": Decimal("1.17"), "USD": Decimal("0.92")}


def build_inputs(n: int, rng: random.Random) -> list[AffectedSubscription]:
    currencies = list(RATES)
    out = []
    for i in range(n):
        currency = currencies[0] if i % 10 else currencies[1 + (i // 10) % 2]
        cycle = CYCLES[i % 3]
        fee = monthly_fee_minor(
            rng.randint(100, 3000) * (1, 12, 36)[i % 3], rng.randint(1, 300), cycle
        )
        out.append(
            AffectedSubscription(
                f"sub-{i:07d}",
                f"cust-{i // 3:07d}",
                f"reseller-{i % 400:03d}",
                "exchange",
                currency,
                fee,
                rng.randint(1, 3),
                31,
                RATES[currency],
            )
        )
    return out


def run(n: int, trace: bool) -> dict[str, object]:
    rng = random.Random(20250303)
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    inputs = build_inputs(n, rng)
    t1 = time.perf_counter()
    approved = 987_654_321
    result = allocate_credit(approved, "EUR", inputs, service="exchange")
    t2 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    assert result.allocated_minor + result.remainder_minor == approved
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "benchmark": "credits.allocate_one_approval",
        "subscriptions": n,
        "approved_minor": approved,
        "allocations": len(result.allocations),
        "remainder_minor": result.remainder_minor,
        "build_inputs_s": round(t1 - t0, 3),
        "allocate_s": round(t2 - t1, 3),
        "total_s": round(t2 - t0, 3),
        "tracemalloc_peak_mib": None if peak is None else round(peak / 2**20, 1),
        "max_rss_mib": round(rss_kib / 1024, 1),
        "rss_before_mib": round(rss_before_kib / 1024, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def markdown(r: dict[str, object]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in r.items())
    return (
        "# Service credit allocation: one approval, "
        f"{r['subscriptions']:,} subscriptions\n\n"
        "Pure domain call (`allocate_credit`) plus building its inputs, one process; "
        "with tracemalloc the times include its overhead. Not a gate: no test asserts on it."
        "\n\n| metric | value |\n|---|---|\n" + rows + "\n"
    )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    result = run(n, "--tracemalloc" in sys.argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "credits.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "credits.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
