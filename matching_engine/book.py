"""The numba matching engine: many price-time books served by one batch call.

Storage (all preallocated numpy arrays, nothing allocated per order):

- per book, a row of `bk` (band, tick, offsets, best levels, phase, order counts);
- per book and side, a dense price ladder over the band: `lv[level] = head, tail, count, quantity`;
  a two-level bitmap (`bits`: one bit per level, one summary bit per 64-bit word) finds the next
  non-empty level in a few word operations however wide the band;
- per order slot, its columns grouped by width: `o64[slot] = order id, open quantity` and
  `o32[slot] = next, prev, owner, level, book*2+side`, an intrusive FIFO list per level; free
  slots form a list through `next`;
- an open-addressing hash table (linear probing, backward-shift deletion, at most half full)
  from order id to slot.

When the slots run out or the event buffer might, the kernel stops before the command and the
Python side grows the storage (slots keep their numbers, lists keep their order) and resumes.
Semantics: docs/matching.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros
from numba.extending import intrinsic

from matching_engine.api import (
    FNV_OFFSET,
    FNV_PRIME,
    MAX_ORDERS,
    MAX_PRICE,
    MAX_QUANTITY,
    BookSpec,
    Indicative,
    Level,
    Quote,
    RestingOrder,
)
from matching_engine.dtypes import COMMAND_DTYPE, EVENT_DTYPE, Phase, Side, zeroed

# bk columns
LO, HI, TICK, N, LBASE, WBASE, NW, SBASE, NSW, BEST, BEST_ASK, PHASE, TIE, COUNT, COUNT_ASK = range(
    15
)
BK_COLUMNS = 15
# lv columns
HEAD, TAIL, CNT, QTY = range(4)
# o64 / o32 columns
OID, OQTY = range(2)
NEXT, PREV, OWNER, LEVEL, BOOKSIDE = range(5)
# st entries
FREE, SHIFT, LIVE = range(3)
# _run status
DONE, NEED_EVENTS, NEED_SLOTS = range(3)

# enum values as plain ints for the kernels (dtypes.py and reasons.py name them)
NEW, CANCEL, REPLACE, UNCROSS, SET_PHASE, CLEAR = 1, 2, 3, 4, 5, 6
ACCEPTED, REJECTED, TRADE, CANCELLED, REPLACED, EXPIRED, UNCROSSED, PHASE_EVENT = range(1, 9)
LIMIT, MARKET = 0, 1
DAY, IOC, FOK = 0, 1, 2
CONTINUOUS, CALL, HALTED = 0, 1, 2
SSE, SZSE = 0, 1
R_UNKNOWN_COMMAND, R_UNKNOWN_BOOK, R_INVALID_SIDE, R_INVALID_ORDER_TYPE = 1, 2, 3, 4
R_INVALID_TIF, R_INVALID_ORDER_ID, R_INVALID_QUANTITY, R_OFF_TICK = 5, 6, 7, 8
R_OUT_OF_BAND, R_PHASE, R_DUPLICATE, R_UNKNOWN_ORDER, R_NOT_OWNER = 9, 10, 11, 12, 13
R_INVALID_PHASE, R_CROSSED, R_NO_REFERENCE = 14, 15, 16
R_CANCELLED, R_IOC, R_FOK, R_SELF_TRADE, R_NO_LIQUIDITY, R_TO_LIMIT, R_SESSION_END = range(100, 107)

ALL1 = np.uint64(0xFFFFFFFFFFFFFFFF)
ONE = np.uint64(1)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
NO_PERCENTS = np.zeros(0, np.int64)  # quote(): level 1 alone


# ----------------------------------------------------------------------------- borrowed views


@intrinsic
def borrow(typingctx, arr):
    """Return a view of arr without a reference count, for kernels over arrays their caller
    keeps alive: numba otherwise wraps every inlined helper taking an array in atomic
    NRT_incref/NRT_decref pairs, about half the cost of a matching loop (docs/performance.md)."""

    def codegen(context, builder, signature, args):
        source = context.make_array(arr)(context, builder, value=args[0])
        view = context.make_array(arr)(context, builder)
        context.populate_array(
            view,
            data=source.data,
            shape=source.shape,
            strides=source.strides,
            itemsize=source.itemsize,
            meminfo=None,
        )
        return view._getvalue()

    return arr(arr), codegen


# ----------------------------------------------------------------------------- bitmap


@njit(inline="always")
def _bit_set(bits, wb, sb, i):
    w = i >> 6
    old = bits[wb + w]
    bits[wb + w] = old | (ONE << np.uint64(i & 63))
    if old == 0:
        bits[sb + (w >> 6)] |= ONE << np.uint64(w & 63)


@njit(inline="always")
def _bit_clear(bits, wb, sb, i):
    w = i >> 6
    v = bits[wb + w] & ~(ONE << np.uint64(i & 63))
    bits[wb + w] = v
    if v == 0:
        bits[sb + (w >> 6)] &= ~(ONE << np.uint64(w & 63))


@njit(inline="always")
def _lsb(x):
    return np.int64(trailing_zeros(x))


@njit(inline="always")
def _msb(x):
    return 63 - np.int64(leading_zeros(x))


@njit(inline="always")
def _next_set(bits, wb, sb, nw, nsw, i, n):
    """Return the lowest non-empty level >= i, or n."""
    if i >= n:
        return n
    w = i >> 6
    m = bits[wb + w] & (ALL1 << np.uint64(i & 63))
    if m != 0:
        return (w << 6) + _lsb(m)
    w += 1
    if w >= nw:
        return n
    sw = w >> 6
    m = bits[sb + sw] & (ALL1 << np.uint64(w & 63))
    while m == 0:
        sw += 1
        if sw >= nsw:
            return n
        m = bits[sb + sw]
    w = (sw << 6) + _lsb(m)
    return (w << 6) + _lsb(bits[wb + w])


@njit(inline="always")
def _prev_set(bits, wb, sb, i):
    """Return the highest non-empty level <= i, or -1."""
    if i < 0:
        return -1
    w = i >> 6
    m = bits[wb + w] & (ALL1 >> np.uint64(63 - (i & 63)))
    if m != 0:
        return (w << 6) + _msb(m)
    w -= 1
    if w < 0:
        return -1
    sw = w >> 6
    m = bits[sb + sw] & (ALL1 >> np.uint64(63 - (w & 63)))
    while m == 0:
        sw -= 1
        if sw < 0:
            return -1
        m = bits[sb + sw]
    w = (sw << 6) + _msb(m)
    return (w << 6) + _msb(bits[wb + w])


@njit(inline="always")
def _after(bk, bits, b, s, i):
    """Return the next non-empty level of side s worse than level i (-1 / N when none)."""
    wb = bk[b, WBASE] + s * bk[b, NW]
    sb = bk[b, SBASE] + s * bk[b, NSW]
    if s == 0:
        return _prev_set(bits, wb, sb, i - 1)
    return _next_set(bits, wb, sb, bk[b, NW], bk[b, NSW], i + 1, bk[b, N])


# ----------------------------------------------------------------------------- id hash


@njit(inline="always")
def _home(key, shift):
    return np.int64((np.uint64(key) * GOLDEN) >> np.uint64(shift))


@njit(inline="always")
def _ht_find(keys, vals, shift, key):
    mask = len(keys) - 1
    i = _home(key, shift)
    while keys[i] != 0:
        if keys[i] == key:
            return np.int64(vals[i])
        i = (i + 1) & mask
    return np.int64(-1)


@njit(inline="always")
def _ht_insert(keys, vals, shift, key, slot):
    mask = len(keys) - 1
    i = _home(key, shift)
    while keys[i] != 0:
        i = (i + 1) & mask
    keys[i] = key
    vals[i] = slot


@njit(inline="always")
def _ht_delete(keys, vals, shift, key):
    mask = len(keys) - 1
    i = _home(key, shift)
    while keys[i] != key:
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if keys[j] == 0:
            break
        if ((j - _home(keys[j], shift)) & mask) >= ((j - i) & mask):
            keys[i] = keys[j]
            vals[i] = vals[j]
            i = j
    keys[i] = 0


@njit(cache=True)
def _rehash(o64, o32, bk, lv, keys, vals, shift):
    """Insert every resting order's id into an empty table."""
    for b in range(bk.shape[0]):
        for s in range(2):
            base = bk[b, LBASE] + s * bk[b, N]
            for li in range(bk[b, N]):
                o = lv[base + li, HEAD]
                while o != -1:
                    _ht_insert(keys, vals, shift, o64[o, OID], o)
                    o = o32[o, NEXT]


