"""`techboard demo`: list the teaching demos, serve one as an app, or export one as HTML."""

from __future__ import annotations

import argparse
import importlib
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from techboard.demos import DEMOS, notebook

LOOPBACK = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser("demo", help="teaching demos (marimo apps)")
    parser.add_argument("name", nargs="?", choices=list(DEMOS), help="the demo to serve")
    parser.add_argument("--list", action="store_true", help="list the demos")
    parser.add_argument("--html", type=Path, metavar="OUT.html", help="export instead of serving")
    parser.add_argument(
        "--port", type=int, default=0, help="port to serve on (default: a free one)"
    )
    parser.set_defaults(func=run)


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def serve(name: str, port: int) -> int:
    """Serve a demo in marimo's run mode on loopback, print its address, and wait until stopped.

    The notebook runs once in this process first, so the modules it imports and the numba
    kernels it calls are loaded before the first page asks for them (marimo's run mode runs
    each page's kernel in a thread of the server process).
    """
    import marimo
    import uvicorn

    print(f"demo {name}: warming up ...", flush=True)
    importlib.import_module(f"techboard.demos.{name}").app.run()
    server = marimo.create_asgi_app(quiet=True).with_app(path="", root=str(notebook(name)))
    port = port or free_port()
    print(f"demo {name}: http://{LOOPBACK}:{port}  (Ctrl-C stops it)", flush=True)
    uvicorn.run(server.build(), host=LOOPBACK, port=port, log_level="warning")
    return 0


def export(name: str, out: Path) -> int:
    """Run a demo from start to end and write it as one HTML file.

    marimo keeps a session snapshot in a __marimo__ folder beside the notebook it exports, so
    the export runs a copy in a temporary folder and leaves the package as installed.
    """
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(shutil.copy(notebook(name), folder))
        command = [
            sys.executable,
            "-m",
            "marimo",
            "export",
            "html",
            str(copy),
            "-o",
            str(out.resolve()),
            "--force",
        ]
        done = subprocess.run(command, check=False)
    if done.returncode == 0:
        print(f"written: {out} (its page loads marimo's JavaScript from a CDN: needs a network)")
    return done.returncode


def run(args: argparse.Namespace) -> int:
    """List, serve or export a demo; exit 2 when no demo is named."""
    if args.list:
        for name, what in DEMOS.items():
            print(f"{name:12} {what}")
        return 0
    if not args.name:
        print(f"techboard demo: name a demo ({', '.join(DEMOS)}) or use --list", file=sys.stderr)
        return 2
    if args.html:
        return export(args.name, args.html)
    return serve(args.name, args.port)
