"""The venue's hot path: one numba call validates, reserves, matches, charges, clears, publishes.

For each command of a batch, in order: the venue checks (rules.py and accounts.py say what each
check means; this kernel applies them to numpy state), the reservation, one call of the matching
core's batch kernel on that single command (so every check sees the book and the accounts as
the commands before it left them), then a walk over the core's events: fills settle against
the reservations with their fees itemised, finished orders release what they still hold, the
touched price levels and trade prints become market data with per-instrument sequence numbers.
Nothing here allocates per order; state lives in the arrays that exchange.state.VenueState owns
(column names below). The kernel stops before a command when an output buffer, the core's event
scratch or the core's order slots might run short (Python grows them and resumes there), and
after a command whose trade reached a volatility-halt threshold (Python halts the book).
Fixed-price orders wait outside the books (state FIXED) until match_fixed trades them at the
close.
Units: prices in price units, cash and fees in 1/10000 CNY, quantities in shares, days as
trading-day numbers, times in ns UTC.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exchange.dtypes import FIXED_PRICE
from exchange.reasons import VenueReason as V
from matching_engine import book as core
from matching_engine.reasons import Reason as R

# participant columns (par)
CASH, CASH_RES, KIND, ELIGIBLE, DUE_CASH, BOUGHT, SOLD, FEES_PAID = range(8)
PAR_COLUMNS = 8
# participant x instrument columns (pos); the acquisition ring of the last K days follows ACQ
POS, SH_RES, LAST_BUY, LAST_SALE, LIVE_BUY, LIVE_SELL, EVER, DUE_SH, ACQ = range(9)
# instrument columns (ins)
(
    TICK, LOT_MIN, LOT_STEP, ODD_LOT, LIMIT_MAX, MARKET_MAX, LIM_LO, LIM_HI, CAGE_PCT, CAGE_TICKS,
    MIN_DAYS, RT_DAYS, EXEMPT, PREV_CLOSE, LAST, HALTED, COUNTED, PENDING, CAP, CAP_CURRENT,
    SEQ, OPEN, HIGH, LOW, VOLUME, TURNOVER, TRADES, RING, AUCTION_PRICE, AUCTION_VOLUME,
    HALT_UP, HALT_DOWN, HALT_PRICE, FIXED_MAX, CLOSE,
) = range(35)  # fmt: skip
INS_COLUMNS = 35
MANUAL, VOLATILITY = 1, 2  # HALTED bits
# HALT_UP / HALT_DOWN: a trade at or beyond either stops the kernel after its command with the
# price in HALT_PRICE, for the venue to ask the volatility-halt rules (halts.VolatilityHalts)
# FIXED_MAX: the class's largest fixed-price order (-1: no fixed-price trading); CLOSE: the
# day's close once the venue has fixed it (0 before), the price of fixed-price trades
# order columns (ords), indexed by the exchange's order id
O_PART, O_INST, O_SIDE, O_CASH, O_QTY, O_PRICE, O_NOTIONAL, O_STATE, O_COID, O_TYPE, O_TIF = range(
    11
)
ORD_COLUMNS = 11
ENTERED, LIVE, HELD, DONE, FIXED = 0, 1, 2, 3, 4  # O_STATE (FIXED: awaits the close)
# fee component columns (fc)
F_SIDE, F_RATE, F_MIN, F_CAP, F_BASIS, F_LIQ, F_KINDS, F_REBATE, F_PAYEE = range(9)
FC_COLUMNS = 9
ANY, MAKER, TAKER = 0, 1, 2  # F_LIQ and a fill party's role
HALF_UP, UP, DOWN = 0, 1, 2  # rounding
# globals (g)
G_DAY, G_NEXT_OID, G_HT_USED, G_ROUNDING, G_BAR_START, G_HELD = range(6)
G_COLUMNS = 6
# session span (sp)
S_OPEN, S_LIMIT, S_MARKET, S_CANCEL, S_CORE, S_HOLD, S_FIXED = range(7)
SP_COLUMNS = 7
# bars (N, minutes, 6) and the ring of recent trades (N, R, 3)
B_OPEN, B_HIGH, B_LOW, B_CLOSE, B_VOLUME, B_TURNOVER = range(6)
BAR_NS = 60_000_000_000
# kout
K_EVENTS, K_FEES, K_MD = range(3)
# status
DONE_ALL, NEED_CORE_EVENTS, NEED_SLOTS, NEED_OUTPUT, HALT_CHECK = range(5)
# market-data kinds (dtypes.MarketDataKind)
MD_LEVEL, MD_TRADE, MD_AUCTION, MD_PHASE, MD_FIXED_TRADE = 1, 2, 3, 4, 6
ISSUER = 3  # participant kind index (state.KIND_INDEX)
ONE = 100_000_000
FEN = 100
SCALE_FEN = FEN * ONE
NEVER = -(1 << 40)
RC_CANCELLED_BY_OWNER = int(R.CANCELLED_BY_OWNER)
RC_INVALID_ORDER_TYPE = int(R.INVALID_ORDER_TYPE)
RC_INVALID_QUANTITY = int(R.INVALID_QUANTITY)
RC_INVALID_SIDE = int(R.INVALID_SIDE)
RC_SESSION_END = int(R.SESSION_END)
RC_INVALID_TIME_IN_FORCE = int(R.INVALID_TIME_IN_FORCE)
RC_UNKNOWN_COMMAND = int(R.UNKNOWN_COMMAND)
RC_UNKNOWN_ORDER = int(R.UNKNOWN_ORDER)
RV_BUY_WITHIN_ROUND_TRIP_DAYS = int(V.BUY_WITHIN_ROUND_TRIP_DAYS)
RV_DUPLICATE_CLIENT_ORDER_ID = int(V.DUPLICATE_CLIENT_ORDER_ID)
RV_HOLDER_CAP_REACHED = int(V.HOLDER_CAP_REACHED)
RV_HOLDING_PERIOD_NOT_REACHED = int(V.HOLDING_PERIOD_NOT_REACHED)
RV_INSTRUMENT_HALTED = int(V.INSTRUMENT_HALTED)
RV_INSUFFICIENT_CASH = int(V.INSUFFICIENT_CASH)
RV_INSUFFICIENT_SHARES = int(V.INSUFFICIENT_SHARES)
RV_INVALID_CLIENT_ORDER_ID = int(V.INVALID_CLIENT_ORDER_ID)
RV_INVALID_PRICE = int(V.INVALID_PRICE)
RV_INVESTOR_NOT_ELIGIBLE = int(V.INVESTOR_NOT_ELIGIBLE)
RV_MARKET_CLOSED = int(V.MARKET_CLOSED)
RV_OFF_TICK = int(V.OFF_TICK)
RV_PHASE_REJECTS_CANCEL = int(V.PHASE_REJECTS_CANCEL)
RV_PHASE_REJECTS_ORDER_TYPE = int(V.PHASE_REJECTS_ORDER_TYPE)
RV_PRICE_ABOVE_LIMIT = int(V.PRICE_ABOVE_LIMIT)
RV_PRICE_BELOW_LIMIT = int(V.PRICE_BELOW_LIMIT)
RV_PRICE_OUTSIDE_CAGE = int(V.PRICE_OUTSIDE_CAGE)
RV_PRICE_WRONG_SIDE_OF_CLOSE = int(V.PRICE_WRONG_SIDE_OF_CLOSE)
RV_QUANTITY_ABOVE_MAXIMUM = int(V.QUANTITY_ABOVE_MAXIMUM)
RV_QUANTITY_BELOW_MINIMUM = int(V.QUANTITY_BELOW_MINIMUM)
RV_QUANTITY_NOT_IN_STEPS = int(V.QUANTITY_NOT_IN_STEPS)
RV_SALE_WITHIN_ROUND_TRIP_DAYS = int(V.SALE_WITHIN_ROUND_TRIP_DAYS)
RV_UNKNOWN_INSTRUMENT = int(V.UNKNOWN_INSTRUMENT)
RV_UNKNOWN_PARTICIPANT = int(V.UNKNOWN_PARTICIPANT)

NEW, CANCEL, REPLACE = 1, 2, 3
QUEUED = 9
ACCEPTED, REJECTED, TRADE, CANCELLED, REPLACED, EXPIRED, UNCROSSED, PHASE_EVENT = range(1, 9)
BUY, SELL = 0, 1
LIMIT, MARKET = 0, 1
DAY = 0
CONTINUOUS, CALL = 0, 1


@njit(cache=True, inline="always")
def _counted(pos, ins, p, n):
    if ins[n, CAP_CURRENT]:
        return pos[p, n, POS] > 0
    return pos[p, n, EVER] > 0


@njit(cache=True, inline="always")
def _round(x, mode):
    fen, rest = divmod(x, SCALE_FEN)
    if mode == HALF_UP:
        fen += 2 * rest >= SCALE_FEN
    elif mode == UP:
        fen += rest > 0
    return fen * FEN


@njit(cache=True, inline="always")
def _component(fc, c, notional, mode):
    """Return component c's fee on notional taken as one charge (fees.component_fee)."""
    if notional <= 0:
        return 0
    amount = max(_round(notional * abs(fc[c, F_RATE]), mode), fc[c, F_MIN])
    if fc[c, F_CAP] >= 0:
        amount = min(amount, fc[c, F_CAP])
    return -amount if fc[c, F_REBATE] else amount


