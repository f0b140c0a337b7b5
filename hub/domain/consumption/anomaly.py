"""The anomaly rule: a customer's day of spend far above its recent normal.

A day is anomalous when its spend is more than ``factor`` times the median of the trailing
days (those before it, at most ``window``), once there are at least ``min_days`` of them and
the median is above zero: a new customer's first days or an idle one are not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import median


@dataclass(frozen=True)
class AnomalyRule:
    factor: Decimal = Decimal(3)
    window: int = 14
    min_days: int = 5


def trailing_median(trailing: Sequence[int], rule: AnomalyRule) -> Decimal | None:
    """The median of the last ``window`` trailing days, or None with too few of them."""
    recent = list(trailing)[-rule.window :]
    if len(recent) < rule.min_days:
        return None
    return Decimal(median(sorted(recent)))


def exceeds(day_minor: int, median: Decimal | None, rule: AnomalyRule) -> bool:
    """``day_minor`` is above ``factor`` times a positive trailing ``median``."""
    if median is None or median <= 0:
        return False
    return Decimal(day_minor) > rule.factor * median


def is_anomaly(day_minor: int, trailing: Sequence[int], rule: AnomalyRule) -> bool:
    return exceeds(day_minor, trailing_median(trailing, rule), rule)
