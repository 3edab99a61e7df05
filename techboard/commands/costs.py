"""`techboard costs --firm FIRM.toml`: a firm's listing and trading costs on each board."""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from exchange.fees.listing_costs import (
    CATEGORIES,
    CostLine,
    costs,
    load_board_schedule,
    load_firm,
    load_support,
)
from exchange.schema import SchemaError

CNY = 10_000  # 1/10000 CNY units per CNY
FIRM_FEES = "firm: fees less waivers"
SUMMARY = {"trading": "investors: trading fees", "support": "support offsets"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `costs` subcommand."""
    parser = subparsers.add_parser(
        "costs", help="a firm's listing and trading costs per board, year by year"
    )
    parser.add_argument("--firm", required=True, help="firm TOML file (or a shipped one by name)")
    parser.add_argument("--years", type=int, default=5, help="listed years (default 5)")
    parser.add_argument(
        "--boards",
        default="standard,techboard",
        help="comma-separated fee schedules, board presets or fee TOML files "
        "(default standard,techboard)",
    )
    parser.add_argument(
        "--support", default="jilin", help="provincial support measures (default jilin)"
    )
    parser.add_argument("--no-support", action="store_true", help="leave the offsets out")
    parser.add_argument("--out", default="out/costs", help="folder for costs.csv and costs.png")
    parser.set_defaults(func=run)


def cny(amount: int) -> str:
    """Return an amount in 1/10000 CNY as CNY with thousands separators and two decimals."""
    return f"{Decimal(amount) / CNY:,.2f}"


def _cells(
    lines: list[CostLine], years: int, key: Callable[[CostLine], str] = lambda line: line.label
) -> dict[str, list[int]]:
    """Return the amounts by year (index 0 = year 1) of each key, in the order of the categories
    and, within a category, of first appearance."""
    rows: dict[str, list[int]] = defaultdict(lambda: [0] * years)
    for line in sorted(lines, key=lambda line: CATEGORIES.index(line.category)):
        rows[key(line)][line.year - 1] += line.amount
    return rows


def table(lines: list[CostLine], years: int) -> str:
    """Return the terminal table: per board, each item by year and in total, then the sums."""
    out = []
    for board in dict.fromkeys(line.board for line in lines):
        mine = [line for line in lines if line.board == board]
        assumed = {line.label for line in mine if line.assumption}
        rows = {
            f"{label}{' *' if label in assumed else ''}": amounts
            for label, amounts in _cells(mine, years).items()
        }
        groups = _cells(mine, years, key=lambda line: SUMMARY.get(line.category, FIRM_FEES))
        totals = [groups[name] for name in (FIRM_FEES, *SUMMARY.values())]
        rows.update(zip((FIRM_FEES, *SUMMARY.values()), totals, strict=True))
        rows["net cost"] = [sum(column) for column in zip(*totals, strict=True)]
        width = max(map(len, rows))
        header = [f"year {y}" for y in range(1, years + 1)] + ["total"]
        out.append(f"{board} (CNY)")
        out.append(f"{'':{width}}" + "".join(f"{h:>14}" for h in header))
        for name, amounts in rows.items():
            cells = [*amounts, sum(amounts)]
            out.append(f"{name:{width}}" + "".join(f"{cny(c):>14}" for c in cells))
        out.append("")
    out.append("* rests on an assumed amount the exchange must replace (docs/costs.md)")
    return "\n".join(out)


def write_csv(path: Path, lines: list[CostLine]) -> None:
    """Write one row per cost line: amount in 1/10000 CNY and in CNY."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["board", "year", "category", "item", "payer", "amount", "cny", "assumption"]
        )
        for line in lines:
            writer.writerow(
                [
                    line.board,
                    line.year,
                    line.category,
                    line.item,
                    line.payer,
                    line.amount,
                    f"{Decimal(line.amount) / CNY:.2f}",
                    str(line.assumption).lower(),
                ]
            )


def chart(path: Path, lines: list[CostLine], years: int, firm: str) -> None:
    """Write stacked bars by item per board per year: costs up, waivers and offsets down."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import StrMethodFormatter

    boards = list(dict.fromkeys(line.board for line in lines))
    palette = plt.get_cmap("tab20")
    colours = {label: palette(i % palette.N) for i, label in enumerate(_cells(lines, years))}
    figure, axes = plt.subplots(
        1, len(boards), figsize=(4.2 * len(boards) + 2.4, 5), sharey=True, squeeze=False
    )
    xs = range(1, years + 1)
    for ax, board in zip(axes[0], boards, strict=True):
        rows = _cells([line for line in lines if line.board == board], years)
        up, down = [0.0] * years, [0.0] * years
        for label, amounts in rows.items():
            values = [a / CNY for a in amounts]
            base = [d if v < 0 else u for v, u, d in zip(values, up, down, strict=True)]
            ax.bar(xs, values, bottom=base, color=colours[label], label=label, width=0.7)
            up = [u + max(v, 0) for u, v in zip(up, values, strict=True)]
            down = [d + min(v, 0) for d, v in zip(down, values, strict=True)]
        net = [u + d for u, d in zip(up, down, strict=True)]
        ax.plot(xs, net, "k_", markersize=22, mew=2, label="net")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(board)
        ax.set_xlabel("listed year")
        ax.set_xticks(list(xs))
        ax.grid(axis="y", alpha=0.3)
        ax.use_sticky_edges = False  # zero-height bars stacked on top would pin the limits
        ax.margins(y=0.08)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes[0][0].set_ylabel("CNY (waivers and support offsets below zero)")
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]}
    order = [*colours, "net"]
    figure.legend(
        [handles[k] for k in order if k in handles],
        [k for k in order if k in handles],
        loc="center right",
        fontsize=8,
    )
    figure.suptitle(f"{firm}: listing and trading costs by board and year")
    figure.tight_layout(rect=(0, 0, 1 - 2.2 / figure.get_figwidth(), 1))
    figure.savefig(path, dpi=90)
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    """Print the cost table and write costs.csv and costs.png; exit 2 on a bad input."""
    try:
        if args.years < 1:
            raise SchemaError(f"--years: got {args.years}; allowed: 1 or more")
        firm = load_firm(args.firm)
        names = [name.strip() for name in args.boards.split(",") if name.strip()]
        boards = {name: load_board_schedule(name) for name in names}
        support = None if args.no_support else load_support(args.support)
        if not boards:
            raise SchemaError(f"--boards: got {args.boards!r}; allowed: one name or more")
        lines = costs(firm, boards, args.years, support)
    except (SchemaError, OSError) as error:
        print(f"techboard costs: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{firm.name}: {firm.description}")
    print(f"yearly turnover CNY {cny(firm.yearly_turnover)} (each trade counted once)\n")
    print(table(lines, args.years))
    write_csv(out / "costs.csv", lines)
    chart(out / "costs.png", lines, args.years, firm.name)
    print(f"written: {out / 'costs.csv'}, {out / 'costs.png'}")
    return 0
