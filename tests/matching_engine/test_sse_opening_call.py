"""A real SSE opening call reproduced order by order: Kweichow Moutai (600519), 2023-02-07.

The data is SSE level-2 tick-by-tick data as published by the public repository
fpga2u/AXOrderBook (commit 31411ec6, data/20230207/AX_sbe_sse_600519.zip, a text log). It is not
shipped here: set TECHBOARD_SSE_L2_LOG to the unzipped AX_sbe_sse_600519.log to run this test.
Orders (MsgType 192: 'A' adds, 'D' deletes) entered before 09:25:00 form the call; the trades
(MsgType 191, ExecType 'N') printed at 09:25 are the exchange's own uncross: 1808.08 CNY,
42,718 shares, 334 trades over 1,390 resting orders.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from techboard.cli import main

LOG = os.environ.get("TECHBOARD_SSE_L2_LOG", "")
BUY, ADD, DELETE, AUCTION_TRADE = "66", "65", "68", "78"


def read_call(log: Path) -> tuple[dict[str, tuple[str, int, int]], list[tuple[str, str, int, int]]]:
    """Return the orders resting at 09:25 (id -> side, price, qty) and the 09:25 trades."""
    orders: dict[str, tuple[str, int, int]] = {}
    trades = []
    for line in log.open():
        if not line.startswith("//"):
            continue
        field = dict(re.findall(r"(\w+)=(\S*)", line))
        at = int(field.get("TransactTime", 0))
        if field["MsgType"] == "192" and at < 9_250_000:
            if field["OrdType"] == ADD:
                side = "B" if field["Side"] == BUY else "S"
                orders[field["OrderNo"]] = (side, int(field["Price"]), int(field["OrderQty"]))
            elif field["OrdType"] == DELETE:
                del orders[field["OrderNo"]]
        elif field["MsgType"] == "191" and field["ExecType"] == AUCTION_TRADE and at < 9_300_000:
            buy, sell = field["BidApplSeqNum"], field["OfferApplSeqNum"]
            trades.append((buy, sell, int(field["LastPx"]), int(field["LastQty"])))
    return orders, trades


@pytest.mark.skipif(not LOG, reason="set TECHBOARD_SSE_L2_LOG to the AXOrderBook 600519 log")
def test_numba_call_auction_reproduces_the_sse_opening_of_600519(tmp_path, capsys):
    orders, trades = read_call(Path(LOG))
    orders_csv = tmp_path / "orders.csv"
    rows = [
        f"{oid},{side},{price / 1000:.2f},{qty // 1000}"
        for oid, (side, price, qty) in orders.items()
    ]
    orders_csv.write_text("id,side,price,quantity\n" + "\n".join(rows) + "\n")  # SSE: 3 decimals
    assert main(["auction", str(orders_csv)]) == 0
    ours = json.loads(capsys.readouterr().out)
    fills: Counter[str] = Counter()
    for buy, sell, _, qty in trades:
        fills[buy] += qty // 1000
        fills[sell] += qty // 1000
    assert {price for *_, price, _ in trades} == {1_808_080}
    assert ours["price"] == "1808.08"
    assert ours["volume"] == sum(qty for *_, qty in trades) // 1000 == 42_718
    assert {oid: n for oid, n in ours["fills"].items() if n} == dict(fills)
