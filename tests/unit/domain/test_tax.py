"""Local tax: per-country and regional rules, product vs service rates, exemptions, rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.domain.enums import ProductKind
from hub.domain.tax import (
    TaxRule,
    TaxTable,
    TaxTreatment,
    default_tax_table,
    tax_amount,
    tax_line,
)
from hub.errors import BusinessRuleViolation

TABLE = default_tax_table()
SUB = ProductKind.SUBSCRIPTION
SVC = ProductKind.SERVICE


@pytest.mark.parametrize(
    ("country", "tax"),
    [("DE", 1900), ("FR", 2000), ("GB", 2000), ("NL", 2100), ("JP", 1000)],
)
def test_country_rate_applies_to_a_subscription(country: str, tax: int) -> None:
    line = tax_line(10_000, SUB, TABLE.rule_for(country))
    assert line.tax_minor == tax
    assert line.treatment is TaxTreatment.STANDARD
    assert line.jurisdiction == country


def test_brazil_taxes_a_service_differently_from_a_subscription() -> None:
    rule = TABLE.rule_for("BR")
    assert tax_line(10_000, SUB, rule).tax_minor == 290
    assert tax_line(10_000, SVC, rule).tax_minor == 500


def test_us_state_rule_overrides_the_country_and_unknown_state_falls_back() -> None:
    texas = TABLE.rule_for("US", "TX")
    assert (tax_line(10_000, SUB, texas).tax_minor, tax_line(10_000, SVC, texas).tax_minor) == (
        500,
        625,
    )
    assert TABLE.rule_for("US", "OR").jurisdiction == "US"
    assert tax_line(10_000, SUB, TABLE.rule_for("US", "OR")).tax_minor == 0


def test_reseller_buying_for_resale_is_exempt() -> None:
    line = tax_line(10_000, SUB, TABLE.rule_for("DE"), resale_exempt=True)
    assert (line.tax_minor, line.rate_bps, line.treatment) == (0, 0, TaxTreatment.RESALE_EXEMPT)


def test_reverse_charge_and_exempt_rules_charge_no_tax_but_say_why() -> None:
    rc = TaxRule(
        country="AT",
        name="USt",
        subscription_rate_bps=2000,
        service_rate_bps=2000,
        reverse_charge=True,
    )
    ex = TaxRule(
        country="AT",
        region="X",
        name="none",
        subscription_rate_bps=2000,
        service_rate_bps=2000,
        exempt=True,
    )
    assert tax_line(10_000, SUB, rc).treatment is TaxTreatment.REVERSE_CHARGE
    assert tax_line(10_000, SUB, rc).tax_minor == 0
    assert tax_line(10_000, SVC, ex).treatment is TaxTreatment.EXEMPT


def test_country_without_a_rule_is_refused() -> None:
    with pytest.raises(BusinessRuleViolation, match="NoTaxRule"):
        TABLE.rule_for("ZZ")


def test_duplicate_rules_are_refused() -> None:
    rule = TaxRule(country="DE", name="USt", subscription_rate_bps=1900, service_rate_bps=1900)
    with pytest.raises(ValueError, match="two tax rules"):
        TaxTable([rule, rule])


def test_tax_rounds_half_up_per_line() -> None:
    assert tax_amount(50, 1900) == 10  # 9.5 -> 10
    assert tax_amount(1, 2100) == 0  # 0.21 -> 0
    assert tax_amount(-50, 1900) == -10


@given(st.integers(-(10**12), 10**12), st.integers(0, 10_000))
def test_tax_is_within_half_a_unit_and_a_credit_mirrors_its_charge(amount: int, bps: int) -> None:
    exact = Decimal(amount) * bps / 10_000
    assert abs(tax_amount(amount, bps) - exact) <= Decimal("0.5")
    assert tax_amount(-amount, bps) == -tax_amount(amount, bps)
