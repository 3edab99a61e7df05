"""Volatility halts from the presets' rules, and manual halts."""

from __future__ import annotations

import datetime

import pytest

from exchange.rules.boards import load_board
from exchange.rules.halts import Halt, Halts, VolatilityHalts

DAY = datetime.date(2025, 3, 3)
MINUTE = 60 * 10**9
STAR = load_board("star")


def star_equity(calendar, listing_day=1):
    halts = VolatilityHalts(STAR.rules("equity").halts, calendar, DAY, listing_day, 90_000)
    halts.set_open(100_000)
    return halts


def test_star_first_days_halt_10_minutes_at_30_and_60_percent_from_the_open(calendar):
    halts = star_equity(calendar)
    t = calendar.local_ns(DAY, "10:00")
    assert halts.on_trade(129_900, t) is None
    first = halts.on_trade(130_000, t)
    assert first == Halt(t, t + 10 * MINUTE, "volatility: up 30% from open")
    assert halts.on_trade(135_000, t + 11 * MINUTE) is None  # the 30% rule is spent upward
    second = halts.on_trade(160_000, t + 20 * MINUTE)
    assert second.end - second.start == 10 * MINUTE and "60%" in second.cause
    down = halts.on_trade(70_000, t + 40 * MINUTE)
    assert down is not None and down.cause == "volatility: down 30% from open"


def test_one_jump_spends_every_rule_it_reaches_and_halts_for_the_largest(calendar):
    halts = star_equity(calendar)
    t = calendar.local_ns(DAY, "10:00")
    assert "60%" in halts.on_trade(170_000, t).cause
    assert halts.on_trade(170_000, t + 30 * MINUTE) is None


def test_no_volatility_halts_after_the_first_five_days(calendar):
    halts = star_equity(calendar, listing_day=6)
    assert halts.on_trade(200_000, calendar.local_ns(DAY, "10:00")) is None


def test_a_halt_crossing_14_57_ends_at_14_57_and_none_start_after(calendar):
    halts = star_equity(calendar)
    halt = halts.on_trade(130_000, calendar.local_ns(DAY, "14:50"))
    assert halt.end == calendar.local_ns(DAY, "14:57")
    assert halts.on_trade(170_000, calendar.local_ns(DAY, "14:58")) is None


def test_no_open_no_halt_from_the_open(calendar):
    halts = VolatilityHalts(STAR.rules("equity").halts, calendar, DAY, 1, 100_000)
    assert halts.on_trade(200_000, calendar.local_ns(DAY, "09:25")) is None


def test_convertible_bond_listing_day_halts(calendar):
    rules = STAR.rules("convertible_bond").halts
    halts = VolatilityHalts(rules, calendar, DAY, listing_day=1, previous_close=1_000_000)
    t = calendar.local_ns(DAY, "09:31")
    assert halts.on_trade(1_200_000, t).end == t + 30 * MINUTE
    assert halts.on_trade(1_300_000, t + 31 * MINUTE).end == calendar.local_ns(DAY, "14:57")
    later = VolatilityHalts(rules, calendar, DAY, listing_day=2, previous_close=1_000_000)
    assert later.on_trade(1_300_000, t) is None


def test_manual_halt_and_resume():
    halts = Halts()
    halts.halt(7, start=100)
    assert halts.halted(7, 99) is None
    assert halts.halted(7, 100) == Halt(100, None, "manual")
    assert halts.halted(8, 100) is None
    assert halts.resume(7, 150) == 1
    assert halts.halted(7, 149) is not None and halts.halted(7, 150) is None
    assert halts.resume(7, 200) == 0


def test_recorded_halts_cover_their_span():
    halts = Halts()
    halts.add(1, Halt(10, 20, "volatility"))
    assert [halts.halted(1, t) is not None for t in (9, 10, 19, 20)] == [False, True, True, False]


def test_a_manual_halt_must_end_after_it_starts():
    with pytest.raises(ValueError, match="halt end 5 must be after its start 10"):
        Halts().halt(1, start=10, end=5)