# ----------------------------------------------------------------------------- events


@njit(inline="always")
def _emit(
    ev, k, kind, side, phase, reason, book, owner, cowner, cmd, oid, coid, px, q, lvs, clvs, ts
):
    e = ev[k]
    e.kind = kind
    e.side = side
    e.phase = phase
    e.reason = reason
    e.book = book
    e.owner = owner
    e.contra_owner = cowner
    e.command = cmd
    e.order_id = oid
    e.contra_order_id = coid
    e.price = px
    e.quantity = q
    e.leaves = lvs
    e.contra_leaves = clvs
    e.timestamp = ts
    return k + 1


# ----------------------------------------------------------------------------- levels


@njit(inline="always")
def _link(bk, lv, bits, o32, b, s, li, o, q):
    """Append slot o (open quantity q) at the back of level li of side s."""
    L = bk[b, LBASE] + s * bk[b, N] + li
    tail = lv[L, TAIL]
    o32[o, NEXT] = -1
    o32[o, PREV] = tail
    o32[o, LEVEL] = li
    o32[o, BOOKSIDE] = 2 * b + s
    if tail == -1:
        lv[L, HEAD] = o
        _bit_set(bits, bk[b, WBASE] + s * bk[b, NW], bk[b, SBASE] + s * bk[b, NSW], li)
        if (s == 0 and li > bk[b, BEST]) or (s == 1 and li < bk[b, BEST_ASK]):
            bk[b, BEST + s] = li
    else:
        o32[tail, NEXT] = o
    lv[L, TAIL] = o
    lv[L, CNT] += 1
    lv[L, QTY] += q
    bk[b, COUNT + s] += 1


