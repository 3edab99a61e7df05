"""Fixtures of the venue tests."""

from __future__ import annotations

import pytest

from exchange.calendar import TradingCalendar


@pytest.fixture(scope="session")
def calendar() -> TradingCalendar:
    return TradingCalendar.load()
