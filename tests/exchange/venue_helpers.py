"""Helpers of the venue tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from exchange.clearing.accounts import Accounts, Participant
from exchange.rules.boards import load_board

CNY = 10_000  # price units per yuan
RICH = 1_000_000 * CNY  # declared financial assets above every board's investor gate


def make_accounts(board: str, *kinds: str, cash: int = 1_000_000 * CNY) -> Accounts:
    """Return accounts on a preset with participants 1..n of the given kinds, each with cash."""
    accounts = Accounts(load_board(board))
    for number, kind in enumerate(kinds, start=1):
        accounts.open_account(Participant(number, kind, RICH, 36), cash)
    accounts.list_security(1, "equity")
    return accounts