@njit(inline="always")
def _unlink(bk, lv, bits, o64, o32, o):
    """Take slot o out of its level, keeping the best levels and the bitmap right."""
    bs = o32[o, BOOKSIDE]
    b = bs >> 1
    s = bs & 1
    li = o32[o, LEVEL]
    L = bk[b, LBASE] + s * bk[b, N] + li
    nxt = o32[o, NEXT]
    prv = o32[o, PREV]
    if prv == -1:
        lv[L, HEAD] = nxt
    else:
        o32[prv, NEXT] = nxt
    if nxt == -1:
        lv[L, TAIL] = prv
    else:
        o32[nxt, PREV] = prv
    lv[L, CNT] -= 1
    lv[L, QTY] -= o64[o, OQTY]
    bk[b, COUNT + s] -= 1
    if lv[L, CNT] == 0:
        _bit_clear(bits, bk[b, WBASE] + s * bk[b, NW], bk[b, SBASE] + s * bk[b, NSW], li)
        if bk[b, BEST + s] == li:
            bk[b, BEST + s] = _after(bk, bits, b, s, li)


@njit(inline="always")
def _free(o64, o32, keys, vals, st, o):
    """Forget slot o's id and return the slot to the free list."""
    _ht_delete(keys, vals, st[SHIFT], o64[o, OID])
    o32[o, NEXT] = st[FREE]
    st[FREE] = o
    st[LIVE] -= 1


@njit(inline="always")
def _crosses(s, best_opp, li):
    return best_opp <= li if s == 0 else best_opp >= li


# ----------------------------------------------------------------------------- matching


@njit
def _available(bk, lv, bits, o64, o32, b, s, li, owner, want):
    """Return the quantity an order could take within level li, stopping at its own orders."""
    opp = 1 - s
    base = bk[b, LBASE] + opp * bk[b, N]
    lvl = bk[b, BEST + opp]
    got = 0
    while _crosses(s, lvl, li):
        o = lv[base + lvl, HEAD]
        while o != -1:
            if o32[o, OWNER] == owner:
                return got
            got += o64[o, OQTY]
            if got >= want:
                return got
            o = o32[o, NEXT]
        lvl = _after(bk, bits, b, opp, lvl)
    return got


@njit(inline="always")
def _fill_head(bk, lv, bits, o64, o32, keys, vals, st, b, s, lvl, o, q):
    """Fill q of order o, the head of level lvl of side s; return that side's best level after."""
    L = bk[b, LBASE] + s * bk[b, N] + lvl
    lv[L, QTY] -= q
    left = o64[o, OQTY] - q
    if left > 0:
        o64[o, OQTY] = left
        return lvl
    nxt = o32[o, NEXT]
    lv[L, HEAD] = nxt
    lv[L, CNT] -= 1
    bk[b, COUNT + s] -= 1
    _free(o64, o32, keys, vals, st, o)
    if nxt != -1:
        o32[nxt, PREV] = -1
        return lvl
    lv[L, TAIL] = -1
    _bit_clear(bits, bk[b, WBASE] + s * bk[b, NW], bk[b, SBASE] + s * bk[b, NSW], lvl)
    lvl = _after(bk, bits, b, s, lvl)
    bk[b, BEST + s] = lvl
    return lvl


@njit(inline="always")
def _match(ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, s, li, oid, owner, rem, cmd, ts):
    """Match an incoming order against the other side; return (k, rem, last price, self-trade)."""
    opp = 1 - s
    base = bk[b, LBASE] + opp * bk[b, N]
    lo = bk[b, LO]
    tick = bk[b, TICK]
    phase = bk[b, PHASE]
    lvl = bk[b, BEST + opp]
    last_px = 0
    while rem > 0 and _crosses(s, lvl, li):
        o = lv[base + lvl, HEAD]
        if o32[o, OWNER] == owner:
            return k, rem, last_px, True
        q = min(rem, o64[o, OQTY])
        rem -= q
        last_px = lo + lvl * tick
        k = _emit(
            ev,
            k,
            TRADE,
            s,
            phase,
            0,
            b,
            owner,
            o32[o, OWNER],
            cmd,
            oid,
            o64[o, OID],
            last_px,
            q,
            rem,
            o64[o, OQTY] - q,
            ts,
        )
        lvl = _fill_head(bk, lv, bits, o64, o32, keys, vals, st, b, opp, lvl, o, q)
    return k, rem, last_px, False


