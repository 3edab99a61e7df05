"""`techboard bot run KIND --participant NAME ...`: one of the simulator's agents as a bot process.

KIND is noise, momentum or market-maker (simulation.agents); gateway.bots runs it over MQTT in
real time through the client SDK. The broker comes from --config (a credentials.toml written by
`techboard broker`: host, port and the participant's password) or --host/--port/--username/
--password. Agent parameters are the scenario's population keys (simulation.scenario.POPULATION)
as --param key=value. At the end the bot says bye (cancel-on-disconnect applies) and prints a
summary: requests, acks, rejects, cancels, fills, shares filled and its trade numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

from gateway.bots import BOT_KINDS, BotRunner, agent_params, make_agent
from gateway.broker import read_credentials
from gateway.client import GatewayClient


def broker_address(args: argparse.Namespace) -> tuple[str, int, str, str]:
    """Return host, port, user name and password from --config or the single options."""
    host, port, username, password = args.host, args.port, args.participant, args.password
    if args.username and args.username != args.participant:
        raise ValueError(f"--username {args.username} is not --participant {args.participant}")
    if args.config:
        data = tomllib.loads(Path(args.config).read_text())
        host, port = data.get("host", host), int(data.get("port", port))
        password = password or read_credentials(args.config)[1].get(args.participant)
    if not password:
        raise ValueError(f"no password for {args.participant}: --password or --config FILE")
    return host, port, username, password


def parse_params(texts: list[str]) -> dict[str, str]:
    """Return `key=value` texts as a map."""
    params = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep:
            raise ValueError(f"--param {text!r} is not key=value")
        params[key.strip()] = value.strip()
    return params


def run_bot(args: argparse.Namespace) -> int:
    """Connect, run the agent for --duration seconds, print the summary."""
    try:
        host, port, username, password = broker_address(args)
        params = agent_params(BOT_KINDS[args.kind], parse_params(args.param))
    except (OSError, ValueError) as error:
        print(f"techboard bot: {error}", file=sys.stderr)
        return 2
    agent = make_agent(args.kind, args.count, args.seed, params)

    async def main() -> dict:
        client = GatewayClient(host, port, username, password, client_id=f"bot-{username}")
        async with client:
            runner = BotRunner(client, agent, args.kind, args.symbol)
            print(
                f"{args.kind} bot {username}: {args.count} member(s) on {args.symbol} for "
                f"{args.duration:g} s via {host}:{port}",
                file=sys.stderr,
                flush=True,
            )
            summary = await runner.run(args.duration)
        return asdict(summary)

    summary = asyncio.run(main())
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            shown = len(value) if key == "trades" else value
            print(f"{key}: {shown}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `bot run KIND`."""
    parser = subparsers.add_parser("bot", help="run a simulator agent as a bot over MQTT")
    actions = parser.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="trade through the gateway for --duration seconds")
    run.add_argument("kind", choices=sorted(BOT_KINDS), help="the agent (simulation.agents)")
    run.add_argument("--participant", required=True, help="the participant (broker user name)")
    run.add_argument("--config", help="credentials.toml written by `techboard broker`")
    run.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    run.add_argument("--username", help="broker user name (must be the participant)")
    run.add_argument("--password", help="broker password (else from --config)")
    run.add_argument("--symbol", default="AAA", help="the instrument to trade (default AAA)")
    run.add_argument("--seed", type=int, default=1, help="the agent's random seed")
    run.add_argument("--duration", type=float, default=60.0, help="seconds to trade")
    run.add_argument("--count", type=int, default=1, help="population members (default 1)")
    run.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="an agent parameter (simulation.scenario.POPULATION), repeatable",
    )  # fmt: skip
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.set_defaults(func=run_bot)
