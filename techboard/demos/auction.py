"""Call auction: a few dozen orders, the demand and supply curves, the uncross and who is filled.

The price comes from the numba call auction (techboard.commands.auction.uncross_orders, the
same path as `techboard auction`); the notebook draws the curves and explains the choice.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="集合竞价 · Call auction")

with app.setup:
    from decimal import Decimal

    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np

    from matching_engine.dtypes import Side, TieBreak
    from techboard.commands.auction import uncross_orders
    from techboard.demos.text import bilingual, grid, title

    TICK = 100  # 0.01 CNY in price units
    CNY = 10_000  # price units per CNY
    PREVIOUS_CLOSE = 100_000  # 10.00 CNY
    YOU = "你 YOU"
    Order = tuple[str, Side, int, int]  # id, side, price units, shares


@app.function
def opening_orders() -> list[Order]:
    """Return the 32 orders collected before the open: 16 buys and 16 sells around 10.00."""
    rng = np.random.default_rng(2025)
    orders = []
    for side, code, centre in ((Side.BUY, "B", 100_400), (Side.SELL, "S", 99_600)):
        prices = centre + TICK * rng.integers(-12, 13, 16)
        lots = rng.choice([1, 2, 3, 5, 8, 10, 20], 16)
        orders += [
            (f"{code}{n:02d}", side, int(price), int(lot) * 100)
            for n, (price, lot) in enumerate(zip(prices, lots, strict=True), 1)
        ]
    return orders


@app.function
def price_text(units: int) -> str:
    """Return a price in price units as CNY with two decimals."""
    return f"{Decimal(units) / CNY:.2f}"


@app.function
def curves(orders: list[Order], prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cumulative demand (buys at or above each price) and supply (sells at or
    below each price), in shares."""
    buys = [(p, q) for _, side, p, q in orders if side == Side.BUY]
    sells = [(p, q) for _, side, p, q in orders if side == Side.SELL]
    demand = np.array([sum(q for p, q in buys if p >= price) for price in prices])
    supply = np.array([sum(q for p, q in sells if p <= price) for price in prices])
    return demand, supply


@app.function
def auction(orders: list[Order], tie_break: TieBreak) -> dict:
    """Uncross the orders in the numba call auction (previous close 10.00 as the reference)."""
    return uncross_orders(orders, TICK, PREVIOUS_CLOSE, tie_break)


@app.cell
def _():
    title("集合竞价：开盘价怎样定出来", "Call auction: how the opening price is set")
    return


@app.cell
def _():
    bilingual(
        """
        9:15 到 9:25，交易所只收单、不成交。9:25 一到，所有买单和卖单在**同一个价格**
        一次成交。这个价格让**成交量最大**；成交量相同时，取**剩余未成交最少**的价格；
        还相同，上交所取这些价格的**中间价**，深交所取**最接近前收盘价**的那个。
        下面是开盘前收到的 32 张订单（前收盘价 10.00 元）。
        """,
        """
        From 9:15 to 9:25 the exchange collects orders without trading. At 9:25 every buy and
        sell trades at **one price**: the one with the **largest volume**; among equal volumes,
        the **smallest imbalance** (shares left unfilled); still tied, the SSE takes the
        **midpoint** of those prices, the SZSE the one **nearest the previous close**. Below are
        the 32 orders collected before the open (previous close CNY 10.00).
        """,
    )
    return


@app.cell
def _():
    side = mo.ui.dropdown(
        {"买入 Buy": Side.BUY, "卖出 Sell": Side.SELL}, value="买入 Buy", label="方向 side"
    )
    limit = mo.ui.slider(
        9.80, 10.20, step=0.01, value=10.10, label="限价 limit (CNY)", show_value=True
    )
    shares = mo.ui.slider(
        0, 20_000, step=100, value=0, label="数量 shares (0 = 不下单 none)", show_value=True
    )
    rules = {
        "上交所 SSE: 中间价 midpoint": TieBreak.SSE,
        "深交所 SZSE: 最近前收 nearest previous close": TieBreak.SZSE,
    }
    rule = mo.ui.dropdown(rules, value=next(iter(rules)), label="平局规则 tie-break")
    mo.vstack(
        [
            mo.md("## 你也下一单 · Add your own order"),
            mo.hstack([side, limit]),
            mo.hstack([shares, rule]),
        ]
    )
    return limit, rule, shares, side


@app.cell
def _(limit, rule, shares, side):
    base = opening_orders()
    mine = [(YOU, side.value, round(limit.value * 100) * TICK, shares.value)]
    orders = base + (mine if shares.value else [])
    result = auction(orders, rule.value)
    before = auction(base, rule.value)
    return base, before, orders, result