@njit(cache=True, inline="always")
def _charges(fc, c, side, liq, kind):
    return (
        (fc[c, F_SIDE] == 2 or fc[c, F_SIDE] == side)
        and (liq == ANY or fc[c, F_LIQ] == ANY or fc[c, F_LIQ] == liq)
        and (fc[c, F_KINDS] == 0 or (fc[c, F_KINDS] >> kind) & 1)
    )


@njit(cache=True)
def fee_bound(fc, mode, side, kind, notional, fills, prior=0):
    """Return the most fees one order of `notional` filled in at most `fills` fills can cost,
    `prior` its notional filled before (order-basis components charge from there on)."""
    total = 0
    for c in range(fc.shape[0]):
        if fc[c, F_REBATE] or not _charges(fc, c, side, ANY, kind):
            continue
        if fc[c, F_BASIS] == 1:
            total += _component(fc, c, prior + notional, mode) - _component(fc, c, prior, mode)
        else:
            amount = _round(notional * fc[c, F_RATE], UP) + (fc[c, F_MIN] + FEN) * fills
            total += amount if fc[c, F_CAP] < 0 else min(amount, fc[c, F_CAP] * fills)
    return total


@njit(cache=True, inline="always")
def _ht_slot(ht, p, coid):
    mask = ht.shape[0] - 1
    h = (np.uint64(coid) * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(p * 0x632BE5AB)
    s = np.int64(h >> np.uint64(20)) & mask
    while ht[s, 0] != 0 and (ht[s, 0] != p + 1 or ht[s, 1] != coid):
        s = (s + 1) & mask
    return s


@njit(cache=True)
def ht_insert_all(ht, entries):
    """Insert (participant, client order id, order id) rows into an empty table (growth)."""
    for r in range(entries.shape[0]):
        s = _ht_slot(ht, entries[r, 0] - 1, entries[r, 1])
        ht[s, 0] = entries[r, 0]
        ht[s, 1] = entries[r, 1]
        ht[s, 2] = entries[r, 2]


@njit(cache=True, inline="always")
def market_data(mout, km, kind, side, n, ins, px, q, orders, ts):
    """Write a market data row about instrument n (its next sequence number); return km + 1."""
    ins[n, SEQ] += 1
    m = mout[km]
    m.kind = kind
    m.side = side
    m.instrument = n
    m.seq = ins[n, SEQ]
    m.price = px
    m.quantity = q
    m.orders = orders
    m.timestamp = ts
    return km + 1


@njit(cache=True, inline="always")
def reject(vev, kv, c, i, reason, phase):
    """Write a venue event echoing command c (REJECTED with reason); return kv + 1."""
    e = vev[kv]
    e.kind = REJECTED
    e.side = c.side
    e.phase = phase
    e.reason = reason
    e.book = c.instrument
    e.owner = c.participant
    e.contra_owner = 0
    e.command = i
    e.order_id = 0
    e.contra_order_id = 0
    e.price = c.price
    e.quantity = c.quantity
    e.leaves = 0
    e.contra_leaves = 0
    e.timestamp = c.timestamp
    e.client_order_id = c.client_order_id
    e.contra_client_order_id = 0
    e.fee = 0
    e.contra_fee = 0
    return kv + 1


@njit(cache=True, inline="always")
def _copy_event(vev, kv, s, ords):
    e = vev[kv]
    e.kind = s.kind
    e.side = s.side
    e.phase = s.phase
    e.reason = s.reason
    e.book = s.book
    e.owner = s.owner
    e.contra_owner = s.contra_owner
    e.command = s.command
    e.order_id = s.order_id
    e.contra_order_id = s.contra_order_id
    e.price = s.price
    e.quantity = s.quantity
    e.leaves = s.leaves
    e.contra_leaves = s.contra_leaves
    e.timestamp = s.timestamp
    e.client_order_id = ords[s.order_id, O_COID] if s.order_id > 0 else 0
    e.contra_client_order_id = ords[s.contra_order_id, O_COID] if s.contra_order_id > 0 else 0
    e.fee = 0
    e.contra_fee = 0


@njit(cache=True)
def release(par, pos, ins, ords, o):
    """Close order o: give back the cash and shares it still holds; forget its live order."""
    if ords[o, O_STATE] == DONE:
        return
    p = ords[o, O_PART]
    n = ords[o, O_INST]
    par[p, CASH_RES] -= ords[o, O_CASH]
    ords[o, O_CASH] = 0
    if ords[o, O_SIDE] == SELL:
        pos[p, n, SH_RES] -= ords[o, O_QTY]
        pos[p, n, LIVE_SELL] -= 1
    else:
        pos[p, n, LIVE_BUY] -= 1
        if pos[p, n, LIVE_BUY] == 0 and par[p, KIND] != ISSUER and not _counted(pos, ins, p, n):
            ins[n, PENDING] -= 1
    ords[o, O_QTY] = 0
    ords[o, O_STATE] = DONE


@njit(cache=True, inline="always")
def _pay(par, ords, o, p, amount):
    """Add amount (negative: a payment) to p's cash, drawing a payment from order o's hold."""
    if amount < 0:
        take = min(ords[o, O_CASH], -amount)
        ords[o, O_CASH] -= take
        par[p, CASH_RES] -= take
    par[p, CASH] += amount


@njit(cache=True)
def _party_fees(fc, mode, fout, kf, kv, collected, par, ords, o, side, liq, notional):
    """Charge one party of a fill its itemised fees; return (total, fee rows written)."""
    p = ords[o, O_PART]
    kind = par[p, KIND]
    prior = ords[o, O_NOTIONAL]
    total = 0
    for c in range(fc.shape[0]):
        if not _charges(fc, c, side, liq, kind):
            continue
        if fc[c, F_BASIS] == 1:
            amount = _component(fc, c, prior + notional, mode) - _component(fc, c, prior, mode)
        else:
            amount = _component(fc, c, notional, mode)
        if amount == 0:
            continue
        f = fout[kf]
        f.event = kv
        f.participant = p
        f.component = c
        f.payee = fc[c, F_PAYEE]
        f.amount = amount
        kf += 1
        collected[fc[c, F_PAYEE]] += amount
        total += amount
    return total, kf


@njit(cache=True)
def fill(e, auction, par, pos, ins, ords, fc, g, collected, bars, ring, fout, kf, kv, stats):
    """Settle one TRADE event (DvP, fees; day statistics, bars and the close's ring of recent
    trades unless `stats` is False); return (kf, buyer fees, seller fees)."""
    a = e.order_id
    c = e.contra_order_id
    q = e.quantity
    px = e.price
    n = e.book
    notional = px * q
    mode = g[G_ROUNDING]
    if ords[a, O_SIDE] == BUY:
        bo, so = a, c
    else:
        bo, so = c, a
    b_liq = TAKER if auction or bo == a else MAKER
    s_liq = TAKER if auction or so == a else MAKER
    fee_b, kf = _party_fees(fc, mode, fout, kf, kv, collected, par, ords, bo, BUY, b_liq, notional)
    fee_s, kf = _party_fees(fc, mode, fout, kf, kv, collected, par, ords, so, SELL, s_liq, notional)
    buyer = ords[bo, O_PART]
    seller = ords[so, O_PART]
    paid = notional + fee_b
    received = notional - fee_s
    _pay(par, ords, bo, buyer, -paid)
    _pay(par, ords, so, seller, received)
    par[buyer, DUE_CASH] -= paid
    par[seller, DUE_CASH] += received
    par[buyer, BOUGHT] += notional
    par[seller, SOLD] += notional
    par[buyer, FEES_PAID] += fee_b
    par[seller, FEES_PAID] += fee_s
    day = g[G_DAY]
    # the buyer becomes a holder before its order may be released below
    if par[buyer, KIND] != ISSUER and not _counted(pos, ins, buyer, n):
        ins[n, COUNTED] += 1
        if pos[buyer, n, LIVE_BUY] > 0:
            ins[n, PENDING] -= 1
    pos[buyer, n, POS] += q
    pos[buyer, n, EVER] = 1
    pos[buyer, n, DUE_SH] += q
    pos[buyer, n, ACQ + day % (pos.shape[2] - ACQ)] += q
    pos[buyer, n, LAST_BUY] = day
    pos[seller, n, POS] -= q
    pos[seller, n, SH_RES] -= q
    pos[seller, n, DUE_SH] -= q
    pos[seller, n, LAST_SALE] = day
    if ins[n, CAP_CURRENT] and pos[seller, n, POS] == 0 and par[seller, KIND] != ISSUER:
        ins[n, COUNTED] -= 1
        if pos[seller, n, LIVE_BUY] > 0:
            ins[n, PENDING] += 1
    for o in (bo, so):
        ords[o, O_QTY] -= q
        ords[o, O_NOTIONAL] += notional
        if ords[o, O_QTY] == 0:
            release(par, pos, ins, ords, o)
    if not stats:
        return kf, fee_b, fee_s
    # day statistics, the minute bar and the ring of recent trades
    if ins[n, TRADES] == 0:
        ins[n, OPEN] = px
        ins[n, HIGH] = px
        ins[n, LOW] = px
    ins[n, HIGH] = max(ins[n, HIGH], px)
    ins[n, LOW] = min(ins[n, LOW], px)
    ins[n, LAST] = px
    ins[n, VOLUME] += q
    ins[n, TURNOVER] += notional
    ins[n, TRADES] += 1
    minute = min(max((e.timestamp - g[G_BAR_START]) // BAR_NS, 0), bars.shape[1] - 1)
    bar = bars[n, minute]
    if bar[B_VOLUME] == 0:
        bar[B_OPEN] = px
        bar[B_HIGH] = px
        bar[B_LOW] = px
    bar[B_HIGH] = max(bar[B_HIGH], px)
    bar[B_LOW] = min(bar[B_LOW], px)
    bar[B_CLOSE] = px
    bar[B_VOLUME] += q
    bar[B_TURNOVER] += notional
    r = ins[n, RING] % ring.shape[1]
    ring[n, r, 0] = e.timestamp
    ring[n, r, 1] = px
    ring[n, r, 2] = q
    ins[n, RING] += 1
    return kf, fee_b, fee_s


@njit(cache=True, inline="always")
def _price_of(bk, b, li):
    return bk[b, core.LO] + li * bk[b, core.TICK]


@njit(cache=True)
def check_new(c, day, sp, bk, par, pos, ins, fc, g, ht):
    """Return (reason, cash to reserve) for a NEW venue command; reason 0 accepts it."""
    p = c.participant
    n = c.instrument
    if p < 0 or p >= par.shape[0]:
        return RV_UNKNOWN_PARTICIPANT, 0
    if n < 0 or n >= ins.shape[0]:
        return RV_UNKNOWN_INSTRUMENT, 0
    if c.side > SELL:
        return RC_INVALID_SIDE, 0
    if c.order_type > FIXED_PRICE or (c.order_type == FIXED_PRICE and ins[n, FIXED_MAX] < 0):
        return RC_INVALID_ORDER_TYPE, 0
    if c.tif > 2:
        return RC_INVALID_TIME_IN_FORCE, 0
    if c.client_order_id <= 0:
        return RV_INVALID_CLIENT_ORDER_ID, 0
    if ht[_ht_slot(ht, p, c.client_order_id), 0] != 0:
        return RV_DUPLICATE_CLIENT_ORDER_ID, 0
    return _check_terms(
        p, n, np.int64(c.side), c.order_type, c.tif, c.price, c.quantity, False, 0, 0, 0, day, sp,
        bk, par, pos, ins, fc, g,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _check_terms(
    p, n, side, order_type, tif, px, q, replacing, held_cash, held_shares, prior, day, sp, bk,
    par, pos, ins, fc, g,
):  # fmt: skip
    """Return (reason, cash to hold) for an order's terms: a new order, or a live order replaced
    (replacing: what it holds counts as free, `prior` is its notional filled so far, and the
    checks of entering the market, passed at its entry, are not repeated)."""
    if sp[S_OPEN] == 0:
        return RV_MARKET_CLOSED, 0
    if ins[n, HALTED]:
        return RV_INSTRUMENT_HALTED, 0
    column = S_FIXED if order_type == FIXED_PRICE else S_MARKET if order_type == MARKET else S_LIMIT
    if not sp[column]:
        return RV_PHASE_REJECTS_ORDER_TYPE, 0
    if order_type == FIXED_PRICE and tif != DAY:
        return RC_INVALID_TIME_IN_FORCE, 0
    if sp[S_CORE] == CALL and (order_type == MARKET or tif != DAY):
        return RV_PHASE_REJECTS_ORDER_TYPE, 0
    if px <= 0:
        return RV_INVALID_PRICE, 0
    tick = ins[n, TICK]
    if px % tick:
        return RV_OFF_TICK, 0
    if px > ins[n, LIM_HI]:
        return RV_PRICE_ABOVE_LIMIT, 0
    if px < ins[n, LIM_LO]:
        return RV_PRICE_BELOW_LIMIT, 0
    close = ins[n, CLOSE]
    if order_type == FIXED_PRICE and close and (px < close if side == BUY else px > close):
        return RV_PRICE_WRONG_SIDE_OF_CLOSE, 0
    pct = ins[n, CAGE_PCT]
    ticks = ins[n, CAGE_TICKS] * tick
    if order_type == LIMIT and sp[S_CORE] == CONTINUOUS and sp[S_HOLD] == 0 and (pct or ticks):
        bid = _price_of(bk, n, bk[n, core.BEST]) if bk[n, core.BEST] >= 0 else 0
        ask = _price_of(bk, n, bk[n, core.BEST_ASK]) if bk[n, core.BEST_ASK] < bk[n, core.N] else 0
        opposite, same = (ask, bid) if side == BUY else (bid, ask)
        benchmark = opposite or same or ins[n, LAST] or ins[n, PREV_CLOSE]
        if benchmark > 0:
            if side == BUY:
                inside = px * ONE <= benchmark * (ONE + pct) or px <= benchmark + ticks
            else:
                inside = px * ONE >= benchmark * (ONE - pct) or px >= benchmark - ticks
            if not inside:
                return RV_PRICE_OUTSIDE_CAGE, 0
    if q <= 0:
        return RC_INVALID_QUANTITY, 0
    free_shares = pos[p, n, POS] - pos[p, n, SH_RES] + held_shares
    if not (side == SELL and ins[n, ODD_LOT] and q == free_shares):
        if q < ins[n, LOT_MIN]:
            return RV_QUANTITY_BELOW_MINIMUM, 0
        if (q - ins[n, LOT_MIN]) % ins[n, LOT_STEP]:
            return RV_QUANTITY_NOT_IN_STEPS, 0
    maximum = ins[n, MARKET_MAX] if order_type == MARKET else ins[n, LIMIT_MAX]
    if order_type == FIXED_PRICE:
        maximum = ins[n, FIXED_MAX]
    if maximum > 0 and q > maximum:
        return RV_QUANTITY_ABOVE_MAXIMUM, 0
    kind = par[p, KIND]
    exempt = (ins[n, EXEMPT] >> kind) & 1
    rt = 0 if exempt else ins[n, RT_DAYS]
    notional = px * q
    fills = q // ins[n, LOT_MIN] + 1
    free_cash = par[p, CASH] - par[p, CASH_RES] + held_cash
    if side == BUY:
        if not replacing:
            if not par[p, ELIGIBLE]:
                return RV_INVESTOR_NOT_ELIGIBLE, 0
            if rt and (pos[p, n, LIVE_SELL] > 0 or day - pos[p, n, LAST_SALE] < rt):
                return RV_BUY_WITHIN_ROUND_TRIP_DAYS, 0
            if (
                ins[n, CAP] >= 0
                and kind != ISSUER
                and pos[p, n, LIVE_BUY] == 0
                and not _counted(pos, ins, p, n)
                and ins[n, COUNTED] + ins[n, PENDING] >= ins[n, CAP]
            ):
                return RV_HOLDER_CAP_REACHED, 0
        cash = notional + fee_bound(fc, g[G_ROUNDING], BUY, kind, notional, fills, prior)
    else:
        if not replacing and rt and (pos[p, n, LIVE_BUY] > 0 or day - pos[p, n, LAST_BUY] < rt):
            return RV_SALE_WITHIN_ROUND_TRIP_DAYS, 0
        if q > free_shares:
            return RV_INSUFFICIENT_SHARES, 0
        if not exempt and ins[n, MIN_DAYS] > 0:
            k = pos.shape[2] - ACQ
            recent = 0
            for j in range(ins[n, MIN_DAYS]):
                recent += pos[p, n, ACQ + (day - j) % k]
            if q > free_shares - min(recent, pos[p, n, POS]):
                return RV_HOLDING_PERIOD_NOT_REACHED, 0
        cash = max(0, fee_bound(fc, g[G_ROUNDING], SELL, kind, notional, fills, prior) - notional)
    if cash > free_cash:
        return RV_INSUFFICIENT_CASH, 0
    return 0, cash


@njit(cache=True)
def reserve(c, cash, state, par, pos, ins, ords, g, ht):
    """Open the order of an accepted NEW command; return its order id."""
    p = c.participant
    n = c.instrument
    o = g[G_NEXT_OID]
    g[G_NEXT_OID] += 1
    ords[o, O_PART] = p
    ords[o, O_INST] = n
    ords[o, O_SIDE] = c.side
    ords[o, O_CASH] = cash
    ords[o, O_QTY] = c.quantity
    ords[o, O_PRICE] = c.price
    ords[o, O_NOTIONAL] = 0
    ords[o, O_STATE] = state
    ords[o, O_COID] = c.client_order_id
    ords[o, O_TYPE] = c.order_type
    ords[o, O_TIF] = c.tif
    par[p, CASH_RES] += cash
    if c.side == SELL:
        pos[p, n, SH_RES] += c.quantity
        pos[p, n, LIVE_SELL] += 1
    else:
        if pos[p, n, LIVE_BUY] == 0 and par[p, KIND] != ISSUER and not _counted(pos, ins, p, n):
            ins[n, PENDING] += 1
        pos[p, n, LIVE_BUY] += 1
    s = _ht_slot(ht, p, c.client_order_id)
    ht[s, 0] = p + 1
    ht[s, 1] = c.client_order_id
    ht[s, 2] = o
    g[G_HT_USED] += 1
    return o


@njit(cache=True, inline="always")
def _rereserve(c, cash, par, pos, ords, o):
    """Give order o the price, open quantity and cash hold of an accepted REPLACE command."""
    p = ords[o, O_PART]
    par[p, CASH_RES] += cash - ords[o, O_CASH]
    ords[o, O_CASH] = cash
    if ords[o, O_SIDE] == SELL:
        pos[p, ords[o, O_INST], SH_RES] += c.quantity - ords[o, O_QTY]
    ords[o, O_QTY] = c.quantity
    ords[o, O_PRICE] = c.price
    ords[o, O_TYPE] = LIMIT
    ords[o, O_TIF] = DAY


@njit(cache=True, inline="always")
def _named(ht, p, coid):
    """Return the order id of participant p's client order id coid (0: none)."""
    s = _ht_slot(ht, p, coid)
    return ht[s, 2] if ht[s, 0] != 0 else 0


@njit(cache=True, inline="always")
def _live_order(c, sp, par, ords, ht):
    """Return (reason, order id) of the live order a CANCEL or REPLACE command names."""
    p = c.participant
    if p < 0 or p >= par.shape[0]:
        return RV_UNKNOWN_PARTICIPANT, 0
    if sp[S_OPEN] == 0:
        return RV_MARKET_CLOSED, 0
    if sp[S_CANCEL] == 0:
        return RV_PHASE_REJECTS_CANCEL, 0
    o = _named(ht, p, c.client_order_id)
    if o == 0 or ords[o, O_STATE] == DONE:
        return RC_UNKNOWN_ORDER, 0
    return 0, o


@njit(cache=True)
def _core_row(cc, i, kind, c, o, n, p):
    r = cc[i]
    r.kind = kind
    r.side = c.side
    r.order_type = c.order_type
    r.tif = c.tif
    r.phase = 0
    r.book = n
    r.owner = p
    r.order_id = o
    r.price = c.price
    r.quantity = c.quantity
    r.timestamp = c.timestamp


@njit(cache=True)
def nondecreasing(values):
    """Return whether the values never decrease."""
    for i in range(1, len(values)):  # noqa: SIM110 (numba compiles the loop, not all())
        if values[i] < values[i - 1]:
            return False
    return True


@njit(cache=True)
def run_batch(
    internal, cmds, cc, i, cev, bk, lv, bits, o64, o32, keys, vals, st,
    par, pos, ins, ords, ht, fc, g, collected, bars, ring, sp, held, vev, fout, mout, kout, tch,
):  # fmt: skip
    """Process commands from index i on; return (status, next command, need).

    internal = False: `cmds` are venue commands (ORDER_DTYPE), validated here into core rows in
    `cc`. internal = True: `cc` already holds core rows (session commands, released held orders).
    """
    b_ = core.borrow  # views without reference counts (the caller keeps the arrays alive)
    cmds, cc, cev, bk, lv, bits, o64 = b_(cmds), b_(cc), b_(cev), b_(bk), b_(lv), b_(bits), b_(o64)
    o32, keys, vals, st, par, pos = b_(o32), b_(keys), b_(vals), b_(st), b_(par), b_(pos)
    ins, ords, ht, fc, g, collected = b_(ins), b_(ords), b_(ht), b_(fc), b_(g), b_(collected)
    bars, ring, sp, held, vev, fout = b_(bars), b_(ring), b_(sp), b_(held), b_(vev), b_(fout)
    mout, kout, tch = b_(mout), b_(kout), b_(tch)
    kv = kout[K_EVENTS]
    kf = kout[K_FEES]
    km = kout[K_MD]
    cap_c = fc.shape[0]
    day = g[G_DAY]
    n_cmds = len(cc)
    while i < n_cmds:
        # room for the worst case of this command, checked before anything changes
        b = cc[i].book if internal else cmds[i].instrument
        if not internal and cmds[i].kind == REPLACE:
            b = ords[_named(ht, cmds[i].participant, cmds[i].client_order_id), O_INST]
        need = 4
        if 0 <= b < bk.shape[0]:
            resting = bk[b, core.COUNT] + bk[b, core.COUNT_ASK]
            need += resting if internal else min(resting, max(cmds[i].quantity, 0))
        if need > len(cev):
            kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
            return NEED_CORE_EVENTS, i, need
        if st[core.FREE] < 0:
            kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
            return NEED_SLOTS, i, 0
        if (
            kv + need + 2 > len(vev)
            or kf + 2 * cap_c * need > len(fout)
            or km + 3 * need + 4 > len(mout)
            or 2 * need + 2 > len(tch)
        ):
            kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
            return NEED_OUTPUT, i, need
        aggressor = 0
        if internal:
            kind = cc[i].kind
            if kind == NEW:
                aggressor = cc[i].order_id
                if ords[aggressor, O_STATE] != HELD:
                    i += 1  # cancelled while held
                    continue
                ords[aggressor, O_STATE] = ENTERED
        else:
            c = cmds[i]
            phase = sp[S_CORE]
            if c.kind == NEW:
                reason, cash = check_new(c, day, sp, bk, par, pos, ins, fc, g, ht)
                if reason:
                    kv = reject(vev, kv, c, i, reason, phase)
                    i += 1
                    continue
                fixed = c.order_type == FIXED_PRICE
                if fixed or sp[S_HOLD]:
                    # held until the book opens, or (fixed price) until the venue matches it
                    aggressor = reserve(c, cash, FIXED if fixed else HELD, par, pos, ins, ords, g,
                                         ht)  # fmt: skip
                    if not fixed:
                        _core_row(cc, i, NEW, c, aggressor, c.instrument, c.participant)
                        held[g[G_HELD]] = aggressor
                        g[G_HELD] += 1
                    kv = reject(vev, kv, c, i, 0, phase)
                    vev[kv - 1].kind = QUEUED
                    vev[kv - 1].order_id = aggressor
                    vev[kv - 1].leaves = c.quantity
                    i += 1
                    continue
                aggressor = reserve(c, cash, ENTERED, par, pos, ins, ords, g, ht)
                _core_row(cc, i, NEW, c, aggressor, c.instrument, c.participant)
                kind = NEW
            elif c.kind == CANCEL:
                reason, o = _live_order(c, sp, par, ords, ht)
                if reason:
                    kv = reject(vev, kv, c, i, reason, phase)
                    i += 1
                    continue
                p = c.participant
                n = ords[o, O_INST]
                if ords[o, O_STATE] == HELD or ords[o, O_STATE] == FIXED:
                    left = ords[o, O_QTY]
                    release(par, pos, ins, ords, o)
                    kv = reject(vev, kv, c, i, RC_CANCELLED_BY_OWNER, phase)
                    e = vev[kv - 1]
                    e.kind = CANCELLED
                    e.book = n
                    e.side = ords[o, O_SIDE]
                    e.order_id = o
                    e.price = ords[o, O_PRICE]
                    e.quantity = left
                    i += 1
                    continue
                _core_row(cc, i, CANCEL, c, o, n, p)
                kind = CANCEL
            elif c.kind == REPLACE:
                reason, o = _live_order(c, sp, par, ords, ht)
                cash = 0
                if reason == 0 and (ords[o, O_STATE] == HELD or ords[o, O_STATE] == FIXED):
                    reason = RV_PHASE_REJECTS_ORDER_TYPE  # held orders are cancelled, not replaced
                elif reason == 0:
                    n = ords[o, O_INST]
                    side = ords[o, O_SIDE]
                    reason, cash = _check_terms(
                        c.participant, n, side, LIMIT, DAY, c.price, c.quantity, True,
                        ords[o, O_CASH], ords[o, O_QTY] if side == SELL else 0,
                        ords[o, O_NOTIONAL], day, sp, bk, par, pos, ins, fc, g,
                    )  # fmt: skip
                if reason:
                    kv = reject(vev, kv, c, i, reason, phase)
                    i += 1
                    continue
                tch[0, 0] = ords[o, O_SIDE]
                tch[0, 1] = ords[o, O_PRICE]
                _rereserve(c, cash, par, pos, ords, o)
                _core_row(cc, i, REPLACE, c, o, n, c.participant)
                cc[i].side = ords[o, O_SIDE]
                aggressor = o
                ords[o, O_STATE] = ENTERED
                kind = REPLACE
            else:
                kv = reject(vev, kv, c, i, RC_UNKNOWN_COMMAND, phase)
                i += 1
                continue
        # the matching core, on this one command
        _, _, kc, _ = core.run_batch(cc[: i + 1], i, cev, 0, bk, lv, bits, o64, o32, keys, vals, st)
        auction = kind == core.UNCROSS
        nt = 1 if kind == REPLACE else 0  # a replace's old level is in tch[0]
        halting = False
        for j in range(kc):
            s = cev[j]
            k = s.kind
            _copy_event(vev, kv, s, ords)
            if k == TRADE:
                kf, fee_buy, fee_sell = fill(s, auction, par, pos, ins, ords, fc, g, collected,
                                              bars, ring, fout, kf, kv, True)  # fmt: skip
                buy_first = ords[s.order_id, O_SIDE] == BUY
                vev[kv].fee = fee_buy if buy_first else fee_sell
                vev[kv].contra_fee = fee_sell if buy_first else fee_buy
                km = market_data(mout, km, MD_TRADE, s.side, s.book, ins, s.price, s.quantity, 0,
                                 s.timestamp)  # fmt: skip
                if s.price >= ins[s.book, HALT_UP] or s.price <= ins[s.book, HALT_DOWN]:
                    ins[s.book, HALT_PRICE] = s.price
                    halting = True
                c_o = s.contra_order_id
                tch[nt, 0] = ords[c_o, O_SIDE]
                tch[nt, 1] = ords[c_o, O_PRICE]
                nt += 1
                if auction:
                    tch[nt, 0] = ords[s.order_id, O_SIDE]
                    tch[nt, 1] = ords[s.order_id, O_PRICE]
                    nt += 1
            elif k in (CANCELLED, EXPIRED, REJECTED):
                o = s.order_id
                if o > 0 and ords[o, O_STATE] == LIVE:
                    tch[nt, 0] = ords[o, O_SIDE]
                    tch[nt, 1] = ords[o, O_PRICE]
                    nt += 1
                if o > 0 and (k != REJECTED or o == aggressor):
                    release(par, pos, ins, ords, o)
            elif k == REPLACED:
                ords[s.order_id, O_PRICE] = s.price
            elif k == UNCROSSED:
                ins[s.book, AUCTION_PRICE] = s.price
                ins[s.book, AUCTION_VOLUME] = s.quantity
                km = market_data(mout, km, MD_AUCTION, 0, s.book, ins, s.price, s.quantity,
                                 s.leaves, s.timestamp)  # fmt: skip
            elif k == PHASE_EVENT:
                km = market_data(mout, km, MD_PHASE, s.phase, s.book, ins, 0, 0, 0, s.timestamp)
            kv += 1
        if aggressor > 0 and ords[aggressor, O_STATE] == ENTERED:
            if ords[aggressor, O_QTY] > 0:
                ords[aggressor, O_STATE] = LIVE
                tch[nt, 0] = ords[aggressor, O_SIDE]
                tch[nt, 1] = ords[aggressor, O_PRICE]
                nt += 1
            else:
                release(par, pos, ins, ords, aggressor)
        # level-2 deltas of the levels this command touched (runs of one level: one delta)
        n = cc[i].book
        ts = cc[i].timestamp
        for t in range(nt):
            if t > 0 and tch[t, 0] == tch[t - 1, 0] and tch[t, 1] == tch[t - 1, 1]:
                continue
            sd = tch[t, 0]
            li = (tch[t, 1] - bk[n, core.LO]) // bk[n, core.TICK]
            row = bk[n, core.LBASE] + sd * bk[n, core.N] + li
            km = market_data(mout, km, MD_LEVEL, sd, n, ins, tch[t, 1], lv[row, core.QTY],
                             lv[row, core.CNT], ts)  # fmt: skip
        i += 1
        if halting:
            kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
            return HALT_CHECK, i, 0
    kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
    return DONE_ALL, i, 0


@njit(cache=True)
def _order_event(vev, kv, cev, kind, ords, o, contra, price, q, reason, phase, ts):
    """Write an event of order o (and contra, a TRADE's seller) from outside the core to vev
    through the core's event scratch cev; return kv + 1."""
    e = cev[0]
    e.kind = kind
    e.side = ords[o, O_SIDE]
    e.phase = phase
    e.reason = reason
    e.book = ords[o, O_INST]
    e.owner = ords[o, O_PART]
    e.contra_owner = ords[contra, O_PART] if contra else 0
    e.command = -1
    e.order_id = o
    e.contra_order_id = contra
    e.price = price
    e.quantity = q
    e.leaves = ords[o, O_QTY] - q if kind == TRADE else 0
    e.contra_leaves = ords[contra, O_QTY] - q if contra else 0
    e.timestamp = ts
    _copy_event(vev, kv, e, ords)
    return kv + 1


@njit(cache=True)
def _next_fixed(orders, j, n, side, ords):
    """Return the index of the next order from j on of instrument n and side still FIXED."""
    while j < len(orders) and not (
        ords[orders[j], O_STATE] == FIXED
        and ords[orders[j], O_INST] == n
        and ords[orders[j], O_SIDE] == side
    ):
        j += 1
    return j


@njit(cache=True)
def match_fixed(
    orders, expire, phase, ts, cev, par, pos, ins, ords, fc, g, collected, bars, ring, vev, fout,
    mout, kout,
):  # fmt: skip
    """Trade the fixed-price orders (ids in arrival order) at their instrument's close.

    A buy priced below the close or a sale above it is refused (REJECTED with
    PRICE_WRONG_SIDE_OF_CLOSE); buys and sells of each instrument not halted then trade at the
    close in time priority, settled without touching the day's statistics, bars or close, each
    trade its own print (MD_FIXED_TRADE); expire: what is left expires. Finished orders release
    their holds; the output buffers must have room for 2 x len(orders) events.
    """
    kv = kout[K_EVENTS]
    kf = kout[K_FEES]
    km = kout[K_MD]
    for o in orders:
        close = ins[ords[o, O_INST], CLOSE]
        px = ords[o, O_PRICE]
        wrong = px < close if ords[o, O_SIDE] == BUY else px > close
        if ords[o, O_STATE] == FIXED and wrong:
            kv = _order_event(vev, kv, cev, REJECTED, ords, o, 0, px, ords[o, O_QTY],
                              RV_PRICE_WRONG_SIDE_OF_CLOSE, phase, ts)  # fmt: skip
            release(par, pos, ins, ords, o)
    for n in range(ins.shape[0]):
        if ins[n, HALTED]:
            continue  # a halted instrument does not trade; its orders wait or expire
        close = ins[n, CLOSE]
        b = _next_fixed(orders, 0, n, BUY, ords)
        s = _next_fixed(orders, 0, n, SELL, ords)
        while b < len(orders) and s < len(orders):
            bo = orders[b]
            so = orders[s]
            q = min(ords[bo, O_QTY], ords[so, O_QTY])
            kv = _order_event(vev, kv, cev, TRADE, ords, bo, so, close, q, 0, phase, ts)
            kf, fee_b, fee_s = fill(cev[0], True, par, pos, ins, ords, fc, g, collected,
                                     bars, ring, fout, kf, kv - 1, False)  # fmt: skip
            vev[kv - 1].fee = fee_b
            vev[kv - 1].contra_fee = fee_s
            km = market_data(mout, km, MD_FIXED_TRADE, BUY, n, ins, close, q, 0, ts)
            b = _next_fixed(orders, b, n, BUY, ords)
            s = _next_fixed(orders, s, n, SELL, ords)
    if expire:
        for o in orders:
            if ords[o, O_STATE] == FIXED:
                kv = _order_event(vev, kv, cev, EXPIRED, ords, o, 0, ords[o, O_PRICE],
                                  ords[o, O_QTY], RC_SESSION_END, phase, ts)  # fmt: skip
                release(par, pos, ins, ords, o)
    kout[K_EVENTS], kout[K_FEES], kout[K_MD] = kv, kf, km
