"""Negotiated transfer (协议转让): intents on a quote board, accepted and confirmed bilaterally.

A participant posts an intent (instrument, side, price, quantity, optional named counterparty,
expiry, firm or indicative); it holds its cash or shares like an order but never enters a book.
Who sees it: everyone eligible on a board with a public quote board (`techboard`), only the named
counterparty on a bilateral one (`regional`, where a counterparty must be named). A counterparty
accepts all or part at the intent's price: the acceptance passes every venue check of an order
(session, price band around the previous close, lot, round-trip rule, holder cap, investor gate,
cash or free shares) and holds what it needs. A firm intent trades at once; an indicative one
waits for its poster to confirm (or decline). The trade settles through the venue kernel's fill
(fees by liquidity role: the intent is the maker, the acceptance the taker), books the clearing
obligations, updates the day's statistics and prints a TRADE in market data. Intents expire at
their expiry or at the day's end, whichever comes first. Where the board has liquidity providers,
participants of kind `market_maker` are exempt from the round-trip rule, so they may keep firm
two-sided intents. Every call is journaled before it acts; replay rebuilds the quote board.
Events use the venue layout: ACCEPTED (posted; an indicative acceptance pending), TRADE,
CANCELLED (withdrawn, declined), EXPIRED, REJECTED with a reason. Units as everywhere.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np

from exchange.dtypes import ORDER_DTYPE, OrderCommand
from exchange.mechanisms.desk import Venue
from exchange.mechanisms.obligations import ObligationReport
from exchange.mechanisms.registry import DeskMechanism, register
from exchange.reasons import VenueReason as V
from exchange.rules.sessions import check_order, phase_at
from exchange.venue import kernel as k
from exchange.venue.state import KIND_INDEX
from matching_engine.dtypes import EventKind, Phase, Side
from matching_engine.reasons import Reason

NEGOTIATION_SPAN = np.array([1, 1, 0, 1, Phase.CONTINUOUS, 0, 0], np.int64)  # kernel S_* columns


@dataclass(frozen=True)
class Intent:
    """An intent on the quote board; `id` is its exchange order id, `left` its open quantity."""

    id: int
    participant: int
    instrument: int
    side: Side
    price: int
    quantity: int
    left: int
    counterparty: int | None
    expiry: int
    firm: bool
    client_order_id: int


INTEREST_COLUMNS = ("id", "participant", "side", "price", "left", "counterparty")
I_ID, I_PARTICIPANT, I_SIDE, I_PRICE, I_LEFT, I_COUNTERPARTY = range(len(INTEREST_COLUMNS))


@dataclass(frozen=True)
class _Terms:
    participant: int
    quantity: int
    counterparty: int | None
    expiry: int
    firm: bool


class NegotiationDesk:
    """The negotiated-transfer desk of one Exchange: its quote board and pending acceptances."""

    screen = None  # order-book batches are untouched: intents come through the calls below

    def __init__(self, venue: Venue) -> None:
        """Attach to a venue; exempt liquidity providers from the round-trip rule."""
        self.venue = venue
        self.rules = venue.board.negotiation
        self.terms: dict[int, _Terms] = {}  # intent id -> its terms
        self.pending: dict[int, int] = {}  # indicative acceptance id -> intent id
        self.expired: set[int] = set()  # intents that expired (acceptances say so)
        self.operations = {
            "intent": self._post,
            "accept": self._accept,
            "confirm": self._confirm,
            "withdraw": self._withdraw,
        }
        self.instruments = {
            n for n, rules in enumerate(venue.rules) if rules.mechanism == "negotiated"
        }
        if self.rules is not None and self.rules.liquidity_providers:
            for n in self.instruments:
                venue.state.ins[n, k.EXEMPT] |= 1 << KIND_INDEX["market_maker"]

    # calls (journaled) --------------------------------------------------------------------

    def post(
        self,
        participant: int,
        instrument: int,
        side: Side,
        price: int,
        quantity: int,
        client_order_id: int,
        timestamp: int,
        expiry: int,
        firm: bool = True,
        counterparty: int | None = None,
    ) -> np.ndarray:
        """Post an intent; return ACCEPTED (its order_id is the intent id) or REJECTED."""
        return self._journaled(
            timestamp,
            op="intent",
            participant=participant,
            instrument=instrument,
            side=int(side),
            price=price,
            quantity=quantity,
            client_order_id=client_order_id,
            expiry=expiry,
            firm=firm,
            counterparty=-1 if counterparty is None else counterparty,
        )

    def accept(
        self, participant: int, intent: int, quantity: int, client_order_id: int, timestamp: int
    ) -> np.ndarray:
        """Accept all or part of an intent: TRADE if firm, ACCEPTED (pending) if indicative."""
        return self._journaled(
            timestamp,
            op="accept",
            participant=participant,
            intent=intent,
            quantity=quantity,
            client_order_id=client_order_id,
        )

    def confirm(
        self, participant: int, acceptance: int, timestamp: int, agree: bool = True
    ) -> np.ndarray:
        """Confirm (TRADE) or decline (CANCELLED) an acceptance of one's indicative intent."""
        return self._journaled(
            timestamp, op="confirm", participant=participant, acceptance=acceptance, agree=agree
        )

    def withdraw(self, participant: int, intent: int, timestamp: int) -> np.ndarray:
        """Withdraw one's intent (CANCELLED), with any acceptances pending on it."""
        return self._journaled(timestamp, op="withdraw", participant=participant, intent=intent)

    def _journaled(self, timestamp: int, **op: Any) -> np.ndarray:
        return self.venue.call({**op, "timestamp": int(timestamp)})

    # queries ------------------------------------------------------------------------------

    def intent(self, intent: int) -> Intent:
        """Return a live intent by id (KeyError if it is not live)."""
        terms, row = self.terms[intent], self.venue.state.ords[intent]
        return Intent(
            intent,
            int(row[k.O_PART]),
            int(row[k.O_INST]),
            Side(int(row[k.O_SIDE])),
            int(row[k.O_PRICE]),
            terms.quantity,
            int(row[k.O_QTY]),
            terms.counterparty,
            terms.expiry,
            terms.firm,
            int(row[k.O_COID]),
        )

    def interest(self, instrument: int | None = None, viewer: int | None = None) -> np.ndarray:
        """Return live intents in bulk, oldest first, as int64 rows of INTEREST_COLUMNS
        (counterparty -1: anyone): those of one instrument (None: all), those a viewer sees
        (None: all; the rule is quote_board's). For brokers and simulators."""
        ids = np.fromiter(self.terms, np.int64, len(self.terms))
        named = (-1 if t.counterparty is None else t.counterparty for t in self.terms.values())
        rows = self.venue.state.ords[ids]
        table = np.column_stack((
            ids, rows[:, k.O_PART], rows[:, k.O_SIDE], rows[:, k.O_PRICE], rows[:, k.O_QTY],
            np.fromiter(named, np.int64, len(self.terms)),
        ))  # fmt: skip
        keep = np.ones(len(ids), bool) if instrument is None else rows[:, k.O_INST] == instrument
        if viewer is not None:
            public = bool(self.rules and self.rules.public_quote_board)
            eligible = bool(self.venue.state.par[viewer, k.ELIGIBLE])
            named = table[:, I_COUNTERPARTY]
            keep &= (
                (table[:, I_PARTICIPANT] == viewer)
                | (named == viewer)
                | (public & eligible & (named < 0))
            )
        return table[keep]

    def quote_board(self, participant: int) -> list[Intent]:
        """Return the live intents a participant sees, oldest first.

        Its own and those naming it; on a public quote board, every other one too if it is
        eligible (individuals below the board's gate see only what names them).
        """
        return [self.intent(int(i)) for i in self.interest(viewer=participant)[:, I_ID]]

    # applying the journaled calls -----------------------------------------------------------

    def _begin(self, ts: int) -> None:
        self.venue.begin(ts)
        self.venue.state.reserve_orders(1)  # the intent or acceptance this call may record
        self.venue.state.grow_outputs(len(self.terms) + len(self.pending) + 4)
        self._expire(ts)

    def _post(self, op: dict[str, Any]) -> np.ndarray:
        ts = op["timestamp"]
        self._begin(ts)
        c = _row(op["participant"], op["instrument"], op["side"], op["price"], op["quantity"],
                 op["client_order_id"], ts)  # fmt: skip
        counterparty = None if op["counterparty"] < 0 else op["counterparty"]
        reason = self._check_intent(c, counterparty, op["expiry"])
        cash = 0
        if not reason:
            reason, cash = self._check(c)
        if reason:
            return self._refuse(c, reason)
        intent = k.reserve(c, cash, k.LIVE, *self._accounts(), self.venue.state.ht)
        self.terms[intent] = _Terms(
            op["participant"], c.quantity, counterparty, op["expiry"], op["firm"]
        )
        self._event(EventKind.ACCEPTED, 0, intent, 0, c.price, c.quantity, ts)
        return self.venue.collect()

    def _check_intent(self, c: np.record, counterparty: int | None, expiry: int) -> int:
        participants = self.venue.state.par.shape[0]
        if not 0 <= c.participant < participants:
            return V.UNKNOWN_PARTICIPANT
        if c.instrument not in self.instruments:
            return V.WRONG_MECHANISM
        if expiry <= c.timestamp:
            return V.INVALID_EXPIRY
        if counterparty is None:
            return 0 if self.rules.public_quote_board else V.COUNTERPARTY_REQUIRED
        if not 0 <= counterparty < participants or counterparty == c.participant:
            return V.UNKNOWN_PARTICIPANT
        return 0

    def _accept(self, op: dict[str, Any]) -> np.ndarray:
        ts, who, intent = op["timestamp"], op["participant"], op["intent"]
        self._begin(ts)
        terms = self.terms.get(intent)
        o = self.venue.state.ords[intent] if terms else np.zeros(k.ORD_COLUMNS, np.int64)
        c = _row(who, o[k.O_INST], 1 - o[k.O_SIDE], o[k.O_PRICE], op["quantity"],
                 op["client_order_id"], ts)  # fmt: skip
        reason, cash = self._check_acceptance(c, intent, terms), 0
        if not reason:
            reason, cash = self._check(c)
        if reason:
            return self._refuse(c, reason)
        acceptance = k.reserve(c, cash, k.LIVE, *self._accounts(), self.venue.state.ht)
        if terms.firm:
            self._trade(acceptance, intent, c.quantity, ts)
        else:
            self.pending[acceptance] = intent
            self._event(EventKind.ACCEPTED, 0, acceptance, intent, c.price, c.quantity, ts)
        return self.venue.collect()

    def _check_acceptance(self, c: np.record, intent: int, terms: _Terms | None) -> int:
        if terms is None:
            return V.INTENT_EXPIRED if intent in self.expired else Reason.UNKNOWN_ORDER
        if not 0 <= c.participant < self.venue.state.par.shape[0]:
            return V.UNKNOWN_PARTICIPANT
        if c.participant == terms.participant:
            return V.OWN_INTENT
        if terms.counterparty not in (None, c.participant):
            return V.NOT_THE_COUNTERPARTY
        if c.quantity > self.venue.state.ords[intent, k.O_QTY]:
            return V.QUANTITY_EXCEEDS_INTENT
        return 0

    def _confirm(self, op: dict[str, Any]) -> np.ndarray:
        ts, acceptance = op["timestamp"], op["acceptance"]
        self._begin(ts)
        intent = self.pending.get(acceptance)
        reason = self._poster_refusal(op["participant"], intent)
        if reason:
            return self._refuse(_row(op["participant"], 0, 0, 0, 0, 0, ts), reason)
        quantity = int(self.venue.state.ords[acceptance, k.O_QTY])
        del self.pending[acceptance]
        if not op["agree"]:
            self._close(acceptance, EventKind.CANCELLED, Reason.CANCELLED_BY_OWNER, ts)
        elif quantity > self.venue.state.ords[intent, k.O_QTY]:
            self._close(acceptance, EventKind.CANCELLED, V.QUANTITY_EXCEEDS_INTENT, ts)
        else:
            self._trade(acceptance, intent, quantity, ts)
        return self.venue.collect()

    def _withdraw(self, op: dict[str, Any]) -> np.ndarray:
        ts, intent = op["timestamp"], op["intent"]
        self._begin(ts)
        reason = self._poster_refusal(op["participant"], intent)
        if reason:
            return self._refuse(_row(op["participant"], 0, 0, 0, 0, 0, ts), reason)
        self._end_intent(intent, EventKind.CANCELLED, Reason.CANCELLED_BY_OWNER, ts)
        return self.venue.collect()

    def _poster_refusal(self, participant: int, intent: int | None) -> int:
        if intent not in self.terms:
            return Reason.UNKNOWN_ORDER
        return 0 if self.terms[intent].participant == participant else V.NOT_THE_POSTER

    def obligation_reports(self, day: datetime.date) -> list[ObligationReport]:
        """Return []: negotiated transfer has no market makers' obligations."""
        return []

    def close_day(self) -> None:
        """Expire every intent and pending acceptance at the day's end (session clock)."""
        self.venue.state.grow_outputs(len(self.terms) + len(self.pending) + 4)
        for intent in list(self.terms):
            self._end_intent(intent, EventKind.EXPIRED, 0, self.venue.clock)

    # mechanics ----------------------------------------------------------------------------

    def _accounts(self) -> tuple[np.ndarray, ...]:
        s = self.venue.state
        return s.par, s.pos, s.ins, s.ords, s.g

    def _check(self, c: np.record) -> tuple[int, int]:
        """Return (reason, cash to hold) of an intent or acceptance as an order at its price."""
        ex, s = self.venue, self.venue.state
        reason = check_order(phase_at(ex.spans, c.timestamp), "intent")
        if reason:
            return reason, 0
        reason, cash = k.check_new(c, s.g[k.G_DAY], NEGOTIATION_SPAN, ex.engine.arrays().bk,
                                    s.par, s.pos, s.ins, s.fc, s.g, s.ht)  # fmt: skip
        return int(reason), int(cash)

    def _expire(self, ts: int) -> None:
        for intent in [i for i, t in self.terms.items() if t.expiry <= ts]:
            self._end_intent(intent, EventKind.EXPIRED, 0, ts)
            self.expired.add(intent)

    def _end_intent(self, intent: int, kind: EventKind, reason: int, ts: int) -> None:
        """Take an intent off the board with its pending acceptances (cancelled)."""
        for acceptance in [a for a, i in self.pending.items() if i == intent]:
            del self.pending[acceptance]
            self._close(acceptance, EventKind.CANCELLED, reason or V.INTENT_EXPIRED, ts)
        del self.terms[intent]
        self._close(intent, kind, reason, ts)

    def _close(self, o: int, kind: EventKind, reason: int, ts: int) -> None:
        """Release an intent or acceptance with an event about it."""
        left = int(self.venue.state.ords[o, k.O_QTY])
        k.release(*self._accounts()[:4], o)
        self._event(kind, reason, o, 0, int(self.venue.state.ords[o, k.O_PRICE]), left, ts)

    def _trade(self, acceptance: int, intent: int, quantity: int, ts: int) -> None:
        """Settle acceptance (taker) against intent (maker): fees, clearing, statistics, print."""
        s = self.venue.state
        price = int(s.ords[intent, k.O_PRICE])
        kv = self._event(EventKind.TRADE, 0, acceptance, intent, price, quantity, ts)
        e = s.vev[kv]
        kf, fee_buy, fee_sell = k.fill(e, False, s.par, s.pos, s.ins, s.ords, s.fc, s.g,
                                        s.collected, s.bars, s.ring, s.fout, s.kout[k.K_FEES],
                                        kv, True)  # fmt: skip
        s.kout[k.K_FEES] = kf
        buyer_first = s.ords[acceptance, k.O_SIDE] == Side.BUY
        e["fee"], e["contra_fee"] = (fee_buy, fee_sell) if buyer_first else (fee_sell, fee_buy)
        e["leaves"], e["contra_leaves"] = 0, s.ords[intent, k.O_QTY]
        s.kout[k.K_MD] = k.market_data(s.mout, s.kout[k.K_MD], k.MD_TRADE, e["side"], e["book"],
                                       s.ins, price, quantity, 0, ts)  # fmt: skip
        if s.ords[intent, k.O_STATE] == k.DONE:
            del self.terms[intent]

    def _event(
        self, kind: EventKind, reason: int, o: int, contra: int, price: int, quantity: int, ts: int
    ) -> int:
        """Write an event about order o (and contra, its intent); return its index."""
        s = self.venue.state
        kv = int(s.kout[k.K_EVENTS])
        e = s.vev[kv]
        ords = s.ords
        e["kind"], e["reason"], e["phase"] = kind, reason, s.sp[k.S_CORE]
        e["side"], e["book"], e["owner"] = ords[o, k.O_SIDE], ords[o, k.O_INST], ords[o, k.O_PART]
        e["contra_owner"] = ords[contra, k.O_PART] if contra else 0
        e["command"], e["order_id"], e["contra_order_id"] = 0, o, contra
        e["price"], e["quantity"], e["timestamp"] = price, quantity, ts
        e["leaves"] = ords[o, k.O_QTY] if kind == EventKind.ACCEPTED else 0
        e["contra_leaves"] = ords[contra, k.O_QTY] if contra else 0
        e["client_order_id"] = ords[o, k.O_COID]
        e["contra_client_order_id"] = ords[contra, k.O_COID] if contra else 0
        e["fee"] = e["contra_fee"] = 0
        s.kout[k.K_EVENTS] = kv + 1
        return kv

    def _refuse(self, c: np.record, reason: int) -> np.ndarray:
        s = self.venue.state
        s.kout[k.K_EVENTS] = k.reject(s.vev, s.kout[k.K_EVENTS], c, 0, reason, s.sp[k.S_CORE])
        return self.venue.collect()


def _row(
    participant: int, instrument: int, side: int, price: int, quantity: int, coid: int, ts: int
) -> np.record:
    """Return a NEW limit day venue command row (the form the kernel's checks take)."""
    row = np.zeros(1, ORDER_DTYPE).view(np.recarray)
    row[0] = (OrderCommand.NEW, side, 0, 0, participant, instrument, coid, price, quantity, ts)
    return row[0]


register(DeskMechanism("negotiated", ("intent",), False, NegotiationDesk))
