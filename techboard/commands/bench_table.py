"""What the bench targets print alike: the machine line and aligned text tables."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def machine(versions: str) -> str:
    """Return the CPU model, the CPUs this process may use, Python's and `versions`."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cpus = len(os.sched_getaffinity(0))
    return f"{model}, {cpus} CPUs; Python {platform.python_version()}, {versions}"


def aligned(head: tuple[str, ...], body: list[tuple[str, ...]]) -> list[str]:
    """Return the rows as text lines: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in (head, *body)) for i in range(len(head))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in (head, *body)
    ]
