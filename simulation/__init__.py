"""The discrete-event market simulator: scenarios, agents, the event loop, run records."""
