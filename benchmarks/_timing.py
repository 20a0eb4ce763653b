"""Shared timing helper: best wall time of several repeats after a warm-up call."""

import time


def best_time(fn, repeats=5):
    fn()  # warm-up: JIT compilation and caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
