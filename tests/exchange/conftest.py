"""Fixtures of the venue tests: the shipped calendar and presets, accounts on a board."""

from __future__ import annotations

import pytest

from exchange.accounts import Accounts, Participant
from exchange.boards import load_board
from exchange.calendar import TradingCalendar

CNY = 10_000  # price units per yuan
RICH = 1_000_000 * CNY  # declared financial assets above every board's investor gate


@pytest.fixture(scope="session")
def calendar() -> TradingCalendar:
    return TradingCalendar.load()


def make_accounts(board: str, *kinds: str, cash: int = 1_000_000 * CNY) -> Accounts:
    """Return accounts on a preset with participants 1..n of the given kinds, each with cash."""
    accounts = Accounts(load_board(board))
    for number, kind in enumerate(kinds, start=1):
        accounts.open_account(Participant(number, kind, RICH, 36), cash)
    accounts.list_security(1, "equity")
    return accounts
