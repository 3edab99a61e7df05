"""The order book step by step: orders rest in price-time priority, a market order walks the
book, a cancel, a crossing limit order; the level-2 view and the trade tape after each step.

Every step goes through the numba book (matching_engine.book.NumbaEngine).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="订单簿 · The order book")

with app.setup:
    from decimal import Decimal

    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np

    from matching_engine.api import BookSpec
    from matching_engine.book import NumbaEngine
    from matching_engine.commands import batch, cancel, new
    from matching_engine.dtypes import EventKind, OrderType, Side, TimeInForce
    from matching_engine.reasons import Reason
    from techboard.demos.text import bilingual, grid, title

    CNY = 10_000  # price units per CNY
    BAND = BookSpec(lo=99_000, hi=101_000, tick=100)  # 9.90 .. 10.10 CNY on the 0.01 tick
    NAMES = {1: "S1", 2: "S2", 3: "S3", 4: "S4", 5: "B1", 6: "B2", 7: "B3", 8: "M", 9: "L"}


@app.function
def price_text(units: int) -> str:
    """Return a price in price units as CNY with two decimals."""
    return f"{Decimal(int(units)) / CNY:.2f}"


@app.function
def order(oid: int, side: Side, price: int, shares: int, **kind: int) -> np.ndarray:
    """Return a NEW command of order `oid`, its own owner (so any two orders may trade)."""
    return new(oid, side, price, shares, owner=oid, **kind)


@app.function
def steps(market_shares: int) -> list[tuple[str, str, list[np.ndarray]]]:
    """Return the story: (Chinese, English, commands) per step; the market buy is of
    `market_shares` shares, protected at 10.03."""
    return [
        ("空的订单簿。", "An empty book.", []),
        (
            "四张卖单挂出：S1 10.02 元 300 股，S2 10.01 元 200 股，S3 10.01 元 500 股（比 S2 晚），"
            "S4 10.03 元 400 股。",
            "Four sells rest: S1 300 at 10.02, S2 200 at 10.01, S3 500 at 10.01 (after S2), "
            "S4 400 at 10.03.",
            [
                order(1, Side.SELL, 100_200, 300),
                order(2, Side.SELL, 100_100, 200),
                order(3, Side.SELL, 100_100, 500),
                order(4, Side.SELL, 100_300, 400),
            ],
        ),
        (
            "三张买单挂出：B1 9.99 元 300 股，B2 10.00 元 200 股，B3 10.00 元 100 股（比 B2 晚）。",
            "Three buys rest: B1 300 at 9.99, B2 200 at 10.00, B3 100 at 10.00 (after B2).",
            [
                order(5, Side.BUY, 99_900, 300),
                order(6, Side.BUY, 100_000, 200),
                order(7, Side.BUY, 100_000, 100),
            ],
        ),
        (
            f"市价买单 M 买 {market_shares:,} 股（保护价 10.03）：先吃最低的卖价，同价先到先成交，"
            "一档一档往上走；剩下的撤销。",
            f"A market buy M of {market_shares:,} shares (protected at 10.03) takes the lowest "
            "sell first, at one price the earliest first, walking up level by level; what is "
            "left is cancelled.",
            [
                order(
                    8,
                    Side.BUY,
                    100_300,
                    market_shares,
                    order_type=OrderType.MARKET,
                    tif=TimeInForce.IOC,
                ),
            ],
        ),
        (
            "B2 撤单：同价位的 B3 排到最前面。",
            "B2 cancels: B3 moves to the front at 10.00.",
            [cancel(6, owner=6)],
        ),
        (
            "限价卖单 L 卖 250 股、限价 9.99：先和 10.00 的 B3 成交，再和 9.99 的 B1 成交。"
            "成交价是挂单方的价格。",
            "A limit sell L of 250 at 9.99: it trades with B3 at 10.00 first, then with B1 at "
            "9.99. Each trade is at the resting order's price.",
            [order(9, Side.SELL, 99_900, 250)],
        ),
    ]


@app.function
def replay(story: list, upto: int) -> tuple[NumbaEngine, list[np.ndarray]]:
    """Run the story's commands up to step `upto` through a fresh numba book; return the book
    and each step's events."""
    engine = NumbaEngine([BAND], capacity=16)
    events = [engine.process(batch(*commands)) for _, _, commands in story[1 : upto + 1]]
    return engine, events


@app.function
def describe(event: np.void) -> str:
    """Return one event in plain words, Chinese then English."""
    name = NAMES[int(event["order_id"])]
    shares = int(event["quantity"])
    at = price_text(event["price"])
    if event["kind"] == EventKind.ACCEPTED:
        side = "买 buy" if event["side"] == Side.BUY else "卖 sell"
        return f"收到 accepted: {name} {side} {shares:,} @ {at}"
    if event["kind"] == EventKind.TRADE:
        contra = NAMES[int(event["contra_order_id"])]
        return f"成交 trade: {name} × {contra}, {shares:,} 股 shares @ {at}"
    if event["kind"] == EventKind.CANCELLED:
        why = (
            "撤单 by its owner" if event["reason"] == Reason.CANCELLED_BY_OWNER else "余量撤销 rest"
        )
        return f"撤销 cancelled: {name} {shares:,} 股 shares ({why})"
    return f"{EventKind(int(event['kind'])).name.lower()}: {name}"


