"""Properties over random sessions: conservation and account invariants; journal replay."""

from __future__ import annotations

import numpy as np
import pytest
from exchange_helpers import MONDAY, PRICE, make_exchange, total_cash, total_shares
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.orders import batch, cancel, order
from exchange.venue import kernel as k
from exchange.venue.exchange import Exchange, Listing
from exchange.venue.journal import JournalWriter

KINDS = ("investor", "market_maker", "qualified_institution", "investor")
LISTINGS = (Listing("AAA", "equity", PRICE), Listing("BBB", "equity", 2 * PRICE))
SECOND = 10**9
TYPES = ((0, 0),) * 6 + ((0, 1), (0, 2), (1, 0), (1, 1))  # (order type, time in force)

session = st.tuples(
    st.sampled_from(["star", "techboard-call"]),
    st.sampled_from(["09:15", "09:24", "09:31", "11:25", "14:50"]),  # local start time
    st.integers(0, 2**32 - 1),  # seed of the commands
    st.integers(5, 80),  # number of commands
)


def random_commands(seed, count):
    """Return `count` commands: new orders, cancels, waits and day changes, from a seed."""
    rng = np.random.default_rng(seed)
    commands = []
    for draw in rng.random(count):
        if draw < 0.6:
            order_type, tif = TYPES[rng.integers(len(TYPES))]
            commands.append(
                ("new", *rng.integers((0, 0, 0, -6, 1), (4, 2, 2, 7, 9)).tolist(), order_type, tif)
            )
        elif draw < 0.75:
            commands.append(("cancel", int(rng.integers(4)), int(rng.integers(1, 11))))
        elif draw < 0.95:
            commands.append(("wait", int(rng.integers(1, 901))))  # seconds
        else:
            commands.append(("next_day",))
    return commands


def run_session(board, start, seed, count, **options):
    """Play a random session from a local start time over up to a few days; return it."""
    exchange = make_exchange(board, kinds=KINDS, listings=LISTINGS, shares=20_000, **options)
    day = MONDAY
    exchange.open_day(day)
    t = max(exchange.spans[0].start, exchange.calendar.local_ns(day, start))
    coid = 0
    pending = []
    for c in random_commands(seed, count):
        if c[0] == "new":
            _, who, instrument, side, ticks, lots, kind, tif = c
            coid += 1
            price = LISTINGS[instrument].previous_close + ticks * 100
            pending.append(order(who, instrument, side, price, 200 * lots, coid, t, kind, tif))
        elif c[0] == "cancel":
            pending.append(cancel(c[1], max(1, coid - c[2]), t))
        else:
            if pending:
                exchange.submit(batch(*pending))
                pending = []
            if c[0] == "wait":
                t += c[1] * SECOND
                if t >= exchange.spans[-1].end:
                    c = ("next_day",)
            if c[0] == "next_day":
                exchange.end_of_day()
                day = exchange.calendar.shift(day, 1)
                exchange.open_day(day)
                t = exchange.spans[0].start
    if pending:
        exchange.submit(batch(*pending))
    return exchange


def check_accounts(exchange):
    """Assert the reservations, holder counts and balances agree with the open orders."""
    s = exchange.state
    live = s.ords[1 : s.g[k.G_NEXT_OID]]
    live = live[live[:, k.O_STATE] != k.DONE]
    for p in range(len(exchange.participants)):
        mine = live[live[:, k.O_PART] == p]
        assert s.par[p, k.CASH_RES] == mine[:, k.O_CASH].sum()
        assert s.par[p, k.CASH] >= s.par[p, k.CASH_RES] >= 0
        for n in range(len(exchange.listings)):
            sells = mine[(mine[:, k.O_INST] == n) & (mine[:, k.O_SIDE] == 1)]
            buys = mine[(mine[:, k.O_INST] == n) & (mine[:, k.O_SIDE] == 0)]
            cell = s.pos[p, n]
            assert cell[k.SH_RES] == sells[:, k.O_QTY].sum()
            assert cell[k.POS] >= cell[k.SH_RES] >= 0
            assert (cell[k.LIVE_SELL], cell[k.LIVE_BUY]) == (len(sells), len(buys))
    for n in range(len(exchange.listings)):
        ever = s.pos[:, n, k.EVER] > 0
        assert s.ins[n, k.COUNTED] == ever.sum()
        assert s.ins[n, k.PENDING] == ((s.pos[:, n, k.LIVE_BUY] > 0) & ~ever).sum()


@settings(max_examples=60, deadline=None)
@given(session)
def test_cash_plus_fees_and_shares_are_conserved(played):
    exchange = make_exchange(played[0], kinds=KINDS, listings=LISTINGS, shares=20_000)
    cash, shares = total_cash(exchange), total_shares(exchange)
    exchange = run_session(*played)
    assert total_cash(exchange) == cash
    assert total_shares(exchange) == shares
    check_accounts(exchange)
    exchange.end_of_day()
    assert exchange.state.par[:, k.CASH_RES].sum() == 0
    assert exchange.state.pos[:, :, k.SH_RES].sum() == 0
    assert total_cash(exchange) == cash


@settings(max_examples=25, deadline=None)
@given(session)
def test_journal_replay_rebuilds_the_live_state(tmp_path_factory, played):
    path = tmp_path_factory.mktemp("journal") / "venue.tbj"
    live = run_session(*played, journal=path, fsync=False)
    replayed = Exchange.replay(path)
    assert replayed.digest() == live.digest()
    assert replayed.torn is None
    assert np.array_equal(replayed.state.ins[:, k.SEQ], live.state.ins[:, k.SEQ])


def test_a_torn_tail_is_reported_and_the_whole_records_replayed(tmp_path):
    path = tmp_path / "venue.tbj"
    live = run_session("star", "09:31", 3, 40, journal=path, fsync=False)
    whole = live.digest()
    live.journal.close()
    with path.open("ab") as handle:
        handle.write(b"\x10\x00\x00\x00\x00\x00")  # a record header cut short
    replayed = Exchange.replay(path)
    assert replayed.torn is not None and "torn tail" in str(replayed.torn)
    assert replayed.digest() == whole
    with pytest.raises(Exception, match="torn tail"):
        JournalWriter(path)


def test_misuse_raises_before_anything_is_journaled(tmp_path):
    path = tmp_path / "venue.tbj"
    exchange = make_exchange("star", journal=path, fsync=False)
    with pytest.raises(RuntimeError, match="open_day"):
        exchange.advance(0)
    exchange.open_day(MONDAY)
    with pytest.raises(RuntimeError, match="end_of_day"):
        exchange.open_day(MONDAY)
    t = exchange.spans[0].start
    rows = batch(order(0, 0, 0, PRICE, 200, 1, t + 5), order(0, 0, 0, PRICE, 200, 2, t))
    with pytest.raises(ValueError, match="decrease"):
        exchange.submit(rows)
    with pytest.raises(ValueError, match="before the session clock"):
        exchange.submit(batch(order(0, 0, 0, PRICE, 200, 1, t - 10)))
    assert Exchange.replay(path).digest() == exchange.digest()
