"""Reference data files: the shipped sample is valid, and mistakes are named precisely."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from hub.connectors.reference_files import load_reference_file, reference_events
from hub.domain.enums import BillingMode, SupportMode
from hub.errors import ValidationFailed

SAMPLE = Path(__file__).parents[2] / "ops" / "sample" / "reference.yaml"


def test_the_sample_covers_both_billing_and_both_support_modes_in_several_countries() -> None:
    ref = load_reference_file(SAMPLE)
    assert {r.billing_mode for r in ref.resellers} == set(BillingMode)
    assert {r.support_mode for r in ref.resellers} == set(SupportMode)
    assert len({r.country for r in ref.resellers}) >= 4
    assert len({r.currency for r in ref.resellers}) >= 3
    assert {c.reseller_id for c in ref.customers} == {r.reseller_id for r in ref.resellers}
    for reseller in ref.resellers:
        if SupportMode.DISTRIBUTOR_WHITE_LABEL in (reseller.support_mode,):
            assert reseller.brand is not None, reseller.reseller_id


def test_loading_the_same_content_twice_gives_the_same_event_ids() -> None:
    ref = load_reference_file(SAMPLE)
    first = reference_events(ref, datetime(2026, 11, 1, tzinfo=UTC))
    second = reference_events(ref, datetime(2026, 11, 2, tzinfo=UTC))
    assert [e.event_id for _, e in first] == [e.event_id for _, e in second]
    assert len({e.event_id for _, e in first}) == len(first)


def test_a_bad_currency_names_file_record_and_field(tmp_path: Path) -> None:
    text = SAMPLE.read_text().replace("currency: GBP", "currency: XXX", 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ValidationFailed) as raised:
        load_reference_file(bad)
    assert "bad.yaml:resellers[2].currency" in str(raised.value)
    assert "XXX" in str(raised.value)


def test_a_csv_price_list_loads_with_its_section(tmp_path: Path) -> None:
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text(
        "price_list_id,product_id,sku_id,availability_id,term,billing_cycle,currency,"
        "unit_cost_minor,effective_from\n"
        "nce,CFQ7TTC0LH18,0001,CFQ7TTC0K5DL,P1Y,monthly,EUR,564,2026-01-01\n"
    )
    ref = load_reference_file(csv_file, section="price_lists")
    assert ref.price_lists[0].entries[0].unit_cost_minor == 564


def test_a_csv_without_a_section_is_refused(tmp_path: Path) -> None:
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("a,b\n1,2\n")
    with pytest.raises(ValidationFailed, match="--section"):
        load_reference_file(csv_file)


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("reselers: []\n")
    with pytest.raises(ValidationFailed, match="unknown sections"):
        load_reference_file(bad)


def test_a_white_label_reseller_without_a_brand_is_refused_when_loaded(tmp_path: Path) -> None:
    """Not at month end, when its first white-label invoice could not be issued."""
    text = SAMPLE.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    white = next(
        i for i, r in enumerate(data["resellers"]) if r["billing_mode"] == "distributor_white_label"
    )
    del data["resellers"][white]["brand"]
    bad = tmp_path / "unbranded.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationFailed) as raised:
        load_reference_file(bad)
    assert f"unbranded.yaml:resellers[{white}]" in str(raised.value)
    assert "has no brand" in str(raised.value)
