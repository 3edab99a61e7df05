"""`techboard auction ORDERS.csv`: uncross an order list through the numba call auction."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from decimal import Decimal, InvalidOperation

import numpy as np

from matching_engine.api import BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.commands import batch, new, uncross
from matching_engine.dtypes import EventKind, Phase, Side, TieBreak

PRICE_UNIT = Decimal(10_000)  # price units per CNY
SIDES = {"B": Side.BUY, "S": Side.SELL}


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
    try:
        value = Decimal(text.strip()) * PRICE_UNIT
    except InvalidOperation:
        raise OrderListError(f"{what} {text!r} is not a decimal number") from None
    if value != value.to_integral_value() or value <= 0:
        raise OrderListError(f"{what} {text!r} must be positive, in steps of 0.0001 CNY")
    return int(value)


def read_orders(path: str, tick: int) -> list[tuple[str, Side, int, int]]:
    """Return (id, side, price units, quantity) rows of an order list, checked line by line."""
    orders = []
    seen = set()
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or set(reader.fieldnames) != {
            "id",
            "side",
            "price",
            "quantity",
        }:
            raise OrderListError(
                f"line 1: header {reader.fieldnames} is not id,side,price,quantity"
            )
        for line, row in enumerate(reader, start=2):
            try:
                oid = (row["id"] or "").strip()
                if not oid or oid in seen:
                    raise OrderListError(f"id {oid!r} is empty or repeated")
                side = SIDES.get((row["side"] or "").strip().upper())
                if side is None:
                    raise OrderListError(f"side {row['side']!r} is not B or S")
                price = to_units(row["price"] or "", "price")
                if price % tick:
                    raise OrderListError(f"price {row['price']} is not on the {tick / 10_000} tick")
                quantity = (row["quantity"] or "").strip()
                if not quantity.isdigit() or int(quantity) <= 0:
                    raise OrderListError(f"quantity {quantity!r} is not a positive whole number")
            except OrderListError as error:
                raise OrderListError(f"line {line}: {error}") from None
            seen.add(oid)
            orders.append((oid, side, price, int(quantity)))
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
    for column in ("order_id", "contra_order_id"):
        filled = np.bincount(trades[column], weights=trades["quantity"], minlength=len(ids) + 1)
        for n, oid in enumerate(ids, 1):
            fills[oid] += int(filled[n])
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
        tick = to_units(args.tick, "tick")
        reference = to_units(args.reference, "reference price") if args.reference else 0
        tie_break = TieBreak.SZSE if args.tie_break == "szse" else TieBreak.SSE
        if tie_break == TieBreak.SZSE and not reference:
            raise OrderListError("the SZSE tie-break needs --reference")
        orders = read_orders(args.orders_csv, tick)
    except (OrderListError, OSError) as error:
        print(f"techboard auction: {error}", file=sys.stderr)
        return 2
    print(json.dumps(uncross_orders(orders, tick, reference, tie_break)))
    return 0
