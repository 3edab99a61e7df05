"""The study report: one self-contained HTML file (PNG charts embedded as base64) or Markdown.

Price paths, spread and depth distributions (seed 0 of each scenario), the comparison table
with charts of the headline metrics and their 95% CIs, the 7% spread flag, the fee scenarios'
turnover elasticity, the stylized facts beside a real market, what each metric means, and each
scenario's legal status under the regional-market rules (../shared/DOMAIN.md sections 0 and 8).
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulation.records import QUOTE_RECORD_DTYPE, TRADE_RECORD_DTYPE
from studies.compare import (
    HEADLINE,
    SPREAD_FLAG_BP,
    Row,
    spread_flags,
    table,
    turnover_elasticity,
)
from studies.metrics import METRICS, last_trade_price
from studies.parquet import read_table
from studies.runner import RunOutcome, run_folder
from studies.stylized import Sample, distances, facts, quotes_sample

COMPLIANT = "compliant today: negotiated transfer is what 国办发〔2017〕11号 allows"
COUNTERFACTUAL = (
    "counterfactual: call auctions, continuous matching and market makers are 集中交易 that "
    "国发〔2011〕38号 and 国办发〔2017〕11号 ban on regional markets; "
    "needs a national policy change"
)
LEGAL_STATUS = {
    "regional": COMPLIANT,
    "techboard": COMPLIANT + " (firm intents on a quote board, reduced fees)",
    "techboard-call": COUNTERFACTUAL,
    "techboard-mm": COUNTERFACTUAL,
    "star": COUNTERFACTUAL + " (the STAR Market's rules, as a reference)",
}


@dataclass(frozen=True)
class ScenarioInfo:
    """What the report says of a scenario: name, description and board preset."""

    name: str
    description: str
    board: str


def legal_status(board: str) -> str:
    """Return a board preset's legal status on a regional equity market today."""
    return LEGAL_STATUS.get(board, f"board preset {board!r}: legal status not classified")


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _first_records(out: Path, outcomes: list[RunOutcome]) -> dict[str, dict[str, np.ndarray]]:
    """Return the quote and trade records of each scenario's first completed seed."""
    records: dict[str, dict[str, np.ndarray]] = {}
    for outcome in outcomes:
        if outcome.ok and outcome.scenario not in records:
            folder = run_folder(out, outcome.scenario, outcome.seed)
            records[outcome.scenario] = {
                "quotes": read_table(folder, "quotes", QUOTE_RECORD_DTYPE),
                "trades": read_table(folder, "trades", TRADE_RECORD_DTYPE),
            }
    return records


def _price_path(quotes: np.ndarray, trades: np.ndarray) -> np.ndarray:
    """Return the mid at each quote sample of instrument 0; without any two-sided quote (a
    bilateral market) the last trade price."""
    q, t = quotes[quotes["instrument"] == 0], trades[trades["instrument"] == 0]
    ok = (q["bid"] > 0) & (q["ask"] > q["bid"])
    if ok.any():
        return np.where(ok, (q["bid"] + q["ask"]) / 2, np.nan)
    return last_trade_price(t, q)[0]


def _charts(records: dict[str, dict[str, np.ndarray]], rows: list[Row]) -> dict[str, str]:
    charts = {}
    quotes = {name: r["quotes"] for name, r in records.items()}
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for name, r in records.items():
        ax.plot(_price_path(r["quotes"], r["trades"]) / 10_000, lw=0.6, label=name)
    ax.set(
        xlabel="trading time (quote samples, one a second)",
        ylabel="CNY",
        title="price paths (first seed, instrument 0): mid, or last trade without quotes",
    )
    ax.legend()
    charts["price paths"] = _png(fig)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, q in quotes.items():
        ok = (q["bid"] > 0) & (q["ask"] > q["bid"])
        rel = (q["ask"] - q["bid"])[ok] / ((q["ask"] + q["bid"])[ok] / 2) * 1e4
        if len(rel):
            left.hist(rel, bins=50, histtype="step", density=True, label=name)
        depth = (q["bid_quantity"] + q["ask_quantity"])[ok]
        if len(depth):
            right.hist(depth, bins=50, histtype="step", density=True, label=name)
    left.set(xlabel="relative quoted spread (bp)", title="spread distribution")
    right.set(xlabel="shares at the best bid + ask", title="depth distribution")
    left.legend()
    charts["spread and depth distributions"] = _png(fig)
    chosen = [m for m in HEADLINE if any(r.metric == m for r in rows)][:6]
    if chosen:
        fig, axes = plt.subplots(1, len(chosen), figsize=(2.6 * len(chosen), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], chosen, strict=True):
            these = [r for r in rows if r.metric == metric and r.instrument != "(run)"]
            these = [r for r in these if r.instrument == these[0].instrument] if these else []
            means = np.array([r.mean for r in these])
            err = np.array([[r.mean - r.low for r in these], [r.high - r.mean for r in these]])
            ax.bar(range(len(these)), means, yerr=np.nan_to_num(err), capsize=3)
            ax.set_xticks(range(len(these)), [r.scenario for r in these], rotation=30, ha="right")
            ax.set_title(metric, fontsize=9)
        charts["headline metrics (mean over seeds, 95% CI)"] = _png(fig)
    return charts


