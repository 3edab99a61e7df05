"""Differential: the Exchange's numba fast path against the reference model, command by command.

Random streams of good and bad orders and cancels in continuous trading go through both; the
events (with each fill's fees), the balances, reservations and fees collected must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from exchange_helpers import MONDAY, PRICE, at, make_exchange
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_venue import ReferenceVenue, venue_events
from venue_helpers import CNY

from exchange.dtypes import ORDER_DTYPE
from exchange.rules.sessions import phase_at
from exchange.venue import kernel as k
from exchange.venue.exchange import Listing
from matching_engine.dtypes import EventKind

KINDS = ("investor", "market_maker", "qualified_institution", "investor", "issuer")
LISTINGS = (Listing("AAA", "equity", PRICE), Listing("BND", "convertible_bond", 100 * CNY))
CASH, SHARES = 200_000 * CNY, 3_000


def random_batch(seed: int, count: int, start: int) -> np.ndarray:
    """Return `count` venue commands, mostly sensible, some refused for every kind of reason."""
    rng = np.random.default_rng(seed)
    rows = np.zeros(count, ORDER_DTYPE)
    rows["timestamp"] = start + np.arange(count) * 1_000_000
    rows["kind"] = np.where(rng.random(count) < 0.25, 2, 1)
    rows["kind"][rng.random(count) < 0.01] = 7
    rows["participant"] = rng.integers(0, len(KINDS), count)
    rows["participant"][rng.random(count) < 0.02] = 9
    rows["instrument"] = rng.choice([0, 0, 0, 1], count)
    rows["side"] = rng.integers(0, 2, count)
    rows["order_type"] = np.where(rng.random(count) < 0.1, 1, 0)
    rows["tif"] = rng.choice([0, 0, 0, 0, 1, 2], count)
    rows["client_order_id"] = np.arange(1, count + 1)
    repeat = rng.random(count) < 0.3  # cancels and duplicates name earlier ids
    rows["client_order_id"][repeat] = rng.integers(1, np.arange(1, count + 1)[repeat] + 1)
    reference = np.array([x.previous_close for x in LISTINGS])[rows["instrument"]]
    tick = np.where(rows["instrument"] == 0, 100, 10)
    rows["price"] = reference + rng.integers(-30, 31, count) * tick
    rows["price"][rng.random(count) < 0.02] += tick[0] // 2  # off tick
    lots = np.where(rows["instrument"] == 0, 200, 10)
    rows["quantity"] = lots * rng.integers(1, 8, count)
    rows["quantity"][rng.random(count) < 0.05] += rng.integers(-150, 10)  # odd lots
    return rows


@pytest.mark.parametrize("fees", ["standard", "techboard"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 300))
def test_fast_path_matches_the_reference_model(tmp_path_factory, fees, seed, count):
    folder = tmp_path_factory.mktemp("board")
    (folder / "board.toml").write_text(f'extends = "star"\nfee_schedule = "{fees}"\n')
    exchange = make_exchange(str(folder / "board.toml"), KINDS, CASH, SHARES, LISTINGS)
    exchange.open_day(MONDAY)
    start = at(exchange, "09:30")
    exchange.advance(start)
    day = exchange.calendar.day_number(MONDAY)
    reference = ReferenceVenue(exchange, CASH, SHARES, day)
    reference.open(phase_at(exchange.spans, start))
    rows = random_batch(seed, count, start)
    for chunk in np.array_split(rows, 3):
        assert venue_events(exchange.submit(chunk)) == reference.submit(chunk)
    s, accounts = exchange.state, reference.accounts
    for p in range(len(KINDS)):
        assert s.par[p, k.CASH] == accounts.cash[p]
        assert s.par[p, k.CASH_RES] == accounts.cash_reserved[p]
        for n in range(len(LISTINGS)):
            assert s.pos[p, n, k.POS] == accounts.position(p, n)
            assert s.pos[p, n, k.SH_RES] == accounts.shares_reserved.get((p, n), 0)
    collected = {payee: v for payee, v in exchange.fees_collected().items() if v}
    assert collected == {payee: v for payee, v in accounts.fees_collected.items() if v}
    assert exchange.engine.state_hash() == reference.engine.state_hash()


def test_the_random_streams_trade_and_refuse_for_many_reasons():
    exchange = make_exchange("star", KINDS, CASH, SHARES, LISTINGS)
    exchange.open_day(MONDAY)
    start = at(exchange, "09:30")
    exchange.advance(start)
    events = exchange.submit(random_batch(5, 300, start))
    assert (events["kind"] == EventKind.TRADE).sum() >= 20
    refused = set(events["reason"][events["kind"] == EventKind.REJECTED].tolist())
    assert len(refused) >= 8