@njit(inline="always")
def _enter(
    ev,
    k,
    bk,
    lv,
    bits,
    o64,
    o32,
    keys,
    vals,
    st,
    b,
    s,
    px,
    oid,
    owner,
    qty,
    otype,
    tif,
    slot,
    cmd,
    ts,
):
    """Match (continuous phase) and rest or cancel the remainder of an order; return k.

    slot is -1 for a NEW order (a slot is taken only if it rests) or the slot of a replaced
    order (already out of its level, still known by id).
    """
    lo = bk[b, LO]
    tick = bk[b, TICK]
    phase = bk[b, PHASE]
    li = (px - lo) // tick
    rem = qty
    if phase == CONTINUOUS:
        reason = 0
        if tif == FOK and _available(bk, lv, bits, o64, o32, b, s, li, owner, rem) < rem:
            reason = R_FOK
        else:
            k, rem, last_px, stp = _match(
                ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, s, li, oid, owner, rem, cmd, ts
            )
            if stp:
                reason = R_SELF_TRADE
            elif rem == 0:
                reason = -1
            elif tif != DAY:
                reason = R_IOC
            elif otype == MARKET:
                if last_px == 0:
                    reason = R_NO_LIQUIDITY
                else:
                    px = last_px
                    li = (px - lo) // tick
                    k = _emit(
                        ev,
                        k,
                        REPLACED,
                        s,
                        phase,
                        R_TO_LIMIT,
                        b,
                        owner,
                        0,
                        cmd,
                        oid,
                        0,
                        px,
                        rem,
                        rem,
                        0,
                        ts,
                    )
        if reason != 0:
            if reason > 0:
                k = _emit(
                    ev, k, CANCELLED, s, phase, reason, b, owner, 0, cmd, oid, 0, px, rem, 0, 0, ts
                )
            if slot >= 0:
                _free(o64, o32, keys, vals, st, slot)
            return k
    if slot < 0:
        slot = st[FREE]
        st[FREE] = o32[slot, NEXT]
        st[LIVE] += 1
        _ht_insert(keys, vals, st[SHIFT], oid, slot)
        o64[slot, OID] = oid
        o32[slot, OWNER] = owner
    o64[slot, OQTY] = rem
    _link(bk, lv, bits, o32, b, s, li, slot, rem)
    return k


# ----------------------------------------------------------------------------- call auction


@njit(cache=True)
def _auction(bk, lv, b, ref):
    """Return (level, volume, imbalance) of the book's call auction; level -1 if none crosses."""
    n = bk[b, N]
    bb = bk[b, BEST]
    ba = bk[b, BEST_ASK]
    if bb < 0 or ba >= n or bb < ba:
        return -1, 0, 0
    m = bb - ba + 1
    bid_base = bk[b, LBASE] + ba
    ask_base = bk[b, LBASE] + n + ba
    demand = np.zeros(m + 1, np.int64)  # bids at or above each tick
    for j in range(m - 1, -1, -1):
        demand[j] = demand[j + 1] + lv[bid_base + j, QTY]
    volume = np.full(m, -1, np.int64)  # -1: not a candidate
    imbalance = np.zeros(m, np.int64)
    best_v = 0
    best_imb = 0
    supply_below = 0
    for j in range(m):
        supply = supply_below + lv[ask_base + j, QTY]
        v = min(demand[j], supply)
        if v > 0 and demand[j + 1] <= v and supply_below <= v:
            volume[j] = v
            imbalance[j] = abs(demand[j] - supply)
            if v > best_v or (v == best_v and imbalance[j] < best_imb):
                best_v = v
                best_imb = imbalance[j]
        supply_below = supply
    if best_v == 0:
        return -1, 0, 0
    first = -1
    last = -1
    nearest = -1
    for j in range(m):
        if volume[j] == best_v and imbalance[j] == best_imb:
            if first < 0:
                first = j
            last = j
            dist = abs(bk[b, LO] + (ba + j) * bk[b, TICK] - ref)
            if nearest < 0 or dist < abs(bk[b, LO] + (ba + nearest) * bk[b, TICK] - ref):
                nearest = j
    j = (first + last + 1) // 2 if bk[b, TIE] == SSE else nearest
    supply = 0
    for t in range(j + 1):
        supply += lv[ask_base + t, QTY]
    return ba + j, min(demand[j], supply), abs(demand[j] - supply)


@njit
def _allocate(ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, li, volume, cmd, ts):
    """Trade `volume` at level li between bids and asks in price-time priority; return k."""
    px = bk[b, LO] + li * bk[b, TICK]
    phase = bk[b, PHASE]
    bid_base = bk[b, LBASE]
    ask_base = bid_base + bk[b, N]
    bl = bk[b, BEST]
    al = bk[b, BEST_ASK]
    while volume > 0:
        ob = lv[bid_base + bl, HEAD]
        oa = lv[ask_base + al, HEAD]
        q = min(volume, o64[ob, OQTY], o64[oa, OQTY])
        volume -= q
        k = _emit(
            ev,
            k,
            TRADE,
            0,
            phase,
            0,
            b,
            o32[ob, OWNER],
            o32[oa, OWNER],
            cmd,
            o64[ob, OID],
            o64[oa, OID],
            px,
            q,
            o64[ob, OQTY] - q,
            o64[oa, OQTY] - q,
            ts,
        )
        bl = _fill_head(bk, lv, bits, o64, o32, keys, vals, st, b, 0, bl, ob, q)
        al = _fill_head(bk, lv, bits, o64, o32, keys, vals, st, b, 1, al, oa, q)
    return k


