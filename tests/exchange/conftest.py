"""Fixtures of the venue tests."""

from __future__ import annotations

import pytest
from exchange_helpers import MONDAY, make_exchange

from exchange.rules.calendar import TradingCalendar
from exchange.venue.exchange import Exchange


@pytest.fixture(scope="session")
def calendar() -> TradingCalendar:
    return TradingCalendar.load()


@pytest.fixture
def star() -> Exchange:
    """Return an Exchange on the `star` preset with Monday's session open."""
    exchange = make_exchange("star")
    exchange.open_day(MONDAY)
    return exchange
