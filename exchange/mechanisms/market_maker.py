"""Quote-driven market making (做市, NEEQ style): investors trade only against makers' quotes.

The makers' quotes are resting limit orders in the instrument's numba book, so matching, price-time
priority, fills at the resting (maker's) price, fees by liquidity role, clearing, the journal and
market data are the venue kernel's, unchanged. This desk screens each order-batch command on a
`market_maker` instrument before the kernel sees it:

- a participant of kind `market_maker` quotes with limit day orders, one live quote per side: a
  new bid (ask) replaces the maker's previous one, whose unfilled part is cancelled first (so it
  is gone even if the kernel then refuses the new one); a quote that would trade with a resting
  quote, another maker's or its own, is refused with MAKER_TO_MAKER; other order types are
  refused with PHASE_REJECTS_ORDER_TYPE;
- every other participant's order must be IOC or FOK: it trades at once against the quotes and
  never rests, so no investor ever trades with another; a day order is refused with
  INVESTOR_TO_INVESTOR.

`quote(...)` builds a maker's two-sided quote as two rows for `Exchange.submit`. After each
command the desk records the makers' quotes on the instrument when they change (price and open
quantity per side, and the maker's inventory): `history`, the input of
exchange.mechanisms.obligations.
At the close it measures each maker's day on each instrument against the board's obligations
(`reports[day]`) and reclaims the day's maker rebate from a maker that failed any of them.
Units: prices in price units, quantities in shares, times in ns UTC.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

import numpy as np

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.mechanisms.desk import Venue
from exchange.mechanisms.obligations import ObligationReport, QuoteHistory, assess
from exchange.mechanisms.registry import DeskMechanism, register
from exchange.orders import batch, order
from exchange.reasons import VenueReason as V
from exchange.venue import kernel as k
from exchange.venue.state import KIND_INDEX, PAYEES
from matching_engine.dtypes import COMMAND_DTYPE, OrderType, Side, TimeInForce

MAKER = KIND_INDEX["market_maker"]
MARKET_MAKING_PHASES = ("continuous", "market_making")
REBATE_POOL = PAYEES.index("rebate_pool")


@dataclass(frozen=True)
class Quote:
    """A maker's quote on an instrument from `timestamp` on: 0 quantity = no quote on that side.

    inventory: the maker's shares of the instrument then.
    """

    timestamp: int
    maker: int
    instrument: int
    bid: int
    bid_quantity: int
    ask: int
    ask_quantity: int
    inventory: int


class MarketMakerDesk:
    """The market-making desk of one Exchange: the quote rules in front of the kernel."""

    def __init__(self, venue: Venue) -> None:
        """Attach to a venue: screen the order batches of its market_maker instruments."""
        self.venue = venue
        self.rules = venue.board.market_making
        self.instruments = {
            n for n, rules in enumerate(venue.rules) if rules.mechanism == "market_maker"
        }
        self.operations: dict = {}
        self.quotes: dict[tuple[int, int, int], int] = {}  # (maker, instrument, side) -> order
        self.history: list[Quote] = []
        self._last: dict[tuple[int, int], tuple[int, ...]] = {}  # the last quote recorded
        self.reports: dict[datetime.date, list[ObligationReport]] = {}
        self._reported = 0  # history rows of the days already reported
        self._streaks: dict[tuple[int, int], tuple[int, int]] = {}  # (bid, ask) exemption days
        self._rebates: dict[tuple[int, int], int] = {}  # (maker, instrument) -> today's rebate
        self._rebate = venue.state.fc[:, k.F_REBATE] != 0  # per fee component

    def quote(
        self,
        maker: int,
        instrument: int,
        bid: int,
        bid_quantity: int,
        ask: int,
        ask_quantity: int,
        client_order_id: int,
        timestamp: int,
    ) -> np.ndarray:
        """Return a two-sided quote as two rows (bid: client_order_id, ask: the next id).

        The side moving away from the maker's live opposite quote comes first, so the new
        quote never meets the old one.
        """
        bid_row = order(maker, instrument, Side.BUY, bid, bid_quantity, client_order_id, timestamp)
        ask_row = order(maker, instrument, Side.SELL, ask, ask_quantity, client_order_id + 1,
                        timestamp)  # fmt: skip
        old_ask = self.live(maker, instrument, Side.SELL)
        rows = (ask_row, bid_row) if old_ask and bid >= old_ask[0] else (bid_row, ask_row)
        return batch(*rows)

    def live(self, maker: int, instrument: int, side: Side) -> tuple[int, int] | None:
        """Return (price, open quantity) of a maker's live quote on one side, or None."""
        o = self.quotes.get((maker, instrument, side))
        ords = self.venue.state.ords
        if o is None or ords[o, k.O_STATE] != k.LIVE:
            return None
        return int(ords[o, k.O_PRICE]), int(ords[o, k.O_QTY])

    def screen(self, cmds: np.ndarray, cc: np.ndarray, i: int) -> int:
        """Run venue commands cmds[i:len(cc)] through the quote rules and the kernel, one at a
        time; return len(cc)."""
        s = self.venue.state
        for r in range(i, len(cc)):
            c = cmds[r]
            n, p = int(c["instrument"]), int(c["participant"])
            ours = c["kind"] == OrderCommand.NEW and n in self.instruments
            maker = ours and 0 <= p < len(s.par) and s.par[p, k.KIND] == MAKER
            reason = self._refusal(c, maker) if ours and 0 <= p < len(s.par) else 0
            if reason:
                s.grow_outputs(4)
                s.kout[k.K_EVENTS] = k.reject(s.vev, s.kout[k.K_EVENTS], c, r, reason,
                                               s.sp[k.S_CORE])  # fmt: skip
                continue
            if maker:
                self._cancel_previous(p, n, int(c["side"]), int(c["timestamp"]), r)
            first, kf = int(s.g[k.G_NEXT_OID]), int(s.kout[k.K_FEES])
            self.venue.run(cmds, cc[: r + 1], r)
            if maker and s.g[k.G_NEXT_OID] > first:
                self.quotes[p, n, int(c["side"])] = first
            if n in self.instruments:
                self._observe(n, int(c["timestamp"]))
                fees = s.fout[kf : s.kout[k.K_FEES]]
                for row in fees[self._rebate[fees["component"]]]:
                    key = (int(row["participant"]), n)
                    self._rebates[key] = self._rebates.get(key, 0) - int(row["amount"])
        return len(cc)

    def _refusal(self, c: np.void, maker: bool) -> int:
        if not maker:
            return V.INVESTOR_TO_INVESTOR if c["tif"] == TimeInForce.DAY else 0
        if c["order_type"] != OrderType.LIMIT or c["tif"] != TimeInForce.DAY:
            return V.PHASE_REJECTS_ORDER_TYPE
        book = self.venue.book(int(c["instrument"]), 1)
        if c["side"] == Side.BUY and book.asks and c["price"] >= book.asks[0].price:
            return V.MAKER_TO_MAKER
        if c["side"] == Side.SELL and book.bids and c["price"] <= book.bids[0].price:
            return V.MAKER_TO_MAKER
        return 0

    def _cancel_previous(self, maker: int, n: int, side: int, ts: int, r: int) -> None:
        """Cancel the maker's live quote on that side (its events belong to command r)."""
        s = self.venue.state
        if not self.live(maker, n, Side(side)) or not (s.sp[k.S_OPEN] and s.sp[k.S_CANCEL]):
            return
        row = np.zeros(1, ORDER_DTYPE)
        row[0] = (OrderCommand.CANCEL, side, 0, 0, maker, n,
                  s.ords[self.quotes[maker, n, side], k.O_COID], 0, 0, ts)  # fmt: skip
        first = int(s.kout[k.K_EVENTS])
        self.venue.run(row, np.zeros(1, COMMAND_DTYPE), 0)
        s.vev["command"][first : s.kout[k.K_EVENTS]] = r

    def _observe(self, n: int, ts: int) -> None:
        """Append the quotes on instrument n that changed (one row per maker)."""
        pos = self.venue.state.pos
        for maker in sorted({m for m, i, _ in self.quotes if i == n}):
            bid = self.live(maker, n, Side.BUY) or (0, 0)
            ask = self.live(maker, n, Side.SELL) or (0, 0)
            if self._last.get((maker, n)) != (*bid, *ask):
                self._last[maker, n] = (*bid, *ask)
                self.history.append(Quote(ts, maker, n, *bid, *ask, int(pos[maker, n, k.POS])))

    def close_day(self) -> None:
        """Record the quotes the day's clear removed, at the session's end; report the day."""
        for n in self.instruments:
            self._observe(n, self.venue.clock)
        ex, s = self.venue, self.venue.state
        spans = [(x.start, x.end) for x in ex.spans if x.phase in MARKET_MAKING_PHASES]
        today, self._reported = self.history[self._reported :], len(self.history)
        reports = []
        for n in sorted(self.instruments):
            outstanding = int(s.pos[:, n, k.POS].sum())
            for m in map(int, np.flatnonzero(s.par[:, k.KIND] == MAKER)):
                rows = [
                    (q.timestamp, q.bid, q.bid_quantity, q.ask, q.ask_quantity, q.inventory)
                    for q in today
                    if q.maker == m and q.instrument == n
                ]
                streaks = self._streaks.get((m, n), (0, 0))
                report = assess(
                    QuoteHistory.from_rows(rows), spans, self.rules, ex.rules[n].tick, outstanding,
                    streaks, ex.day, m, n,
                )  # fmt: skip
                self._streaks[m, n] = (report.exempt_days["bid"], report.exempt_days["ask"])
                rebate = self._rebates.pop((m, n), 0)
                if not report.passed:
                    self._reclaim(m, rebate)
                reports.append(replace(report, rebate=rebate, rebate_kept=report.passed))
        self.reports[ex.day] = reports

    def _reclaim(self, maker: int, rebate: int) -> None:
        """Take a rebate (1/10000 CNY) back from a maker into the rebate pool, due at settlement."""
        par = self.venue.state.par
        par[maker, k.CASH] -= rebate
        par[maker, k.DUE_CASH] -= rebate
        par[maker, k.FEES_PAID] += rebate
        self.venue.state.collected[REBATE_POOL] += rebate

    def obligation_reports(self, day: datetime.date) -> list[ObligationReport]:
        """Return the makers' obligation reports of a closed day, per instrument then maker."""
        return list(self.reports.get(day, []))


register(DeskMechanism("market_maker", ("limit", "quote"), True, MarketMakerDesk))
