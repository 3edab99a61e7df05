"""The venue's numpy state: accounts, orders, instruments and fee rates as the kernel reads them.

Column names are those of exchange.kernel. Participants are numbered 0..P-1 (their ids),
instruments 0..N-1 (their symbol index). Every array the hot path touches is here; the Exchange
grows the order table, the client-order-id table and the output buffers between kernel calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from exchange.clearing.accounts import Participant
from exchange.dtypes import FEE_DTYPE, MD_DTYPE, VENUE_EVENT_DTYPE
from exchange.fees.schedule import FeeSchedule
from exchange.rules.boards import PARTICIPANT_KINDS, Board, ClassRules
from exchange.rules.order_entry import check_eligibility
from exchange.venue import kernel as k
from matching_engine.dtypes import EVENT_DTYPE, zeroed

KIND_INDEX = {kind: i for i, kind in enumerate(PARTICIPANT_KINDS)}
SIDES = {"buy": 0, "sell": 1, "both": 2}
LIQUIDITY = {"any": k.ANY, "maker": k.MAKER, "taker": k.TAKER}
ROUNDING = {"half_up": k.HALF_UP, "up": k.UP, "down": k.DOWN}
PAYEES = ("tax", "exchange", "regulator", "registrar", "broker", "rebate_pool")
RING = 1024  # recent trades kept per instrument for the closing-price fallback
BAR_MINUTES = 24 * 60  # one bar per minute from the day's first phase


def fee_table(schedule: FeeSchedule) -> np.ndarray:
    """Return the schedule's per-trade components as an int64 table (kernel F_* columns)."""
    table = np.zeros((len(schedule.components), k.FC_COLUMNS), np.int64)
    for row, component in zip(table, schedule.components.values(), strict=True):
        row[k.F_SIDE] = SIDES[component.side]
        row[k.F_RATE] = component.rate
        row[k.F_MIN] = component.minimum
        row[k.F_CAP] = -1 if component.cap is None else component.cap
        row[k.F_BASIS] = component.basis == "order"
        row[k.F_LIQ] = LIQUIDITY[component.liquidity]
        row[k.F_KINDS] = sum(1 << KIND_INDEX[kind] for kind in component.participants)
        row[k.F_REBATE] = component.rebate
        row[k.F_PAYEE] = PAYEES.index(component.payee)
    return table


