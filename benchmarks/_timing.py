"""Shared timing helpers: best wall time over repeats, measured interleaved.

Machines here are noisy (frequency, the other core, allocator state), so the
variants being compared are timed in alternation and each keeps its best time.
"""

import time


def best_time(fn, repeats=5):
    """Best wall time of ``fn()`` over ``repeats`` calls after one warm-up call."""
    return best_times({"fn": fn}, repeats)["fn"]


def best_times(fns, repeats=5):
    """``{name: best wall time}`` for a dict of callables timed in alternation (after one warm-up each)."""
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