@app.cell
def _(before, result):
    moved = ""
    if result["price"] != before["price"]:
        moved = f" (没有你的订单 without your order: {before['price']})"
    mo.md(
        f"""
        ## 开盘价 Opening price: **{result["price"] or "—"}** 元 CNY{moved}
        成交量 volume **{result["volume"]:,}** 股 shares ·
        剩余 imbalance **{result["imbalance"]:,}** 股 shares left at that price
        """
    )
    return


@app.cell
def _(orders, result):
    prices = np.arange(min(o[2] for o in orders), max(o[2] for o in orders) + TICK, TICK)
    demand, supply = curves(orders, prices)
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.step(prices / CNY, demand, where="mid", label="demand: buys at or above the price")
    axes.step(prices / CNY, supply, where="mid", label="supply: sells at or below the price")
    if result["price"]:
        axes.axvline(
            float(result["price"]),
            color="black",
            linestyle="--",
            label=f"uncross {result['price']}",
        )
        axes.axhline(
            result["volume"], color="grey", linestyle=":", label=f"volume {result['volume']:,}"
        )
    axes.set_xlabel("price, CNY")
    axes.set_ylabel("shares")
    axes.set_title("cumulative demand and supply")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    mo.as_html(figure)
    return


@app.cell
def _(orders, result):
    levels = sorted({o[2] for o in orders})
    level_demand, level_supply = curves(orders, np.array(levels))
    volumes = np.minimum(level_demand, level_supply)
    imbalances = np.abs(level_demand - level_supply)
    most = volumes.max()
    tied = [p for p, v in zip(levels, volumes, strict=True) if v == most]
    least = min(i for v, i in zip(volumes, imbalances, strict=True) if v == most)
    still = [
        p for p, v, i in zip(levels, volumes, imbalances, strict=True) if v == most and i == least
    ]
    why = [
        {
            "价格 price": price_text(p),
            "买量≥价 demand": f"{int(d):,}",
            "卖量≤价 supply": f"{int(s):,}",
            "可成交 volume": f"{int(v):,}",
            "剩余 imbalance": f"{int(i):,}",
            "开盘价 chosen": "◀" if result["price"] == price_text(p) else "",
        }
        for p, d, s, v, i in zip(
            levels, level_demand, level_supply, volumes, imbalances, strict=True
        )
        if v
    ]
    mo.vstack(
        [
            mo.md("## 为什么是这个价 · Why this price"),
            bilingual(
                f"""
                1. 成交量最大：**{int(most):,}** 股，在 {", ".join(map(price_text, tied))}；
                2. 其中剩余最少：**{int(least):,}** 股，在 {", ".join(map(price_text, still))}；
                3. 仍并列时按平局规则：撮合引擎给出 **{result["price"]}**。
                """,
                f"""
                1. Largest volume: **{int(most):,}** shares, at {", ".join(map(price_text, tied))};
                2. of those, smallest imbalance: **{int(least):,}** shares, at
                   {", ".join(map(price_text, still))};
                3. still tied, the tie-break: the matching engine chose **{result["price"]}**.
                """,
            ),
            grid(why),
        ]
    )
    return (most,)


@app.cell
def _(orders, result):
    def status(filled: int, wanted: int) -> str:
        if filled == wanted:
            return "全部成交 filled"
        return "部分成交 partly filled" if filled else "未成交 not filled"

    fills = [
        {
            "订单 order": oid,
            "方向 side": "买 buy" if side_ == Side.BUY else "卖 sell",
            "限价 limit": price_text(p),
            "数量 shares": f"{q:,}",
            "成交 filled": f"{result['fills'][oid]:,}",
            "结果 result": status(result["fills"][oid], q),
        }
        for oid, side_, p, q in sorted(
            orders, key=lambda o: (o[1], -o[2] if o[1] == Side.BUY else o[2])
        )
    ]
    mo.vstack(
        [
            mo.md("## 谁成交了 · Who is filled"),
            bilingual(
                "买价高于开盘价的买单、卖价低于开盘价的卖单全部成交；正好在开盘价上的订单按"
                "时间先后成交，可能只成交一部分。",
                "Buys above and sells below the price fill in full; orders exactly at the price "
                "fill in time order, the last ones partly or not at all.",
            ),
            grid(fills),
        ]
    )
    return


@app.cell
def test_the_engine_price_has_the_largest_volume(most, result):
    assert result["volume"] == most


@app.cell
def test_fills_balance(orders, result):
    _bought = sum(result["fills"][o[0]] for o in orders if o[1] == Side.BUY)
    _sold = sum(result["fills"][o[0]] for o in orders if o[1] == Side.SELL)
    assert _bought == _sold == result["volume"]


@app.cell
def test_a_large_buy_raises_the_price():
    _plain = opening_orders()
    _eager = [*_plain, (YOU, Side.BUY, 102_000, 20_000)]
    _price = Decimal(auction(_plain, TieBreak.SSE)["price"])
    assert Decimal(auction(_eager, TieBreak.SSE)["price"]) > _price


if __name__ == "__main__":
    app.run()
