"""The venue: the Exchange API, its numba kernel, state, market data and journal."""
