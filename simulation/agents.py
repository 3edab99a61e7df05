"""The trading agents, each one object acting for a population of participants over numpy arrays
(simulation.agent.Agent). Parameters come from a scenario's [[population]] table; their meaning
and defaults are in simulation.scenario.POPULATION and docs/scenarios.md.

- NoiseTraders: one order a day each at a uniform random time, at the touch on a random side
  (ABIDES NoiseAgent), sizes from ABIDES' order-size mixture.
- ValueTraders: Poisson wakes; each cancels its order, observes the fundamental with noise,
  updates a Bayesian estimate of its mean-reverting value and bids (offers) when the estimate is
  above (below) the mid, at the touch or up to depth_spread spreads inside (ABIDES ValueAgent);
  with min_edge_costs > 0 only when the gap to the mid (the last price without a book) exceeds
  that many round-trip fee rates, so fees change how much they trade.
- MomentumTraders: Poisson wakes; buy at the ask when the short moving average of the mids they
  saw is above the long one, else sell at the bid (ABIDES MomentumAgent).
- InformedTraders: Poisson wakes; they see the fundamental lead_s seconds early and take the
  touch toward it when it is more than threshold_bp away from the mid.
- ConvertibleTraders, PreferredTraders: Poisson wakes; they value a convertible bond on the
  lattice (instruments.convertible_lattice) from the share's mid, or a preferred share by its
  discounted dividends (instruments.preferred), each with its own view, and take a touch that
  is more than threshold_bp off their value, else quote threshold_bp away from it.
- MarketMakers: Poisson wakes; cancel the ladder and quote `levels` levels a side around the mid,
  spaced by the smoothed observed spread, sized by a share of the volume traded since the last
  wake (ABIDES AdaptiveMarketMakerAgent), skewed against inventory and capped in spread.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from instruments.convertible_lattice import value_lattice
from instruments.preferred import value_preferred
from instruments.terms import ConvertibleTerms, PreferredTerms, example_path, load_terms
from instruments.valuation import Market
from matching_engine.dtypes import OrderType, Side, TimeInForce, copied
from simulation.agent import NEVER, Agent, InstrumentInfo, MarketView, Session, Top
from simulation.fundamental import NS_PER_SECOND, Fundamental
from simulation.kernels import (
    MAKER_UNIFORMS,
    MOMENTUM_UNIFORMS,
    NOISE_UNIFORMS,
    VALUE_PARAMS,
    VALUE_UNIFORMS,
    Uniforms,
    follow_quotes,
    forget_done,
    market_maker_wake,
    momentum_wake,
    noise_wake,
    value_wake,
)
from simulation.records import joined

BUY, SELL = int(Side.BUY), int(Side.SELL)
PRICE_UNIT = 10_000  # price units per CNY


def commands(n: int) -> np.ndarray:
    """Return n zeroed limit day NEW rows."""
    rows = np.zeros(n, ORDER_DTYPE)
    rows["kind"] = OrderCommand.NEW
    rows["order_type"] = OrderType.LIMIT
    rows["tif"] = TimeInForce.DAY
    return rows


def exponential_ns(rng: np.random.Generator, mean_ns: float, n: int | None = None) -> np.ndarray:
    """Draw Poisson inter-arrival times (ns, >= 1)."""
    return np.maximum(1, rng.exponential(mean_ns, n)).astype(np.int64)


class Population(Agent):
    """Participants base, base+1, ...; per-member wake times and client order ids."""

    needs_fundamentals = False  # True: the constructor takes the run's fundamentals too

    def __init__(self, participants: np.ndarray, latency_ns: int, seed: int, params: dict):
        """Act for contiguous participant ids with the population's scenario parameters."""
        super().__init__(participants, latency_ns, seed)
        self.params = params
        self.base = int(self.participants[0])
        self.n = len(self.participants)
        self._next: int | None = None  # the earliest wake (None: not known)
        self.wakes = np.full(self.n, NEVER, np.int64)
        self.next_id = np.ones(self.n, np.int64)
        self.session: Session | None = None
        self._spans: tuple = (None,)  # (session, starts, ends, close): _calendar()
        self.uniforms = Uniforms(self.rng)  # what the kernels draw from

    @property
    def wakes(self) -> np.ndarray:
        """Each member's next wake, ns UTC (NEVER: none). Changing it in place: call _moved()."""
        return self._wakes

    @wakes.setter
    def wakes(self, times: np.ndarray) -> None:
        self._wakes = times
        self._next = None

    def _moved(self) -> None:
        """The wakes changed in place."""
        self._next = None

    def next_wake(self) -> int:
        """Return the earliest member's wake."""
        if self._next is None:
            self._next = int(self._wakes.min()) if self.n else NEVER
        return self._next

    def _due(self, now: int) -> np.ndarray:
        return np.flatnonzero(self.wakes <= now)

    def _calendar(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the day's limit spans' starts (NEVER after the last), their ends, and the
        close (worked out once a session)."""
        if self._spans[0] is not self.session:
            spans = self.session.limit_spans
            starts = np.array([s.start for s in spans] + [NEVER], np.int64)
            ends = np.array([s.end for s in spans], np.int64)
            self._spans = (self.session, starts, ends, self.session.close)
        return self._spans[1:]

    def _defer(self, times: np.ndarray) -> np.ndarray:
        """Return wake times moved out of the day's breaks: a time in a span that takes no
        orders (a lunch break) moves to the start of the next one that does; NEVER after the
        last."""
        starts, ends, _ = self._calendar()
        return np.maximum(times, starts[np.searchsorted(ends, times, side="right")])

    def start_day(self, session: Session) -> None:
        """Draw the first wakes from the open, wake_s apart on average (Poisson)."""
        self.session = session
        self.wakes = self._first_wakes(self.params["wake_s"] * NS_PER_SECOND)

    def _wake_due(self, now: int) -> np.ndarray:
        """Return the members due at now, their next wakes drawn wake_s later on average."""
        members = self._due(now)
        self._reschedule(members, now, self.params["wake_s"] * NS_PER_SECOND)
        return members

    def _first_wakes(self, mean_ns: float) -> np.ndarray:
        """Return every member's first wake: the open plus a Poisson wait, out of breaks."""
        return self._defer(self.session.open + exponential_ns(self.rng, mean_ns, self.n))

    def _reschedule(self, members: np.ndarray, now: int, mean_ns: float) -> None:
        """Set the members' next wakes a Poisson wait after now, out of breaks; none after the
        close."""
        self.wakes[members] = self._defer(now + exponential_ns(self.rng, mean_ns, len(members)))
        self.wakes[self.wakes >= self._calendar()[2]] = NEVER
        self._moved()

    def _lots(self, sizes: np.ndarray | int, instrument: int = 0) -> np.ndarray:
        """Return order sizes rounded down to whole lots of the instrument, at least one lot."""
        lot = self.instruments[instrument].lot
        return np.maximum(lot, sizes // lot * lot)

    def _ids(self, members: np.ndarray) -> np.ndarray:
        ids = self.next_id[members].copy()
        self.next_id[members] += 1
        return ids

    def _touch_orders(self, members: np.ndarray, buy: np.ndarray, top: Top, size: np.ndarray):
        """Orders at the opposite touch (marketable limits); members without a touch skip."""
        price = np.where(buy, top.ask, top.bid)
        keep = price > 0
        members, buy, price, size = members[keep], buy[keep], price[keep], size[keep]
        rows = commands(len(members))
        rows["participant"] = members + self.base
        rows["side"] = np.where(buy, BUY, SELL)
        rows["price"] = price
        rows["quantity"] = size
        rows["client_order_id"] = self._ids(members)
        return rows

    def _cancels(self, members: np.ndarray, ids: np.ndarray) -> np.ndarray:
        rows = np.zeros(len(members), ORDER_DTYPE)
        rows["kind"] = OrderCommand.CANCEL
        rows["participant"] = members + self.base
        rows["client_order_id"] = ids
        return rows

    def end_day(self) -> None:
        """Forget the day's wakes."""
        self.wakes[:] = NEVER
        self._moved()


class NoiseTraders(Population):
    """One order a day each at a uniform time in [from, until], at the touch, random side."""

    agent_class = "noise"

    def __init__(self, participants, latency_ns, seed, params):
        """Noise traders with no wake yet."""
        super().__init__(participants, latency_ns, seed, params)
        self.out = np.zeros(self.n, ORDER_DTYPE)  # the kernel's rows

    def start_day(self, session: Session) -> None:
        """Draw each member's one wake of the day."""
        self.session = session

        def local(text: str) -> int:
            t = datetime.time.fromisoformat(text)
            return session.midnight + (t.hour * 3600 + t.minute * 60 + t.second) * NS_PER_SECOND

        lo, hi = local(self.params["from"]), local(self.params["until"])
        times = self.rng.integers(lo, max(lo + 1, hi), self.n)
        self.wakes = self._defer(np.maximum(times, session.open))

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Place one marketable limit order per member due (kernels.noise_wake)."""
        top = market.top(0)
        self.uniforms.ensure(self.n * NOISE_UNIFORMS)
        count, self._next = noise_wake(
            now, self.uniforms.values, self.uniforms.pos, self.out, self._wakes, self.next_id,
            top.bid, top.ask, self.instruments[0].lot, self.base,
        )  # fmt: skip
        return copied(self.out[:count])


class OneOrderEach(Population):
    """Members with at most one live order each: `live` holds its client order id (0: none),
    cleared when the venue says the order is done."""

    def __init__(self, participants, latency_ns, seed, params):
        """Members with no live order."""
        super().__init__(participants, latency_ns, seed, params)
        self.live = np.zeros(self.n, np.int64)

    def _cancel_live(self, members: np.ndarray) -> np.ndarray:
        """Return cancels of the members' live orders (and forget them)."""
        live = members[self.live[members] > 0]
        rows = self._cancels(live, self.live[live])
        self.live[live] = 0
        return rows

    def on_events(self, events: np.ndarray) -> None:
        """Forget orders that are done (filled, cancelled, expired, refused)."""
        forget_done(events, self.live, self.base)

    def end_day(self) -> None:
        """The venue expired every day order."""
        super().end_day()
        self.live[:] = 0


class ValueTraders(OneOrderEach):
    """Bayesian fundamental traders on a noisy view of the mean-reverting value."""

    agent_class = "value"
    needs_fundamentals = True

    def __init__(self, participants, latency_ns, seed, params, fundamentals: list[Fundamental]):
        """Value traders observing `fundamentals[0]` (the oracle) with noise."""
        super().__init__(participants, latency_ns, seed, params)
        self.fundamentals = fundamentals
        self.r_t = np.zeros(self.n)
        self.sigma_t = np.zeros(self.n)
        self.prev = np.zeros(self.n, np.int64)
        self.kernel_params = np.zeros(VALUE_PARAMS)  # set each day: kernels.value_wake's params
        self.out = np.zeros(2 * self.n, ORDER_DTYPE)  # the kernel's rows

    def start_day(self, session: Session) -> None:
        """Draw the first wakes from the open."""
        self.session = session
        p, f = self.params, self.fundamentals[0]
        if not self.prev.any():
            self.r_t[:] = f.r_bar
            self.prev[:] = session.open
        self.wakes = self._first_wakes(1.0 / p["lambda_a"])
        # variances in price units squared: ABIDES' sigma_n (r_bar / 100) and the ValueAgent's
        # default sigma_s (100,000) are in cents squared
        self.kernel_params = np.array([
            1.0 / p["lambda_a"], (p["sigma_n"] or f.r_bar / f.scale / 100) * f.scale**2,
            100_000.0 * f.scale**2, p["kappa"], p["percent_aggr"], p["depth_spread"],
            p["min_edge_costs"], self.instruments[0].round_trip_fee,
        ])  # fmt: skip

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Cancel, re-estimate, and post one limit order per member due (kernels.value_wake)."""
        f, info, top = self.fundamentals[0], self.instruments[0], market.top(0)
        starts, ends, close = self._calendar()
        self.uniforms.ensure(self.n * VALUE_UNIFORMS)
        count, self._next = value_wake(
            now, self.uniforms.values, self.uniforms.pos, self.out, self.kernel_params,
            self._wakes, self.live, self.next_id, self.r_t, self.sigma_t, self.prev, f.path,
            f.start, f.step, f.r_bar, top.bid, top.ask, top.last, self.session.reference(info),
            info.tick, info.lot, close, starts, ends, self.base,
        )  # fmt: skip
        return copied(self.out[:count])


class MomentumTraders(Population):
    """Moving-average crossover traders on the mids they observe."""

    agent_class = "momentum"

    def __init__(self, participants, latency_ns, seed, params):
        """Momentum traders with an empty history of observed mids."""
        super().__init__(participants, latency_ns, seed, params)
        self.history = np.zeros((self.n, params["long"]))
        self.seen = np.zeros(self.n, np.int64)
        self.out = np.zeros(self.n, ORDER_DTYPE)  # the kernel's rows

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Observe the mid; trade the crossover once the long average is full
        (kernels.momentum_wake)."""
        p, top = self.params, market.top(0)
        starts, ends, close = self._calendar()
        self.uniforms.ensure(self.n * MOMENTUM_UNIFORMS)
        count, self._next = momentum_wake(
            now, self.uniforms.values, self.uniforms.pos, self.out, p["wake_s"] * NS_PER_SECOND,
            p["short"], p["min_size"], p["max_size"], self._wakes, self.history, self.seen,
            self.next_id, top.bid, top.ask, self.instruments[0].lot, close, starts, ends,
            self.base,
        )  # fmt: skip
        return copied(self.out[:count])


class MarketMakers(Population):
    """Ladder market makers: POV sizing, adaptive spread, inventory skew, spread cap."""

    agent_class = "market_maker"

    def __init__(self, participants, latency_ns, seed, params):
        """Market makers with no quotes yet."""
        super().__init__(participants, latency_ns, seed, params)
        self.live = np.zeros((self.n, 2 * params["levels"]), np.int64)  # quotes' ids, 0: free
        self.spread = np.zeros(self.n)
        self.volume_seen = np.zeros(self.n, np.int64)
        self.inventory = np.zeros(self.n, np.int64)  # shares bought minus sold
        self.out = np.zeros(self.n * 2 * self.live.shape[1], ORDER_DTYPE)  # the kernel's rows
        self.kernel_params = np.array(
            [
                params["wake_s"] * NS_PER_SECOND,
                params["spread_alpha"],
                params["max_spread_ticks"],
                params["level_spacing"],
                params["skew_beta"],
                params["pov"],
                params["min_order_size"],
            ],
            np.float64,
        )  # fmt: skip  (kernels.M_*)

    def start_day(self, session: Session) -> None:
        """Quote at the open, then on Poisson wakes."""
        self.session = session
        self.wakes = np.full(self.n, session.open, np.int64)
        self.volume_seen[:] = 0
        self.live[:] = 0

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Cancel the ladder and quote a new one per member due (kernels.market_maker_wake)."""
        info, top = self.instruments[0], market.top(0)
        starts, ends, close = self._calendar()
        self.uniforms.ensure(self.n * MAKER_UNIFORMS)
        count, self._next = market_maker_wake(
            now, self.uniforms.values, self.uniforms.pos, self.out, self.kernel_params,
            self._wakes, self.live, self.spread, self.volume_seen, self.inventory, self.next_id,
            top.bid, top.ask, top.last, top.volume, self.session.reference(info), info.tick,
            info.lot, close, starts, ends, self.base,
        )  # fmt: skip
        return copied(self.out[:count])

    def on_events(self, events: np.ndarray) -> None:
        """Follow fills (inventory) and quotes that are done (kernels.follow_quotes)."""
        follow_quotes(events, self.inventory, self.live, self.base)


class InformedTraders(Population):
    """Traders who learn the fundamental `lead_s` seconds before the rest of the market (news
    before it is public): on Poisson wakes each takes the touch on the side of the value to come
    when it differs from the mid by more than `threshold_bp`."""

    agent_class = "informed"
    needs_fundamentals = True

    def __init__(self, participants, latency_ns, seed, params, fundamentals: list[Fundamental]):
        """Informed traders reading `fundamentals[0]` ahead of time."""
        super().__init__(participants, latency_ns, seed, params)
        self.fundamentals = fundamentals

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Trade at the touch toward the value lead_s ahead, if the gap is wide enough."""
        p = self.params
        members = self._wake_due(now)
        top = market.top(0)
        mid = top.mid
        if not mid:
            return commands(0)
        gap_bp = (self.fundamentals[0].at(now + round(p["lead_s"] * NS_PER_SECOND)) / mid - 1) * 1e4
        if abs(gap_bp) <= p["threshold_bp"]:
            return commands(0)
        buy = np.full(len(members), gap_bp > 0)
        return self._touch_orders(members, buy, top, self._lots(np.full(len(members), p["size"])))


class ValuationTraders(OneOrderEach):
    """Traders of one instrument who value it with the instruments package, each with its own
    view (the value times 1 + N(0, view_bp)): on Poisson wakes each cancels its order, then buys
    (sells) at the touch when it is more than threshold_bp below (above) its value, else posts
    a limit threshold_bp away from its value on a random side. Subclasses say what they trade
    (`start`) and what it is worth (`value`)."""

    terms_kind: type = ConvertibleTerms  # the terms a subclass values

    def __init__(self, participants, latency_ns, seed, params):
        """Valuation traders with the scenario's terms file, parameters and their own views."""
        super().__init__(participants, latency_ns, seed, params)
        self.terms = model_terms(params["terms"], self.terms_kind)
        self.view = 1 + self.rng.normal(0.0, params["view_bp"] / 1e4, self.n)
        self.target = 0  # index of the instrument traded

    def start(self, instruments: tuple[InstrumentInfo, ...]) -> None:
        """Find the instrument of the terms among the listed ones."""
        super().start(instruments)
        self.target = {x.symbol: x.index for x in instruments}[self.terms.symbol]

    def value(self, market: MarketView) -> float:
        """Return the instrument's value now, price units."""
        raise NotImplementedError

    def wake(self, now: int, market: MarketView) -> np.ndarray:
        """Cancel, value, take a mispriced touch or quote around the value."""
        p, info = self.params, self.instruments[self.target]
        members = self._wake_due(now)
        out = [self._cancel_live(members)]
        value = self.value(market) * self.view[members]
        top, edge = market.top(self.target), value * p["threshold_bp"] / 1e4
        cheap = (top.ask > 0) & (top.ask < value - edge)
        dear = ~cheap & (top.bid > value + edge)
        buy = np.where(cheap | dear, cheap, self.rng.random(len(members)) < 0.5)
        price = np.where(
            cheap, top.ask, np.where(dear, top.bid, value + np.where(buy, -edge, edge))
        )
        rows = commands(len(members))
        rows["participant"] = members + self.base
        rows["instrument"] = self.target
        rows["side"] = np.where(buy, BUY, SELL)
        rows["price"] = np.maximum(info.tick, np.rint(price / info.tick) * info.tick)
        rows["quantity"] = self._lots(p["size"], self.target)
        rows["client_order_id"] = ids = self._ids(members)
        self.live[members] = ids
        out.append(rows)
        return joined(out, ORDER_DTYPE)


class ConvertibleTraders(ValuationTraders):
    """Valuation traders of a convertible bond: its value on the lattice
    (instruments.convertible_lattice) at the underlying share's mid."""

    agent_class = "convertible"
    terms_kind = ConvertibleTerms

    def start(self, instruments: tuple[InstrumentInfo, ...]) -> None:
        """Find the bond and its underlying among the listed instruments."""
        super().start(instruments)
        self.stock = {x.symbol: x.index for x in instruments}[self.terms.underlying]

    def value(self, market: MarketView) -> float:
        """Return the bond's lattice value per bond (price units) at the share's mid."""
        p, share = self.params, market.top(self.stock)
        spot = share.mid or share.last or self.session.reference(self.instruments[self.stock])
        inputs = Market(
            spot / PRICE_UNIT, p["volatility"], p["rate"], p["credit_spread"], self.session.date
        )
        return value_lattice(self.terms, inputs, p["steps"]).value * PRICE_UNIT


class PreferredTraders(ValuationTraders):
    """Valuation traders of a preferred share: its dividends discounted at the rate plus the
    issuer's spread, net of the issuer's call (instruments.preferred)."""

    agent_class = "preferred"
    terms_kind = PreferredTerms
    worth = 0.0  # the day's value per share, CNY

    def start_day(self, session: Session) -> None:
        """Value the share for the day (it does not move with the common share)."""
        super().start_day(session)
        p = self.params
        self.worth = value_preferred(
            self.terms, p["rate"], p["credit_spread"], self.session.date
        ).value

    def value(self, market: MarketView) -> float:
        """Return the day's value per share, price units."""
        return self.worth * PRICE_UNIT


def model_terms(name: str, kind: type) -> ConvertibleTerms | PreferredTerms:
    """Return the terms in a file (a path, or a file shipped in instruments/data) if they are
    of `kind`; ValueError otherwise."""
    path = Path(name) if Path(name).is_file() else example_path(name)
    (terms,) = load_terms(path)
    if not isinstance(terms, kind):
        raise ValueError(f"{path}: not the terms of a {kind.__name__.removesuffix('Terms')}")
    return terms


KINDS = {
    "convertible": ConvertibleTraders,
    "preferred": PreferredTraders,
    "informed": InformedTraders,
    "noise": NoiseTraders,
    "value": ValueTraders,
    "momentum": MomentumTraders,
    "market_maker": MarketMakers,
}
