"""The bot runner: the simulator's own agents (simulation.agents) trading through the gateway.

One agent interface, two transports: the discrete-event simulator calls an agent in process; a
bot is a separate process that runs the same agent object over MQTT in real time through the
client SDK (gateway.client). The runner

- keeps the symbol's local book from the gateway's snapshot and deltas (GatewayClient.watch) and
  its trade prints, and shows them to the agent as a MarketView (level 1, last price, volume
  since the bot started, levels);
- tells the agent the instrument (reference data from the gateway) and a one-span session from
  the bot's start to its end, in wall-clock ns UTC;
- wakes the agent at its next_wake() and turns the ORDER_DTYPE rows it returns into `new`,
  `cancel` and `replace` requests: one message for one request, a `batch` for several;
- turns the reports into VENUE_EVENT_DTYPE rows for on_events (ack: ACCEPTED, QUEUED or
  REPLACED; reject: REJECTED with its code; fill: TRADE with the bot as owner; cancelled:
  CANCELLED); a fill whose trade number was seen already (a report sent again) is dropped.

An agent's population members all trade as the bot's one participant (the broker user): the
client order id string `{tag}.{member}.{number}` keeps them apart, `tag` a random run prefix so
a rerun against the same gateway never reuses an id. Units: prices in price units (1/10000 CNY),
quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import datetime
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from exchange.dtypes import VENUE_EVENT_DTYPE, OrderCommand, VenueEventKind
from gateway.client import GatewayClient, LocalBook
from gateway.protocol import ORDER_TYPES, SIDES, TIMES_IN_FORCE, new_order
from matching_engine.dtypes import EventKind, Phase
from simulation.agent import LEVEL_DTYPE, Agent, InstrumentInfo, Session, Span, Top
from simulation.agents import KINDS, NoiseTraders
from simulation.fundamental import NS_PER_SECOND
from simulation.scenario import POPULATION

EXCHANGE_ZONE = ZoneInfo("Asia/Shanghai")
BOT_KINDS = {"noise": "noise", "momentum": "momentum", "market-maker": "market_maker"}
SIDE_OF = {v: k for k, v in SIDES.items()}
TYPE_OF = {v: k for k, v in ORDER_TYPES.items()}
TIF_OF = {v: k for k, v in TIMES_IN_FORCE.items()}
ACK_KINDS = {
    "accepted": EventKind.ACCEPTED,
    "queued": VenueEventKind.QUEUED,
    "replaced": EventKind.REPLACED,
}
IDLE_S = 0.05  # longest wait for a report before the runner looks at the clock again


def agent_params(kind: str, overrides: dict[str, str]) -> dict[str, Any]:
    """Return a population's parameters: simulation.scenario.POPULATION defaults, overridden by
    `key=value` texts converted to each key's type; raise ValueError naming a bad one."""
    keys = POPULATION[kind]
    params = {name: key.default for name, key in keys.items()}
    if kind == "noise":  # the run window, set when the bot starts (BotRunner.run)
        params["from"] = params["until"] = ""
    for name, text in overrides.items():
        key = keys.get(name)
        if key is None:
            raise ValueError(f"{kind} has no parameter {name!r}: one of {', '.join(keys)}")
        kinds = key.kind if isinstance(key.kind, tuple) else (key.kind,)
        value: Any = text
        if str not in kinds:
            decimal = float in kinds and (int not in kinds or any(c in text for c in ".eE"))
            value = float(text) if decimal else int(text)
        if key.check is not None and not key.check(value):
            raise ValueError(f"{kind} parameter {name} = {text}: allowed {key.allowed}")
        params[name] = value
    return params


def local_time(ns: int) -> str:
    """Return the exchange's local wall time "HH:MM:SS" of ns UTC."""
    moment = datetime.datetime.fromtimestamp(ns / NS_PER_SECOND, EXCHANGE_ZONE)
    return moment.strftime("%H:%M:%S")


def midnight(ns: int) -> int:
    """Return the ns UTC of the exchange's local midnight on the local day of ns."""
    moment = datetime.datetime.fromtimestamp(ns / NS_PER_SECOND, EXCHANGE_ZONE)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(start.timestamp()) * NS_PER_SECOND


def run_session(start: int, end: int) -> Session:
    """Return the bot's session: one continuous span [start, end) taking limit orders."""
    spans = (Span("continuous", start, end, ("limit", "market")),)
    return Session(day=0, midnight=midnight(start), spans=spans)


