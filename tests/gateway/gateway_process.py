"""Start the gateway as its own process (`techboard gateway serve`) against a test broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt

from gateway.broker import Broker
from gateway.protocol import GATEWAY_TOPIC, read

PARTICIPANTS_TOML = """
[[participant]]
name = "alice"
cash = 100_000_000_000
cancel_on_disconnect = true

[[participant]]
name = "bob"
cash = 100_000_000_000
shares = {{ AAA = 1_000_000 }}

[[participant]]
name = "mm1"
cash = 100_000_000_000
shares = {{ AAA = 1_000_000 }}
cancel_on_disconnect = true

[[participant]]
name = "mm2"
cash = 100_000_000_000
shares = {{ AAA = 1_000_000 }}

[[participant]]
name = "noise1"
cash = 100_000_000_000
shares = {{ AAA = 1_000_000 }}
"""


def write_config(directory: Path, broker: Broker, limits: str = "") -> Path:
    """Write a gateway.toml for the broker: star board, AAA, a session at 10:00 real speed."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    gateway = broker.gateway
    path.write_text(
        f"""
board = "star"
journal = "gateway.tbj"
[broker]
host = "{broker.host}"
port = {broker.port}
username = "{gateway.username}"
password = "{gateway.password}"
client_id = "gw-{directory.name}"
[session]
date = "2025-03-03"
start = "10:00"
speed = 1.0
[limits]
{limits}
[[instrument]]
symbol = "AAA"
class = "equity"
previous_close = 100000
{PARTICIPANTS_TOML.format()}"""
    )
    return path


def gateway_state(broker: Broker, timeout: float = 2.0) -> str | None:
    """Return the retained gateway status (online/offline), None if none arrives in time."""
    seen: list[str] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    user = broker.user("alice")
    client.username_pw_set(user.username, user.password)
    client.on_message = lambda _c, _u, message: seen.append(read(message.payload)["state"])
    client.connect(broker.host, broker.port)
    client.subscribe(GATEWAY_TOPIC, qos=1)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    client.loop_stop()
    client.disconnect()
    return seen[-1] if seen else None


def start_gateway(config: Path, broker: Broker, timeout: float = 60.0) -> subprocess.Popen:
    """Start `techboard gateway serve` and wait until its retained status says online."""
    log = open(config.parent / "gateway.log", "w")  # noqa: SIM115 (the process keeps it)
    process = subprocess.Popen(
        [sys.executable, "-m", "techboard.cli", "gateway", "serve", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=config.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((config.parent / "gateway.log").read_text())
        if gateway_state(broker, 0.3) == "online":
            return process
    process.kill()
    raise RuntimeError(
        "the gateway did not come online: " + (config.parent / "gateway.log").read_text()
    )


def stop_gateway(process: subprocess.Popen) -> None:
    """Stop the gateway with SIGTERM (SIGKILL after 5 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
