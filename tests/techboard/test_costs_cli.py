"""`techboard costs`: the terminal table, costs.csv and costs.png; bad inputs exit 2."""

from __future__ import annotations

import csv

import pytest

from techboard.cli import main


def test_writes_the_table_the_csv_and_the_chart(tmp_path, capsys):
    assert main(["costs", "--firm", "example", "--years", "3", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "yearly turnover CNY 60,000,000.00" in out
    assert "waiver: tech_firm_first_years *" in out
    # standard, year 1: fees 120,000, trading 67,692, support -100,000
    assert "firm: fees less waivers         120,000.00" in out
    assert "net cost                         87,692.00" in out
    with (tmp_path / "costs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["board"] for r in rows} == {"standard", "techboard"}
    assert {int(r["year"]) for r in rows} == {1, 2, 3}
    bond = next(r for r in rows if r["item"] == "bond_reward" and r["board"] == "techboard")
    assert (bond["year"], bond["amount"], bond["cny"]) == ("2", "-5000000000", "-500000.00")
    stamp = next(r for r in rows if r["item"] == "stamp_duty" and r["board"] == "standard")
    assert (stamp["payer"], stamp["assumption"]) == ("investors", "false")
    assert (tmp_path / "costs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_support_leaves_the_offsets_out(tmp_path, capsys):
    args = ["costs", "--firm", "example", "--boards", "regional", "--no-support"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    with (tmp_path / "costs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["board"] for r in rows} == {"regional"}
    assert not [r for r in rows if r["category"] == "support"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--boards", "nyse"], "unknown board 'nyse'; allowed: fee schedules standard, techboard"),
        (["--years", "0"], "--years: got 0; allowed: 1 or more"),
        (["--support", "mars"], "unknown support measures preset 'mars'; presets: jilin"),
    ],
)
def test_bad_arguments_exit_2_naming_what_is_allowed(tmp_path, capsys, args, message):
    assert main(["costs", "--firm", "example", "--out", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "costs.csv").exists()


def test_a_bad_firm_file_exits_2_naming_the_key(tmp_path, capsys):
    firm = tmp_path / "firm.toml"
    firm.write_text('extends = "example"\nturnover_rate = -1\n')
    assert main(["costs", "--firm", str(firm), "--out", str(tmp_path)]) == 2
    assert "turnover_rate -1 is below 0; allowed: 0 or more" in capsys.readouterr().err
