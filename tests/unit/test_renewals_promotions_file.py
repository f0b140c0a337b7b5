"""hub renewals load-promotions reads a JSON list of promotions, naming every wrong record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.commands.renewals import promotions_from

GOOD = {
    "promotion_id": "39NFJQT1Q5KT:0001",
    "product_id": "CFQ7TTC0LH18",
    "sku_id": "0001",
    "availability_id": "CFQ7TTC0K5DL",
    "term": "P1Y",
    "billing_cycle": "annual",
    "discount_bps": 1500,
    "starts_on": "2026-03-01",
    "ends_on": "2026-06-30",
}


def test_a_list_of_promotions_is_read(tmp_path: Path) -> None:
    path = tmp_path / "promos.json"
    path.write_text(json.dumps([GOOD]))
    (promo,) = promotions_from(path)
    assert (promo.promotion_id, promo.discount_bps) == ("39NFJQT1Q5KT:0001", 1500)


def test_every_wrong_record_is_named(tmp_path: Path) -> None:
    path = tmp_path / "promos.json"
    bad = [GOOD, {**GOOD, "discount_bps": 0}, {**GOOD, "ends_on": "2026-01-01", "extra": 1}]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="promotion 1: discount_bps") as caught:
        promotions_from(path)
    assert "promotion 2:" in str(caught.value)
    assert "promotion 0" not in str(caught.value)


def test_not_a_list_or_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "promos.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="expected a JSON list"):
        promotions_from(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a readable JSON file"):
        promotions_from(path)
