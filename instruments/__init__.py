"""Equity, convertible bond and preferred share: terms, lifecycle events and valuation."""
