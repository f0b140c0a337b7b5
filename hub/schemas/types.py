"""Field types shared by every contract: UTC times, currencies, ids, decimal strings, quantities."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field

from hub.domain.money import check_currency


def _utc(value: datetime) -> datetime:
    # A naive time is ambiguous across the resellers' time zones: refuse it rather than guess.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware (e.g. '2025-01-31T12:00:00Z'), got a naive time")
    return value.astimezone(UTC)


def _decimal_text(value: str) -> str:
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be a decimal number written as text, e.g. '12.34'") from None
    if not parsed.is_finite():
        raise ValueError("must be a finite decimal number, e.g. '12.34'")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
"""A timezone-aware instant, normalised to UTC (Avro ``timestamp-micros``)."""

Currency = Annotated[str, AfterValidator(check_currency)]
"""An ISO 4217 code the hub knows (see ``hub.domain.money.CURRENCY_EXPONENTS``)."""

DecimalText = Annotated[str, AfterValidator(_decimal_text)]
"""A decimal amount kept exactly as the sender wrote it (Partner Center's ``UnitPrice``...)."""

ResellerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]
Quantity = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
