"""`techboard value`: prints the valuation, writes JSON and plots, refuses bad terms."""

from __future__ import annotations

import argparse
import json

import pytest

from instruments.terms import example_path
from techboard import cli
from techboard.commands import value


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    value.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


CONVERTIBLE = ["value", "convertible", str(example_path("convertible.toml"))]
MARKET = ["--spot", "10", "--vol", "0.3", "--rate", "0.02", "--spread", "0.03"]


def test_value_is_a_techboard_command():
    assert "value" in cli.COMMANDS


def test_convertible_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "cb.png"
    assert run([*CONVERTIBLE, *MARKET, "--json", "--steps", "200", "--plot", str(plot)]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["method"] == "lattice"
    assert fields["value"] > max(fields["bond_floor"], fields["parity"])
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_convertible_by_monte_carlo_prints_a_table(capsys):
    argv = [*CONVERTIBLE, *MARKET, "--method", "lsmc", "--paths", "256", "--date", "2030-06-03"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "standard_error" in out and "lsmc" in out


def test_preferred_json_and_plot(tmp_path, capsys):
    plot = tmp_path / "pf.png"
    argv = ["value", "preferred", str(example_path("preferred.toml")), "--rate", "0.02"]
    assert run([*argv, "--spread", "0.01", "--json", "--plot", str(plot)]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["call_option"] > 0 and plot.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["value", "convertible", "missing.toml", *MARKET], "missing.toml"),
        (["value", "convertible", str(example_path("preferred.toml")), *MARKET],
         "expected one ConvertibleTerms, found PreferredTerms"),
        ([*CONVERTIBLE, *MARKET[:-1], "-0.5"], "credit_spread -0.5 must not be negative"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_the_reason(argv, message, capsys):
    assert run(argv) == 2
    assert message in capsys.readouterr().err
