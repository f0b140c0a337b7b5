"""argparse types for what people type: a bad value is a usage error (exit 2) naming the value
and the form expected, never a traceback from deep inside a command."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def iso_date(text: str) -> date:
    """``YYYY-MM-DD``, a real day of the calendar."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: write YYYY-MM-DD, a day that exists (e.g. 2026-02-28)"
        ) from None


def iso_date_text(text: str) -> str:
    """Checked like :func:`iso_date`; kept as the text for commands that parse it themselves."""
    return iso_date(text).isoformat()


def period(text: str) -> str:
    """A billing month, ``YYYY-MM`` with a two-digit month 01-12."""
    if not _PERIOD.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a billing period: write YYYY-MM with a two-digit month (e.g. 2026-01)"
        )
    return text.strip()


def aware_time(text: str) -> str:
    """An ISO 8601 time with a zone (``2026-03-03T08:00:00Z``); kept as text."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: write ISO 8601 with a zone, e.g. 2026-03-03T08:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no zone: add one, e.g. {value.isoformat()}Z or +01:00"
        )
    return value.astimezone(UTC).isoformat()


def amount(text: str) -> str:
    """A positive decimal amount in major units (``191.59``); kept as text."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an amount: write a decimal number, e.g. 191.59"
        ) from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an amount must be more than 0")
    return text.strip()


def reseller_id(text: str) -> str:
    """A reseller id that can be part of a topic name."""
    from hub.topics import check_reseller_id

    try:
        return check_reseller_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def port(text: str) -> int:
    """A TCP port number, 1-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value