@dataclass
class VenueState:
    """All arrays of the venue kernel (see exchange.kernel for the columns)."""

    par: np.ndarray  # (P, PAR_COLUMNS)
    pos: np.ndarray  # (P, N, ACQ + K)
    ins: np.ndarray  # (N, INS_COLUMNS)
    ords: np.ndarray  # (orders, ORD_COLUMNS), row = exchange order id (row 0 unused)
    ht: np.ndarray  # (slots, 3): participant + 1, client order id, order id
    fc: np.ndarray  # (components, FC_COLUMNS)
    g: np.ndarray  # (G_COLUMNS,)
    collected: np.ndarray  # fees collected per payee (PAYEES), 1/10000 CNY
    bars: np.ndarray  # (N, BAR_MINUTES, 6)
    ring: np.ndarray  # (N, RING, 3): time, price, quantity of recent trades
    sp: np.ndarray  # the session span in force (S_* columns)
    held: np.ndarray  # order ids held until the book opens
    cev: np.ndarray  # the core's event scratch for one command
    vev: np.ndarray  # venue events of the current call
    fout: np.ndarray  # fee rows of the current call
    mout: np.ndarray  # market data of the current call
    kout: np.ndarray  # rows written to vev, fout, mout
    tch: np.ndarray  # levels touched by one command

    @classmethod
    def create(
        cls,
        board: Board,
        schedule: FeeSchedule,
        classes: Sequence[ClassRules],
        previous_closes: Sequence[int],
        participants: Sequence[Participant],
        capacity: int = 1024,
    ) -> VenueState:
        """Allocate the state of participants and instruments (rules per instrument)."""
        n, p = len(classes), len(participants)
        ring_days = max([1, *(rules.holding.min_days for rules in classes)])
        par = np.zeros((p, k.PAR_COLUMNS), np.int64)
        for row, who in zip(par, participants, strict=True):
            row[k.KIND] = KIND_INDEX[who.kind]
            row[k.ELIGIBLE] = not check_eligibility(
                board.eligibility, who.kind, who.financial_assets, who.experience_months
            )
        pos = np.zeros((p, n, k.ACQ + ring_days), np.int64)
        pos[:, :, k.LAST_BUY] = pos[:, :, k.LAST_SALE] = k.NEVER
        ins = np.zeros((n, k.INS_COLUMNS), np.int64)
        cap = board.holder_cap
        for row, rules, close in zip(ins, classes, previous_closes, strict=True):
            row[k.TICK] = rules.tick
            row[[k.LOT_MIN, k.LOT_STEP, k.ODD_LOT]] = (
                rules.lot.minimum,
                rules.lot.step,
                rules.lot.odd_lot_sell,
            )
            row[k.LIMIT_MAX] = rules.size.limit_max or 0
            row[k.MARKET_MAX] = rules.size.market_max or 0
            row[k.FIXED_MAX] = (
                -1 if rules.size.fixed_price_max is None else rules.size.fixed_price_max
            )
            row[k.CAGE_PCT], row[k.CAGE_TICKS] = rules.cage.pct, rules.cage.min_ticks
            row[k.MIN_DAYS], row[k.RT_DAYS] = rules.holding.min_days, rules.holding.round_trip_days
            row[k.EXEMPT] = sum(1 << KIND_INDEX[kind] for kind in rules.holding.exempt)
            row[k.PREV_CLOSE] = close
            row[k.CAP] = -1 if cap.limit is None else cap.limit
            row[k.CAP_CURRENT] = cap.count == "current"
        g = np.zeros(k.G_COLUMNS, np.int64)
        g[k.G_NEXT_OID] = 1
        g[k.G_ROUNDING] = ROUNDING[schedule.rounding]
        return cls(
            par=par,
            pos=pos,
            ins=ins,
            ords=np.zeros((capacity, k.ORD_COLUMNS), np.int64),
            ht=np.zeros((2 * capacity, 3), np.int64),
            fc=fee_table(schedule),
            g=g,
            collected=np.zeros(len(PAYEES), np.int64),
            bars=np.zeros((n, BAR_MINUTES, 6), np.int64),
            ring=np.zeros((n, RING, 3), np.int64),
            sp=np.zeros(k.SP_COLUMNS, np.int64),
            held=np.zeros(capacity, np.int64),
            cev=np.zeros(1024, EVENT_DTYPE),
            vev=np.zeros(capacity, VENUE_EVENT_DTYPE),
            fout=np.zeros(capacity, FEE_DTYPE),
            mout=np.zeros(capacity, MD_DTYPE),
            kout=np.zeros(3, np.int64),
            tch=np.zeros((2048, 2), np.int64),
        )

    def reserve_orders(self, count: int) -> None:
        """Make room for `count` more orders and client order ids (doubling; ids kept)."""
        need = int(self.g[k.G_NEXT_OID]) + count  # Python ints: numpy scalars cost more here
        if need > len(self.ords):
            self.ords = _grown(self.ords, need)
        if need > len(self.held):
            self.held = _grown(self.held, need)
        if 2 * (int(self.g[k.G_HT_USED]) + count) > len(self.ht):
            used = self.ht[self.ht[:, 0] != 0]
            size = len(self.ht)
            while 2 * (self.g[k.G_HT_USED] + count) > size:
                size *= 2
            self.ht = zeroed((size, 3), np.int64)
            if len(used):
                k.ht_insert_all(self.ht, used)

    def reserve_outputs(self, events: int, fees: int, market_data: int) -> None:
        """Make the output buffers hold at least these many rows (written through once)."""
        for name, rows in (("vev", events), ("fout", fees), ("mout", market_data)):
            if len(getattr(self, name)) < rows:
                setattr(self, name, _grown(getattr(self, name), rows))

    def grow_outputs(self, need: int) -> None:
        """Double the output buffers until one more command needing `need` core events fits."""
        kv, kf, km = self.kout
        width = len(self.fc)
        for name, used, per in (("vev", kv, 1), ("fout", kf, 2 * width), ("mout", km, 3)):
            buffer = getattr(self, name)
            if used + per * need + 8 > len(buffer):
                setattr(self, name, _grown(buffer, used + per * need + 8))
        if 2 * need + 2 > len(self.tch):
            self.tch = np.zeros((4 * need + 4, 2), np.int64)


def _grown(array: np.ndarray, need: int) -> np.ndarray:
    """Return a copy of `array` with at least `need` rows (a power-of-two multiple of its size).

    Every page is written here, so later writes do not fault.
    """
    size = max(len(array), 1)
    while size < need:
        size *= 2
    grown = np.empty((size, *array.shape[1:]), array.dtype)
    grown[: len(array)] = array
    grown[len(array) :] = 0  # write every page now
    return grown
