"""Local tax by the buyer's country (and region): product vs service rates, exemptions.

Rounding: tax is computed per line, ``amount * rate_bps / 10000`` rounded half up on the
magnitude to the minor unit (a credit gets exactly the negative of the matching charge's tax).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from hub.domain.enums import ProductKind
from hub.domain.pricing import round_half_up
from hub.errors import BusinessRuleViolation

_BPS = 10_000


class TaxTreatment(StrEnum):
    STANDARD = "standard"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"
    RESALE_EXEMPT = "resale_exempt"


class TaxRule(BaseModel):
    """The tax of one country, or one region of it, for subscriptions and for services."""

    model_config = ConfigDict(frozen=True)

    country: str = Field(pattern=r"^[A-Z]{2}$")
    region: str | None = None
    name: str
    subscription_rate_bps: int = Field(ge=0, le=_BPS)
    service_rate_bps: int = Field(ge=0, le=_BPS)
    exempt: bool = False
    reverse_charge: bool = False

    @property
    def jurisdiction(self) -> str:
        return self.country if self.region is None else f"{self.country}-{self.region}"

    def rate_for(self, kind: ProductKind) -> int:
        return (
            self.subscription_rate_bps
            if kind == ProductKind.SUBSCRIPTION
            else self.service_rate_bps
        )


class LineTax(BaseModel):
    """The tax on one line: the rate that applied, the amount, and why."""

    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    rate_bps: int
    tax_minor: int
    treatment: TaxTreatment


class TaxTable:
    """Rules keyed by country and optional region; a region falls back to its country."""

    def __init__(self, rules: Iterable[TaxRule]) -> None:
        table: dict[tuple[str, str | None], TaxRule] = {}
        for rule in rules:
            key = (rule.country, rule.region)
            if key in table:
                raise ValueError(f"two tax rules for {rule.jurisdiction}")
            table[key] = rule
        self._rules: Mapping[tuple[str, str | None], TaxRule] = MappingProxyType(table)

    def rule_for(self, country: str, region: str | None = None) -> TaxRule:
        rule = self._rules.get((country, region)) if region else None
        rule = rule or self._rules.get((country, None))
        if rule is None:
            where = country if region is None else f"{country}-{region}"
            raise BusinessRuleViolation("NoTaxRule", f"no tax rule for {where}")
        return rule


def tax_amount(amount_minor: int, rate_bps: int) -> int:
    """``amount * rate / 10000``, half up on the magnitude, sign kept."""
    magnitude = round_half_up(Decimal(abs(amount_minor)) * rate_bps / _BPS)
    return magnitude if amount_minor >= 0 else -magnitude


def tax_line(
    amount_minor: int,
    kind: ProductKind,
    rule: TaxRule,
    *,
    resale_exempt: bool = False,
) -> LineTax:
    """Tax one line under ``rule``. A reseller buying for resale (``resale_exempt``) pays none."""
    rate = rule.rate_for(kind)
    if resale_exempt:
        return LineTax(
            jurisdiction=rule.jurisdiction,
            rate_bps=0,
            tax_minor=0,
            treatment=TaxTreatment.RESALE_EXEMPT,
        )
    if rule.exempt:
        return LineTax(
            jurisdiction=rule.jurisdiction, rate_bps=0, tax_minor=0, treatment=TaxTreatment.EXEMPT
        )
    if rule.reverse_charge:
        # The buyer self-assesses; the invoice carries no tax but must say why.
        return LineTax(
            jurisdiction=rule.jurisdiction,
            rate_bps=0,
            tax_minor=0,
            treatment=TaxTreatment.REVERSE_CHARGE,
        )
    return LineTax(
        jurisdiction=rule.jurisdiction,
        rate_bps=rate,
        tax_minor=tax_amount(amount_minor, rate),
        treatment=TaxTreatment.STANDARD,
    )


# Illustrative standard rates (check with tax counsel before invoicing for real). Where a
# subscription and a service (support, setup) are taxed differently, both rates are listed.
DEFAULT_TAX_RULES: tuple[TaxRule, ...] = (
    TaxRule(country="DE", name="USt", subscription_rate_bps=1900, service_rate_bps=1900),
    TaxRule(country="FR", name="TVA", subscription_rate_bps=2000, service_rate_bps=2000),
    TaxRule(country="GB", name="VAT", subscription_rate_bps=2000, service_rate_bps=2000),
    TaxRule(country="NL", name="BTW", subscription_rate_bps=2100, service_rate_bps=2100),
    TaxRule(country="JP", name="JCT", subscription_rate_bps=1000, service_rate_bps=1000),
    # Brazil: software licences and services fall under different municipal/federal regimes.
    TaxRule(country="BR", name="ISS/PIS/COFINS", subscription_rate_bps=290, service_rate_bps=500),
    # United States: no federal sales tax; states decide, and SaaS vs services differ.
    TaxRule(country="US", name="none", subscription_rate_bps=0, service_rate_bps=0),
    TaxRule(
        country="US",
        region="TX",
        name="sales tax",
        subscription_rate_bps=500,
        service_rate_bps=625,
    ),
    TaxRule(
        country="US",
        region="WA",
        name="sales tax",
        subscription_rate_bps=650,
        service_rate_bps=650,
    ),
    TaxRule(
        country="US", region="CA", name="sales tax", subscription_rate_bps=0, service_rate_bps=0
    ),
)


def default_tax_table() -> TaxTable:
    return TaxTable(DEFAULT_TAX_RULES)