@app.cell
def _():
    title("订单簿：价格优先、时间优先", "The order book: price-time priority, step by step")
    return


@app.cell
def _():
    bilingual(
        """
        连续竞价时，订单按**价格优先、时间优先**排队：买价高的、卖价低的排前面；同一价格，先到的排前面。
        新来的订单能成交就马上成交，成交价是**挂在簿上那张订单**的价格。拖动下面的“步骤”，一步一步看。
        """,
        """
        In continuous trading orders queue in **price-time priority**: the highest buy and the
        lowest sell first; at one price, the earliest first. An incoming order trades at once
        when it can, at the **resting order's price**. Move the step slider to walk through.
        """,
    )
    return


@app.cell
def _():
    step = mo.ui.slider(0, 5, value=3, label="步骤 step", show_value=True, full_width=True)
    market = mo.ui.slider(
        100, 1_500, step=100, value=900, label="市价买单股数 market buy, shares", show_value=True
    )
    mo.vstack([step, market])
    return market, step


@app.cell
def _(market, step):
    story = steps(market.value)
    engine, events = replay(story, step.value)
    chinese, english, _ = story[step.value]
    happened = [describe(e) for e in events[-1]] if events else []
    mo.vstack(
        [
            mo.md(f"## 第 {step.value} 步 · Step {step.value}"),
            bilingual(chinese, english),
            mo.md("\n".join(f"- {line}" for line in happened) or "_没有事件 no events_"),
        ]
    )
    return engine, events


@app.cell
def _(engine):
    rows = []
    for side, label in ((Side.SELL, "卖 ask"), (Side.BUY, "买 bid")):
        levels = engine.depth(0, side, 5)
        queue = engine.orders(0, side)
        for level in reversed(levels) if side == Side.SELL else levels:
            waiting = [f"{NAMES[o.order_id]} {o.leaves}" for o in queue if o.price == level.price]
            rows.append(
                {
                    "方 side": label,
                    "价格 price": price_text(level.price),
                    "总量 shares": level.quantity,
                    "笔数 orders": level.orders,
                    "排队 queue (先→后 first→last)": ", ".join(waiting),
                }
            )
    figure, axes = plt.subplots(figsize=(5, 3.6))
    for side, colour in ((Side.BUY, "tab:green"), (Side.SELL, "tab:red")):
        levels = engine.depth(0, side, 5)
        axes.barh(
            [level.price / CNY for level in levels],
            [level.quantity for level in levels],
            height=0.006,
            color=colour,
            label="bids" if side == Side.BUY else "asks",
        )
    axes.set_xlabel("shares")
    axes.set_ylabel("price, CNY")
    axes.set_ylim(9.955, 10.045)
    axes.set_title("level-2 view: five levels a side")
    axes.legend(fontsize=8)
    figure.tight_layout()
    mo.vstack(
        [
            mo.md("## 五档行情 · Level-2 view"),
            mo.hstack(
                [grid(rows), mo.as_html(figure)],
                widths=[1, 1],
            ),
        ]
    )
    return


@app.cell
def _(events):
    tape = [
        {
            "步骤 step": n,
            "买方 buyer": NAMES[int(e["order_id" if e["side"] == Side.BUY else "contra_order_id"])],
            "卖方 seller": NAMES[
                int(e["contra_order_id" if e["side"] == Side.BUY else "order_id"])
            ],
            "价格 price": price_text(e["price"]),
            "股数 shares": int(e["quantity"]),
        }
        for n, step_events in enumerate(events, 1)
        for e in step_events
        if e["kind"] == EventKind.TRADE
    ]
    mo.vstack(
        [
            mo.md("## 成交记录 · Trade tape"),
            grid(tape) if tape else mo.md("_还没有成交 no trades yet_"),
        ]
    )
    return


@app.cell
def test_the_market_order_walks_the_book():
    _, _events = replay(steps(900), 3)
    _trades = _events[-1][_events[-1]["kind"] == EventKind.TRADE]
    _fills = [
        (NAMES[int(t["contra_order_id"])], int(t["price"]), int(t["quantity"])) for t in _trades
    ]
    assert _fills == [("S2", 100_100, 200), ("S3", 100_100, 500), ("S1", 100_200, 200)]


@app.cell
def test_the_cancel_puts_b3_first():
    _engine, _ = replay(steps(900), 4)
    assert [NAMES[o.order_id] for o in _engine.orders(0, Side.BUY)] == ["B3", "B1"]


@app.cell
def test_the_crossing_sell_trades_at_resting_prices():
    _, _events = replay(steps(900), 5)
    _trades = _events[-1][_events[-1]["kind"] == EventKind.TRADE]
    assert [(int(t["price"]), int(t["quantity"])) for t in _trades] == [
        (100_000, 100),
        (99_900, 150),
    ]


if __name__ == "__main__":
    app.run()
