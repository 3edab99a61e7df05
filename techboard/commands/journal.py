"""`techboard journal verify|dump|replay FILE`: inspect an exchange journal (the gateway's too).

verify  read every record (markers, CRC32s, sequence numbers): one JSON line with the count,
        the last sequence number and the bytes read; exit 0 whole, 1 on a torn tail (the
        whole records before it are good; the gateway cuts it at start-up), 2 on corruption
        before the end or a file that is not a journal (the message names the byte offset)
dump    one JSON line per record: seq, byte offset, op and fields; a batch's command rows as
        objects (field names of exchange.dtypes.ORDER_DTYPE); --from/--to pick sequence numbers
replay  rebuild the venue from the file without changing it: one JSON object with the day,
        the clock, every participant's cash and positions, the fees collected and the
        market-data sequence numbers; exit codes as verify
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from exchange.dtypes import ORDER_DTYPE
from exchange.venue.exchange import Exchange
from exchange.venue.journal import JournalReader, Record, TornTail


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `journal` subcommand and its verify, dump and replay actions."""
    parser = subparsers.add_parser("journal", help="verify, dump or replay an exchange journal")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("verify", run_verify, "check every record; exit 1 on a torn tail, 2 on corruption"),
        ("dump", run_dump, "print each record as a JSON line"),
        ("replay", run_replay, "rebuild the venue and print its state as JSON"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("file", help="a journal (.tbj)")
        action.set_defaults(func=func)
        if name == "dump":
            action.add_argument("--from", dest="first", type=int, default=1, help="first seq")
            action.add_argument("--to", dest="last", type=int, default=None, help="last seq")


def _fail(error: Exception) -> int:
    print(f"techboard journal: {error}", file=sys.stderr)
    return 2


def _torn(torn: TornTail | None) -> int:
    """Report a torn tail on stderr; return the exit status (1 torn, 0 whole)."""
    if torn is None:
        return 0
    print(f"techboard journal: {torn} (the gateway cuts it at start-up)", file=sys.stderr)
    return 1


def run_verify(args: argparse.Namespace) -> int:
    """Read every record and print the count; exit 0, 1 (torn tail) or 2 (corrupt)."""
    reader = JournalReader(args.file)
    try:
        count = sum(1 for _ in reader)
    except (OSError, ValueError) as error:
        return _fail(error)
    print(json.dumps({"records": count, "last_seq": reader.last_seq, "bytes": reader.end,
                      "torn_at": None if reader.torn is None else reader.torn.offset}))  # fmt: skip
    return _torn(reader.torn)


def plain(record: Record) -> dict[str, Any]:
    """Return a record as a JSON-ready map (a batch's rows decoded, other bytes in hex)."""
    payload = record.payload
    head = {"seq": record.seq, "offset": record.offset}
    if isinstance(payload, bytes):
        return {**head, "bytes": payload.hex()}
    fields = dict(payload)
    if fields.get("op") == "submit" and isinstance(fields.get("rows"), bytes):
        rows = np.frombuffer(fields["rows"], ORDER_DTYPE)
        fields["rows"] = [dict(zip(ORDER_DTYPE.names, row, strict=True)) for row in rows.tolist()]
    return {**head, **{k: v.hex() if isinstance(v, bytes) else v for k, v in fields.items()}}


def run_dump(args: argparse.Namespace) -> int:
    """Print the records from --from to --to as JSON lines; exit 0, 1 or 2 as verify."""
    reader = JournalReader(args.file)
    try:
        for record in reader:
            if record.seq >= args.first and (args.last is None or record.seq <= args.last):
                print(json.dumps(plain(record), default=str))
    except (OSError, ValueError) as error:
        return _fail(error)
    except BrokenPipeError:  # `| head`
        return 0
    return _torn(reader.torn)


def run_replay(args: argparse.Namespace) -> int:
    """Rebuild the venue (the file is not changed) and print its state as one JSON object."""
    try:
        exchange = Exchange.replay(args.file)
    except (OSError, ValueError) as error:
        return _fail(error)
    accounts = [exchange.account(p) for p in range(len(exchange.participants))]
    print(json.dumps({
        "day": None if exchange.day is None else exchange.day.isoformat(),
        "clock": exchange.clock,
        "accounts": accounts,
        "cash": sum(a["cash"] for a in accounts),
        "fees_collected": exchange.fees_collected(),
        "md_seq": dict(zip(exchange.symbols, exchange.digest()["seq"], strict=True)),
    }))  # fmt: skip
    return _torn(exchange.torn)
