"""The venue's reference model: the foundation classes driven one command at a time.

accounts.Accounts (reservations, holding rules, holder cap), rules.py (tick, limits, cage, lots),
sessions.check_order and check_cancel, fees.fill_fees and the ReferenceEngine, applied in the
order the Exchange's kernel applies them, within one trading span. The differential test holds
the Exchange's fast path to it, event by event and balance by balance.
"""

from __future__ import annotations

import numpy as np

from exchange.clearing.accounts import Accounts
from exchange.fees.schedule import fill_fees, load_schedule
from exchange.reasons import VenueReason as V
from exchange.rules.order_entry import (
    cage_benchmark,
    check_cage,
    check_price_limits,
    check_quantity,
    check_tick,
    price_limits,
)
from exchange.rules.sessions import PhaseSpan, check_cancel, check_order
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange
from exchange.venue.state import KIND_INDEX, ROUNDING, fee_table
from matching_engine.commands import batch, cancel, new, set_phase
from matching_engine.dtypes import EventKind, OrderType, Side
from matching_engine.reasons import Reason as R
from matching_engine.reference_book import ReferenceEngine

LONG_AGO = -10  # trading day of shares issued before the first day


class ReferenceVenue:
    """A pure-Python venue mirroring an Exchange's set-up (before its first day)."""

    def __init__(self, exchange: Exchange, cash: int, shares: int, day: int) -> None:
        """Copy the exchange's board, listings and participants; fund each participant."""
        self.board, self.listings = exchange.board, exchange.listings
        self.rules = exchange.rules
        self.schedule = load_schedule(self.board.fee_schedule)
        self.fc = fee_table(self.schedule)
        self.accounts = Accounts(self.board)
        for person in exchange.participants:
            self.accounts.open_account(person, cash)
        for i, listing in enumerate(self.listings):
            self.accounts.list_security(i, listing.instrument_class)
            for person in exchange.participants:
                self.accounts.issue(i, person.id, shares, LONG_AGO)
        self.engine = ReferenceEngine(exchange.engine.specs)
        self.limits = []
        for spec, rules, listing in zip(
            exchange.engine.specs, self.rules, self.listings, strict=True
        ):
            lo, hi = price_limits(rules, listing.previous_close, 10_000) or (spec.lo, spec.hi)
            self.limits.append((max(lo, spec.lo), min(hi, spec.hi)))
        self.day = day
        self.last = [0] * len(self.listings)
        self.next_order = 1
        self.orders: dict[tuple[int, int], int] = {}  # (participant, client order id) -> order
        self.prior: dict[int, int] = {}  # order -> notional filled so far

    def open(self, span: PhaseSpan) -> None:
        """Put every book in the span's phase."""
        for b in range(len(self.listings)):
            self.engine.process(batch(set_phase(span.core_phase, book=b)))
        self.span = span

    def submit(self, rows: np.ndarray) -> list[tuple]:
        """Process venue commands one at a time; return their events as comparable tuples."""
        out = []
        for row in rows:
            if row["kind"] == 1:
                out += self._new(row)
            elif row["kind"] == 2:
                out += self._cancel(row)
            else:
                out.append(_refused(R.UNKNOWN_COMMAND))
        return out

    def _check(self, row: np.ndarray) -> int:
        p, n, side = int(row["participant"]), int(row["instrument"]), int(row["side"])
        price, quantity = int(row["price"]), int(row["quantity"])
        if p not in self.accounts.participants:
            return V.UNKNOWN_PARTICIPANT
        if not 0 <= n < len(self.listings):
            return V.UNKNOWN_INSTRUMENT
        if side > 1:
            return R.INVALID_SIDE
        if row["order_type"] > 1:
            return R.INVALID_ORDER_TYPE
        if row["tif"] > 2:
            return R.INVALID_TIME_IN_FORCE
        if row["client_order_id"] <= 0:
            return V.INVALID_CLIENT_ORDER_ID
        if (p, int(row["client_order_id"])) in self.orders:
            return V.DUPLICATE_CLIENT_ORDER_ID
        kind = "market" if row["order_type"] == OrderType.MARKET else "limit"
        rules = self.rules[n]
        reason = (
            check_order(self.span, kind)
            or check_tick(rules, price)
            or check_price_limits(price, self.limits[n])
        )
        if not reason and kind == "limit":
            quote = self.engine.best(n)
            benchmark = cage_benchmark(
                Side(side),
                quote.bid_price,
                quote.ask_price,
                self.last[n],
                self.listings[n].previous_close,
            )
            reason = check_cage(rules.cage, rules.tick, Side(side), price, benchmark)
        free = self.accounts.free_shares(p, n)
        return reason or check_quantity(rules, Side(side), kind, quantity, free)

    def _new(self, row: np.ndarray) -> list[tuple]:
        reason = self._check(row)
        p, n, side = int(row["participant"]), int(row["instrument"]), int(row["side"])
        price, quantity = int(row["price"]), int(row["quantity"])
        o = self.next_order
        if not reason:
            kind = KIND_INDEX[self.accounts.participants[p].kind]
            fills = quantity // self.rules[n].lot.minimum + 1
            bound = k.fee_bound(self.fc, ROUNDING[self.schedule.rounding], side, kind,
                                price * quantity, fills)  # fmt: skip
            if side == Side.BUY:
                cash = price * quantity + bound
                reason = self.accounts.reserve_buy(o, p, n, quantity, cash, self.day)
            else:
                cash = max(0, bound - price * quantity)
                reason = self.accounts.reserve_sell(o, p, n, quantity, self.day, cash)
        if reason:
            return [_refused(reason)]
        self.next_order += 1
        self.orders[(p, int(row["client_order_id"]))] = o
        self.prior[o] = 0
        kind = OrderType(int(row["order_type"]))
        command = new(o, Side(side), price, quantity, owner=p, book=n, order_type=kind,
                      tif=int(row["tif"]))  # fmt: skip
        return self._apply(self.engine.process(batch(command)), o)

    def _cancel(self, row: np.ndarray) -> list[tuple]:
        p = int(row["participant"])
        if p not in self.accounts.participants:
            return [_refused(V.UNKNOWN_PARTICIPANT)]
        reason = check_cancel(self.span)
        o = self.orders.get((p, int(row["client_order_id"])))
        if not reason and (o is None or o not in self.accounts.reservations):
            reason = R.UNKNOWN_ORDER
        if reason:
            return [_refused(reason)]
        book = self.accounts.reservations[o].security
        return self._apply(self.engine.process(batch(cancel(o, owner=p, book=book))), 0)

    def _apply(self, events: np.ndarray, aggressor: int) -> list[tuple]:
        out = []
        for e in events:
            fee = contra_fee = 0
            if e["kind"] == EventKind.TRADE:
                fee, contra_fee = self._fill(e)
            elif e["kind"] in (EventKind.CANCELLED, EventKind.EXPIRED) or (
                e["kind"] == EventKind.REJECTED and e["order_id"] == aggressor
            ):
                self.accounts.release(int(e["order_id"]))
            out.append(_event(e, fee, contra_fee))
        return out

    def _fill(self, e: np.ndarray) -> tuple[int, int]:
        a, c = int(e["order_id"]), int(e["contra_order_id"])
        price, quantity = int(e["price"]), int(e["quantity"])
        notional = price * quantity
        fees = {}
        for o, liquidity in ((a, "taker"), (c, "maker")):
            held = self.accounts.reservations[o]
            kind = self.accounts.participants[held.participant].kind
            fees[o] = fill_fees(self.schedule, held.side, liquidity, kind, notional, self.prior[o])
            self.prior[o] += notional
        buy, sell = (a, c) if self.accounts.reservations[a].side == Side.BUY else (c, a)
        reason = self.accounts.settle(buy, sell, quantity, price, self.day, fees[buy], fees[sell])
        assert reason == 0, reason
        self.last[int(e["book"])] = price
        return sum(i.amount for i in fees[a]), sum(i.amount for i in fees[c])


def _refused(reason: int) -> tuple:
    return (int(EventKind.REJECTED), int(reason))


def _event(e: np.ndarray, fee: int, contra_fee: int) -> tuple:
    if e["kind"] == EventKind.REJECTED:
        return _refused(int(e["reason"]))
    fields = ("kind", "reason", "owner", "order_id", "contra_order_id", "price", "quantity",
              "leaves", "contra_leaves")  # fmt: skip
    return (*(int(e[f]) for f in fields), fee, contra_fee)


def venue_events(events: np.ndarray) -> list[tuple]:
    """Return an Exchange's command events as the reference's comparable tuples."""
    own = events[events["command"] >= 0]
    return [_event(e, int(e["fee"]), int(e["contra_fee"])) for e in own]
