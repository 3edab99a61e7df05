"""What listing costs: a firm's listing fees, annual fees and its investors' trading costs over
five years on the tech board against the standard board, with the province's support.

The numbers are exchange.fees.listing_costs.costs, and the table and chart are those of
`techboard costs` (techboard.commands.costs), for the shipped example firm with the audience's
share capital, free float, share price and turnover.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="挂牌成本 · What listing costs")

with app.setup:
    import dataclasses
    import tempfile
    from pathlib import Path

    import marimo as mo

    from exchange.fees.listing_costs import (
        ONE,
        CostLine,
        costs,
        load_board_schedule,
        load_firm,
        load_support,
    )
    from techboard.commands.costs import chart, cny, table
    from techboard.demos.text import bilingual, grid, title

    YEARS = 5
    BOARDS = {name: load_board_schedule(name) for name in ("standard", "techboard")}
    EXAMPLE = load_firm("example")
    SUPPORT = load_support("jilin")
    CNY = 10_000  # 1/10000 CNY units per CNY


@app.function
def totals(lines: list[CostLine]) -> dict[str, dict[str, int]]:
    """Return each board's five-year sums (1/10000 CNY): the firm's fees less waivers, the
    investors' trading fees, the support offsets and the net cost."""
    sums: dict[str, dict[str, int]] = {}
    for line in lines:
        board = sums.setdefault(line.board, {"firm": 0, "trading": 0, "support": 0, "net": 0})
        part = line.category if line.category in ("trading", "support") else "firm"
        board[part] += line.amount
        board["net"] += line.amount
    return sums


@app.cell
def _():
    title("挂牌成本：五年账单", "What listing costs: five years on each board")
    return


@app.cell
def _():
    bilingual(
        f"""
        **{EXAMPLE.description.split(":")[0]}** 打算在区域股权市场挂牌。它要付挂牌费（第一年一次）
        和年费（每年），按股本分档；科技板对科技企业减免年费。投资者每次买卖付交易费用。
        省里对发行可转债、知识产权质押贷款和转板上市有奖励和补贴。
        拖动滑块换成你公司的数字。
        """,
        f"""
        **{EXAMPLE.description.split(":")[0]}** plans to list on the regional equity market. It
        pays a listing fee (year 1) and an annual fee (every year), tiered by share capital; the
        tech board waives annual fees for tech firms. Investors pay trading fees on each trade.
        The province rewards a convertible issue, subsidises IP-pledge loans and rewards a
        later stock-exchange listing. Move the sliders to your firm's numbers.
        """,
    )
    return


@app.cell
def _():
    capital = mo.ui.slider(
        10,
        200,
        step=5,
        value=EXAMPLE.share_capital // 1_000_000,
        label="总股本（百万股） share capital, million",
        show_value=True,
    )
    floating = mo.ui.slider(
        5,
        100,
        step=5,
        value=100 * EXAMPLE.free_float // EXAMPLE.share_capital,
        label="流通比例 % free float",
        show_value=True,
    )
    price = mo.ui.slider(
        1.0,
        50.0,
        step=0.5,
        value=EXAMPLE.share_price / CNY,
        label="股价（元） share price",
        show_value=True,
    )
    turnover = mo.ui.slider(
        10,
        300,
        step=10,
        value=100 * EXAMPLE.turnover_rate // ONE,
        label="年换手率 % turnover a year",
        show_value=True,
    )
    support = mo.ui.checkbox(value=True, label="计入省级扶持 include the province's support")
    mo.vstack([mo.hstack([capital, floating]), mo.hstack([price, turnover]), support])
    return capital, floating, price, support, turnover


@app.cell
def _(capital, floating, price, support, turnover):
    shares = capital.value * 1_000_000
    firm = dataclasses.replace(
        EXAMPLE,
        share_capital=shares,
        free_float=shares * floating.value // 100,
        share_price=round(price.value * CNY),
        turnover_rate=turnover.value * ONE // 100,
    )
    lines = costs(firm, BOARDS, YEARS, SUPPORT if support.value else None)
    sums = totals(lines)
    return firm, lines, sums


@app.cell
def _(firm, sums):
    saved = sums["standard"]["net"] - sums["techboard"]["net"]
    rows = [
        {
            "板块 board": board,
            "企业费用 firm fees": cny(s["firm"]),
            "投资者交易费 investors' trading fees": cny(s["trading"]),
            "扶持抵减 support": cny(s["support"]),
            "五年净成本 net, 5 years": cny(s["net"]),
        }
        for board, s in sums.items()
    ]
    mo.vstack(
        [
            mo.md(
                f"""
                ## 五年合计 · Five years in all (CNY)
                年成交额 yearly turnover **{cny(firm.yearly_turnover)}** 元 ·
                科技板五年少花 the tech board saves **{cny(saved)}** 元 CNY over five years
                """
            ),
            grid(rows),
        ]
    )
    return (saved,)


@app.cell
def _(firm, lines):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "costs.png"
        chart(path, lines, YEARS, firm.name)
        picture = mo.image(path.read_bytes(), alt="listing and trading costs by year")
    mo.vstack(
        [
            mo.md("## 每年明细 · Year by year"),
            picture,
            bilingual(
                "柱子往上是费用，往下是减免和扶持；黑线是净成本。带 * 的金额是假设值，"
                "要由交易所换成正式收费标准。",
                "Bars above zero are costs, below zero waivers and support; the black mark is "
                "the net cost. Items marked * rest on assumed amounts the exchange must replace.",
            ),
            mo.accordion(
                {
                    "命令行的同一张表 · the `techboard costs` table": mo.plain_text(
                        table(lines, YEARS)
                    )
                }
            ),
        ]
    )
    return


@app.cell
def test_the_tech_board_costs_the_example_firm_less():
    _lines = costs(EXAMPLE, BOARDS, YEARS, SUPPORT)
    _sums = totals(_lines)
    assert _sums["standard"]["net"] > _sums["techboard"]["net"]
    assert sum(s["net"] for s in _sums.values()) == sum(line.amount for line in _lines)


@app.cell
def test_support_only_lowers_the_cost(lines, sums):
    assert all(s["support"] <= 0 for s in sums.values())
    assert {line.board for line in lines} == set(BOARDS)


if __name__ == "__main__":
    app.run()
