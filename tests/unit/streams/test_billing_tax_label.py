"""Tax labels on invoices are exact percentages, computed without floats."""

from __future__ import annotations

import pytest

from hub.domain.tax import TaxRule, TaxTreatment
from hub.streams.billing.documents import _tax_label

RULE = TaxRule(country="DE", name="USt", subscription_rate_bps=1900, service_rate_bps=1900)


@pytest.mark.parametrize(
    ("bps", "label"), [(1900, "USt 19%"), (290, "USt 2.9%"), (625, "USt 6.25%"), (0, "USt 0%")]
)
def test_standard_rate_label_is_the_exact_percentage(bps: int, label: str) -> None:
    assert _tax_label(RULE, bps, TaxTreatment.STANDARD) == label


def test_a_special_treatment_is_named_not_rated() -> None:
    assert _tax_label(RULE, 1900, TaxTreatment.REVERSE_CHARGE) == "USt reverse_charge"
