"""Teaching demos: marimo notebooks shipped in the package, served by `techboard demo NAME`.

Each notebook is a plain Python file that marimo runs as an app (sliders, tables, charts) and
that pytest collects as a test module (its `test_*` cells). They drive the real engine: the
numba call auction and book, the fee schedules and listing costs, the instrument valuation and
lifecycle, and the simulator with the studies package.
"""

from __future__ import annotations

from pathlib import Path

DEMOS: dict[str, str] = {
    "auction": "集合竞价：开盘价怎样定出来 · Call auction: how the opening price is set",
    "book": "订单簿：价格优先、时间优先 · The order book: price-time priority, step by step",
    "convertible": "可转债：转股价值、债底和条款 · Convertible bond: value, floor, clauses",
    "costs": "挂牌成本：五年账单 · What listing costs: five years on each board",
    "liquidity": "流动性：两种交易方式对比 · Liquidity: two boards compared in a live study",
}


def notebook(name: str) -> Path:
    """Return the notebook file of a demo; raise KeyError naming the demos on an unknown name."""
    if name not in DEMOS:
        raise KeyError(f"no demo {name!r}; demos: {', '.join(DEMOS)}")
    return Path(__file__).with_name(f"{name}.py")
