"""`techboard auction ORDERS.csv`: uncross an order list through the numba call auction."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import BinaryIO

import numpy as np

from matching_engine.api import MAX_LEVELS, MAX_PRICE, MAX_QUANTITY, BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.commands import batch, new, uncross
from matching_engine.dtypes import EventKind, Phase, Side, TieBreak

PRICE_UNIT = Decimal(10_000)  # price units per CNY
SIDES = {"B": Side.BUY, "S": Side.SELL}
HEADER = ("id", "side", "price", "quantity")
MAX_ROWS = 1_000_000  # orders in one list
MAX_LINE_BYTES = 4096  # bytes in one line of the file
DECIMAL = re.compile(r"-?[0-9]{1,24}(\.[0-9]{1,24})?", re.ASCII)
WHOLE = re.compile(r"[0-9]{1,24}", re.ASCII)


class OrderListError(ValueError):
    """A row of the order list that cannot be an order; the message names its line."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `auction` subcommand."""
    parser = subparsers.add_parser("auction", help="uncross an order list (call auction)")
    parser.add_argument("orders_csv", help="CSV with header id,side,price,quantity")
    parser.add_argument("--tick", default="0.01", help="tick in CNY (default 0.01)")
    parser.add_argument("--reference", help="reference price in CNY (SZSE tie-break)")
    parser.add_argument("--tie-break", choices=("sse", "szse"), default="sse")
    parser.set_defaults(func=run)


def to_units(text: str, what: str) -> int:
    """Return a CNY decimal as integer price units, or raise naming what was wrong."""
    text = text.strip()
    if not DECIMAL.fullmatch(text):
        raise OrderListError(
            f"{what} {text[:40]!r} is not a decimal number (ASCII digits, such as 10.05)"
        )
    value = Decimal(text) * PRICE_UNIT
    if value != value.to_integral_value() or value <= 0:
        raise OrderListError(f"{what} {text!r} must be positive, in steps of 0.0001 CNY")
    if value > MAX_PRICE:
        raise OrderListError(
            f"{what} {text} is above the highest price {Decimal(MAX_PRICE) / PRICE_UNIT} CNY"
        )
    return int(value)


def _lines(handle: BinaryIO) -> Iterator[str]:
    """Yield the file's lines as text, refusing bytes that are not UTF-8 and overlong lines."""
    for number in range(1, MAX_ROWS + 2):  # the header and MAX_ROWS orders
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES:
            raise OrderListError(f"line {number}: longer than {MAX_LINE_BYTES} bytes")
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            byte = raw[error.start]
            raise OrderListError(
                f"line {number}: byte 0x{byte:02x} at column {error.start + 1} is not UTF-8 text"
            ) from None
        yield text
    raise OrderListError(f"more than {MAX_ROWS:,} orders; a list holds at most {MAX_ROWS:,}")


def _order(row: list[str], columns: dict[str, int], tick: int) -> tuple[str, Side, int, int]:
    """Return one row as (id, side, price units, quantity), or raise naming the field."""
    if len(row) != len(HEADER):
        raise OrderListError(f"{len(row)} fields, expected {len(HEADER)} ({','.join(HEADER)})")
    oid, side_text, price_text, quantity = (row[columns[name]].strip() for name in HEADER)
    side = SIDES.get(side_text.upper())
    if side is None:
        raise OrderListError(f"side {side_text[:40]!r} is not B or S")
    price = to_units(price_text, "price")
    if price % tick:
        raise OrderListError(f"price {price_text} is not on the {tick / 10_000} tick")
    if not WHOLE.fullmatch(quantity) or not 0 < int(quantity) <= MAX_QUANTITY:
        raise OrderListError(
            f"quantity {quantity[:40]!r} is not a positive whole number up to {MAX_QUANTITY:,}"
        )
    return oid, side, price, int(quantity)