@njit
def _expire_all(ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, cmd, ts):
    """Expire every resting order of book b, bids best first, then asks; return k."""
    n = bk[b, N]
    phase = bk[b, PHASE]
    for s in range(2):
        lvl = bk[b, BEST + s]
        wb = bk[b, WBASE] + s * bk[b, NW]
        sb = bk[b, SBASE] + s * bk[b, NSW]
        while 0 <= lvl < n:
            L = bk[b, LBASE] + s * n + lvl
            px = bk[b, LO] + lvl * bk[b, TICK]
            o = lv[L, HEAD]
            while o != -1:
                nxt = o32[o, NEXT]
                k = _emit(
                    ev,
                    k,
                    EXPIRED,
                    s,
                    phase,
                    R_SESSION_END,
                    b,
                    o32[o, OWNER],
                    0,
                    cmd,
                    o64[o, OID],
                    0,
                    px,
                    o64[o, OQTY],
                    0,
                    0,
                    ts,
                )
                _free(o64, o32, keys, vals, st, o)
                o = nxt
            lv[L, HEAD] = -1
            lv[L, TAIL] = -1
            lv[L, CNT] = 0
            lv[L, QTY] = 0
            _bit_clear(bits, wb, sb, lvl)
            lvl = _after(bk, bits, b, s, lvl)
        bk[b, BEST + s] = lvl
        bk[b, COUNT + s] = 0
    return k


# ----------------------------------------------------------------------------- the batch kernel


@njit(cache=True)
def run_batch(cmds, i, ev, k, bk, lv, bits, o64, o32, keys, vals, st):
    """Apply commands from index i on; return (status, next command, events written, need).

    The batch kernel, public for kernels that drive the books themselves (exchange.kernel calls
    it per command with `*NumbaEngine.arrays()`): events go to ev from index k; status DONE, or
    NEED_EVENTS (ev needs `need` free rows) / NEED_SLOTS (call NumbaEngine.grow()) before
    command i, which changed nothing.
    """
    cmds, ev, bk, lv, bits = borrow(cmds), borrow(ev), borrow(bk), borrow(lv), borrow(bits)
    o64, o32, keys, vals, st = borrow(o64), borrow(o32), borrow(keys), borrow(vals), borrow(st)
    nb = bk.shape[0]
    while i < len(cmds):
        c = cmds[i]
        kind = np.int64(c.kind)
        b = np.int64(c.book)
        ts = c.timestamp
        known = 0 <= b < nb
        need = 4
        phase = 0
        if known:
            phase = bk[b, PHASE]
            resting = bk[b, COUNT] + bk[b, COUNT_ASK]
            if kind in (NEW, REPLACE):
                need += min(resting, max(c.quantity, 0))
            elif kind in (UNCROSS, CLEAR):
                need += resting
        if k + need > len(ev):
            return NEED_EVENTS, i, k, need
        if kind == NEW and st[FREE] < 0:
            return NEED_SLOTS, i, k, 0
        reason = 0
        if not known:
            reason = R_UNKNOWN_BOOK if NEW <= kind <= CLEAR else R_UNKNOWN_COMMAND
        elif kind == NEW:
            s = np.int64(c.side)
            px = c.price
            if s > 1:
                reason = R_INVALID_SIDE
            elif c.order_type > MARKET:
                reason = R_INVALID_ORDER_TYPE
            elif c.tif > FOK:
                reason = R_INVALID_TIF
            elif c.order_id <= 0:
                reason = R_INVALID_ORDER_ID
            elif c.quantity <= 0 or c.quantity > MAX_QUANTITY:
                reason = R_INVALID_QUANTITY
            elif px % bk[b, TICK] != 0:
                reason = R_OFF_TICK
            elif px < bk[b, LO] or px > bk[b, HI]:
                reason = R_OUT_OF_BAND
            elif phase == HALTED or (phase == CALL and (c.order_type != LIMIT or c.tif != DAY)):
                reason = R_PHASE
            elif _ht_find(keys, vals, st[SHIFT], c.order_id) >= 0:
                reason = R_DUPLICATE
            else:
                k = _emit(
                    ev,
                    k,
                    ACCEPTED,
                    s,
                    phase,
                    0,
                    b,
                    c.owner,
                    0,
                    i,
                    c.order_id,
                    0,
                    px,
                    c.quantity,
                    c.quantity,
                    0,
                    ts,
                )
                k = _enter(
                    ev,
                    k,
                    bk,
                    lv,
                    bits,
                    o64,
                    o32,
                    keys,
                    vals,
                    st,
                    b,
                    s,
                    px,
                    c.order_id,
                    np.int64(c.owner),
                    c.quantity,
                    np.int64(c.order_type),
                    np.int64(c.tif),
                    -1,
                    i,
                    ts,
                )
        elif kind in (CANCEL, REPLACE):
            o = _ht_find(keys, vals, st[SHIFT], c.order_id)
            if o < 0 or (o32[o, BOOKSIDE] >> 1) != b:
                reason = R_UNKNOWN_ORDER
            elif o32[o, OWNER] != c.owner:
                reason = R_NOT_OWNER
            elif kind == CANCEL:
                s = o32[o, BOOKSIDE] & 1
                px = bk[b, LO] + o32[o, LEVEL] * bk[b, TICK]
                q = o64[o, OQTY]
                _unlink(bk, lv, bits, o64, o32, o)
                _free(o64, o32, keys, vals, st, o)
                k = _emit(
                    ev,
                    k,
                    CANCELLED,
                    s,
                    phase,
                    R_CANCELLED,
                    b,
                    c.owner,
                    0,
                    i,
                    c.order_id,
                    0,
                    px,
                    q,
                    0,
                    0,
                    ts,
                )
            elif c.quantity <= 0 or c.quantity > MAX_QUANTITY:
                reason = R_INVALID_QUANTITY
            elif c.price % bk[b, TICK] != 0:
                reason = R_OFF_TICK
            elif c.price < bk[b, LO] or c.price > bk[b, HI]:
                reason = R_OUT_OF_BAND
            elif phase == HALTED:
                reason = R_PHASE
            else:
                s = o32[o, BOOKSIDE] & 1
                li = (c.price - bk[b, LO]) // bk[b, TICK]
                cur = o64[o, OQTY]
                k = _emit(
                    ev,
                    k,
                    REPLACED,
                    s,
                    phase,
                    0,
                    b,
                    c.owner,
                    0,
                    i,
                    c.order_id,
                    0,
                    c.price,
                    c.quantity,
                    c.quantity,
                    0,
                    ts,
                )
                if li == o32[o, LEVEL] and c.quantity <= cur:
                    o64[o, OQTY] = c.quantity
                    lv[bk[b, LBASE] + s * bk[b, N] + li, QTY] -= cur - c.quantity
                else:
                    _unlink(bk, lv, bits, o64, o32, o)
                    k = _enter(
                        ev,
                        k,
                        bk,
                        lv,
                        bits,
                        o64,
                        o32,
                        keys,
                        vals,
                        st,
                        b,
                        s,
                        c.price,
                        c.order_id,
                        np.int64(c.owner),
                        c.quantity,
                        LIMIT,
                        DAY,
                        o,
                        i,
                        ts,
                    )
        elif kind in (UNCROSS, SET_PHASE):
            new_phase = np.int64(c.phase)
            if new_phase > HALTED:
                reason = R_INVALID_PHASE
            elif kind == UNCROSS and bk[b, TIE] == SZSE and not 0 < c.price <= MAX_PRICE:
                reason = R_NO_REFERENCE
            elif kind == SET_PHASE:
                bb = bk[b, BEST]
                ba = bk[b, BEST_ASK]
                if new_phase == CONTINUOUS and bb >= 0 and ba < bk[b, N] and bb >= ba:
                    reason = R_CROSSED
                else:
                    bk[b, PHASE] = new_phase
                    k = _emit(ev, k, PHASE_EVENT, 0, new_phase, 0, b, 0, 0, i, 0, 0, 0, 0, 0, 0, ts)
            else:
                li, volume, imbalance = _auction(bk, lv, b, c.price)
                bk[b, PHASE] = new_phase
                px = bk[b, LO] + li * bk[b, TICK] if volume > 0 else 0
                k = _emit(
                    ev,
                    k,
                    UNCROSSED,
                    0,
                    new_phase,
                    0,
                    b,
                    0,
                    0,
                    i,
                    0,
                    0,
                    px,
                    volume,
                    imbalance,
                    0,
                    ts,
                )
                if volume > 0:
                    k = _allocate(
                        ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, li, volume, i, ts
                    )
                if new_phase != phase:
                    k = _emit(ev, k, PHASE_EVENT, 0, new_phase, 0, b, 0, 0, i, 0, 0, 0, 0, 0, 0, ts)
        elif kind == CLEAR:
            k = _expire_all(ev, k, bk, lv, bits, o64, o32, keys, vals, st, b, i, ts)
        else:
            reason = R_UNKNOWN_COMMAND
        if reason != 0:
            k = _emit(ev, k, REJECTED, c.side, phase, reason, c.book, c.owner, 0, i, c.order_id, 0,
                      c.price, c.quantity, 0, 0, ts)  # fmt: skip
        i += 1
    return DONE, i, k, 0


