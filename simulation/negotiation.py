"""Agents' orders on negotiated-transfer instruments, carried out on the venue's quote board.

Agents speak one language (limit orders, cancels: `exchange.dtypes.ORDER_DTYPE`); on an
instrument traded by negotiated transfer there is no book, so the simulator turns each command
into what a participant does at the negotiation desk (exchange.mechanisms.negotiated):

- a buy (sell) limit first accepts the intents to sell (buy) that its participant sees at its
  price or better, best price first, then oldest, each acceptance a firm trade at the intent's
  price; what is left of a day order is posted as a firm intent at the limit price until the
  day's end (an IOC or FOK remainder is dropped, as an immediate order's would be);
- a cancel withdraws the intent its client order id posted, if it is still live.

One agent order may take several desk calls (acceptances, then an intent), and the venue wants
a client order id per call: call k of the agent's order c uses c * CALLS + k, and the events'
client order ids are divided back, so the agent sees its own ids.

Who sees an intent is the board's rule: on a public quote board (`techboard`) every eligible
participant; on a bilateral board (`regional`, where a counterparty must be named) only the one
it names. There the poster names a counterparty drawn at random among those with a live intent
on the other side (else among everyone): a broker who knows some of the interest in the market.
The named one trades only when it next acts and still finds the price acceptable: the search
friction that keeps such markets thin. The agents' market view shows the best public intents as
the bid and ask (none on a bilateral board). Every call goes through the desk, so every venue rule
(band, lots, holding period, holder cap, investor gate, fees) applies as it would to a person.
"""

from __future__ import annotations

import numpy as np

from exchange.dtypes import VENUE_EVENT_DTYPE, OrderCommand
from exchange.mechanisms.negotiated import (
    I_COUNTERPARTY,
    I_ID,
    I_LEFT,
    I_PARTICIPANT,
    I_PRICE,
    I_SIDE,
    NegotiationDesk,
)
from exchange.venue.exchange import Exchange
from matching_engine.dtypes import EventKind, Side, TimeInForce
from simulation.records import joined

NEW, CANCEL = int(OrderCommand.NEW), int(OrderCommand.CANCEL)
BUY = int(Side.BUY)
TRADE, ACCEPTED = int(EventKind.TRADE), int(EventKind.ACCEPTED)
NO_EVENTS = np.zeros(0, VENUE_EVENT_DTYPE)
CALLS = 256  # desk calls one agent order may take (client order id c * CALLS + k)


class Negotiation:
    """The negotiation desk as the simulator's agents use it (see the module docstring)."""

    def __init__(self, exchange: Exchange, seed: int) -> None:
        """Attach to the exchange's negotiation desk (none: `instruments` is empty)."""
        self.exchange = exchange
        self.desk = next((d for d in exchange.desks if isinstance(d, NegotiationDesk)), None)
        self.instruments: frozenset[int] = frozenset(self.desk.instruments if self.desk else ())
        self.negotiated = np.zeros(len(exchange.listings), bool)  # per instrument, for arrays
        self.negotiated[list(self.instruments)] = True
        rules = self.desk.rules if self.desk else None
        self.public = bool(rules and rules.public_quote_board)
        self.rng = np.random.default_rng(seed)
        self.posted: dict[tuple[int, int], int] = {}  # (participant, client order id) -> intent
        self.expiry = 0  # ns UTC: intents last until the end of the day's last session

    def start_day(self, close: int) -> None:
        """Begin a day whose last session ends at `close` (ns UTC); yesterday's intents expired."""
        self.expiry = close
        self.posted.clear()

    def top(self, instrument: int) -> tuple[int, int, int, int]:
        """Return the best public intents: bid, its quantity, ask, its quantity (0: none)."""
        if not self.public:
            return 0, 0, 0, 0
        board = self.desk.interest(instrument)
        board = board[board[:, I_COUNTERPARTY] < 0]
        out = []
        for side in (BUY, 1 - BUY):
            rows = board[board[:, I_SIDE] == side]
            if not len(rows):
                out += [0, 0]
                continue
            best = rows[:, I_PRICE].max() if side == BUY else rows[:, I_PRICE].min()
            out += [int(best), int(rows[rows[:, I_PRICE] == best, I_LEFT].sum())]
        return tuple(out)

    def carry_out(self, row: np.void) -> np.ndarray:
        """Carry out one agent command (ORDER_DTYPE row) at the desk; return its events."""
        participant, cid, t = int(row["participant"]), int(row["client_order_id"]), row["timestamp"]
        if int(row["kind"]) == CANCEL:
            intent = self.posted.pop((participant, cid), None)
            if intent is None or intent not in self.desk.terms:
                return NO_EVENTS
            return _agents_ids(self.desk.withdraw(participant, intent, int(t)))
        if int(row["kind"]) != NEW:
            return NO_EVENTS
        side, price, left = int(row["side"]), int(row["price"]), int(row["quantity"])
        events = []
        crossing = self._crossing(participant, int(row["instrument"]), side, price)
        for k, (intent, offered) in enumerate(crossing[: CALLS - 1, [I_ID, I_LEFT]].tolist()):
            if left <= 0:
                break
            done = self.desk.accept(participant, intent, min(left, offered), cid * CALLS + k,
                                    int(t))  # fmt: skip
            events.append(done)
            left -= int(done["quantity"][done["kind"] == TRADE].sum())
        if left > 0 and int(row["tif"]) == int(TimeInForce.DAY):
            posted = self.desk.post(
                participant, int(row["instrument"]), Side(side), price, left,
                cid * CALLS + CALLS - 1, int(t), expiry=self.expiry,
                counterparty=self._counterparty(participant, int(row["instrument"]), side),
            )  # fmt: skip
            accepted = posted["kind"] == ACCEPTED
            if accepted.any():
                self.posted[participant, cid] = int(posted["order_id"][accepted][0])
            events.append(posted)
        return _agents_ids(joined(events, VENUE_EVENT_DTYPE))

    def _crossing(self, participant: int, instrument: int, side: int, price: int) -> np.ndarray:
        """Return the opposite intents the participant sees at its price or better, best first
        (rows of INTEREST_COLUMNS)."""
        board = self.desk.interest(instrument, viewer=participant)
        at = board[:, I_PRICE]
        board = board[(board[:, I_SIDE] != side) & (board[:, I_PARTICIPANT] != participant)
                      & ((at <= price) if side == BUY else (at >= price))]  # fmt: skip
        return board[
            np.lexsort((board[:, I_ID], board[:, I_PRICE] if side == BUY else -board[:, I_PRICE]))
        ]

    def _counterparty(self, participant: int, instrument: int, side: int) -> int | None:
        """Return None on a public board; else whom to name: one of the participants with a
        live intent on the other side (the interest a broker knows of), else anyone else."""
        if self.public:
            return None
        board = self.desk.interest(instrument)
        board = board[(board[:, I_SIDE] != side) & (board[:, I_PARTICIPANT] != participant)]
        keen = np.unique(board[:, I_PARTICIPANT]).tolist()
        if keen:
            return keen[int(self.rng.integers(len(keen)))]
        others = len(self.exchange.participants) - 1
        pick = int(self.rng.integers(others)) if others > 0 else participant
        return pick + (pick >= participant)


def _agents_ids(events: np.ndarray) -> np.ndarray:
    """Return desk events with the agent's own client order ids (c from c * CALLS + k)."""
    events["client_order_id"] //= CALLS
    events["contra_client_order_id"] //= CALLS
    return events
