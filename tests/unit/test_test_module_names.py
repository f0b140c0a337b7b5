"""One pytest session collects every test directory (``testpaths = ["tests"]``, no packages), so
two test modules with one file name fail the whole run at collection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).parents[1]


def test_no_two_test_modules_share_a_file_name() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for module in TESTS.rglob("test_*.py"):
        places[module.name].append(str(module.relative_to(TESTS)))
    shared = {name: where for name, where in places.items() if len(where) > 1}
    assert not shared, f"rename one of each: {shared}"
