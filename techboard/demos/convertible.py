"""A convertible bond: conversion value, bond floor, premium and the price against the share
price; what a downward reset, a conditional call and a put do; converting a holding.

Values come from the binomial lattice (instruments.convertible_lattice), clauses and the
conversion from instruments.lifecycle, on the shipped example terms (instruments/data).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="可转债 · Convertible bond")

with app.setup:
    import dataclasses
    import datetime
    from decimal import Decimal

    import marimo as mo
    import matplotlib.pyplot as plt
    import numpy as np

    from instruments.convertible_lattice import value_lattice
    from instruments.lifecycle import (
        ClauseTriggered,
        RevisionProposed,
        clause_events,
        convert,
        redemption_payments,
    )
    from instruments.terms import (
        RATE_SCALE,
        UNITS_PER_CNY,
        ConvertibleTerms,
        example_path,
        load_one,
    )
    from instruments.valuation import ConvertibleValue, Market
    from techboard.demos.text import bilingual, title

    TERMS = load_one(example_path("convertible.toml"), ConvertibleTerms)
    VALUED = datetime.date(2026, 3, 17)  # one year after issue
    RATE = 0.02  # risk-free rate
    STEPS = 200  # lattice steps: a few milliseconds a value
    STORIES = {  # first trading day, last close as a share of the conversion price
        "股价下跌 the share falls": (datetime.date(2026, 4, 1), 0.72),
        "股价大涨 the share soars": (datetime.date(2026, 6, 1), 1.45),
        "最后两年低迷 a slump in the last two years": (datetime.date(2029, 6, 1), 0.62),
    }


@app.function
def cny(units: int) -> str:
    """Return an amount in 1/10000 CNY as CNY with thousands separators and two decimals."""
    return f"{Decimal(units) / UNITS_PER_CNY:,.2f}"


@app.function
def value(
    terms: ConvertibleTerms,
    spot: float,
    volatility: float,
    spread: float,
    on: datetime.date = VALUED,
) -> ConvertibleValue:
    """Return the lattice value of one bond at a share price (CNY)."""
    market = Market(
        spot=spot, volatility=volatility, rate=RATE, credit_spread=spread, valuation_date=on
    )
    return value_lattice(terms, market, steps=STEPS)


@app.function
def story_closes(start: datetime.date, end_ratio: float) -> tuple[list, list[int]]:
    """Return 40 weekdays from `start` and closes (price units, on the 0.01 tick) that move
    from the conversion price to `end_ratio` of it over 10 days and stay there, wobbling."""
    days = np.busday_offset(np.datetime64(start), np.arange(40), roll="forward")
    ramp = np.minimum(np.arange(40) / 10, 1.0)
    ratio = 1 + (end_ratio - 1) * ramp + 0.01 * np.sin(np.arange(40))
    closes = np.round(TERMS.conversion_price * ratio / 100).astype(int) * 100
    return [d.astype(datetime.date) for d in days], [int(c) for c in closes]


@app.cell
def _():
    title("可转债：转股价值、债底和条款", "Convertible bond: conversion value, floor, clauses")
    return


@app.cell
def _():
    bilingual(
        f"""
        **{TERMS.name}**：面值 100 元，六年期，票面利率 0.3% 逐年升到 2.0%，到期按 106 元赎回。
        每张债可按**转股价 {cny(TERMS.conversion_price)} 元**换成股票：100 ÷ 转股价 = 每张换
        {TERMS.face // TERMS.conversion_price} 股。
        - **转股价值** = 每张换的股数 × 股价：马上转股值多少钱；
        - **债底** = 把利息和到期赎回款折现：不转股、只当债券持有值多少钱；
        - **溢价率** = 价值 ÷ 转股价值 − 1。
        """,
        f"""
        **{TERMS.name}**: face CNY 100, six years, coupons rising from 0.3% to 2.0%, redeemed at
        CNY 106. Each bond converts at the **conversion price CNY {cny(TERMS.conversion_price)}**:
        100 / conversion price = {TERMS.face // TERMS.conversion_price} shares a bond.
        - **Conversion value** = shares per bond x share price: what converting gives now;
        - **bond floor** = coupons and redemption discounted: the bond without the option;
        - **premium** = value / conversion value - 1.
        """,
    )
    return


@app.cell
def _():
    spot = mo.ui.slider(
        4.0, 20.0, step=0.1, value=10.0, label="股价 share price (CNY)", show_value=True
    )
    volatility = mo.ui.slider(
        0.1, 0.6, step=0.05, value=0.3, label="波动率 volatility", show_value=True
    )
    spread = mo.ui.slider(
        0.0, 0.06, step=0.005, value=0.03, label="信用利差 credit spread", show_value=True
    )
    mo.hstack([spot, volatility, spread])
    return spot, spread, volatility


@app.cell
def _(spot, spread, volatility):
    now = value(TERMS, spot.value, volatility.value, spread.value)
    premium = f"**{now.premium:.1%}**"
    mo.md(
        f"""
        ## 每张债 per bond（估值日 valued on {VALUED}）
        | 转股价值 conversion value | 债底 bond floor | 理论价值 value | 溢价率 premium |
        |---:|---:|---:|---:|
        | **{now.parity:.2f}** | **{now.bond_floor:.2f}** | **{now.value:.2f}** | {premium} |
        """
    )
    return (now,)


@app.cell
def _(now, spot, spread, volatility):
    spots = np.linspace(4.0, 20.0, 33)
    curve = [value(TERMS, s, volatility.value, spread.value) for s in spots]
    _figure, _axes = plt.subplots(figsize=(8, 4))
    _axes.plot(spots, [c.value for c in curve], label="value (lattice)", linewidth=2)
    _axes.plot(spots, [c.bond_floor for c in curve], "--", label="bond floor")
    _axes.plot(spots, [c.parity for c in curve], ":", label="conversion value")
    _axes.plot([spot.value], [now.value], "ko", label=f"share at {spot.value:.2f}")
    _axes.set_xlabel("share price, CNY")
    _axes.set_ylabel("CNY per bond of 100 face")
    _axes.set_title("the bond's price against the share price")
    _axes.grid(alpha=0.3)
    _axes.legend(fontsize=8)
    _figure.tight_layout()
    mo.vstack(
        [
            mo.as_html(_figure),
            bilingual(
                "股价低时，可转债像债券，价格靠近债底；股价高时，它像股票，价格贴着转股价值。"
                "中间一段两头都沾：跌有底、涨能跟。",
                "With a low share price the bond trades near its floor; with a high one it tracks "
                "the conversion value. In between it has both: a floor below, the upside above.",
            ),
        ]
    )
    return


@app.cell
def _():
    story = mo.ui.dropdown(list(STORIES), value=next(iter(STORIES)), label="股价走势 the story")
    mo.vstack([mo.md("## 三个条款 · Three clauses"), story])
    return (story,)


@app.cell
def _(spread, story, volatility):
    dates, closes = story_closes(*STORIES[story.value])
    events = clause_events(TERMS, dates, closes)
    revised = next((e.minimum_price for e in events if isinstance(e, RevisionProposed)), None)
    terms_now = TERMS if revised is None else dataclasses.replace(TERMS, conversion_price=revised)
    last, on = closes[-1] / UNITS_PER_CNY, dates[-1]
    lines = []
    for e in events:
        if isinstance(e, RevisionProposed):
            before = value(TERMS, last, volatility.value, spread.value, on)
            after = value(terms_now, last, volatility.value, spread.value, on)
            lines.append(
                f"**{e.date} 下修 downward reset**：股价连续低于转股价的 85%，董事会可把转股价从 "
                f"{cny(e.conversion_price)} 下调到不低于 {cny(e.minimum_price)} 元；每张债的价值从 "
                f"{before.value:.2f} 升到 {after.value:.2f}。 · The board may cut the conversion "
                f"price to at least {cny(e.minimum_price)}; the bond's value rises from "
                f"{before.value:.2f} to {after.value:.2f}."
            )
        elif isinstance(e, ClauseTriggered) and e.clause == "call":
            paid = redemption_payments(TERMS, e.date, {"holder": 1}, "call")[0].cash
            shares = TERMS.face // e.conversion_price
            lines.append(
                f"**{e.date} 有条件赎回 conditional call**：{e.days_met} 天收盘价"
                f"不低于转股价的 130%，公司可按 {cny(paid)} 元赎回；"
                f"转股却值 {shares} × {last:.2f} = "
                f"{shares * last:.2f} 元，所以持有人都会转股。 · The issuer may call at "
                f"{cny(paid)} a bond; converting gives {shares * last:.2f}, so holders convert."
            )
        elif isinstance(e, ClauseTriggered) and e.clause == "put":
            paid = redemption_payments(TERMS, e.date, {"holder": 1}, "put")[0].cash
            lines.append(
                f"**{e.date} 回售 put**：最后两年里连续 {e.days_met} 天收盘价低于转股价的 70%，"
                f"持有人可按 {cny(paid)} 元（面值加利息）卖回给公司。 · Holders may sell the bond "
                f"back at {cny(paid)} (par plus accrued interest)."
            )
    _figure, _axes = plt.subplots(figsize=(8, 3))
    _axes.plot(dates, np.array(closes) / UNITS_PER_CNY, label="close")
    for clause, colour in (
        (TERMS.revision, "tab:orange"),
        (TERMS.call, "tab:green"),
        (TERMS.put, "tab:red"),
    ):
        level = TERMS.conversion_price * clause.ratio / RATE_SCALE / UNITS_PER_CNY
        _axes.axhline(
            level,
            color=colour,
            linestyle="--",
            linewidth=1,
            label=f"{type(clause).__name__.removesuffix('Clause').lower()} {level:.2f}",
        )
    _axes.set_ylabel("share close, CNY")
    _axes.legend(fontsize=8, loc="upper left")
    _axes.grid(alpha=0.3)
    _figure.autofmt_xdate()
    _figure.tight_layout()
    mo.vstack(
        [
            mo.as_html(_figure),
            mo.md("\n\n".join(lines) or "条款未触发 · no clause triggered"),
        ]
    )
    return events, on, terms_now


@app.cell
def _():
    bonds = mo.ui.slider(
        1, 500, value=137, label="你持有的债券（张） bonds you hold", show_value=True
    )
    mo.as_html(bonds)
    return (bonds,)


@app.cell
def _(bonds, on, terms_now):
    done = convert(terms_now, on, "you", bonds.value)
    mo.md(
        f"""
        ## 转股 · Converting {bonds.value} bonds on {on}
        面值 face {bonds.value} × 100 = **{cny(bonds.value * terms_now.face)}** 元 ÷ 转股价
        conversion price **{cny(done.conversion_price)}** = **{done.shares:,}** 股 shares
        （只换整数股 whole shares only）。
        不足一股的面值 **{cny(done.residual_face)}** 元加上它的应计利息，付现金
        **{cny(done.cash)}** 元。 · The face left below one share,
        {cny(done.residual_face)}, is paid in cash with its accrued interest: **{cny(done.cash)}**.
        """
    )
    return (done,)


@app.cell
def test_the_price_lies_above_floor_and_conversion_value(now):
    assert now.value >= max(now.bond_floor, now.parity) - 0.01


@app.cell
def test_each_story_triggers_its_clause():
    _seen = {
        _name: {
            type(e).__name__ if isinstance(e, RevisionProposed) else e.clause
            for e in clause_events(TERMS, *story_closes(*_start))
        }
        for _name, _start in STORIES.items()
    }
    _falls, _soars, _slump = _seen.values()
    assert _falls == {"RevisionProposed"}
    assert _soars == {"call"}
    assert "put" in _slump


@app.cell
def test_conversion_keeps_the_face(done, terms_now):
    assert done.shares * done.conversion_price + done.residual_face == done.bonds * terms_now.face
    assert done.cash >= done.residual_face


if __name__ == "__main__":
    app.run()
