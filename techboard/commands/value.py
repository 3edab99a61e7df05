"""`techboard value`: value a convertible bond or a preferred share from its terms file."""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from instruments.convertible_lattice import DISCOUNTING, value_lattice
from instruments.convertible_lsmc import REVISION_POLICIES, value_lsmc
from instruments.preferred import value_preferred
from instruments.terms import (
    UNITS_PER_CNY,
    ConvertibleTerms,
    PreferredTerms,
    TermsError,
    load_one,
)
from instruments.valuation import ConvertibleValue, Market

MAX_SPOT = 100_000_000.0  # CNY, the matching core's highest price
MAX_STEPS = 20_000  # lattice steps: time grows with steps squared
MAX_PATHS = 65_536  # Monte Carlo paths: memory is about 9 bytes x paths x trading days
LIMITS: dict[str, tuple[float, float]] = {  # option -> inclusive range allowed
    "spot": (1e-4, MAX_SPOT),
    "vol": (0.0, 5.0),
    "dividend_yield": (-1.0, 1.0),
    "rate": (-1.0, 1.0),
    "spread": (0.0, 1.0),
    "arrears": (0.0, MAX_SPOT),
    "skip_probability": (0.0, 0.999999),
    "steps": (2, MAX_STEPS),
    "paths": (64, MAX_PATHS),
}


class OptionError(ValueError):
    """A command-line number outside its allowed range."""


def check_options(args: argparse.Namespace) -> None:
    """Raise OptionError naming the first option that is not finite or not within LIMITS."""
    for name, (low, high) in LIMITS.items():
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            flag = "--" + name.replace("_", "-")
            raise OptionError(f"{flag} {value}: allowed: a finite number from {low:g} to {high:g}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `value convertible` and `value preferred` to the `techboard` command."""
    value = subparsers.add_parser("value", help="value a convertible bond or preferred share")
    kinds = value.add_subparsers(dest="instrument", required=True)

    convertible = kinds.add_parser("convertible", help="value a convertible bond")
    convertible.add_argument("terms", type=Path, help="TOML terms file (kind = convertible)")
    convertible.add_argument("--spot", type=float, required=True, help="share price, CNY")
    convertible.add_argument("--vol", type=float, required=True, help="volatility, e.g. 0.3")
    convertible.add_argument("--dividend-yield", type=float, default=0.0, help="e.g. 0.01")
    convertible.add_argument("--method", choices=("lattice", "lsmc"), default="lattice")
    convertible.add_argument("--steps", type=int, default=1000, help="lattice time steps")
    convertible.add_argument("--discounting", choices=DISCOUNTING, default="tf")
    convertible.add_argument("--paths", type=int, default=8192, help="Monte Carlo paths")
    convertible.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    convertible.add_argument("--revision-policy", choices=REVISION_POLICIES, default="never")
    _common(convertible)
    convertible.set_defaults(func=run_convertible)

    preferred = kinds.add_parser("preferred", help="value a preferred share")
    preferred.add_argument("terms", type=Path, help="TOML terms file (kind = preferred)")
    preferred.add_argument("--arrears", type=float, default=0.0, help="unpaid dividends, CNY")
    preferred.add_argument("--skip-probability", type=float, default=0.0, help="per year")
    _common(preferred)
    preferred.set_defaults(func=run_preferred)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, required=True, help="risk-free rate, e.g. 0.02")
    parser.add_argument("--spread", type=float, required=True, help="credit spread, e.g. 0.03")
    parser.add_argument(
        "--date",
        type=datetime.date.fromisoformat,
        help="valuation date YYYY-MM-DD (default: the issue date)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--plot", type=Path, metavar="OUT.png", help="write a plot")


def _print(fields: dict[str, float | str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(fields, indent=2))
        return
    for name, value in fields.items():
        shown = f"{value:12.4f}" if isinstance(value, float) else f"{value:>12}"
        print(f"{name:16} {shown}")


def _plot(path: Path, xs: np.ndarray, curves: dict[str, list[float]], xlabel: str, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, ys in curves.items():
        axes.plot(xs, ys, label=label)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("CNY")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _load(path: Path, kind: type) -> ConvertibleTerms | PreferredTerms | None:
    try:
        return load_one(path, kind)
    except (TermsError, OSError) as error:
        print(f"techboard value: {error}", file=sys.stderr)
        return None


def run_convertible(args: argparse.Namespace) -> int:
    """Value a convertible bond and print (and plot) the value, floor, parity and greeks."""
    terms = _load(args.terms, ConvertibleTerms)
    if terms is None:
        return 2
    try:
        market = Market(
            spot=args.spot,
            volatility=args.vol,
            rate=args.rate,
            credit_spread=args.spread,
            valuation_date=args.date or terms.issue_date,
            dividend_yield=args.dividend_yield,
        )
        check_options(args)
    except ValueError as error:
        print(f"techboard value: {error}", file=sys.stderr)
        return 2
    pricer: Callable[[Market], ConvertibleValue]
    if args.method == "lattice":
        pricer = functools.partial(
            value_lattice, terms, steps=args.steps, discounting=args.discounting
        )
    else:
        pricer = functools.partial(
            value_lsmc,
            terms,
            paths=args.paths,
            seed=args.seed,
            revision_policy=args.revision_policy,
        )
    try:
        result = pricer(market)
    except ValueError as error:
        print(f"techboard value: {error}", file=sys.stderr)
        return 2
    _print(result.as_dict(), args.json)
    if args.plot:
        spots = np.linspace(0.3, 2.0, 18) * terms.conversion_price / UNITS_PER_CNY
        results = [pricer(market.with_spot(s)) for s in spots]
        _plot(
            args.plot,
            spots,
            {
                "value": [r.value for r in results],
                "bond floor": [r.bond_floor for r in results],
                "parity": [r.parity for r in results],
            },
            "share price, CNY",
            f"{terms.symbol} ({args.method}) on {market.valuation_date}",
        )
    return 0


def run_preferred(args: argparse.Namespace) -> int:
    """Value a preferred share and print (and plot against the spread) its value and parts."""
    terms = _load(args.terms, PreferredTerms)
    if terms is None:
        return 2
    on = args.date or terms.issue_date
    try:
        check_options(args)
        result = value_preferred(
            terms, args.rate, args.spread, on, round(args.arrears * UNITS_PER_CNY),
            args.skip_probability,
        )  # fmt: skip
    except ValueError as error:
        print(f"techboard value: {error}", file=sys.stderr)
        return 2

    def price(spread: float):
        return value_preferred(
            terms, args.rate, spread, on, round(args.arrears * UNITS_PER_CNY), args.skip_probability
        )

    _print(result.as_dict(), args.json)
    if args.plot:
        spreads = np.linspace(0.0, 0.08, 17)
        results = [price(s) for s in spreads]
        _plot(
            args.plot,
            spreads * 100,
            {
                "value": [r.value for r in results],
                "without the call": [r.straight_value for r in results],
            },
            "credit spread, %",
            f"{terms.symbol} on {on}",
        )
    return 0
