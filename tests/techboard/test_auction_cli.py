"""`techboard auction`: an order list uncrossed through the numba call auction."""

from __future__ import annotations

import json

import pytest

from techboard.cli import main


def run_auction(tmp_path, capsys, rows: str, *args: str) -> tuple[int, dict | str]:
    orders = tmp_path / "orders.csv"
    orders.write_text("id,side,price,quantity\n" + rows)
    status = main(["auction", str(orders), *args])
    out, err = capsys.readouterr()
    return status, json.loads(out) if status == 0 else err


def test_sse_midpoint_and_every_fill(tmp_path, capsys):
    rows = "a,B,10.05,100\nb,S,10.00,100\nc,B,10.02,50\n"
    status, result = run_auction(tmp_path, capsys, rows)
    assert status == 0
    assert result == {"price": "10.04", "volume": 100, "imbalance": 0,
                      "fills": {"a": 100, "b": 100, "c": 0}}  # fmt: skip


def test_szse_takes_the_tied_price_nearest_the_reference(tmp_path, capsys):
    rows = "a,B,10.05,100\nb,S,10.00,100\n"
    _status, result = run_auction(
        tmp_path, capsys, rows, "--tie-break", "szse", "--reference", "10.01"
    )
    assert result["price"] == "10.01"


def test_partial_fill_in_time_priority(tmp_path, capsys):
    rows = "s1,S,9.98,300\nb1,B,10.00,200\nb2,B,10.00,200\ns2,S,10.00,100\n"
    _status, result = run_auction(tmp_path, capsys, rows)
    assert result["price"] == "10.00" and result["volume"] == 400
    assert result["fills"] == {"s1": 300, "b1": 200, "b2": 200, "s2": 100}
    rows = "s1,S,9.98,300\nb1,B,10.00,200\nb2,B,10.00,200\n"
    _status, result = run_auction(tmp_path, capsys, rows)
    assert result["volume"] == 300 and result["imbalance"] == 100
    assert result["fills"] == {"s1": 300, "b1": 200, "b2": 100}


def test_nothing_crosses(tmp_path, capsys):
    _status, result = run_auction(tmp_path, capsys, "a,B,9.99,100\nb,S,10.00,100\n")
    assert result == {"price": None, "volume": 0, "imbalance": 0, "fills": {"a": 0, "b": 0}}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,B,10.00,100\nb,X,10.00,100\n", "line 3: side 'X' is not B or S"),
        ("a,B,10.005,100\n", "line 2: price 10.005 is not on the 0.01 tick"),
        ("a,B,ten,100\n", "line 2: price 'ten' is not a decimal number"),
        ("a,B,10.00,0\n", "line 2: quantity '0' is not a positive whole number"),
        ("a,B,10.00,100\na,S,10.00,100\n", "line 3: id 'a' is empty or repeated"),
        ("a,B,-1,100\n", "line 2: price '-1' must be positive"),
    ],
)
def test_a_bad_row_is_rejected_with_its_line_number(tmp_path, capsys, rows, message):
    status, err = run_auction(tmp_path, capsys, rows)
    assert status == 2
    assert message in err
