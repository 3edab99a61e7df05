"""The gateway's settings file (TOML): broker, board, session clock, limits, instruments and
participants. Units: cash in 1/10000 CNY, prices in price units, shares in shares.

    board = "star"                      # a board preset or TOML file
    calendar = "cn"
    journal = "gateway.tbj"             # "" for none
    durability = "fsync"                # journal: "fsync" (default), "flush" or "buffer"

    [broker]
    host = "127.0.0.1"
    port = 1883
    username = "gateway"
    password = "..."                    # or password_file = "gateway.secret"

    [session]
    date = "2025-03-03"                 # the trading day to open ("" with speed 0: today)
    start = "10:00"                     # local time the session clock starts at
    speed = 1.0                         # session seconds per wall second; 0: wall-clock time

    [limits]
    orders_per_second = 50000           # per participant; burst = 2 seconds' worth
    max_message_bytes = 262144
    queue = 20000                       # incoming messages held at most
    reserve_orders = 262144             # orders the venue's tables hold before they grow

    [[instrument]]
    symbol = "AAA"
    class = "equity"
    previous_close = 100000

    [[participant]]
    name = "alice"                      # the broker user name, the topic's {participant}
    kind = "qualified_institution"
    cash = 10000000000
    shares = { AAA = 100000 }
    cancel_on_disconnect = true
"""

from __future__ import annotations

import datetime
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange.venue.journal import DURABILITY, Durability
from gateway.protocol import MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class BrokerSettings:
    """Where the broker listens and the gateway's credentials there."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str = "gateway"
    password: str = ""
    client_id: str = "techboard-gateway"


@dataclass(frozen=True)
class SessionSettings:
    """The session clock: trading day, local start time, speed (0: wall-clock time)."""

    date: str = ""
    start: str = "09:30"
    speed: float = 1.0


@dataclass(frozen=True)
class Limits:
    """Per-participant and gateway-wide limits."""

    orders_per_second: int = 50_000
    max_message_bytes: int = MAX_MESSAGE_BYTES
    queue: int = 20_000
    snapshot_levels: int = 1000
    reserve_orders: int = 1 << 18  # the venue's order tables are sized (and their pages
    # written) for this many more orders at start-up, about 200 bytes each: past it a table
    # doubles, a pause of milliseconds for the batch that crosses it


@dataclass(frozen=True)
class InstrumentSettings:
    """An instrument served: symbol, class on the board, previous close (price units)."""

    symbol: str
    instrument_class: str
    previous_close: int


@dataclass(frozen=True)
class ParticipantSettings:
    """A participant: broker user name, kind, opening cash and shares, cancel-on-disconnect."""

    name: str
    kind: str = "qualified_institution"
    cash: int = 0
    shares: dict[str, int] = field(default_factory=dict)
    cancel_on_disconnect: bool = False
    financial_assets: int = 0
    experience_months: int = 0


@dataclass(frozen=True)
class GatewayConfig:
    """Everything `techboard gateway serve` needs."""

    board: str
    instruments: tuple[InstrumentSettings, ...]
    participants: tuple[ParticipantSettings, ...]
    calendar: str = "cn"
    journal: str = ""
    durability: Durability = "fsync"
    broker: BrokerSettings = BrokerSettings()
    session: SessionSettings = SessionSettings()
    limits: Limits = Limits()


def load_config(path: str | Path) -> GatewayConfig:
    """Read a gateway TOML file; raise ValueError naming a bad or missing setting."""
    path = Path(path)
    data = tomllib.loads(path.read_text())
    return parse_config(data, path.parent)


def parse_config(data: dict[str, Any], base: Path = Path()) -> GatewayConfig:
    """Return the settings of a parsed TOML map (relative paths against base)."""
    try:
        broker = dict(data.get("broker", {}))
        secret = broker.pop("password_file", None)
        if secret:
            broker["password"] = (base / secret).read_text().strip()
        instruments = tuple(
            InstrumentSettings(x["symbol"], x["class"], int(x["previous_close"]))
            for x in data.get("instrument", [])
        )
        participants = tuple(ParticipantSettings(**x) for x in data.get("participant", []))
        journal = data.get("journal", "")
        config = GatewayConfig(
            board=data.get("board", "star"),
            instruments=instruments,
            participants=participants,
            calendar=data.get("calendar", "cn"),
            journal=str(base / journal) if journal else "",
            durability=data.get("durability", "fsync"),
            broker=BrokerSettings(**broker),
            session=SessionSettings(**data.get("session", {})),
            limits=Limits(**data.get("limits", {})),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"gateway config: {error}") from error
    if not instruments or not participants:
        raise ValueError("gateway config: at least one [[instrument]] and one [[participant]]")
    if config.durability not in DURABILITY:
        choices = ", ".join(DURABILITY)
        raise ValueError(
            f"gateway config: durability {config.durability!r} is not one of {choices}"
        )
    if config.session.date:
        datetime.date.fromisoformat(config.session.date)
    return config
