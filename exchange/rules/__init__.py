"""Board rules: presets, order-entry checks, the trading calendar, sessions and halts."""
