"""`techboard auction` on hostile order lists: a one-line error or the reference book's answer.

Random bytes, huge and non-finite numbers, unicode digits, truncated rows, BOMs and CRLF go in;
what comes out is either exit status 2 with one line naming the file and line, or the same
price, volume, imbalance and fills as the reference book (sortedcontainers, Python integers).
A wide price range is refused before anything is allocated; a subprocess under an address-space
limit proves it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching_engine import commands
from matching_engine.api import MAX_QUANTITY, BookSpec
from matching_engine.dtypes import EventKind, Phase, TieBreak
from matching_engine.reference_book import ReferenceEngine
from techboard.cli import main
from techboard.commands.auction import read_orders

HEADER = "id,side,price,quantity"
TICK = 100

numbers = st.one_of(
    st.integers(1, 30).map(lambda n: f"{Decimal(10) + Decimal(n) / 100}"),  # valid prices
    st.integers(1, 5).map(str),
    st.sampled_from(["inf", "-inf", "nan", "1e5", "²", "１０", "10.005", "0", "-1", "", " "]),
    st.sampled_from([str(2**70), str(2**63), str(MAX_QUANTITY), str(MAX_QUANTITY + 1)]),
    st.text(max_size=6),
)
rows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e", ""]),
        st.sampled_from(["B", "S", "b", "X", ""]),
        numbers,
        numbers,
    ).map(lambda row: ",".join(row)),
    max_size=8,
)


def reference_answer(orders, tie_break: TieBreak, reference: int) -> dict:
    """Uncross the orders in the reference book; return the CLI's result fields."""
    prices = [price for _, _, price, _ in orders]
    engine = ReferenceEngine([BookSpec(min(prices), max(prices), TICK, tie_break, Phase.CALL)])
    rows = [commands.new(n, side, p, q, owner=n) for n, (_, side, p, q) in enumerate(orders, 1)]
    uncross = commands.uncross(then=Phase.CALL, reference=reference)
    events = engine.process(commands.batch(*rows, uncross))
    result = events[events["kind"] == EventKind.UNCROSSED][0]
    fills = {oid: 0 for oid, *_ in orders}
    for trade in events[events["kind"] == EventKind.TRADE]:
        for n in (trade["order_id"], trade["contra_order_id"]):
            fills[orders[n - 1][0]] += int(trade["quantity"])
    price = f"{Decimal(int(result['price'])) / 10_000:.2f}" if result["quantity"] else None
    return {"price": price, "volume": int(result["quantity"]),
            "imbalance": int(result["leaves"]), "fills": fills}  # fmt: skip


def check(path, capsys, tie_break: str = "sse") -> None:
    """Run the command on `path`; assert a clean one-line error or the reference answer."""
    status = main(["auction", str(path), "--tie-break", tie_break, "--reference", "10.10"])
    out, err = capsys.readouterr()
    if status == 2:
        assert out == "" and err.count("\n") == 1 and str(path) in err and "line" in err, err
        return
    assert status == 0, err
    orders = read_orders(str(path), TICK)
    expected = {"price": None, "volume": 0, "imbalance": 0, "fills": {}}
    if orders:
        expected = reference_answer(orders, TieBreak[tie_break.upper()], 101_000)
    assert json.loads(out) == expected


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows, bom=st.booleans(), crlf=st.booleans(), cut=st.integers(0, 400),
       tie_break=st.sampled_from(["sse", "szse"]))  # fmt: skip
def test_a_mangled_order_list_errs_in_one_line_or_matches_the_reference_book(
    tmp_path, capsys, rows, bom, crlf, cut, tie_break
):
    newline = "\r\n" if crlf else "\n"
    text = ("\ufeff" if bom else "") + newline.join([HEADER, *rows]) + newline
    data = text.encode()
    path = tmp_path / "orders.csv"
    path.write_bytes(data[: len(data) - cut % (len(data) + 1) // 3])  # sometimes truncated
    check(path, capsys, tie_break)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=200))
def test_random_bytes_after_the_header_never_raise(tmp_path, capsys, junk):
    path = tmp_path / "orders.csv"
    path.write_bytes(HEADER.encode() + b"\n" + junk)
    check(path, capsys)


def test_many_huge_orders_cross_correctly(tmp_path, capsys):
    """Sums past 2**63 are impossible at the limits: 2,000 buys of MAX_QUANTITY still uncross."""
    buys = [f"b{n},B,10.00,{MAX_QUANTITY}" for n in range(2_000)]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([HEADER, *buys, "s,S,10.00,100"]) + "\n")
    check(path, capsys)
    assert main(["auction", str(path)]) == 0
    assert '"price": "10.00", "volume": 100' in capsys.readouterr().out


def test_over_the_limit_quantity_names_its_line_and_the_limit(tmp_path, capsys):
    path = tmp_path / "orders.csv"
    buys = "a,B,10.00,5000000000000000000\nb,B,10.00,5000000000000000000\n"
    path.write_text(f"{HEADER}\n{buys}c,S,10.00,100\n")
    assert main(["auction", str(path)]) == 2
    assert (
        "line 2: quantity '5000000000000000000' is not a positive whole number up to 4,294,967,295"
        in (capsys.readouterr().err)
    )


def run_limited(path, limit_bytes: int) -> subprocess.CompletedProcess:
    """Run `techboard auction path` in a subprocess whose address space is capped."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    code = "import sys; from techboard.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, "auction", str(path)],
        capture_output=True, text=True, preexec_fn=cap, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,B,0.01,100\nb,S,9999999.99,100\n", "span 999,999,999 ticks; a book holds at most"),
        ("a,B,0.01,100\nb,S,50000000000000000.00,100\n", "above the highest price"),
    ],
    ids=["60-GiB-ladder", "10^17-ticks"],
)
def test_a_wide_price_range_is_refused_under_a_memory_cap(tmp_path, rows, message):
    path = tmp_path / "orders.csv"
    path.write_text(f"{HEADER}\n{rows}")
    done = run_limited(path, 3 * 2**30)
    assert done.returncode == 2 and message in done.stderr, done.stderr


@pytest.mark.slow
@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(rows, min_size=1, max_size=4).map(
        lambda parts: [r for part in parts for r in part]
    ),
    crlf=st.booleans(),
)
def test_soak_long_mangled_lists(tmp_path, capsys, rows, crlf):
    path = tmp_path / "orders.csv"
    path.write_text(("\r\n" if crlf else "\n").join([HEADER, *rows]))
    check(path, capsys, "sse")
