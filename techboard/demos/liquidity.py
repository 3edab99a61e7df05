"""Liquidity: a small study, run live, comparing continuous trading with periodic call auctions
for one stock; the comparison table and the report's charts.

The runs go through the simulator (simulation.run.simulate, via studies.runner.run_study), the
metrics and comparison through studies.metrics and studies.compare, and the charts are the
study report's (studies.report.write_report). A small population keeps a run to a second or two.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="流动性 · Liquidity")

with app.setup:
    import tempfile
    from pathlib import Path

    import marimo as mo

    from studies.compare import Row, compare, table
    from studies.report import ScenarioInfo, legal_status, write_report
    from studies.runner import RunOutcome, ScenarioSpec, run_study
    from techboard.demos.memo import shared
    from techboard.demos.text import bilingual, grid, title

    BOARDS = {  # scenario name -> (board preset, Chinese, English)
        "continuous": ("star", "连续竞价（科创板规则）", "continuous trading (STAR rules)"),
        "call": ("techboard-call", "每 10 分钟集合竞价一次", "a call auction every 10 minutes"),
    }
    SCENARIO = """
    name = "{name}"
    description = "{english}: {noise} noise and 10 value traders, {makers} market makers"
    start = "2025-03-03"
    [board]
    preset = "{board}"
    [board.overrides.classes.equity]
    lot = {{ minimum = 1, step = 1, odd_lot_sell = true }}  # the agents' odd sizes
    [board.overrides.holder_cap]
    limit = 1_000_000  # a study population, not a 200-holder register
    [[instruments]]
    symbol = "TB0001"
    class = "equity"
    previous_close = 100_000
    shares = 10_000_000
    [fundamental]
    sigma = 1e-6
    [recording]
    quote_interval_s = 10.0
    [[population]]
    kind = "noise"
    count = {noise}
    from = "09:15"
    until = "15:00"
    shares = 5_000
    cash = 10_000_000_000
    [[population]]
    kind = "value"
    count = 10
    lambda_a = 1e-11
    shares = 5_000
    cash = 10_000_000_000
    """
    MAKERS = """
    [[population]]
    kind = "market_maker"
    count = {makers}
    wake_s = 60
    shares = 500_000
    cash = 100_000_000_000
    """
    SHOWN = {  # metric -> Chinese, English
        "quoted_spread_tw_bp": ("买卖价差（基点）", "quoted spread, bp"),
        "depth_best": ("最优价上的挂单量（股）", "shares at the best prices"),
        "volume": ("成交量（股）", "shares traded"),
        "trades": ("成交笔数", "trades"),
        "no_trade_share": ("没有成交的时段占比", "share of intervals without a trade"),
    }


@app.function
def scenario_text(name: str, noise: int, makers: int) -> str:
    """Return the TOML text of one scenario of the demo's study."""
    board, _, english = BOARDS[name]
    fields = {"name": name, "board": board, "english": english, "noise": noise, "makers": makers}
    return (SCENARIO + (MAKERS if makers else "")).format(**fields)


@app.function
def figure(value: float) -> str:
    """Return a metric for the table: whole numbers from 100 on, else two decimals."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


@app.function
@shared
def study(noise: int, makers: int, seeds: int) -> tuple[list[RunOutcome], list[Row], dict]:
    """Run both scenarios over the seeds; return the outcomes, the comparison against
    continuous trading and the report's charts (PNG bytes by title)."""
    specs = [ScenarioSpec(name, scenario_text(name, noise, makers)) for name in BOARDS]
    infos = [ScenarioInfo(name, BOARDS[name][2], BOARDS[name][0]) for name in BOARDS]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        outcomes = run_study(specs, range(seeds), out, workers=1, progress=None)
        rows = compare(outcomes, baseline="continuous")
        report = write_report(
            out, infos, outcomes, rows, baseline="continuous", real=None, fmt="markdown"
        )
        text = report.read_text()
        charts = {}
        for line in text.splitlines():
            if line.startswith("![") and "](chart-" in line:
                name, file = line[2:-1].split("](")
                charts[name] = (out / file).read_bytes()
    return outcomes, rows, charts


@app.cell
def _():
    title("流动性：两种交易方式对比", "Liquidity: two ways of trading compared")
    return