# ----------------------------------------------------------------------------- queries


@njit(cache=True)
def _levels(bk, lv, bits, b, s, limit):
    """Return (price, quantity, orders) arrays of up to `limit` levels of side s, best first."""
    out = np.zeros((limit, 3), np.int64)
    lvl = bk[b, BEST + s]
    base = bk[b, LBASE] + s * bk[b, N]
    got = 0
    while got < limit and 0 <= lvl < bk[b, N]:
        out[got, 0] = bk[b, LO] + lvl * bk[b, TICK]
        out[got, 1] = lv[base + lvl, QTY]
        out[got, 2] = lv[base + lvl, CNT]
        got += 1
        lvl = _after(bk, bits, b, s, lvl)
    return out[:got]


@njit(cache=True)
def _depth_to(bk, lv, bits, b, s, price):
    """Return the quantity resting on side s from the best level to `price` inclusive."""
    lvl = bk[b, BEST + s]
    base = bk[b, LBASE] + s * bk[b, N]
    total = 0
    while 0 <= lvl < bk[b, N]:
        at = bk[b, LO] + lvl * bk[b, TICK]
        if (at < price) if s == 0 else (at > price):
            break
        total += lv[base + lvl, QTY]
        lvl = _after(bk, bits, b, s, lvl)
    return total


