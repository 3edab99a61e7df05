"""Results the demos keep for the life of the process, shared by every page of a served demo.

`techboard demo NAME` runs the notebook once before it serves it, and marimo's run mode runs
each page's kernel in a thread of that process: a slow result kept here (the liquidity study
with the default sliders) is computed at start-up, not while the audience waits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import wraps
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
KEPT = 32  # results kept over all functions; the oldest go first

results: OrderedDict[tuple, object] = OrderedDict()
lock = threading.Lock()


def shared(function: Callable[P, T]) -> Callable[P, T]:
    """Return `function` with its results kept in this process, keyed by its qualified name
    and its (hashable) arguments, so each notebook session that defines it again finds them."""

    @wraps(function)
    def kept(*args: P.args, **kwargs: P.kwargs) -> T:
        key: tuple[Hashable, ...] = (function.__qualname__, args, tuple(sorted(kwargs.items())))
        with lock:
            if key in results:
                results.move_to_end(key)
                return results[key]
        value = function(*args, **kwargs)
        with lock:
            results[key] = value
            while len(results) > KEPT:
                results.popitem(last=False)
        return value

    return kept
