"""A run's records as Parquet files, one per table, that pandas, polars and pyarrow load.

A run folder holds `orders.parquet`, `trades.parquet`, ... (the `RunRecords.tables()` names,
columns as in `simulation.records`, same integer types) and `run.json` with what names the
indices (symbols, agent classes), the fees by payee and the counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulation.records import (
    ACCOUNT_RECORD_DTYPE,
    DAILY_RECORD_DTYPE,
    FUNDAMENTAL_RECORD_DTYPE,
    OBLIGATION_RECORD_DTYPE,
    ORDER_RECORD_DTYPE,
    QUOTE_RECORD_DTYPE,
    TRADE_RECORD_DTYPE,
    RunRecords,
)

META = "run.json"
LAYOUTS = {
    "orders": ORDER_RECORD_DTYPE,
    "trades": TRADE_RECORD_DTYPE,
    "quotes": QUOTE_RECORD_DTYPE,
    "fundamental": FUNDAMENTAL_RECORD_DTYPE,
    "daily": DAILY_RECORD_DTYPE,
    "accounts": ACCOUNT_RECORD_DTYPE,
    "obligations": OBLIGATION_RECORD_DTYPE,
}


def write_records(records: RunRecords, folder: Path) -> None:
    """Write each table of a run as `<table>.parquet` and its names and totals as run.json."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in records.tables().items():
        columns = {
            field: pa.array(np.ascontiguousarray(table[field])) for field in table.dtype.names
        }
        pq.write_table(pa.table(columns), folder / f"{name}.parquet", compression="zstd")
    meta = {
        "scenario": records.scenario,
        "seed": records.seed,
        "symbols": list(records.symbols),
        "classes": list(records.classes),
        "fees_by_payee": records.fees_by_payee,
        "counts": records.counts,
    }
    (folder / META).write_text(json.dumps(meta, indent=1))


def read_table(folder: Path, name: str, dtype: np.dtype) -> np.ndarray:
    """Read one table of a run folder back into its numpy record layout."""
    table = pq.read_table(folder / f"{name}.parquet")
    out = np.zeros(table.num_rows, dtype)
    for field in dtype.names:
        out[field] = table.column(field).to_numpy()
    return out


def read_records(folder: Path) -> RunRecords:
    """Read a run folder written by `write_records` back into `RunRecords`."""
    meta = json.loads((folder / META).read_text())
    return RunRecords(
        scenario=meta["scenario"],
        seed=meta["seed"],
        symbols=tuple(meta["symbols"]),
        classes=tuple(meta["classes"]),
        fees_by_payee=meta["fees_by_payee"],
        counts=meta["counts"],
        **{name: read_table(folder, name, dtype) for name, dtype in LAYOUTS.items()},
    )
