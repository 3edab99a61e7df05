"""`techboard gateway serve --config gateway.toml`: the MQTT gateway (gateway.server)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from gateway.config import load_config
from gateway.server import Gateway


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `gateway` subcommand and its `serve` action."""
    parser = subparsers.add_parser("gateway", help="serve a board over MQTT (Mosquitto)")
    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser("serve", help="run the gateway until SIGINT or SIGTERM")
    serve.add_argument("--config", required=True, help="gateway TOML file (gateway/config.py)")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Load the settings, open the venue and serve until a signal stops it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = load_config(args.config)
        gateway = Gateway(config)
    except (OSError, ValueError) as error:
        print(f"techboard gateway: {error}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await gateway.serve(stop)

    asyncio.run(main())
    return 0
