"""Exact money: integer minor units with an ISO 4217 currency. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, field_validator

# Minor-unit exponents of the currencies the hub trades in (ISO 4217). A currency not listed
# here is refused rather than guessed: a wrong exponent is a 100x billing error.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HUF": 2,
    "INR": 2,
    "JPY": 0,
    "KRW": 0,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
    "ZAR": 2,
    "KWD": 3,
    "BHD": 3,
}


def check_currency(code: str) -> str:
    """Return ``code`` if it is a currency the hub knows, else raise ``ValueError``."""
    if code not in CURRENCY_EXPONENTS:
        known = ", ".join(sorted(CURRENCY_EXPONENTS))
        raise ValueError(f"unknown ISO 4217 currency {code!r}; known: {known}")
    return code


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[check_currency(currency)]


class Money(BaseModel):
    """An amount in integer minor units of one currency (EUR 12.34 is ``Money(1234, "EUR")``)."""

    model_config = ConfigDict(frozen=True)

    minor: int
    currency: str

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        return check_currency(value)

    @classmethod
    def of(cls, minor: int, currency: str) -> Self:
        return cls(minor=minor, currency=currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str) -> Self:
        """Round a decimal amount to minor units, half to even (banker's rounding)."""
        scaled = (amount * (Decimal(10) ** exponent(currency))).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return cls(minor=int(scaled), currency=currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(minor=self.minor + other.minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(minor=self.minor - other.minor, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(minor=-self.minor, currency=self.currency)

    def __str__(self) -> str:
        return f"{self.to_decimal():f} {self.currency}"