@njit(cache=True)
def _quote(bk, lv, bits, b, percents):
    """Return best bid, its quantity, best ask, its quantity, then for each p in percents the
    shares bid and offered within p% of the mid (0 without a two-sided book)."""
    out = np.zeros(4 + 2 * len(percents), np.int64)
    for s in range(2):
        lvl = bk[b, BEST + s]
        if 0 <= lvl < bk[b, N]:
            out[2 * s] = bk[b, LO] + lvl * bk[b, TICK]
            out[2 * s + 1] = lv[bk[b, LBASE] + s * bk[b, N] + lvl, QTY]
    if out[0] == 0 or out[2] == 0:
        return out
    mid2 = out[0] + out[2]  # twice the mid: within p% of the mid <=> |2 price - mid2| <= p% mid2
    for j in range(len(percents)):
        band = mid2 * percents[j] / 100
        out[4 + 2 * j] = _depth_to(bk, lv, bits, b, 0, math.ceil((mid2 - band) / 2))
        out[5 + 2 * j] = _depth_to(bk, lv, bits, b, 1, math.floor((mid2 + band) / 2))
    return out


@njit(cache=True)
def _orders(bk, lv, bits, o64, o32, b, s):
    """Return (order id, owner, price, leaves) rows of side s in priority order."""
    out = np.zeros((bk[b, COUNT + s], 4), np.int64)
    lvl = bk[b, BEST + s]
    base = bk[b, LBASE] + s * bk[b, N]
    r = 0
    while 0 <= lvl < bk[b, N]:
        o = lv[base + lvl, HEAD]
        while o != -1:
            out[r, 0] = o64[o, OID]
            out[r, 1] = o32[o, OWNER]
            out[r, 2] = bk[b, LO] + lvl * bk[b, TICK]
            out[r, 3] = o64[o, OQTY]
            r += 1
            o = o32[o, NEXT]
        lvl = _after(bk, bits, b, s, lvl)
    return out


@njit(inline="always")
def _fold(h, v):
    return (h ^ np.uint64(v)) * np.uint64(FNV_PRIME)


@njit(cache=True)
def _state_hash(bk, lv, bits, o64, o32):
    h = np.uint64(FNV_OFFSET)
    for b in range(bk.shape[0]):
        h = _fold(h, b)
        h = _fold(h, bk[b, PHASE])
        for s in range(2):
            rows = _orders(bk, lv, bits, o64, o32, b, s)
            for r in range(rows.shape[0]):
                h = _fold(h, rows[r, 2])
                h = _fold(h, rows[r, 0])
                h = _fold(h, rows[r, 1])
                h = _fold(h, rows[r, 3])
    return h


# ----------------------------------------------------------------------------- the engine


def _pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


class CoreArrays(NamedTuple):
    """The engine's state arrays in run_batch's order (columns: the constants above)."""

    bk: np.ndarray  # (books, BK_COLUMNS) int64: band, tick, offsets, best levels, phase, counts
    lv: np.ndarray  # (levels, 4) int64: head, tail, count, quantity of each price level
    bits: np.ndarray  # uint64 words: level-occupancy bitmaps and their summary words
    o64: np.ndarray  # (slots, 2) int64: order id, open quantity
    o32: np.ndarray  # (slots, 5) int32: next, prev, owner, level, book*2+side
    keys: np.ndarray  # int64 hash table: order ids
    vals: np.ndarray  # int32 hash table: their slots
    st: np.ndarray  # int64: free-slot head, hash shift, live orders


