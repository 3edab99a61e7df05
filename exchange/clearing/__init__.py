"""Accounts and risk (reservations, holdings) and clearing and settlement."""
