"""The `techboard` command: one entry point, one module per subcommand in techboard.commands."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from techboard import commands

# Each command module in techboard.commands exposes register(subparsers) and sets a `func`
# default that takes the parsed arguments and returns the exit status; `run`, the main job,
# comes first. A module without register serves another command (a bench target).
COMMANDS = sorted(
    (module.name for module in pkgutil.iter_modules(commands.__path__)),
    key=lambda name: (name != "run", name),
)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="techboard", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"techboard.commands.{name}")
        if hasattr(module, "register"):
            module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the `techboard` command and return its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