class NumbaEngine:
    """Many books matched by one numba batch call (the fast path); see docs/matching.md."""

    def __init__(self, specs: Sequence[BookSpec], capacity: int = 1024) -> None:
        self.specs = tuple(specs)
        self._bk = np.zeros((len(self.specs), BK_COLUMNS), np.int64)
        levels = words = 0
        for b, spec in enumerate(self.specs):
            n = spec.levels
            nw = (n + 63) // 64
            nsw = (nw + 63) // 64
            self._bk[b, [LO, HI, TICK, N, LBASE, WBASE, NW]] = (
                spec.lo,
                spec.hi,
                spec.tick,
                n,
                levels,
                words,
                nw,
            )
            self._bk[b, [SBASE, NSW, BEST, BEST_ASK, PHASE, TIE]] = (
                words + 2 * nw,
                nsw,
                -1,
                n,
                spec.phase,
                spec.tie_break,
            )
            levels += 2 * n
            words += 2 * (nw + nsw)
        self._lv = np.zeros((levels, 4), np.int64)
        self._lv[:, HEAD] = self._lv[:, TAIL] = -1
        self._bits = np.zeros(words, np.uint64)
        cap = _pow2(min(max(capacity, 16), MAX_ORDERS))
        self._o64 = zeroed((cap, 2), np.int64)
        self._o32 = zeroed((cap, 5), np.int32)
        self._o32[:, NEXT] = np.arange(1, cap + 1)
        self._o32[-1, NEXT] = -1
        self._keys = zeroed(2 * cap, np.int64)
        self._vals = zeroed(2 * cap, np.int32)
        self._st = np.array([0, 64 - (2 * cap).bit_length() + 1, 0], np.int64)
        self._events = np.zeros(0, EVENT_DTYPE)

    def arrays(self) -> CoreArrays:
        """Return the state arrays for a kernel that calls run_batch itself; grow() replaces
        some of them, so take them again after it."""
        return CoreArrays(
            self._bk, self._lv, self._bits, self._o64, self._o32, self._keys, self._vals, self._st
        )

    @property
    def capacity(self) -> int:
        """Return the number of order slots currently allocated."""
        return len(self._o64)

    def bytes_per_order(self) -> int:
        """Return the storage bytes per order slot beyond the price ladders (slot + id table)."""
        return (self._o64.nbytes + self._o32.nbytes + self._keys.nbytes + self._vals.nbytes) // len(
            self._o64
        )

    def grow(self) -> None:
        """Double the order slots (slots keep their numbers, lists their order) and rehash."""
        cap = len(self._o64)
        if 2 * cap > MAX_ORDERS:
            raise MemoryError(f"an engine holds at most {MAX_ORDERS:,} live orders")
        self._o64 = np.concatenate([self._o64, np.zeros((cap, 2), np.int64)])
        self._o32 = np.concatenate([self._o32, np.zeros((cap, 5), np.int32)])
        self._o32[cap:, NEXT] = np.arange(cap + 1, 2 * cap + 1)
        self._o32[-1, NEXT] = self._st[FREE]  # the free slots left, if grown before it ran out
        self._st[FREE] = cap
        self._keys = zeroed(4 * cap, np.int64)
        self._vals = zeroed(4 * cap, np.int32)
        self._st[SHIFT] -= 1
        if self._st[LIVE]:
            _rehash(
                self._o64, self._o32, self._bk, self._lv, self._keys, self._vals, self._st[SHIFT]
            )

    def process(self, commands: np.ndarray, *, reuse: bool = False) -> np.ndarray:
        """Apply a batch of commands (COMMAND_DTYPE) in order and return their events.

        With reuse=True the events are a view of a buffer the engine keeps and overwrites on
        the next call: no fresh memory is touched (page faults on a new buffer cost more than
        the matching itself). Without it the events are a new array the caller owns.
        """
        if commands.dtype != COMMAND_DTYPE:
            raise TypeError(f"commands have dtype {commands.dtype}, expected COMMAND_DTYPE")
        commands = np.ascontiguousarray(commands)
        size = 2 * len(commands) + 64
        if reuse:
            if len(self._events) < size:
                self._events = zeroed(size, EVENT_DTYPE)  # not faulted inside the timed kernel
            ev = self._events
        else:
            ev = np.empty(size, EVENT_DTYPE)
        parts = []
        i = k = 0
        while True:
            status, i, k, need = run_batch(
                commands, i, ev, k, self._bk, self._lv, self._bits, self._o64, self._o32,
                self._keys, self._vals, self._st,
            )  # fmt: skip
            if status == DONE:
                break
            if status == NEED_SLOTS:
                self.grow()
            else:
                if k:
                    parts.append(ev[:k].copy() if reuse else ev[:k])
                ev = np.empty(max(2 * len(ev), need), EVENT_DTYPE)
                if reuse:
                    self._events = ev
                k = 0
        parts.append(ev[:k])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def best(self, book: int) -> Quote:
        """Return the best bid and ask of a book with their quantities (0 where empty)."""
        return Quote(*self.quote(book).tolist())

    def quote(self, book: int, percents: np.ndarray = NO_PERCENTS) -> np.ndarray:
        """Return a book's best bid, its quantity, best ask and its quantity (0 where empty),
        then for each p in `percents` (int64) the shares bid and offered within p% of the mid
        (0 without a two-sided book), as one int64 array."""
        return _quote(self._bk, self._lv, self._bits, book, percents)

    def depth(self, book: int, side: Side, levels: int) -> list[Level]:
        """Return up to `levels` non-empty levels of one side, best first."""
        return [Level(*map(int, row)) for row in self.level_rows(book, side, levels)]

    def level_rows(self, book: int, side: Side, levels: int) -> np.ndarray:
        """Return up to `levels` non-empty levels of one side, best first, as int64 rows of
        (price, quantity, orders): `depth` without Python objects, for simulators."""
        return _levels(self._bk, self._lv, self._bits, book, int(side), levels)

    def depth_to(self, book: int, side: Side, price: int) -> int:
        """Return the quantity resting on one side from the best level to `price` inclusive
        (bids at or above it, asks at or below it)."""
        return int(_depth_to(self._bk, self._lv, self._bits, book, int(side), price))

    def orders(self, book: int, side: Side) -> list[RestingOrder]:
        """Return the resting orders of one side in priority order."""
        rows = _orders(self._bk, self._lv, self._bits, self._o64, self._o32, book, int(side))
        return [RestingOrder(*map(int, row)) for row in rows]

    def indicative(self, book: int, reference: int = 0) -> Indicative:
        """Return the call-auction price, volume and imbalance if the book were uncrossed now."""
        li, volume, imbalance = _auction(self._bk, self._lv, book, reference)
        price = int(self._bk[book, LO] + li * self._bk[book, TICK]) if volume > 0 else 0
        return Indicative(price, int(volume), int(imbalance))

    def phase(self, book: int) -> Phase:
        """Return the book's phase."""
        return Phase(int(self._bk[book, PHASE]))

    def books_in(self, phase: Phase) -> list[int]:
        """Return the indices of the books in `phase`."""
        return [b for b, p in enumerate(self._bk[:, PHASE].tolist()) if p == phase]

    def resting(self) -> int:
        """Return the number of resting orders over all books."""
        return int(self._st[LIVE])

    def state_hash(self) -> int:
        """Return a 64-bit hash of every book's phase and resting orders (api.fold)."""
        return int(_state_hash(self._bk, self._lv, self._bits, self._o64, self._o32))
