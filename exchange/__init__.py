"""The venue: boards and rules, sessions, accounts and risk, fees, clearing, market data, journal."""