def _sections(
    infos: list[ScenarioInfo], rows: list[Row], baseline: str | None, simulated, real
) -> dict[str, list[list[str]]]:
    """Return the report's tables as text cells (shared by HTML and Markdown)."""
    sections = {"comparison": table(rows)}
    sections["scenarios and legal status"] = [["scenario", "board", "description", "legal status"]]
    sections["scenarios and legal status"] += [
        [i.name, i.board, i.description, legal_status(i.board)] for i in infos
    ]
    flags = spread_flags(rows)
    sections[f"time-weighted spread above {SPREAD_FLAG_BP / 100:.0f}% (First North threshold)"] = [
        ["scenario", "instrument", "spread (bp)"]
    ] + [[s, i, f"{v:.0f}"] for s, i, v in flags]
    if baseline:
        elasticity = [["scenario", "instrument", "turnover elasticity to trading cost"]]
        instruments = sorted({r.instrument for r in rows if r.metric == "turnover_cny"})
        for info in infos:
            if info.name == baseline:
                continue
            for instrument in instruments:
                e = turnover_elasticity(rows, info.name, baseline, instrument)
                elasticity.append([info.name, instrument, "—" if math.isnan(e) else f"{e:.2f}"])
        sections["turnover elasticity (fee studies find about -1)"] = elasticity
    facts_table = [["fact", *(s.name for s in simulated), *([real.name] if real else [])]]
    all_facts = [facts(s) for s in simulated] + ([facts(real)] if real else [])
    for name in all_facts[0] if all_facts else ():
        facts_table.append([name, *(f"{f[name]:.3g}" for f in all_facts)])
    sections["stylized facts (1-minute mid returns, seed 0)"] = facts_table
    if real:
        dist = [["scenario", "tails KS", "ACF r (W)", "ACF |r| (W)", "spread KS"]]
        for s in simulated:
            dist.append([s.name, *(f"{v:.3f}" for v in distances(s, real).values())])
        sections[f"distance to the real market ({real.name}, LOBSTER)"] = dist
    sections["what each metric means"] = [["metric", "unit", "meaning", "source"]] + [
        [m.name, m.unit, m.meaning, m.source] for m in METRICS
    ]
    return sections


def _html_table(cells: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>" for line in cells[1:]
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _markdown_table(cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in cells[1:]]
    return "\n".join(lines)


def write_report(
    out: Path,
    infos: list[ScenarioInfo],
    outcomes: list[RunOutcome],
    rows: list[Row],
    *,
    baseline: str | None,
    real: Sample | None,
    fmt: str = "html",
) -> Path:
    """Write index.html (or report.md with its PNGs beside it) into `out` and return its path."""
    records = _first_records(out, outcomes)
    simulated = [quotes_sample(name, r["quotes"]) for name, r in records.items()]
    sections = _sections(infos, rows, baseline, simulated, real)
    charts = _charts(records, rows)
    failed = [o for o in outcomes if not o.ok]
    note = "" if real else "No real-market sample found: the real-market column is absent."
    errors = [f"{o.scenario} seed {o.seed}: {o.error}" for o in failed]
    title = "Liquidity study" + (f" (baseline {baseline})" if baseline else "")
    if fmt == "markdown":
        parts = [f"# {title}", note, *(f"- failed: {e}" for e in errors)]
        for k, (name, data) in enumerate(charts.items()):
            (out / f"chart-{k}.png").write_bytes(base64.b64decode(data))
            parts.append(f"## {name}\n\n![{name}](chart-{k}.png)")
        parts += [f"## {name}\n\n{_markdown_table(cells)}" for name, cells in sections.items()]
        path = out / "report.md"
        path.write_text("\n\n".join(p for p in parts if p) + "\n")
        return path
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}"
    )
    parts = [f"<html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style>"]
    parts.append(f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>")
    parts += [f"<p>failed: {html.escape(e)}</p>" for e in errors]
    for name, data in charts.items():
        parts.append(f"<h2>{name}</h2><img src='data:image/png;base64,{data}'>")
    parts += [f"<h2>{html.escape(n)}</h2>{_html_table(c)}" for n, c in sections.items()]
    parts.append("</body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts))
    return path
