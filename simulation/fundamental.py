"""The mean-reverting fundamental value with megashocks (as ABIDES' SparseMeanRevertingOracle):
an Ornstein-Uhlenbeck process toward r_bar, sampled exactly on a one-second grid, plus jumps of
random sign and normal size arriving as a Poisson process. Floats here (a model); prices handed
to agents and records are int price units."""

from __future__ import annotations

import numpy as np

NS_PER_SECOND = 1_000_000_000


class Fundamental:
    """One instrument's fundamental path over [start, end) ns UTC, in price units."""

    def __init__(self, params: dict, start: int, end: int, initial: float, seed: int) -> None:
        """Draw the path: params are a scenario's [fundamental] table (units times `scale`)."""
        rng = np.random.default_rng(seed)
        self.scale = scale = params["scale"]
        self.r_bar = (params["r_bar"] or initial / scale) * scale
        kappa, sigma = params["kappa"], params["sigma"] * scale
        step = NS_PER_SECOND
        n = max(1, -(-(end - start) // step)) + 1
        decay = np.exp(-kappa * step)
        var = sigma**2 * step if kappa == 0 else sigma**2 * (1 - decay**2) / (2 * kappa)
        noise = rng.normal(0.0, np.sqrt(var), n)
        shocks = rng.poisson(params["megashock_lambda"] * step, n)
        size = rng.normal(params["megashock_mean"], np.sqrt(params["megashock_var"]), n)
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        jump = shocks * sign * size * scale
        x = np.empty(n)
        x[0] = initial
        for i in range(1, n):  # n = seconds of a day: cheap
            x[i] = self.r_bar + (x[i - 1] - self.r_bar) * decay + noise[i] + jump[i]
        self.start, self.step = start, step
        self.path = np.maximum(x, 1.0)

    def at(self, ns: int) -> float:
        """Return the value at ns (the grid point at or before it)."""
        i = min(max(0, (ns - self.start) // self.step), len(self.path) - 1)
        return float(self.path[i])

    def last(self) -> float:
        """Return the value at the end of the path (the next day starts from it)."""
        return float(self.path[-1])
