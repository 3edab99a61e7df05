"""The matching core's input limits, the same in both engines: refused rows change nothing."""

from __future__ import annotations

import pytest

from matching_engine import commands
from matching_engine.api import MAX_LEVELS, MAX_PRICE, MAX_QUANTITY, BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import EventKind, Phase, Side, TieBreak
from matching_engine.reasons import Reason
from matching_engine.reference_book import ReferenceEngine

ENGINES = [NumbaEngine, ReferenceEngine]
SPEC = BookSpec(100, 10_000, 100, TieBreak.SZSE, Phase.CALL)


def reasons(events) -> list[int]:
    return [int(e["reason"]) for e in events if e["kind"] == EventKind.REJECTED]


@pytest.mark.parametrize("engine_class", ENGINES)
def test_quantities_above_the_limit_are_refused_and_change_nothing(engine_class):
    engine = engine_class([SPEC])
    engine.process(commands.batch(commands.new(1, Side.BUY, 1_000, MAX_QUANTITY)))
    before = engine.state_hash()
    events = engine.process(
        commands.batch(
            commands.new(2, Side.BUY, 1_000, MAX_QUANTITY + 1),
            commands.new(3, Side.SELL, 1_000, 2**62),
            commands.replace(1, 1_000, MAX_QUANTITY + 1),
        )
    )
    assert reasons(events) == [Reason.INVALID_QUANTITY] * 3
    assert engine.state_hash() == before


@pytest.mark.parametrize("engine_class", ENGINES)
@pytest.mark.parametrize("reference", [0, -(2**63), MAX_PRICE + 1])
def test_szse_reference_outside_the_price_range_is_refused(engine_class, reference):
    engine = engine_class([SPEC])
    events = engine.process(commands.batch(commands.uncross(reference=reference)))
    assert reasons(events) == [Reason.MISSING_REFERENCE_PRICE]


@pytest.mark.parametrize(
    ("lo", "hi", "tick", "message"),
    [
        (1, MAX_LEVELS + 1, 1, "16,777,217 ticks; a book holds at most 16,777,216"),
        (1, MAX_PRICE + 1, 1, "above the highest price"),
        (100, 10**17, 100, "above the highest price"),
    ],
)
def test_a_band_past_the_limits_is_refused_before_any_allocation(lo, hi, tick, message):
    with pytest.raises(ValueError, match=message):
        BookSpec(lo, hi, tick)


def test_the_widest_band_allowed_builds():
    engine = NumbaEngine([BookSpec(1, MAX_LEVELS, 1)])
    assert engine.best(0).bid_price == 0