@app.cell
def _():
    bilingual(
        """
        同一只股票、同一群投资者，放在两种交易方式下各跑一个交易日：**连续竞价**（随到随成交，
        科创板规则）和**每 10 分钟一次集合竞价**。比较价差（买一卖一差多少）、挂单深度、成交量。
        价差越小、深度越大，企业的股东买卖越便宜。这是模拟，不是预测；两种方式今天在区域股权市场都还不允许。
        """,
        """
        One stock, one population of investors, one trading day on each of two boards:
        **continuous trading** (orders trade as they arrive, STAR rules) and **a call auction
        every 10 minutes**. Compare the spread (best ask minus best bid), the depth at the best
        prices and the volume: a narrower spread and more depth make trading the firm's shares
        cheaper. A simulation, not a forecast; neither is allowed on a regional market today.
        """,
    )
    return


@app.cell
def _():
    noise = mo.ui.slider(
        50, 300, step=25, value=100, label="散户人数 noise traders", show_value=True
    )
    makers = mo.ui.slider(0, 3, value=1, label="做市商 market makers", show_value=True)
    seeds = mo.ui.slider(1, 3, value=1, label="随机种子数 seeds", show_value=True)
    mo.hstack([noise, makers, seeds])
    return makers, noise, seeds


@app.cell
def _(makers, noise, seeds):
    with mo.status.spinner(title="模拟中 simulating…"):
        outcomes, rows, charts = study(noise.value, makers.value, seeds.value)
    took = sum(o.wall_s for o in outcomes)
    failed = [f"{o.scenario} seed {o.seed}: {o.error}" for o in outcomes if not o.ok]
    mo.md(
        f"{len(outcomes)} 次模拟共用时 {took:.1f} 秒 · {len(outcomes)} runs simulated in "
        f"{took:.1f} s" + "".join(f"\n\n**失败 failed**: {line}" for line in failed)
    )
    return charts, outcomes, rows


@app.cell
def _(rows):
    means = {(r.scenario, r.metric): r.mean for r in rows if r.instrument == "TB0001"}
    headline = [
        {
            "指标 metric": f"{chinese} · {english}",
            **{
                f"{BOARDS[name][1]} · {BOARDS[name][2]}": figure(means.get((name, metric), 0.0))
                for name in BOARDS
            },
        }
        for metric, (chinese, english) in SHOWN.items()
    ]
    mo.vstack(
        [
            mo.md("## 结果 · Results (mean over seeds)"),
            grid(headline),
            mo.md(
                "\n".join(
                    f"- **{name}** ({BOARDS[name][0]}): {legal_status(BOARDS[name][0])}"
                    for name in BOARDS
                )
            ),
        ]
    )
    return (means,)


@app.cell
def _(charts):
    chosen = mo.ui.dropdown(list(charts), value=next(iter(charts)), label="读哪张图 chart")
    return (chosen,)


@app.cell
def _(charts, chosen):
    mo.vstack(
        [
            mo.md("## 报告里的图 · The report's charts"),
            chosen,
            mo.image(charts[chosen.value], alt=chosen.value),
            bilingual(
                "**价格走势**：两种方式下的中间价；**价差和深度分布**：价差越靠左越窄、"
                "深度越靠右越厚；**主要指标**：各指标的均值和 95% 置信区间。",
                "**Price paths**: the mid on each board; **spread and depth**: further left is "
                "a narrower spread, further right more depth; **headline metrics**: each "
                "metric's mean with its 95% confidence interval.",
            ),
        ]
    )
    return


@app.cell
def _(rows):
    header, *lines = table(rows)
    header[-1] = "95% CI of the difference"  # the mean's CI is the other "95% CI"
    every = [dict(zip(header, line, strict=True)) for line in lines]
    mo.accordion({"全部指标 · every metric (studies.compare)": grid(every)})
    return


@app.cell
def test_both_boards_traded_and_the_report_drew_its_charts(charts, means, outcomes):
    assert all(o.ok for o in outcomes)
    assert all(means[name, "trades"] > 0 for name in BOARDS)
    assert "price paths" in charts
    assert all(png.startswith(b"\x89PNG") for png in charts.values())


if __name__ == "__main__":
    app.run()
