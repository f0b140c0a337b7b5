"""Reference data files: the shipped sample is valid, and mistakes are named precisely."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from hub.connectors.reference_files import load_reference_file, reference_events
from hub.connectors.reference_problems import ReferenceFileInvalid
from hub.domain.enums import BillingMode, SupportMode
from hub.domain.reference import Brand, CatalogItem, Customer, PriceListEntry, ResellerProfile
from hub.errors import ValidationFailed
from hub.runtime.stored_events import StoredEvent
from hub.schemas.codec import Codec

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
    assert str(raised.value).startswith("bad.yaml:resellers[2] (northwind-gb) line ")
    assert ": currency='XXX': unknown ISO 4217 currency" in str(raised.value)


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
    with pytest.raises(ValidationFailed) as raised:
        load_reference_file(bad)
    assert str(raised.value) == "typo.yaml line 1: unknown key reselers; did you mean resellers?"


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
    assert f"unbranded.yaml:resellers[{white}] (fabrikam-fr) line " in str(raised.value)
    assert ": reseller fabrikam-fr is billed" in str(raised.value)
    assert "has no brand" in str(raised.value)


def _sample_with(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = SAMPLE.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "reference.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path, section: str | None = None) -> tuple[str, ...]:
    with pytest.raises(ReferenceFileInvalid) as raised:
        load_reference_file(path, section=section)
    return raised.value.problems


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_a_misspelt_optional_key_is_refused_with_the_close_match(tmp_path: Path) -> None:
    """``markup_bsp`` used to load and price the reseller at cost (markup_bps defaulted to 0)."""
    path = _sample_with(tmp_path, ("markup_bps: 1500", "markup_bsp: 1500"))
    line = _line_of(path, "markup_bsp")
    assert _problems(path) == (
        f"reference.yaml:resellers[0] (contoso-de) line {line}: "
        "unknown key markup_bsp; did you mean markup_bps?",
    )


def test_a_misspelt_required_key_is_one_problem_naming_the_key_not_the_record(
    tmp_path: Path,
) -> None:
    path = _sample_with(tmp_path, ("credit_limit_minor: 2000000", "credit_limt_minor: 2000000"))
    (problem,) = _problems(path)
    line = _line_of(path, "credit_limt_minor")
    assert problem == (
        f"reference.yaml:resellers[1] (fabrikam-fr) line {line}: unknown key "
        "credit_limt_minor; did you mean credit_limit_minor? (a required key, missing)"
    )
    assert "Fabrikam Services" not in problem  # not the whole record


def test_a_misspelt_key_inside_the_brand_names_the_nested_key(tmp_path: Path) -> None:
    path = _sample_with(tmp_path, ("reply_to: support@fabrikam", "reply_ot: support@fabrikam"))
    (problem,) = _problems(path)
    assert problem.endswith(
        "unknown key brand.reply_ot; did you mean brand.reply_to? (a required key, missing)"
    )
    assert problem.startswith(
        f"reference.yaml:resellers[1] (fabrikam-fr) line {_line_of(path, 'reply_ot')}: "
    )


def test_a_missing_key_says_what_is_expected(tmp_path: Path) -> None:
    path = _sample_with(tmp_path, ("  payment_terms_days: 30\n", ""))
    (problem,) = _problems(path)
    assert problem.endswith(
        ": key payment_terms_days is missing (expected a whole number >= 0 <= 180)"
    )


def test_an_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    path = _sample_with(tmp_path, ("markup_bps: 1500", "markup_bps: 1500\n  zebra: blue"))
    (problem,) = _problems(path)
    assert "unknown key zebra; known keys: reseller_id, partner_id, name" in problem


def test_every_problem_of_a_file_is_reported_one_line_each(tmp_path: Path) -> None:
    path = _sample_with(
        tmp_path,
        ("markup_bps: 1500", "markup_bsp: 1500"),
        ("currency: GBP", "currency: XXX"),
        ("credit_limit_minor: 2000000", "credit_limt_minor: 2000000"),
    )
    with pytest.raises(ReferenceFileInvalid) as raised:
        load_reference_file(path)
    lines = str(raised.value).splitlines()
    assert lines[0] == "reference.yaml has 3 problems:"
    assert lines[1:] == list(raised.value.problems)
    assert [p.split(" line ", 1)[0] for p in lines[1:]] == [
        "reference.yaml:resellers[0] (contoso-de)",
        "reference.yaml:resellers[1] (fabrikam-fr)",
        "reference.yaml:resellers[2] (northwind-gb)",
    ]


def test_a_catalog_item_and_a_price_typo_name_their_item(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["catalog"][0]["max_quantiy"] = data["catalog"][0].pop("max_quantity", 5)
    entry = data["price_lists"][0]["entries"][0]
    entry["unit_cost_minr"] = entry.pop("unit_cost_minor")
    data["price_lists"][0]["entires"] = []
    path = tmp_path / "reference.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    item = data["catalog"][0]
    item_id = f"{item['product_id']}:{item['sku_id']}:{item['availability_id']}"
    problems = _problems(path)
    assert any(
        p.startswith(f"reference.yaml:catalog[0] ({item_id}) line ")
        and p.endswith(": unknown key max_quantiy; did you mean max_quantity?")
        for p in problems
    ), problems
    assert any(
        p.startswith("reference.yaml:price_lists[0].entries[0] (")
        and "unknown key unit_cost_minr; did you mean unit_cost_minor? (a required key, missing)"
        in p
        for p in problems
    ), problems
    assert any("unknown key entires; did you mean entries?" in p for p in problems), problems
    assert len(problems) == 3


def test_a_csv_typo_names_the_row_and_the_column(tmp_path: Path) -> None:
    path = tmp_path / "resellers.csv"
    path.write_text(
        "reseller_id,partner_id,name,country,currency,languages,billing_mode,support_mode,"
        "credit_limit_minor,payment_terms_days,markup_bsp\n"
        "acme,12345,Acme,DE,EUR,de|en,reseller_bills,reseller_own,100,30,1500\n"
        "beta,12346,Beta,DE,EUR,de,reseller_bills,reseller_own,,30,\n",
        encoding="utf-8",
    )
    assert _problems(path, "resellers") == (
        "resellers.csv:resellers[0] (acme) line 2: unknown key markup_bsp; "
        "did you mean markup_bps?",
        "resellers.csv:resellers[1] (beta) line 3: key credit_limit_minor is missing "
        "(expected a whole number >= 0)",
    )


def test_a_reseller_listed_twice_is_a_problem_line(tmp_path: Path) -> None:
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["resellers"].append(data["resellers"][0])
    path = tmp_path / "twice.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert _problems(path)[-1].startswith("twice.yaml:resellers (contoso-de) line ")
    assert _problems(path)[-1].endswith(": listed twice")


@pytest.mark.parametrize("model", [ResellerProfile, Customer, CatalogItem, PriceListEntry, Brand])
def test_every_reference_model_refuses_unknown_keys(model: type[BaseModel]) -> None:
    with pytest.raises(ValidationError) as raised:
        model.model_validate({"no_such_key": 1})
    assert "no_such_key" in {str(e["loc"][-1]) for e in raised.value.errors()}
    assert "extra_forbidden" in {e["type"] for e in raised.value.errors()}


def test_reference_events_of_the_sample_still_round_trip_through_avro() -> None:
    """The models inside the events forbid unknown keys too: every event still decodes."""
    codec = Codec()
    events = reference_events(load_reference_file(SAMPLE), datetime(2026, 11, 1, tzinfo=UTC))
    assert {type(event).__name__ for _, event in events} == {
        "ResellerUpserted",
        "CustomerUpserted",
        "CatalogItemUpserted",
        "PriceListEntryUpserted",
    }
    for _, event in events:
        assert codec.decode(codec.encode(event)) == event
        assert StoredEvent.of(event).event() == event


def test_the_suggestion_is_a_key_the_record_does_not_have_yet(tmp_path: Path) -> None:
    """``colour`` is closest to ``country``, which the record has: no suggestion of it."""
    path = _sample_with(tmp_path, ("markup_bps: 1500", "markup_bps: 1500\n  colour: blue"))
    (problem,) = _problems(path)
    assert "country" not in problem.split("unknown key colour", 1)[1].split(";")[1][:20]
