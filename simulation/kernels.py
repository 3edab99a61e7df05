"""numba kernels of the simulator's busiest steps: the populations' wakes (simulation.agents)
and the routing of events to agents (simulation.run). One call does what numpy would do in
dozens of calls on arrays of one or two members.

Randomness stays numpy's: a population draws uniforms from its generator in blocks (`Uniforms`)
and a kernel takes them in order and turns them into the draws it needs (normals by Box-Muller,
exponentials and lognormals by inversion), so a seed gives the same run on every machine. Rows
written are exchange.dtypes.ORDER_DTYPE commands; timestamps are left to the runner.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from exchange.dtypes import OrderCommand
from matching_engine.dtypes import EventKind, OrderType, Side, TimeInForce
from simulation.agent import NEVER

NEW, CANCEL = int(OrderCommand.NEW), int(OrderCommand.CANCEL)
LIMIT, DAY = int(OrderType.LIMIT), int(TimeInForce.DAY)
BUY, SELL = int(Side.BUY), int(Side.SELL)
TRADE, ACCEPTED, REPLACED = int(EventKind.TRADE), int(EventKind.ACCEPTED), int(EventKind.REPLACED)

# ABIDES' order-size mixture (models/order_size_model.py): lognormal(2.9, 1.2) with weight 0.2,
# else round lots 100 ... 1,000 with these weights
SIZE_LOTS = np.arange(100, 1001, 100)
SIZE_WEIGHTS = np.array([0.7, 0.06, 0.004, 0.0329, 0.001, 0.0006, 0.0004, 0.0005, 0.0003, 0.0003])
SIZE_CDF = np.cumsum(SIZE_WEIGHTS / SIZE_WEIGHTS.sum())
SIZE_CDF /= SIZE_CDF[-1]
SIZE_UNIFORMS = 4  # uniforms one order size takes

# ValueTraders' parameters, in this order in the `params` array of value_wake
(V_MEAN_WAKE, V_SIGMA_N, V_SIGMA_S, V_KAPPA, V_AGGRESSIVE, V_DEPTH_SPREAD, V_MIN_EDGE,
 V_ROUND_TRIP_FEE) = range(8)  # fmt: skip
VALUE_PARAMS = 8
VALUE_UNIFORMS = 5 + SIZE_UNIFORMS
MOMENTUM_UNIFORMS = 2


class Uniforms:
    """Uniforms in [0, 1) drawn from a generator in blocks, taken in order by the kernels:
    `values[pos[0]:]` are not used yet."""

    BLOCK = 1 << 14

    def __init__(self, rng: np.random.Generator) -> None:
        """Draw from `rng` (nothing drawn yet)."""
        self.rng = rng
        self.values = np.zeros(0)
        self.pos = np.zeros(1, np.int64)

    def ensure(self, count: int) -> None:
        """Make at least `count` unused values available (drawing a new block if needed)."""
        used = int(self.pos[0])
        if len(self.values) - used < count:
            fresh = self.rng.random(max(count, self.BLOCK))
            self.values = np.concatenate((self.values[used:], fresh))
            self.pos[0] = 0


@njit(inline="always")
def _due(now, wakes):
    """Return the members whose wake is at or before now, in member order."""
    due = np.empty(len(wakes), np.int64)
    count = 0
    for m in range(len(wakes)):
        if wakes[m] <= now:
            due[count] = m
            count += 1
    return due[:count]


@njit(inline="always")
def _draws(now, wakes, uniforms, pos, per_member):
    """Return the members due at now and, one row each, the next `per_member` unused uniforms
    (the caller ensured there are enough)."""
    members = _due(now, wakes)
    start, count = pos[0], len(members) * per_member
    pos[0] = start + count
    return members, uniforms[start : start + count].reshape(len(members), per_member)


@njit(inline="always")
def _done(kind, leaves):
    """Return whether an event says its order is done: filled in full, cancelled, expired or
    refused (an acceptance or a replacement leaves it live)."""
    return kind != ACCEPTED and kind != REPLACED and (leaves == 0 or kind != TRADE)


@njit(inline="always")
def _normal(u1: float, u2: float) -> float:
    """A standard normal from two uniforms in [0, 1) (Box-Muller)."""
    return math.sqrt(-2.0 * math.log1p(-u1)) * math.cos(2.0 * math.pi * u2)


@njit(inline="always")
def _wait(u: float, mean: float) -> int:
    """A Poisson inter-arrival time, ns >= 1, from a uniform."""
    return int(max(1.0, -mean * math.log1p(-u)))


@njit(inline="always")
def _deferred(t: int, close: int, starts: np.ndarray, ends: np.ndarray) -> int:
    """Move a wake out of the day's breaks (to the next span's start); NEVER from the close."""
    t = max(t, starts[np.searchsorted(ends, t, side="right")])
    return NEVER if t >= close else t


@njit(inline="always")
def order_size(u: np.ndarray, lot: int) -> int:
    """An order size from ABIDES' mixture (SIZE_UNIFORMS uniforms), in whole lots, >= 1 lot."""
    if u[0] < 0.2:
        size = max(1, int(np.rint(math.exp(2.9 + 1.2 * _normal(u[1], u[2])))))
    else:
        size = SIZE_LOTS[np.searchsorted(SIZE_CDF, u[3], side="right")]
    return max(lot, size // lot * lot)


@njit(inline="always")
def _write(row, kind: int, participant: int, side: int, price: int, quantity: int, cid: int):
    row.kind = kind
    row.side = side
    row.order_type = LIMIT
    row.tif = DAY
    row.participant = participant
    row.instrument = 0
    row.client_order_id = cid
    row.price = price
    row.quantity = quantity


@njit(cache=True)
def value_wake(
    now, uniforms, pos, out, params, wakes, live, next_id, r_t, sigma_t, prev, path, path_start,
    path_step, r_bar, bid, ask, last, reference, tick, lot, close, starts, ends, base,
):  # fmt: skip
    """Wake the value traders due at now (simulation.agents.ValueTraders.wake): each cancels
    its live order, updates its estimate of the value from a noisy observation of the
    fundamental `path`, and posts one limit order. Write the rows to `out` (twice the members),
    take VALUE_UNIFORMS uniforms a member due; return the rows written and the next wake."""
    members, u = _draws(now, wakes, uniforms, pos, VALUE_UNIFORMS)
    n_out = 0
    for j in range(len(members)):  # cancels first, in member order
        m = members[j]
        wakes[m] = _deferred(now + _wait(u[j, 0], params[V_MEAN_WAKE]), close, starts, ends)
        if live[m] > 0:
            _write(out[n_out], CANCEL, m + base, 0, 0, 0, live[m])
            live[m] = 0
            n_out += 1
    sigma_n, sigma_s, kappa = params[V_SIGMA_N], params[V_SIGMA_S], params[V_KAPPA]
    value = path[min(max(0, (now - path_start) // path_step), len(path) - 1)]
    log_keep = math.log1p(-kappa)
    left = math.exp(float(max(0, close - now)) * log_keep)
    for j in range(len(members)):
        m = members[j]
        obs = value + math.sqrt(sigma_n) * _normal(u[j, 1], u[j, 2])
        delta = float(now - prev[m])
        keep = math.exp(delta * log_keep)
        r_prime = (1 - keep) * r_bar + keep * r_t[m]
        growth = math.expm1(2 * delta * log_keep) / math.expm1(2 * log_keep) if kappa else delta
        s_prime = keep**2 * sigma_t[m] + growth * sigma_s
        r_t[m] = (sigma_n * r_prime + s_prime * obs) / (sigma_n + s_prime)
        sigma_t[m] = sigma_n * s_prime / (sigma_n + s_prime)
        prev[m] = now
        r_T = (1 - left) * r_bar + left * r_t[m]
        if bid > 0 and ask > 0:
            mid = (bid + ask) / 2
            spread = max(tick, ask - bid)  # crossed in calls
            aggressive = u[j, 3] < params[V_AGGRESSIVE]
            adjust = 0.0 if aggressive else u[j, 4] * params[V_DEPTH_SPREAD] * spread
            buy = r_T >= mid
            price = ask - adjust if buy else bid + adjust
        else:
            mid = float(last or reference)  # no book: the last price
            buy = r_T >= mid if params[V_MIN_EDGE] else u[j, 4] < 0.5
            price = r_T
        edge = mid * params[V_MIN_EDGE] * params[V_ROUND_TRIP_FEE] / 1e8
        if params[V_MIN_EDGE] and not abs(r_T - mid) > edge:
            continue
        price = max(tick, int(np.rint(price / tick)) * tick)
        cid = next_id[m]
        next_id[m] += 1
        live[m] = cid
        size = order_size(u[j, 5:], lot)
        _write(out[n_out], NEW, m + base, BUY if buy else SELL, price, size, cid)
        n_out += 1
    return n_out, wakes.min()


@njit(cache=True)
def momentum_wake(
    now, uniforms, pos, out, mean_wake, short, min_size, max_size, wakes, history, seen, next_id,
    bid, ask, lot, close, starts, ends, base,
):  # fmt: skip
    """Wake the momentum traders due at now (simulation.agents.MomentumTraders.wake): each
    records the mid and, once its long window is full, takes the touch on the side of the
    moving-average crossover. Write the rows to `out` (one a member), take MOMENTUM_UNIFORMS
    uniforms a member due; return the rows written and the next wake."""
    members, u = _draws(now, wakes, uniforms, pos, MOMENTUM_UNIFORMS)
    n_out = 0
    for j in range(len(members)):
        m = members[j]
        wakes[m] = _deferred(now + _wait(u[j, 0], mean_wake), close, starts, ends)
    if not (bid > 0 and ask > 0):
        return 0, wakes.min()
    mid = (bid + ask) / 2
    long = history.shape[1]
    for j in range(len(members)):
        m = members[j]
        history[m, seen[m] % long] = mid
        seen[m] += 1
        if seen[m] < long:
            continue
        short_sum = 0.0
        long_sum = 0.0
        for back in range(long):
            x = history[m, (seen[m] - 1 - back) % long]
            long_sum += x
            if back < short:
                short_sum += x
        buy = short_sum / short > long_sum / long
        size = min_size + int(u[j, 1] * (max_size - min_size + 1))
        cid = next_id[m]
        next_id[m] += 1
        price = ask if buy else bid
        _write(out[n_out], NEW, m + base, BUY if buy else SELL, price, max(lot, size // lot * lot),
               cid)  # fmt: skip
        n_out += 1
    return n_out, wakes.min()


@njit(cache=True)
def forget_done(events, live, base):
    """Clear live[m] (member m = participant - base) when the event says that order is done:
    filled in full, cancelled, expired or refused (simulation.agents.OneOrderEach)."""
    n = len(live)
    for e in range(len(events)):
        ev = events[e]
        kind = ev.kind
        m = ev.owner - base
        if 0 <= m < n and _done(kind, ev.leaves) and live[m] == ev.client_order_id:
            live[m] = 0
        if kind == TRADE:
            m = ev.contra_owner - base
            if 0 <= m < n and ev.contra_leaves == 0 and live[m] == ev.contra_client_order_id:
                live[m] = 0


NOISE_UNIFORMS = 1 + SIZE_UNIFORMS


@njit(cache=True)
def noise_wake(now, uniforms, pos, out, wakes, next_id, bid, ask, lot, base):
    """Wake the noise traders due at now (simulation.agents.NoiseTraders.wake): each, once a
    day, takes the touch on a random side with an ABIDES-sized order (none without that
    touch). Write the rows to `out` (one a member), take NOISE_UNIFORMS uniforms a member due;
    return the rows written and the next wake."""
    members, u = _draws(now, wakes, uniforms, pos, NOISE_UNIFORMS)
    n_out = 0
    for j in range(len(members)):
        m = members[j]
        wakes[m] = NEVER
        buy = u[j, 0] < 0.5
        price = ask if buy else bid
        if price <= 0:
            continue
        cid = next_id[m]
        next_id[m] += 1
        _write(
            out[n_out], NEW, m + base, BUY if buy else SELL, price, order_size(u[j, 1:], lot), cid
        )
        n_out += 1
    return n_out, wakes.min()


# MarketMakers' parameters, in this order in the `params` array of market_maker_wake
(M_MEAN_WAKE, M_SPREAD_ALPHA, M_MAX_SPREAD_TICKS, M_LEVEL_SPACING, M_SKEW_BETA, M_POV,
 M_MIN_SIZE) = range(7)  # fmt: skip
MAKER_PARAMS = 7
MAKER_UNIFORMS = 1


@njit(cache=True)
def market_maker_wake(
    now, uniforms, pos, out, params, wakes, live, spread, volume_seen, inventory, next_id, bid,
    ask, last, volume, reference, tick, lot, close, starts, ends, base,
):  # fmt: skip
    """Wake the market makers due at now (simulation.agents.MarketMakers.wake): each cancels
    its ladder (live[m]: the quotes' client order ids, 0: free) and quotes live.shape[1] / 2
    levels a side around the mid (else the last price), spaced by its smoothed observed
    spread, sized by a share of the volume traded since its last wake, skewed against its
    inventory. Write the rows to `out` (2 x live.shape[1] a member), take MAKER_UNIFORMS
    uniforms a member due; return the rows written and the next wake."""
    members, u = _draws(now, wakes, uniforms, pos, MAKER_UNIFORMS)
    levels = live.shape[1] // 2
    if bid > 0 and ask > 0:
        mid, observed = (bid + ask) / 2, float(ask - bid)
    else:
        mid, observed = float(last or reference), 2.0 * tick
    alpha = params[M_SPREAD_ALPHA]
    n_out = 0
    for j in range(len(members)):
        m = members[j]
        wakes[m] = _deferred(now + _wait(u[j, 0], params[M_MEAN_WAKE]), close, starts, ends)
        for q in range(live.shape[1]):
            if live[m, q] > 0:
                _write(out[n_out], CANCEL, m + base, 0, 0, 0, live[m, q])
                n_out += 1
            live[m, q] = 0
        s = observed if spread[m] == 0 else alpha * observed + (1 - alpha) * spread[m]
        spread[m] = s
        half = max(1, int(np.rint(s / 2 / tick)))
        if params[M_MAX_SPREAD_TICKS]:
            half = min(half, max(1, int(params[M_MAX_SPREAD_TICKS]) // 2))
        step = max(1, int(np.rint(s / params[M_LEVEL_SPACING] / tick)))
        centre = int(np.rint(mid / tick)) - int(np.rint(params[M_SKEW_BETA] * inventory[m] / 1000))
        size = max(params[M_MIN_SIZE], np.rint(params[M_POV] * (volume - volume_seen[m])))
        size = max(int(params[M_MIN_SIZE]), int(size) // levels)
        size = max(lot, size // lot * lot)
        volume_seen[m] = volume
        placed = 0
        for side in (BUY, SELL):
            for level in range(levels):
                away = half + level * step
                price = (centre - away if side == BUY else centre + away) * tick
                if price <= 0:
                    continue
                cid = next_id[m]
                next_id[m] += 1
                live[m, placed] = cid
                placed += 1
                _write(out[n_out], NEW, m + base, side, price, size, cid)
                n_out += 1
    return n_out, wakes.min()


@njit(cache=True)
def touched(events, agent_of, agents):
    """Return, per agent, whether it owns an event or is a trade's contra (agent_of: each
    participant's agent)."""
    hit = np.zeros(agents, np.bool_)
    for e in range(len(events)):
        hit[agent_of[events[e].owner]] = True
        if events[e].kind == TRADE:
            hit[agent_of[events[e].contra_owner]] = True
    return hit


@njit(cache=True)
def events_of(events, agent_of, agent):
    """Return the events the agent owns or is a trade's contra of."""
    keep = np.zeros(len(events), np.bool_)
    for e in range(len(events)):
        ev = events[e]
        keep[e] = agent_of[ev.owner] == agent or (
            ev.kind == TRADE and agent_of[ev.contra_owner] == agent
        )
    return events[keep]


@njit(cache=True)
def _forget(live, m, cid):
    for j in range(live.shape[1]):
        if live[m, j] == cid:
            live[m, j] = 0
            return


@njit(cache=True)
def follow_quotes(events, inventory, live, base):
    """Follow a market-maker population's fills and quotes (simulation.agents.MarketMakers):
    inventory[m] moves by each fill of member m (participant - base), and a quote that is done
    (filled in full, cancelled, expired, refused) leaves live[m] (its client order ids, 0:
    free)."""
    n = len(inventory)
    for e in range(len(events)):
        ev = events[e]
        kind = ev.kind
        trade = kind == TRADE
        m = ev.owner - base
        if 0 <= m < n:
            if trade:
                inventory[m] += ev.quantity if ev.side == BUY else -ev.quantity
            if _done(kind, ev.leaves):
                _forget(live, m, ev.client_order_id)
        m = ev.contra_owner - base
        if trade and 0 <= m < n:  # the contra fields are set on trades only
            inventory[m] += ev.quantity if ev.side == SELL else -ev.quantity
            if ev.contra_leaves == 0:
                _forget(live, m, ev.contra_client_order_id)