class BookView:
    """The MarketView of a bot: its local book, and the trade prints since it started."""

    def __init__(self, book: LocalBook) -> None:
        """View one local book (instrument 0)."""
        self.book = book
        self.last = 0
        self.volume = 0

    def trade(self, price: int, quantity: int) -> None:
        """Count a trade print."""
        self.last = price
        self.volume += quantity

    def top(self, instrument: int) -> Top:
        """Return level 1, the last price and the volume seen (phase: continuous)."""
        book = self.book
        bid, ask = book.best_bid(), book.best_ask()
        return Top(
            bid or 0, book.bids[bid][0] if bid else 0, ask or 0, book.asks[ask][0] if ask else 0,
            self.last, self.volume, int(Phase.CONTINUOUS),
        )  # fmt: skip

    def levels(self, instrument: int, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """Return up to `depth` bid and ask levels (LEVEL_DTYPE), best first."""
        bids = sorted(self.book.bids.items(), reverse=True)[:depth]
        asks = sorted(self.book.asks.items())[:depth]
        return tuple(  # type: ignore[return-value]
            np.array([(p, q) for p, (q, _) in side], LEVEL_DTYPE) for side in (bids, asks)
        )


@dataclass
class BotSummary:
    """What a bot did: requests sent, answers, fills and the trade numbers it took part in."""

    participant: str
    kind: str
    requests: int = 0
    acks: int = 0
    rejects: int = 0
    cancels: int = 0
    fills: int = 0
    filled: int = 0  # shares
    reject_reasons: dict[str, int] = field(default_factory=dict)
    trades: list[int] = field(default_factory=list)


class BotRunner:
    """Run one agent over a GatewayClient in real time (see the module docstring)."""

    def __init__(self, client: GatewayClient, agent: Agent, kind: str, symbol: str) -> None:
        """Run `agent` (a population over participant ids 0..n-1) for the client's participant."""
        self.client = client
        self.agent = agent
        self.symbol = symbol
        self.tag = secrets.token_hex(3)
        self.summary = BotSummary(client.participant, kind)
        self.seen_trades: set[int] = set()

    def text(self, member: int, number: int) -> str:
        """Return the wire's client order id of a member's order number."""
        return f"{self.tag}.{member}.{number}"

    def requests(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """Return the request maps of an agent's ORDER_DTYPE rows."""
        out = []
        for row in rows.tolist():
            kind, side, order_type, tif, member, _instrument, number, price, quantity, _ts = row
            text = self.text(member, number)
            if kind == OrderCommand.NEW:
                out.append(new_order(text, self.symbol, SIDE_OF[side], quantity, price,
                                     TYPE_OF[order_type], TIF_OF[tif]))  # fmt: skip
            elif kind == OrderCommand.CANCEL:
                out.append({"type": "cancel", "id": text})
            elif kind == OrderCommand.REPLACE:
                out.append({"type": "replace", "id": text, "price": price, "qty": quantity})
        return out

    def event(self, report: dict[str, Any]) -> np.ndarray | None:
        """Return a report as one VENUE_EVENT_DTYPE row, or None (not this run's, or seen)."""
        parts = str(report.get("id", "")).split(".")
        if len(parts) != 3 or parts[0] != self.tag or report.get("duplicate"):
            return None
        member, number = int(parts[1]), int(parts[2])
        row = np.zeros(1, VENUE_EVENT_DTYPE)
        row["owner"], row["client_order_id"], row["contra_owner"] = member, number, -1
        kind, s = report["type"], self.summary
        if kind == "ack":
            row["kind"], row["price"], row["quantity"] = ACK_KINDS[report["state"]],\
                report["price"], report["qty"]  # fmt: skip
            row["leaves"] = report["qty"]
            s.acks += 1
        elif kind == "reject":
            row["kind"], row["reason"] = EventKind.REJECTED, report["code"]
            s.rejects += 1
            s.reject_reasons[report["reason"]] = s.reject_reasons.get(report["reason"], 0) + 1
        elif kind == "fill":
            if report["trade"] in self.seen_trades:
                return None
            self.seen_trades.add(report["trade"])
            row["kind"], row["side"], row["price"] = EventKind.TRADE, SIDES[report["side"]],\
                report["price"]  # fmt: skip
            row["quantity"], row["leaves"] = report["qty"], report["leaves"]
            s.fills += 1
            s.filled += report["qty"]
            s.trades.append(report["trade"])
        elif kind == "cancelled":
            row["kind"], row["quantity"], row["reason"] = EventKind.CANCELLED, report["qty"],\
                report["code"]  # fmt: skip
            s.cancels += 1
        else:
            return None
        return row

    async def run(self, seconds: float, sync_timeout: float = 10.0) -> BotSummary:
        """Trade for `seconds` of wall-clock time from now; return the summary."""
        client, agent = self.client, self.agent
        reference = (await client.instruments(sync_timeout))[self.symbol]
        book = await client.watch(self.symbol)
        view = BookView(book)
        deadline = time.monotonic() + sync_timeout
        while not book.synced:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no snapshot of {self.symbol} in {sync_timeout} s")
            await self._pump(view, 0.01)
        info = InstrumentInfo(
            0, self.symbol, reference["class"], "continuous", reference["tick"],
            reference["lot"], reference["previous_close"],
        )  # fmt: skip
        agent.start((info,))
        start = time.time_ns()
        end = start + int(seconds * NS_PER_SECOND)
        if isinstance(agent, NoiseTraders):  # unset from/until: the bot's run window
            agent.params["from"] = agent.params["from"] or local_time(start)
            agent.params["until"] = agent.params["until"] or local_time(end)
        agent.start_day(run_session(start, end))
        while (now := time.time_ns()) < end:
            if agent.next_wake() <= now:
                requests = self.requests(agent.wake(now, view))
                if requests:
                    self.summary.requests += len(requests)
                    await client.send(requests)
            wait = min(agent.next_wake(), end) - time.time_ns()
            await self._pump(view, max(0.0, min(IDLE_S, wait / NS_PER_SECOND)))
        agent.end_day()
        return self.summary

    async def _pump(self, view: BookView, timeout: float) -> None:
        """Wait up to timeout for a report; hand the reports and trade prints to the agent."""
        client = self.client
        try:
            reports = [await client.next_report(timeout)] if timeout > 0 else []
        except TimeoutError:
            reports = []
        reports += client.arrived_reports()
        while not client.trades.empty():
            _seq, price, quantity, _side, _ts = client.trades.get_nowait()["trade"]
            view.trade(price, quantity)
        rows = [row for row in map(self.event, reports) if row is not None]
        if rows:
            self.agent.on_events(np.concatenate(rows))


def make_agent(kind: str, count: int, seed: int, params: dict[str, Any]) -> Agent:
    """Return a population of `count` members of a bot kind (participant ids 0..count-1)."""
    cls = KINDS[BOT_KINDS[kind]]
    return cls(np.arange(count, dtype=np.int32), 1, seed, params)
