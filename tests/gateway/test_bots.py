"""Bots as their own processes (`techboard bot run`) trading through a real Mosquitto and the
gateway process, `techboard bench gateway --quick --json` end to end, and paho's shared
property tables (gateway.mqtt.share_property_tables)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client
import pytest
from gateway_process import start_gateway, stop_gateway, write_config
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.bots import agent_params
from gateway.mqtt import share_property_tables

KEYS = {"mode", "orders_per_s", "offered_per_s", "p50_ms", "p99_ms", "p999_ms", "acknowledged",
        "lost", "duplicate_fills"}  # fmt: skip

# the simulator's lot of one share (simulation/scenarios/rmsc-like.toml), so every agent order
# size the ABIDES mixture draws is a valid order
BOARD = """
extends = "star"
[classes.equity]
lot = { minimum = 1, step = 1, odd_lot_sell = true }
"""


@pytest.fixture(scope="module")
def gateway(broker, tmp_path_factory) -> Iterator[subprocess.Popen]:
    """Yield a gateway process on a board with one-share lots, serving the shared broker."""
    directory = tmp_path_factory.mktemp("bots")
    (directory / "board.toml").write_text(BOARD)
    config = write_config(directory, broker)
    config.write_text(config.read_text().replace('board = "star"', 'board = "board.toml"'))
    process = start_gateway(config, broker)
    yield process
    stop_gateway(process)


def bot(kind: str, participant: str, *options: str) -> subprocess.Popen:
    """Start `techboard bot run` with a JSON summary on stdout."""
    command = [sys.executable, "-m", "techboard.cli", "bot", "run", kind, "--participant",
               participant, "--json", *options]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def summary(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return json.loads(out.splitlines()[-1])


def test_market_maker_and_noise_bots_trade_with_each_other(broker, gateway):
    maker = bot(
        "market-maker", "mm1", "--config", str(broker.files.credentials_file),
        "--duration", "7", "--seed", "3", "--param", "wake_s=0.3", "--param", "levels=3",
        "--param", "min_order_size=300",
    )  # fmt: skip
    time.sleep(2.0)  # the maker quotes first: noise traders trade at the touch
    noise1 = broker.user("noise1")
    noise = bot(
        "noise", "noise1", "--host", broker.host, "--port", str(broker.port), "--password",
        noise1.password, "--duration", "4", "--count", "40", "--seed", "5",
    )  # fmt: skip
    mm, nz = summary(maker), summary(noise)
    assert mm["acks"] >= 6 and mm["requests"] > mm["acks"]  # quotes, then cancels of quotes
    assert nz["fills"] > 0 and mm["fills"] > 0
    # every trade of the noise bot had the market maker on the other side: the gateway gave
    # both bots the same trade numbers
    assert set(nz["trades"]) <= set(mm["trades"])
    assert nz["rejects"] <= nz["requests"] // 4, nz["reject_reasons"]


def test_a_bot_refuses_an_unknown_agent_parameter():
    process = bot("noise", "noise1", "--password", "x", "--param", "speed=3")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "no parameter 'speed'" in err


def test_agent_parameters_take_the_population_defaults_and_types():
    params = agent_params("market_maker", {"wake_s": "0.5", "levels": "4"})
    assert params["wake_s"] == 0.5 and params["levels"] == 4 and params["pov"] == 0.025
    with pytest.raises(ValueError, match="levels = 0"):
        agent_params("market_maker", {"levels": "0"})


def test_bench_gateway_quick_json_loses_nothing(tmp_path: Path):
    process = subprocess.run(
        [sys.executable, "-m", "techboard.cli", "bench", "gateway", "--quick", "--json",
         "--bots", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-2000:]
    results = json.loads(process.stdout)
    assert [r["mode"] for r in results] == ["batched", "single", "latency"]
    for result in results:
        assert set(result) >= KEYS
        assert result["lost"] == 0 and result["duplicate_fills"] == 0
        assert result["acknowledged"] > 0 and result["orders_per_s"] > 0
    latency = results[2]
    assert latency["offered_per_s"] == 2_000 and latency["p50_ms"] <= latency["p99_ms"]


def test_paho_properties_share_their_tables_but_not_their_values():
    share_property_tables()
    first, second = (paho.mqtt.client.Properties(PacketTypes.PUBLISH) for _ in range(2))
    first.ContentType = "application/json"
    assert first.names is second.names  # built once, not per received packet
    assert not hasattr(second, "ContentType")
    plain = Properties(PacketTypes.PUBLISH)
    plain.ContentType = "application/json"
    assert first.pack() == plain.pack()
    second.unpack(first.pack())  # as paho reads a received packet's properties
    assert second.ContentType == "application/json"
    first.clear()
    assert not hasattr(first, "ContentType") and first.names is second.names
