"""Compare scenarios over seeds: each metric's mean with a bootstrap 95% CI, and its difference
against the baseline scenario with its own CI (scipy.stats.bootstrap, percentile method)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from studies.runner import RunOutcome

CONFIDENCE = 0.95
RESAMPLES = 2_000
SPREAD_FLAG_BP = 700.0  # Nasdaq First North: a liquidity provider is required above 7%


@dataclass(frozen=True)
class Row:
    """One metric of one instrument in one scenario, over its seeds."""

    scenario: str
    instrument: str
    metric: str
    n: int
    mean: float
    low: float
    high: float
    diff: float  # mean minus the baseline's mean (NaN for the baseline itself)
    diff_low: float
    diff_high: float


def _mean_ci(values: np.ndarray) -> tuple[float, float, float]:
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) < 2 or np.ptp(values) == 0:
        return mean, mean, mean
    ci = stats.bootstrap(
        (values,),
        np.mean,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    return mean, float(ci.low), float(ci.high)


def _diff_ci(values: np.ndarray, base: np.ndarray) -> tuple[float, float, float]:
    if len(values) == 0 or len(base) == 0:
        return math.nan, math.nan, math.nan
    diff = float(values.mean() - base.mean())
    if min(len(values), len(base)) < 2 or np.ptp(np.concatenate([values, base])) == 0:
        return diff, diff, diff
    ci = stats.bootstrap(
        (values, base),
        lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    return diff, float(ci.low), float(ci.high)


def samples(outcomes: list[RunOutcome]) -> dict[tuple[str, str, str], np.ndarray]:
    """Return each (scenario, instrument, metric)'s finite values over the completed seeds."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for outcome in outcomes:
        if not outcome.ok:
            continue
        for instrument, metrics in outcome.metrics.items():
            for metric, value in metrics.items():
                key = (outcome.scenario, instrument, metric)
                values.setdefault(key, [])
                if value is not None and math.isfinite(value):
                    values[key].append(value)
    return {key: np.asarray(v, dtype=np.float64) for key, v in values.items()}


def compare(outcomes: list[RunOutcome], baseline: str | None = None) -> list[Row]:
    """Return every metric's mean and CI per scenario and its difference against `baseline`."""
    data = samples(outcomes)
    rows = []
    for (scenario, instrument, metric), values in data.items():
        base = data.get((baseline, instrument, metric), np.zeros(0))
        if scenario == baseline or baseline is None:
            diff = (math.nan, math.nan, math.nan)
        else:
            diff = _diff_ci(values, base)
        rows.append(Row(scenario, instrument, metric, len(values), *_mean_ci(values), *diff))
    return rows


def turnover_elasticity(rows: list[Row], scenario: str, baseline: str, instrument: str) -> float:
    """Return d ln(turnover) / d ln(one-way trading cost) of a scenario against the baseline."""
    mean = {(r.scenario, r.metric): r.mean for r in rows if r.instrument == instrument}
    try:
        turnover = mean[scenario, "turnover_cny"] / mean[baseline, "turnover_cny"]
        cost = mean[scenario, "trading_cost_bp"] / mean[baseline, "trading_cost_bp"]
    except KeyError:
        return math.nan
    if not (turnover > 0 and cost > 0) or cost == 1:
        return math.nan
    return math.log(turnover) / math.log(cost)


def spread_flags(rows: list[Row]) -> list[tuple[str, str, float]]:
    """Return (scenario, instrument, spread) where the time-weighted spread stays above 7%."""
    return [
        (r.scenario, r.instrument, r.mean)
        for r in rows
        if r.metric == "quoted_spread_tw_bp" and r.mean > SPREAD_FLAG_BP
    ]


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


HEADLINE = (
    "quoted_spread_tw_bp",
    "effective_spread_bp",
    "depth_best",
    "volume",
    "turnover_cny",
    "trades",
    "no_trade_share",
    "volatility_bp",
    "efficiency_bp",
    "trading_cost_bp",
    "fees_cny",
)


def table(rows: list[Row], metrics: tuple[str, ...] = HEADLINE) -> list[list[str]]:
    """Return the comparison as text cells: header, then one line per metric and scenario."""
    lines = [["instrument", "metric", "scenario", "n", "mean", "95% CI", "vs baseline", "95% CI"]]
    order = {name: k for k, name in enumerate(metrics)}
    chosen = sorted(
        (r for r in rows if r.metric in order),
        key=lambda r: (r.instrument, order[r.metric], r.scenario),
    )
    for r in chosen:
        lines.append(
            [
                r.instrument,
                r.metric,
                r.scenario,
                str(r.n),
                _number(r.mean),
                f"[{_number(r.low)}, {_number(r.high)}]",
                _number(r.diff),
                f"[{_number(r.diff_low)}, {_number(r.diff_high)}]" if math.isfinite(r.diff) else "",
            ]
        )
    return lines


def format_table(cells: list[list[str]]) -> str:
    """Return text cells as an aligned terminal table."""
    widths = [max(len(line[k]) for line in cells) for k in range(len(cells[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )
