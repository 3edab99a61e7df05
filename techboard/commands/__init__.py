"""Subcommands of the `techboard` command; each module exposes `register(subparsers)`."""
