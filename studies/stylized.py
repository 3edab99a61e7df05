"""Stylized facts of a market (Cont 2001): heavy tails, no autocorrelation of returns, volatility
clustering, the spread distribution; on a simulated run and on the real LOBSTER sample, with a
Kolmogorov-Smirnov or Wasserstein distance per fact (scipy.stats)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from matching_engine.lobster import EMPTY_ASK, read_lobster

STEP_NS = 60 * 1_000_000_000  # one-minute mid returns
LAGS = 10
TAIL = 0.05  # the Hill estimator's share of the largest |returns|


@dataclass(frozen=True)
class Sample:
    """A market's one-minute log mid returns and its relative spreads (bp)."""

    name: str
    returns: np.ndarray
    spreads_bp: np.ndarray


def grid_returns(ts: np.ndarray, mid: np.ndarray, day: np.ndarray, step_ns: int = STEP_NS):
    """Return log returns of the last mid on a step grid within each day (NaN mids skipped)."""
    ok = np.isfinite(mid) & (mid > 0)
    ts, mid, day = ts[ok], mid[ok], day[ok]
    out = []
    for d in np.unique(day):
        t, m = ts[day == d], mid[day == d]
        grid = np.arange(t[0], t[-1] + 1, step_ns)
        at = m[np.searchsorted(t, grid, side="right") - 1]
        out.append(np.diff(np.log(at)))
    return np.concatenate(out) if out else np.zeros(0)


def quotes_sample(name: str, quotes: np.ndarray, instrument: int = 0) -> Sample:
    """Return the stylized-fact sample of one instrument's quote records."""
    q = quotes[quotes["instrument"] == instrument]
    bid, ask = q["bid"].astype(np.float64), q["ask"].astype(np.float64)
    ok = (bid > 0) & (ask > bid)
    mid = np.where(ok, (bid + ask) / 2, np.nan)
    spreads = ((ask - bid) / mid * 1e4)[ok]
    return Sample(name, grid_returns(q["timestamp"], mid, q["day"]), spreads)


def lobster_sample(folder: Path) -> Sample | None:
    """Return the sample of the first LOBSTER message/orderbook pair in a folder (None: none)."""
    messages = sorted(folder.glob("*_message_*.csv")) if folder.is_dir() else []
    if not messages:
        return None
    book_csv = Path(str(messages[0]).replace("_message_", "_orderbook_"))
    sample = read_lobster(messages[0], book_csv)
    ask, bid = sample.book[:, 0].astype(np.float64), sample.book[:, 2].astype(np.float64)
    ok = (bid > 0) & (ask > bid) & (ask < EMPTY_ASK)
    mid = np.where(ok, (bid + ask) / 2, np.nan)
    day = np.zeros(len(mid), dtype=np.int64)
    spreads = ((ask - bid) / mid * 1e4)[ok]
    return Sample(messages[0].name.split("_")[0], grid_returns(sample.time_ns, mid, day), spreads)


def autocorrelation(x: np.ndarray, lags: int = LAGS) -> np.ndarray:
    """Return the sample autocorrelation of x at lags 1..lags (NaN where undefined)."""
    x = x - x.mean() if len(x) else x
    var = float((x * x).sum())
    if len(x) <= lags or var == 0:
        return np.full(lags, np.nan)
    return np.array([(x[:-k] * x[k:]).sum() / var for k in range(1, lags + 1)])


def hill(returns: np.ndarray, tail: float = TAIL) -> float:
    """Return the Hill (1975) tail index of |returns| over the largest `tail` share."""
    x = np.sort(np.abs(returns[returns != 0]))[::-1]
    k = int(len(x) * tail)
    if k < 2:
        return math.nan
    return float(1.0 / np.mean(np.log(x[:k] / x[k])))


def _mean(x: np.ndarray) -> float:
    """Return the mean of the finite values (NaN when there are none, without a warning)."""
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if len(finite) else math.nan


def facts(sample: Sample) -> dict[str, float]:
    """Return the stylized facts of one sample."""
    r = sample.returns
    return {
        "returns": float(len(r)),
        "excess_kurtosis": float(stats.kurtosis(r)) if len(r) > 3 else math.nan,
        "hill_tail_index": hill(r),
        "acf_returns_lag1": float(autocorrelation(r, 1)[0]),
        "acf_abs_returns_1_10": _mean(autocorrelation(np.abs(r))),
        "median_spread_bp": float(np.median(sample.spreads_bp))
        if len(sample.spreads_bp)
        else math.nan,
    }


def _standard(r: np.ndarray) -> np.ndarray:
    sd = r.std()
    return (r - r.mean()) / sd if sd > 0 else r


def distances(simulated: Sample, real: Sample) -> dict[str, float]:
    """Return a distance per fact between a simulated and a real sample.

    heavy tails: KS statistic between the standardised return distributions; no
    autocorrelation and volatility clustering: Wasserstein distance between the ACFs of r and
    of |r| at lags 1..10; spreads: KS statistic between the relative spread distributions.
    """
    out = dict.fromkeys(("tails_ks", "acf_returns_w", "acf_abs_returns_w", "spread_ks"), math.nan)
    a, b = simulated.returns, real.returns
    if len(a) > LAGS and len(b) > LAGS:
        out["tails_ks"] = float(stats.ks_2samp(_standard(a), _standard(b)).statistic)
        for name, f in (("acf_returns_w", lambda x: x), ("acf_abs_returns_w", np.abs)):
            acf_a, acf_b = autocorrelation(f(a)), autocorrelation(f(b))
            if np.isfinite(acf_a).all() and np.isfinite(acf_b).all():
                out[name] = float(stats.wasserstein_distance(acf_a, acf_b))
    if len(simulated.spreads_bp) and len(real.spreads_bp):
        ks = stats.ks_2samp(simulated.spreads_bp, real.spreads_bp)
        out["spread_ks"] = float(ks.statistic)
    return out
