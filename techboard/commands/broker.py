"""`techboard broker --dir DIR`: write a Mosquitto config for the gateway and start mosquitto.

The files (gateway.broker): mosquitto.conf, passwd, acl, credentials.toml (0600) and
gateway.secret in DIR. Passwords come from the participants file, else from DIR's existing
credentials.toml (so a rerun keeps them), else are generated. docs/operations.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from gateway.broker import (
    LOOPBACK,
    Broker,
    BrokerError,
    load_participants,
    read_credentials,
    write_broker_files,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `broker` subcommand."""
    parser = subparsers.add_parser(
        "broker", help="write a Mosquitto config (passwords, ACL) for the gateway and start it"
    )
    parser.add_argument("--dir", required=True, help="folder for the broker's files and log")
    parser.add_argument("--port", type=int, default=0, help="listener port (default: a free one)")
    parser.add_argument("--bind", default=LOOPBACK, help=f"listener address (default {LOOPBACK})")
    parser.add_argument(
        "--participants",
        help="TOML file of [[participant]] tables: name, optional password (a gateway config fits)",
    )
    parser.add_argument(
        "--participant",
        action="append",
        default=[],
        metavar="NAME",
        help="a participant user (repeatable; with a generated password)",
    )
    parser.add_argument("--write-only", action="store_true", help="write the files, do not start")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the broker's files, then run mosquitto in the foreground until interrupted."""
    directory = Path(args.dir)
    try:
        participants: dict[str, str | None] = dict.fromkeys(args.participant)
        if args.participants:
            participants.update(load_participants(args.participants))
        gateway_password, known = None, {}
        if (directory / "credentials.toml").exists():
            gateway_password, known = read_credentials(directory / "credentials.toml")
        for name in participants:
            participants[name] = participants[name] or known.get(name)
        files = write_broker_files(
            directory,
            participants,
            host=args.bind,
            port=args.port,
            gateway_password=gateway_password,
        )
        broker = Broker(files)
    except (OSError, ValueError, BrokerError) as error:
        print(f"techboard broker: {error}", file=sys.stderr)
        return 2
    users = ", ".join([files.gateway.username, *files.participants])
    print(f"broker files in {files.directory} (users: {users})")
    print(f"credentials: {files.credentials_file} (gateway password: {files.gateway_secret})")
    if args.write_only:
        print(f"start it with: mosquitto -c {files.config}")
        return 0
    try:
        broker.start()
    except BrokerError as error:
        print(f"techboard broker: {error}", file=sys.stderr)
        return 1
    print(f"mosquitto listens on {broker.address} (log {files.log}); Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        status = broker.wait()
    except (KeyboardInterrupt, SystemExit):
        status = broker.stop() or 0
        print("mosquitto stopped")
        return 0
    print(f"mosquitto exited with status {status}", file=sys.stderr)
    return 1
