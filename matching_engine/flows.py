"""Seeded synthetic command streams for benchmarks and tests.

Every generator returns a `Flow`: one book's spec, the commands that build the book before the
stream (untimed in a benchmark) and the stream itself, all COMMAND_DTYPE rows, the same for the
same seed. Order ids are 1, 2, 3, ... in order of entry; cancels and replaces name live ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from matching_engine.api import BookSpec
from matching_engine.book import NumbaEngine
from matching_engine.dtypes import (
    COMMAND_DTYPE,
    CommandKind,
    EventKind,
    OrderType,
    Phase,
    Side,
    TimeInForce,
)

START_PRICE = 500_000  # 50.00 CNY in price units
TICK = 100  # 0.01 CNY
DAY_NS = 4 * 3600 * 10**9  # a trading day of four hours
OWNERS = 1000  # participants 1..OWNERS place orders; a sweeper is OWNERS + 1

# share of new orders by fate in a regime flow (passive orders rest at least a tick off the mid)
IOC_SHARE = 0.05  # aggressive limit IOC a few ticks through the mid
KEEP_SHARE = 0.05  # passive, never cancelled
REPLACE_SHARE = (
    0.10  # passive, replaced once (half reduced in place, half repriced), then cancelled
)
# the rest: passive, cancelled after a random lifetime
MESSAGES_PER_ORDER = 2 - IOC_SHARE - KEEP_SHARE + REPLACE_SHARE


class Flow(NamedTuple):
    """A book, the commands that seed it, and the command stream to run against it."""

    spec: BookSpec
    seed: np.ndarray
    commands: np.ndarray


@dataclass(frozen=True)
class Regime:
    """A market regime: the mid-price path and how orders sit around it."""

    name: str
    knots: tuple[tuple[float, float], ...]  # (fraction of the run, mid relative to the start)
    noise: float = 0.01  # standard deviation of the relative random walk over the whole run
    lifetime: int = 2_000  # mean messages between a passive order's entry and its cancel
    spread: float = 8.0  # mean distance of a passive order from the mid, ticks
    depth: int = 5_000  # orders in the seed book

    def path(self, t: np.ndarray) -> np.ndarray:
        """Return the trend of the mid relative to the start at run fractions t (no noise)."""
        at, rel = zip(*self.knots, strict=True)
        return np.interp(t, at, rel)

    def band(self) -> BookSpec:
        """Return a book whose band holds the path with room for the deepest orders."""
        rel = [r for _, r in self.knots]
        lo = int(START_PRICE * min(rel) * 0.7) // TICK * TICK
        hi = -(-int(START_PRICE * max(rel) * 1.3) // TICK) * TICK
        return BookSpec(lo, hi, TICK)


REGIMES = {
    r.name: r
    for r in (
        Regime(
            "static deep book", ((0, 1), (1, 1)), noise=0, lifetime=20_000, spread=40, depth=100_000
        ),
        Regime("normal day", ((0, 1), (1, 1.01))),
        Regime("swing day +25%", ((0, 1), (1, 1.25))),
        Regime("swing day -40%", ((0, 1), (1, 0.6))),
        Regime("flash crash -60%", ((0, 1), (0.4, 1), (0.5, 0.4), (0.7, 0.7), (1, 0.7))),
    )
}


def _rows(n: int, **fields: np.ndarray | int) -> np.ndarray:
    """Return n command rows with the given fields (arrays or scalars), the rest 0."""
    out = np.zeros(n, COMMAND_DTYPE)
    for name, value in fields.items():
        out[name] = value
    return out


def _lots(rng: np.random.Generator, n: int, mean_lots: float) -> np.ndarray:
    """Return n quantities in round lots of 100 shares, geometric with the given mean."""
    return 100 * rng.geometric(1 / mean_lots, n)


def _passive(rng: np.random.Generator, mid: np.ndarray, side: np.ndarray, spread: float):
    """Return limit prices at least a tick off the mids (in ticks) on the given sides."""
    offset = rng.geometric(1 / spread, len(mid))
    floor = np.floor(mid).astype(np.int64)
    return np.where(side == Side.BUY, floor - offset + 1, floor + offset)


def regime_flow(regime: Regime, n: int, seed: int = 0) -> Flow:
    """Return about n commands of one regime.

    New orders arrive uniformly through the run; passive ones rest around the mid of their
    arrival time, so a moving mid makes later orders cross earlier ones. Most are cancelled
    after an exponential lifetime, some are replaced first, a few are kept; IOC orders take
    liquidity a few ticks through the mid.
    """
    rng = np.random.default_rng(seed)
    spec = regime.band()
    lo, hi = spec.lo // TICK, spec.hi // TICK
    grid = np.linspace(0, 1, 4097)
    walk = np.concatenate([[0], np.cumsum(rng.normal(0, regime.noise / 64, 4096))])

    def mid(t: np.ndarray) -> np.ndarray:
        return START_PRICE / TICK * regime.path(t) * np.exp(np.interp(t, grid, walk))

    def price(ticks: np.ndarray) -> np.ndarray:
        return np.clip(ticks, lo, hi) * TICK

    depth = regime.depth
    side = rng.integers(0, 2, depth)
    seed_rows = _rows(
        depth,
        kind=CommandKind.NEW,
        side=side,
        owner=rng.integers(1, OWNERS + 1, depth),
        order_id=np.arange(1, depth + 1),
        price=price(_passive(rng, mid(np.zeros(depth)), side, regime.spread)),
        quantity=_lots(rng, depth, 3),
    )

    m = int(1.1 * n / (MESSAGES_PER_ORDER - regime.lifetime / n)) + 16  # ~1/10 are rejected
    t_new = np.sort(rng.random(m))
    side = rng.integers(0, 2, m)
    owner = rng.integers(1, OWNERS + 1, m)
    qty = _lots(rng, m, 3)
    fate = rng.random(m)
    ioc = fate < IOC_SHARE
    cancelled = fate >= IOC_SHARE + KEEP_SHARE
    replaced = cancelled & (fate < IOC_SHARE + KEEP_SHARE + REPLACE_SHARE)
    through = rng.integers(0, 4, m)
    mid_new = mid(t_new)
    limit = np.where(
        ioc,
        np.where(side == Side.BUY, np.floor(mid_new) + through + 1, np.ceil(mid_new) - through - 1),
        _passive(rng, mid_new, side, regime.spread),
    ).astype(np.int64)
    qty = np.where(ioc, _lots(rng, m, 10), qty)
    news = _rows(
        m,
        kind=CommandKind.NEW,
        side=side,
        order_type=OrderType.LIMIT,
        tif=np.where(ioc, TimeInForce.IOC, TimeInForce.DAY),
        owner=owner,
        order_id=depth + 1 + np.arange(m),
        price=price(limit),
        quantity=qty,
    )

    life = regime.lifetime / n
    t_rep = t_new + rng.exponential(life / 2, m)
    t_cancel = np.where(replaced, t_rep, t_new) + rng.exponential(life, m)
    rep = np.flatnonzero(replaced)
    reprice = rng.random(len(rep)) < 0.5
    halved = np.maximum(qty[rep] // 200, 1) * 100
    new_limit = _passive(rng, mid(t_rep[rep]), side[rep], regime.spread)
    replaces = _rows(
        len(rep),
        kind=CommandKind.REPLACE,
        owner=owner[rep],
        order_id=news["order_id"][rep],
        price=np.where(reprice, price(new_limit), news["price"][rep]),
        quantity=np.where(reprice, qty[rep], halved),
    )
    can = np.flatnonzero(cancelled)
    cancels = _rows(
        len(can), kind=CommandKind.CANCEL, owner=owner[can], order_id=news["order_id"][can]
    )

    stream = np.concatenate([news, replaces, cancels])
    t = np.concatenate([t_new, t_rep[rep], t_cancel[can]])
    order = np.argsort(t, kind="stable")
    order = order[t[order] < 1]
    stream = stream[order]
    stream["timestamp"] = (t[order] * DAY_NS).astype(np.int64)
    return Flow(spec, seed_rows, _live_only(spec, seed_rows, stream))


def _live_only(spec: BookSpec, seed: np.ndarray, stream: np.ndarray) -> np.ndarray:
    """Return the stream without the commands the book rejects: cancels and replaces of orders
    filled before they arrive (a participant knows its fills). Rejected commands change nothing,
    so every other command sees the same book as before."""
    engine = NumbaEngine([spec])
    engine.process(seed)
    events = engine.process(stream)
    rejected = events["command"][events["kind"] == EventKind.REJECTED]
    return np.delete(stream, rejected)


def sweep_flow(n: int, seed: int = 0, levels: int = 4_500, orders: int = 3_000) -> Flow:
    """Return about n commands of deep sweeps on a book with no other activity.

    Each cycle places `orders` limit orders on random levels within `levels` ticks of one side of
    the mid, then one order of another owner takes their whole quantity, walking every level
    they sit on: a market order (protection at the far end), a limit IOC or a limit DAY order,
    in turn. Cycles alternate buy and sell sweeps, so the book is empty after each.
    """
    rng = np.random.default_rng(seed)
    mid = START_PRICE
    spec = BookSpec(mid - (levels + 1) * TICK, mid + (levels + 1) * TICK, TICK)
    cycles = max(1, n // (orders + 1))
    sweep_side = np.arange(cycles) % 2  # BUY sweeps take asks, SELL sweeps take bids
    sign = np.where(sweep_side == Side.BUY, 1, -1)[:, None]
    maker_price = mid + sign * rng.integers(1, levels + 1, (cycles, orders)) * TICK
    maker_qty = _lots(rng, cycles * orders, 3).reshape(cycles, orders)
    block = np.zeros((cycles, orders + 1), COMMAND_DTYPE)
    block["kind"] = CommandKind.NEW
    block["side"][:, :orders] = (1 - sweep_side)[:, None]
    block["side"][:, orders] = sweep_side
    block["owner"][:, :orders] = rng.integers(1, OWNERS + 1, (cycles, orders))
    block["owner"][:, orders] = OWNERS + 1
    block["price"][:, :orders] = maker_price
    block["price"][:, orders] = mid + sign[:, 0] * levels * TICK
    block["quantity"][:, :orders] = maker_qty
    block["quantity"][:, orders] = maker_qty.sum(axis=1)
    style = np.arange(cycles) % 3
    block["order_type"][:, orders] = np.where(style == 0, OrderType.MARKET, OrderType.LIMIT)
    block["tif"][:, orders] = np.where(style == 1, TimeInForce.IOC, TimeInForce.DAY)
    stream = block.reshape(-1)
    stream["order_id"] = np.arange(1, len(stream) + 1)
    stream["timestamp"] = np.arange(len(stream)) * (DAY_NS // len(stream))
    return Flow(spec, _rows(0), stream)


def auction_flow(n: int, seed: int = 0) -> Flow:
    """Return n limit orders entered in the call phase, then one UNCROSS into continuous trading.

    Bid and ask prices are normal around the reference price (one per cent deviation), the bids
    centred half a deviation above it and the asks half below, so about half the orders trade.
    """
    rng = np.random.default_rng(seed)
    spec = BookSpec(START_PRICE // 2, START_PRICE * 2, TICK, phase=Phase.CALL)
    side = rng.integers(0, 2, n)
    sd = START_PRICE / TICK * 0.01
    ticks = START_PRICE / TICK + np.where(side == Side.BUY, sd / 2, -sd / 2) + rng.normal(0, sd, n)
    orders = _rows(
        n,
        kind=CommandKind.NEW,
        side=side,
        owner=rng.integers(1, OWNERS + 1, n),
        order_id=np.arange(1, n + 1),
        price=np.round(ticks).astype(np.int64) * TICK,
        quantity=_lots(rng, n, 3),
    )
    uncross = _rows(1, kind=CommandKind.UNCROSS, phase=Phase.CONTINUOUS, price=START_PRICE)
    return Flow(spec, orders, uncross)


def repeat(flow: Flow, times: int) -> Flow:
    """Return a flow whose stream replays seed + stream `times` over, each ended by a CLEAR.

    Each replay (a trading day) shifts its order ids past every id of the replays before it, so
    no id is reused; commands naming a non-positive id keep it.
    """
    day = np.concatenate([flow.seed, flow.commands, _rows(1, kind=CommandKind.CLEAR)])
    shift = int(day["order_id"].max(initial=0))
    days = np.tile(day, times)
    ids = days["order_id"]
    offsets = np.repeat(np.arange(times, dtype=np.int64) * shift, len(day))
    days["order_id"] = np.where(ids > 0, ids + offsets, ids)
    return Flow(flow.spec, _rows(0), days)
