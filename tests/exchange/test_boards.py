"""Board presets: every shipped preset loads with its rules; user files extend and are checked."""

from __future__ import annotations

import pytest

from exchange.rules.boards import board_presets, load_board
from exchange.schema import SchemaError, deep_merge

PRESETS = ["regional", "star", "techboard", "techboard-call", "techboard-mm"]


def test_the_five_presets_ship():
    assert board_presets() == sorted(PRESETS)


@pytest.mark.parametrize(
    ("name", "status", "mechanism"),
    [
        ("regional", "compliant", "negotiated"),
        ("techboard", "compliant", "negotiated"),
        ("techboard-call", "counterfactual", "call"),
        ("techboard-mm", "counterfactual", "market_maker"),
        ("star", "reference", "continuous"),
    ],
)
def test_preset_mechanism_and_legal_status(name, status, mechanism):
    board = load_board(name)
    assert board.name == name
    assert board.legal_status == status
    assert {rules.mechanism for rules in board.classes.values()} == {mechanism}


def test_star_rules():
    star = load_board("star")
    equity, bond = star.rules("equity"), star.rules("convertible_bond")
    assert (equity.tick, equity.lot.minimum, equity.lot.step) == (100, 200, 1)
    assert (equity.size.limit_max, equity.size.market_max) == (100_000, 50_000)
    assert equity.cage.pct == 2_000_000 and equity.holding.min_days == 1
    assert equity.price_limits.band.up == 20_000_000
    assert not equity.price_limits.first_days[0].limited
    assert (bond.tick, bond.lot.minimum, bond.lot.step, bond.holding.min_days) == (10, 10, 10, 0)
    assert star.holder_cap.limit is None and star.settlement_cycle_days == 1


def test_regional_rules_and_techboard_inherits_them():
    regional, techboard = load_board("regional"), load_board("techboard")
    for board in (regional, techboard):
        assert board.holder_cap.limit == 200
        assert board.rules("equity").holding.round_trip_days == 5
        assert board.eligibility.individual_min_assets == 500_000 * 10_000
        assert board.rules("equity").price_limits.band.down == 50_000_000
    assert regional.fee_schedule == "standard" and techboard.fee_schedule == "techboard"
    assert "preferred_share" in techboard.classes and "preferred_share" not in regional.classes
    assert techboard.negotiation.public_quote_board and not regional.negotiation.public_quote_board


def test_mm_preset_exempts_makers_and_carries_obligations():
    board = load_board("techboard-mm")
    assert board.rules("equity").holding.exempt == ("market_maker",)
    assert board.market_making.max_spread == 5_000_000
    assert board.market_making.min_two_sided_share == 75_000_000


def test_unknown_class_names_the_listed_ones():
    with pytest.raises(KeyError, match="lists no class 'preferred_share'; it lists equity"):
        load_board("star").rules("preferred_share")


