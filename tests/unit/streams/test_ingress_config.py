"""Ingress plausibility limits come from HUB_INGRESS_* settings, with the domain's defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.domain.ingress import Limits
from hub.streams.ingress.config import IngressConfig


def test_without_settings_the_limits_are_the_domains() -> None:
    assert IngressConfig().limits() == Limits()


def test_an_operator_widens_the_event_time_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_INGRESS_EVENT_TIME_PAST_S", str(30 * 86_400))
    monkeypatch.setenv("HUB_INGRESS_MAX_AMOUNT_MINOR", "5000")
    limits = IngressConfig().limits()
    assert limits.event_time_past == timedelta(days=30)
    assert limits.max_amount_minor == 5000
    assert limits.clock_skew == Limits().clock_skew
