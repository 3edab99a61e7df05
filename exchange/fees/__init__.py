"""Fees: schedules and how a fill is charged, listing costs of a firm, provincial support."""
