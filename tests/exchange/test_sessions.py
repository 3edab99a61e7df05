"""Session timelines: a full day on each preset has its phases in order; phase checks."""

from __future__ import annotations

import datetime
import itertools

import pytest

from exchange.reasons import VenueReason as V
from exchange.rules.boards import load_board
from exchange.rules.sessions import check_cancel, check_order, phase_at, timeline, uncross_times
from matching_engine.dtypes import Phase

DAY = datetime.date(2025, 3, 3)

FULL_DAYS = {
    "star": [
        ("opening_call", "09:15", "09:20"),
        ("opening_call", "09:20", "09:25"),
        ("pre_open", "09:25", "09:30"),
        ("continuous", "09:30", "11:30"),
        ("lunch_break", "11:30", "13:00"),
        ("continuous", "13:00", "14:57"),
        ("closing_call", "14:57", "15:00"),
        ("post_close", "15:00", "15:05"),
        ("after_hours", "15:05", "15:30"),
    ],
    "regional": [
        ("negotiation", "09:30", "11:30"),
        ("lunch_break", "11:30", "13:00"),
        ("negotiation", "13:00", "15:00"),
    ],
    "techboard-mm": [
        ("market_making", "09:30", "11:30"),
        ("lunch_break", "11:30", "13:00"),
        ("market_making", "13:00", "15:00"),
    ],
}
FULL_DAYS["techboard"] = FULL_DAYS["regional"]


def local(calendar, text):
    return calendar.local_ns(DAY, text)


@pytest.mark.parametrize("board", sorted(FULL_DAYS))
def test_full_day_phases_in_order(calendar, board):
    spans = timeline(load_board(board), calendar, DAY)
    expected = [(p, local(calendar, a), local(calendar, b)) for p, a, b in FULL_DAYS[board]]
    assert [(s.phase, s.start, s.end) for s in spans] == expected


def test_techboard_call_uncrosses_25_times_every_10_minutes(calendar):
    spans = timeline(load_board("techboard-call"), calendar, DAY)
    times = uncross_times(spans)
    assert len(times) == 25
    assert times[0] == local(calendar, "09:30") and times[12] == local(calendar, "11:30")
    assert times[13] == local(calendar, "13:10") and times[-1] == local(calendar, "15:00")
    assert all(b - a == 600 * 10**9 for a, b in itertools.pairwise(times[:13]))
    assert [s.phase for s in spans].count("lunch_break") == 1


def test_star_uncrosses_at_9_25_and_15_00(calendar):
    times = uncross_times(timeline(load_board("star"), calendar, DAY))
    assert times == [local(calendar, "09:25"), local(calendar, "15:00")]


@pytest.mark.parametrize(
    ("time", "phase", "core"),
    [
        ("09:15", "opening_call", Phase.CALL),
        ("09:27", "pre_open", Phase.HALTED),
        ("09:30", "continuous", Phase.CONTINUOUS),
        ("11:30", "lunch_break", Phase.HALTED),
        ("14:59:59", "closing_call", Phase.CALL),
        ("15:10", "after_hours", Phase.HALTED),
    ],
)
def test_phase_at(calendar, time, phase, core):
    span = phase_at(timeline(load_board("star"), calendar, DAY), local(calendar, time))
    assert (span.phase, span.core_phase) == (phase, core)


def test_closed_outside_the_session(calendar):
    spans = timeline(load_board("star"), calendar, DAY)
    assert phase_at(spans, local(calendar, "09:14:59")) is None
    assert phase_at(spans, local(calendar, "15:30")) is None
    assert check_order(None, "limit") == V.MARKET_CLOSED
    assert check_cancel(None) == V.MARKET_CLOSED


@pytest.mark.parametrize(
    ("board", "time", "order", "reason"),
    [
        ("star", "09:16", "market", V.PHASE_REJECTS_ORDER_TYPE),
        ("star", "09:16", "limit", 0),
        ("star", "10:00", "market", 0),
        ("star", "12:00", "limit", V.PHASE_REJECTS_ORDER_TYPE),
        ("star", "14:58", "market", V.PHASE_REJECTS_ORDER_TYPE),
        ("star", "15:10", "limit", V.PHASE_REJECTS_ORDER_TYPE),
        ("star", "15:10", "fixed_price", 0),
        ("regional", "10:00", "limit", V.PHASE_REJECTS_ORDER_TYPE),
        ("regional", "10:00", "intent", 0),
        ("techboard-mm", "10:00", "quote", 0),
        ("techboard-call", "10:05", "market", V.PHASE_REJECTS_ORDER_TYPE),
    ],
)
def test_phase_accepts_order_types(calendar, board, time, order, reason):
    span = phase_at(timeline(load_board(board), calendar, DAY), local(calendar, time))
    assert check_order(span, order) == reason


@pytest.mark.parametrize(
    ("time", "reason"),
    [
        ("09:17", 0),
        ("09:21", V.PHASE_REJECTS_CANCEL),
        ("10:00", 0),
        ("14:58", V.PHASE_REJECTS_CANCEL),
    ],
)
def test_star_cancels_only_before_9_20_in_the_opening_call_and_never_in_the_closing_call(
    calendar, time, reason
):
    span = phase_at(timeline(load_board("star"), calendar, DAY), local(calendar, time))
    assert check_cancel(span) == reason


def test_no_timeline_on_a_holiday(calendar):
    with pytest.raises(ValueError, match="2025-10-01 is not a trading day"):
        timeline(load_board("star"), calendar, datetime.date(2025, 10, 1))
