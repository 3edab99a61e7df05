"""The venue: boards, rules, sessions, accounts and risk, fees, clearing, market data, journal."""