def test_deep_merge_merges_tables_and_replaces_other_values():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [3]}, "e": 2}) == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def write(tmp_path, text, name="mine.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_file_extends_a_preset_and_overrides_one_field(tmp_path):
    path = write(
        tmp_path,
        'extends = "techboard"\n[classes.equity.holding]\nmin_days = 1\nround_trip_days = 0\n',
    )
    board = load_board(path)
    base = load_board("techboard")
    assert board.name == "mine"
    assert board.rules("equity").holding.min_days == 1
    assert board.rules("equity").holding.round_trip_days == 0
    assert board.rules("equity").lot == base.rules("equity").lot
    assert board.rules("convertible_bond") == base.rules("convertible_bond")


def test_user_file_may_extend_another_user_file(tmp_path):
    write(tmp_path, 'extends = "star"\n[holder_cap]\nlimit = 50\n', "base.toml")
    path = write(tmp_path, 'extends = "base.toml"\nfee_schedule = "techboard"\n')
    board = load_board(path)
    assert (board.holder_cap.limit, board.fee_schedule) == (50, "techboard")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "colour = 1",
            "unknown key 'colour' in the top level; allowed keys: name, description,",
        ),
        (
            "[classes.equity]\nticks = 5",
            r"unknown key 'ticks' in \[classes.equity\]; allowed keys: mechanism, tick, lot,",
        ),
        (
            "[classes.equity.lot]\nmin = 5",
            r"unknown key 'min' in \[classes.equity.lot\]; allowed keys: minimum, step",
        ),
        (
            "[[session]]\nphase = 'continuous'\nstart = '09:30'\nend = '10:00'\nfoo = 1",
            r"unknown key 'foo' in \[session\[0\]\]; allowed keys: phase, start, end, orders",
        ),
        (
            "[classes.warrant]\ntick = 1",
            "classes key: got 'warrant'; allowed: 'equity', 'convertible_bond', 'preferred_share'",
        ),
        (
            "[classes.equity]\ntick = '0.01'",
            "classes.equity.tick: got '0.01' \\(str\\); expected an integer",
        ),
        (
            "[classes.equity]\ntick = true",
            "classes.equity.tick: got True \\(bool\\); expected an integer",
        ),
        ("[classes.equity]\ntick = 0", r"\[classes.equity\]: tick 0 must be positive"),
        (
            "[classes.equity]\nmechanism = 'dark_pool'",
            "classes.equity.mechanism: got 'dark_pool'; allowed: 'continuous', 'call',",
        ),
        (
            "legal_status = 'legal'",
            "legal_status: got 'legal'; allowed: 'compliant', 'counterfactual'",
        ),
        ("sources = 'S1'", "sources: expected a list, got 'S1'"),
        ("[holder_cap]\nlimit = -1", r"\[holder_cap\]: limit -1 must be positive"),
        (
            "[classes.equity.price_limits.band]\ndown = 100_000_000",
            r"down 100000000 must be below 100000000 \(100%\)",
        ),
        (
            "[classes.equity.price_limits]\nfirst_days = [{through_day = 5, limited = false},"
            " {through_day = 2, limited = false}]",
            r"first_days through_day \[5, 2\] must strictly increase",
        ),
        (
            "fee_schedule = 'cheap'",
            "unknown fee schedule preset 'cheap'; presets: standard, techboard",
        ),
        ("name = 'other'", "key 'name' is not allowed"),
        (
            "[[session]]\nphase = 'continuous'\nstart = '9:30'\nend = '10:00'",
            r"time '9:30' is not HH:MM",
        ),
        (
            "[[session]]\nphase = 'continuous'\nstart = '10:00'\nend = '09:30'",
            "phase continuous ends at 09:30, not after 10:00",
        ),
        (
            "session = [{phase = 'continuous', start = '10:00', end = '11:00'},"
            " {phase = 'continuous', start = '10:30', end = '12:00'}]",
            "starts before continuous ends at 11:00",
        ),
        (
            "session = [{phase = 'periodic_call', start = '09:30', end = '09:45',"
            " uncross = true, interval_minutes = 10}]",
            "is not a whole number of 10-minute intervals",
        ),
        (
            "[market_making]\nmax_spread = 1",
            r"missing key 'max_spread_ticks' in \[market_making\]",
        ),
    ],
)
def test_every_bad_field_is_named_with_the_value_and_what_is_allowed(tmp_path, text, message):
    path = write(tmp_path, f'extends = "star"\n{text}\n')
    with pytest.raises(SchemaError, match=message):
        load_board(path)


def test_a_board_without_negotiation_table_cannot_trade_by_negotiation(tmp_path):
    path = write(tmp_path, 'extends = "star"\n[classes.equity]\nmechanism = "negotiated"\n')
    with pytest.raises(SchemaError, match=r"trades by negotiated: the board needs \[negotiation\]"):
        load_board(path)


def test_a_file_without_extends_must_give_every_required_key(tmp_path):
    with pytest.raises(SchemaError, match="missing key 'description' in the top level"):
        load_board(write(tmp_path, "legal_status = 'reference'\n"))


def test_extends_cycles_unknown_presets_and_missing_files_are_named(tmp_path):
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(SchemaError, match="board extends itself"):
        load_board(tmp_path / "a.toml")
    with pytest.raises(
        SchemaError, match="unknown board preset 'nasdaq'; presets: regional, star,"
    ):
        load_board("nasdaq")
    with pytest.raises(SchemaError, match="does not exist"):
        load_board(tmp_path / "missing.toml")
    with pytest.raises(SchemaError, match="extends must be a preset name or a path, got 3"):
        load_board(write(tmp_path, "extends = 3\n"))
