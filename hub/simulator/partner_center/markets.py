"""Partner Center markets in the simulator: a customer's country decides its billing currency.

Partner Center bills a customer in its market's currency (one invoice per billing currency);
an explicit table keeps the simulator from guessing a currency for a market it does not know.
"""

from __future__ import annotations

from hub.connectors.partner_center.errors import ErrorCode
from hub.domain.money import check_currency
from hub.simulator.partner_center.errors import SimError

# The euro area's markets.
_EUR_MARKETS: tuple[str, ...] = (
    *("AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR"),
    *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK"),
)

MARKET_CURRENCIES: dict[str, str] = {
    **dict.fromkeys(_EUR_MARKETS, "EUR"),
    "AU": "AUD",
    "BR": "BRL",
    "CA": "CAD",
    "CH": "CHF",
    "CZ": "CZK",
    "DK": "DKK",
    "GB": "GBP",
    "HU": "HUF",
    "IN": "INR",
    "JP": "JPY",
    "KR": "KRW",
    "MX": "MXN",
    "NO": "NOK",
    "NZ": "NZD",
    "PL": "PLN",
    "SE": "SEK",
    "SG": "SGD",
    "US": "USD",
    "ZA": "ZAR",
}


def market_currency(country: str) -> str:
    """The billing currency of the market ``country`` (ISO 3166 alpha-2), or a 400 naming it."""
    currency = MARKET_CURRENCIES.get(country.strip().upper())
    if currency is None:
        known = ", ".join(sorted(MARKET_CURRENCIES))
        raise SimError(
            400,
            ErrorCode.BAD_REQUEST,
            f"country {country!r} is not a market the simulator sells in; known markets: {known}",
        )
    return check_currency(currency)
