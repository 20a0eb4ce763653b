"""MDM sampler cost against ancestral sampling (the floor) and the naive reference sampler.

All in one run, on the same languages, ``lambda = 0``, ``tau = 1``, warm calls
(compilation and the per-(language, L) power tables excluded), best of several
repeats, with ``numba`` on one thread so that ratios compare like with like:

1. order 2, ``L = 1024``: MDM cost per sequence / ancestral, schedules ``uniform:N`` and
   ``linear:N``, ``N in {1, 16, 256, L}``, ``V in {4, 8, 16}`` (targets: <= 3 for V <= 8, <= 5 for V = 16);
2. orders 3-4 with ``V^(n-1) <= 64``: the windows kernel against the naive one (full
   forward-backward every step) at ``N = L`` (target >= 10x), and against ancestral at
   ``N in {16, 256, L}`` (goal <= 50 for order 3, V <= 4, N <= 256);
3. growth: time per sequence for ``L = 256 .. 16384`` at ``N = L/4``, log-log slope
   (targets <= 1.15 for order 2, <= 1.6 for order 3).
"""

import numba
import numpy as np

from benchmarks._timing import best_time
from ngramsim import dirichlet_language, sample_mdm


def _per_sequence(fn, num_samples, repeats):
    return best_time(fn, repeats) / num_samples


def _order2(quick):
    L = 1024
    M = 64 if quick else 400
    repeats = 2 if quick else 4
    print(f"\n1. order 2, L = {L}: MDM time per sequence / ancestral (1 thread, best of {repeats})")
    print(f"{'V':>3} {'ancestral us':>13}  " + "  ".join(f"{s:>12}" for s in ("uniform:1", "uniform:16", "uniform:256", "uniform:L", "linear:1", "linear:16", "linear:256", "linear:L")))
    for V in (4, 8, 16):
        language = dirichlet_language(V, 2, concentration=0.5, rng=0)
        floor = _per_sequence(lambda: language.sample(L, M, rng=1), M, repeats)
        ratios = []
        for kind in ("uniform", "linear"):
            for N in (1, 16, 256, L):
                spec = f"{kind}:{N}"
                ratios.append(_per_sequence(lambda: sample_mdm(language, L, spec, M, rng=1), M, repeats) / floor)
        print(f"{V:>3} {floor * 1e6:>13.2f}  " + "  ".join(f"{r:>12.2f}" for r in ratios))


def _higher_orders(quick):
    L = 1024
    M = 8 if quick else 40
    repeats = 2 if quick else 3
    print(f"\n2. orders 3-4, L = {L}: windows kernel vs naive (N = L) and vs ancestral (1 thread)")
    print(f"{'n':>2} {'V':>3} {'naive/windows N=L':>18} {'N=16':>8} {'N=256':>8} {'N=L':>8}   (windows / ancestral)")
    for order, V in ((3, 2), (3, 4), (3, 8), (4, 2), (4, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        floor = _per_sequence(lambda: language.sample(L, M, rng=1), M, repeats)
        spec = f"uniform:{L}"
        windows_full = _per_sequence(lambda: sample_mdm(language, L, spec, M, rng=1), M, repeats)
        naive_samples = max(2, M // 8)
        naive = _per_sequence(lambda: sample_mdm(language, L, spec, naive_samples, rng=1, method="naive"), naive_samples, 1)
        ratios = []
        for N in (16, 256):
            ratios.append(_per_sequence(lambda: sample_mdm(language, L, f"uniform:{N}", M, rng=1), M, repeats) / floor)
        ratios.append(windows_full / floor)
        print(f"{order:>2} {V:>3} {naive / windows_full:>18.1f} " + " ".join(f"{r:>8.1f}" for r in ratios))


def _growth(quick):
    lengths = [256, 1024, 4096] if quick else [256, 1024, 4096, 16384]
    print("\n3. growth at N = L/4 (1 thread): time per sequence, fitted log-log slope")
    for order, V in ((2, 8), (3, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        times = []
        for L in lengths:
            M = max(2, (4 if quick else 64) * 1024 // L)
            times.append(_per_sequence(lambda: sample_mdm(language, L, f"uniform:{L // 4}", M, rng=1), M, 2 if quick else 3))
        slope = np.polyfit(np.log(lengths), np.log(times), 1)[0]
        row = "  ".join(f"L={L}: {t * 1e3:.3f} ms" for L, t in zip(lengths, times))
        print(f"order {order}, V = {V}: {row}  slope {slope:.3f}")


def run(quick=False):
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _order2(quick)
        _higher_orders(quick)
        _growth(quick)
    finally:
        numba.set_num_threads(threads)
    print(f"\n(all-thread runs scale both sides alike; {threads} threads available)")


if __name__ == "__main__":
    run()
