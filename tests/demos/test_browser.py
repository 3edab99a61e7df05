"""Each demo served by `techboard demo NAME` (marimo run on a free loopback port) and opened in
headless Chromium: the story's text is rendered, its plots are drawn, and moving one widget
changes the result. Render and reaction times are printed, not asserted.

Set TECHBOARD_DEMO_SCREENSHOTS=docs/demos to refresh the screenshots the docs show.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from techboard.commands.demo import LOOPBACK, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SERVE_S = 300.0  # the server warms up first: a fresh clone's cold numba cache takes minutes
RENDER_S = 60.0  # the first render: generous on a loaded machine


@dataclass(frozen=True)
class Check:
    """What a demo shows once rendered, and what one widget move must change."""

    ready: str  # text present once every cell has run
    texts: tuple[str, ...]  # more text of the story
    images: int  # plots drawn at least
    move: Callable  # (page) -> None: move one widget
    after: str  # selector that matches only after the move


def press(index: int, key: str) -> Callable:
    """Return a move: focus the index-th slider of the page and press a key."""
    return lambda page: page.locator("[role=slider]").nth(index).press(key)


def choose(label: str) -> Callable:
    """Return a move: choose an option of the page's first dropdown by its label."""
    return lambda page: page.locator("select").first.select_option(label=label)


CHECKS = {
    "auction": Check(
        "Who is filled",
        ("开盘价 Opening price: 9.98", "Why this price", "Largest volume: 10,100"),
        1,
        press(1, "End"),  # your order: 20,000 shares at 10.10
        "text=without your order: 9.98",
    ),
    "book": Check(
        "Trade tape",
        ("Step 3", "A market buy M of 900 shares", "Level-2 view"),
        1,
        press(0, "ArrowRight"),  # step 4: the cancel
        "text=Step 4",
    ),
    "convertible": Check(
        "Converting 137 bonds",
        ("114.16", "Three clauses", "downward reset"),
        2,
        press(0, "End"),  # share price 20.00: conversion value 200.00
        "text=200.00",
    ),
    "costs": Check(
        "Year by year",
        ("60,000,000.00", "the tech board saves"),
        1,
        press(0, "End"),  # share capital 200 million: four times the turnover
        "text=200,000,000.00",
    ),
    "liquidity": Check(
        "The report's charts",
        ("runs simulated in", "Results (mean over seeds)", "counterfactual"),
        1,
        choose("spread and depth distributions"),
        "img[alt='spread and depth distributions']",
    ),
}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Yield one headless Debian Chromium for every demo; skip without it."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def served(request, tmp_path) -> Iterator[str]:
    """Serve one demo with `techboard demo NAME --port P`; yield its address; stop it."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "techboard.cli", "demo", request.param, "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVE_S
        while True:
            try:
                socket.create_connection((LOOPBACK, port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text()[-2000:]
                    pytest.fail(f"demo {request.param}: no server on port {port}:\n{tail}")
                time.sleep(0.1)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        stop(server)


def stop(server: subprocess.Popen) -> None:
    """Stop a server and every process it started (its process group)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    except ProcessLookupError:
        server.wait()
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.mark.parametrize("served", list(CHECKS), indirect=True)
def test_the_demo_renders_and_reacts(browser, served, request, capsys):
    name = request.node.callspec.params["served"]
    check = CHECKS[name]
    page = browser.new_page(viewport={"width": 1280, "height": 1500})
    try:
        start = time.perf_counter()
        page.goto(served)
        page.get_by_text(check.ready).first.wait_for(timeout=RENDER_S * 1000)
        render_s = time.perf_counter() - start
        for text in check.texts:
            assert page.get_by_text(text).count() > 0, f"{name}: {text!r} not shown"
        drawn = page.locator("img").evaluate_all(
            "images => images.filter(i => i.complete && i.naturalWidth > 100).length"
        )
        assert drawn >= check.images, f"{name}: {drawn} plots drawn"
        folder = os.environ.get("TECHBOARD_DEMO_SCREENSHOTS")
        if folder:
            page.screenshot(path=str(Path(folder) / f"{name}.png"))
        assert page.locator(check.after).count() == 0
        start = time.perf_counter()
        check.move(page)
        page.locator(check.after).first.wait_for(timeout=30_000)
        react_s = time.perf_counter() - start
    finally:
        page.close()
    with capsys.disabled():
        print(f"\ndemo {name}: rendered in {render_s:.2f} s, reacted in {react_s:.2f} s")
