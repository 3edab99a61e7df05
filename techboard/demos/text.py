"""Bilingual text for the demos: Chinese first, English beside it."""

from __future__ import annotations

import marimo as mo


def bilingual(chinese: str, english: str) -> mo.Html:
    """Return two Markdown columns: the Chinese text, and the English text beside it."""
    return mo.hstack(
        [mo.md(chinese), mo.md(english).style(color="#444")],
        widths="equal",
        gap=2,
        align="start",
    )


def title(chinese: str, english: str) -> mo.Html:
    """Return a demo's heading: the Chinese title over the English one."""
    return mo.md(f"# {chinese}\n### {english}")


def grid(rows: list[dict[str, object]]) -> mo.Html:
    """Return rows (dicts with the same keys, in column order) as a static table."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = (str(row[key]).replace("|", "\\|") for key in header)
        lines.append("| " + " | ".join(cells) + " |")
    return mo.md("\n".join(lines))