def read_orders(path: str, tick: int) -> list[tuple[str, Side, int, int]]:
    """Return (id, side, price units, quantity) rows of an order list, checked line by line.

    Raise OrderListError naming the line and field of the first row that breaks a limit: UTF-8
    text, lines of at most MAX_LINE_BYTES, at most MAX_ROWS orders, prices up to MAX_PRICE,
    quantities up to MAX_QUANTITY, and a price range of at most MAX_LEVELS ticks.
    """
    orders = []
    lines: dict[str, int] = {}
    with open(path, "rb") as handle:
        reader = csv.reader(_lines(handle))
        try:
            header = [name.strip() for name in next(reader, [])]
            if sorted(header) != sorted(HEADER):
                raise OrderListError(f"line 1: header {header!r} is not {','.join(HEADER)}")
            columns = {name: header.index(name) for name in HEADER}
            for row in reader:
                if not row:
                    continue
                try:
                    order = _order(row, columns, tick)
                    if not order[0] or order[0] in lines:
                        raise OrderListError(f"id {order[0][:40]!r} is empty or repeated")
                except OrderListError as error:
                    raise OrderListError(f"line {reader.line_num}: {error}") from None
                lines[order[0]] = reader.line_num
                orders.append(order)
        except csv.Error as error:
            raise OrderListError(f"line {reader.line_num}: {error}") from None
    if orders:
        low = min(orders, key=lambda order: order[2])
        high = max(orders, key=lambda order: order[2])
        ticks = (high[2] - low[2]) // tick + 1
        if ticks > MAX_LEVELS:
            raise OrderListError(
                f"lines {lines[low[0]]} and {lines[high[0]]}: prices from {low[2] / PRICE_UNIT} to "
                f"{high[2] / PRICE_UNIT} span {ticks:,} ticks; a book holds at most {MAX_LEVELS:,}"
            )
    return orders


def uncross_orders(
    orders: list[tuple[str, Side, int, int]], tick: int, reference: int, tie_break: TieBreak
) -> dict:
    """Uncross the orders in one call auction; return price, volume, imbalance and fills."""
    fills = {oid: 0 for oid, *_ in orders}
    if not orders:
        return {"price": None, "volume": 0, "imbalance": 0, "fills": fills}
    prices = [price for _, _, price, _ in orders]
    spec = BookSpec(min(prices), max(prices), tick, tie_break=tie_break, phase=Phase.CALL)
    engine = NumbaEngine([spec], capacity=len(orders))
    commands = [
        new(n, side, price, quantity, owner=n)
        for n, (_, side, price, quantity) in enumerate(orders, 1)
    ]
    commands.append(uncross(then=Phase.CALL, reference=reference or 0))
    events = engine.process(batch(*commands))
    result = events[events["kind"] == EventKind.UNCROSSED][0]
    trades = events[events["kind"] == EventKind.TRADE]
    ids = [oid for oid, *_ in orders]
    filled = np.zeros(len(ids) + 1, np.int64)
    for column in ("order_id", "contra_order_id"):
        np.add.at(filled, trades[column], trades["quantity"])
    for n, oid in enumerate(ids, 1):
        fills[oid] = int(filled[n])
    decimals = max(0, -Decimal(tick).scaleb(-4).normalize().as_tuple().exponent)
    price = None
    if result["quantity"]:
        price = f"{Decimal(int(result['price'])) / PRICE_UNIT:.{decimals}f}"
    return {
        "price": price,
        "volume": int(result["quantity"]),
        "imbalance": int(result["leaves"]),
        "fills": fills,
    }


def run(args: argparse.Namespace) -> int:
    """Print the uncross result as one JSON object; exit 2 on a bad order list."""
    try:
        tick = to_units(args.tick, "--tick")
        reference = to_units(args.reference, "--reference") if args.reference else 0
        tie_break = TieBreak.SZSE if args.tie_break == "szse" else TieBreak.SSE
        if tie_break == TieBreak.SZSE and not reference:
            raise OrderListError("the SZSE tie-break needs --reference")
    except OrderListError as error:
        print(f"techboard auction: {error}", file=sys.stderr)
        return 2
    try:
        orders = read_orders(args.orders_csv, tick)
    except OrderListError as error:
        print(f"techboard auction: {args.orders_csv}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"techboard auction: {error}", file=sys.stderr)
        return 2
    print(json.dumps(uncross_orders(orders, tick, reference, tie_break)))
    return 0
