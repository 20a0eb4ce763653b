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
   (targets <= 1.15 for order 2, <= 1.6 for order 3);
4. windows open on one side: order >= 3 ``ar`` against ancestral sampling for ``L = 2000 ..
   32000`` (target <= 20, and flat in ``L``: no pass over the masked side of a window).
"""

import numba
import numpy as np

from benchmarks._timing import best_times
from ngramsim import dirichlet_language, sample_mdm


def _order2(quick):
    L = 1024
    M = 64 if quick else 400
    repeats = 2 if quick else 5
    specs = [f"{kind}:{N}" for kind in ("uniform", "linear") for N in (1, 16, 256, L)]
    print(f"\n1. order 2, L = {L}: MDM time per sequence / ancestral (1 thread, best of {repeats}, interleaved)")
    print(f"{'V':>3} {'ancestral us':>13}  " + "  ".join(f"{s.replace(str(L), 'L'):>11}" for s in specs))
    for V in (4, 8, 16):
        language = dirichlet_language(V, 2, concentration=0.5, rng=0)
        fns = {"ancestral": lambda: language.sample(L, M, rng=1)}
        fns.update({spec: (lambda spec=spec: sample_mdm(language, L, spec, M, rng=1)) for spec in specs})
        best = best_times(fns, repeats)
        floor = best["ancestral"]
        print(f"{V:>3} {floor / M * 1e6:>13.2f}  " + "  ".join(f"{best[s] / floor:>11.2f}" for s in specs))


def _higher_orders(quick):
    L = 1024
    M = 8 if quick else 32
    repeats = 2 if quick else 3
    print(f"\n2. orders 3-4, L = {L}: windows kernel vs naive (N = L), and windows / ancestral (1 thread)")
    print(f"{'n':>2} {'V':>3} {'naive/windows N=L':>18} {'N=16':>8} {'N=256':>8} {'N=L':>8}")
    for order, V in ((3, 2), (3, 4), (3, 8), (4, 2), (4, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        naive_m = 2
        fns = {
            "ancestral": lambda: language.sample(L, 400, rng=1),
            "naive": lambda: sample_mdm(language, L, f"uniform:{L}", naive_m, rng=1, method="naive"),
        }
        fns.update({N: (lambda N=N: sample_mdm(language, L, f"uniform:{N}", M, rng=1)) for N in (16, 256, L)})
        best = best_times(fns, repeats)
        floor = best["ancestral"] / 400
        per = {k: best[k] / M for k in (16, 256, L)}
        naive_ratio = (best["naive"] / naive_m) / per[L]
        print(f"{order:>2} {V:>3} {naive_ratio:>18.1f} " + " ".join(f"{per[N] / floor:>8.1f}" for N in (16, 256, L)))


def _growth(quick):
    lengths = [256, 1024, 4096] if quick else [256, 1024, 4096, 16384]
    print("\n3. growth at N = L/4 (1 thread): time per sequence, fitted log-log slope")
    for order, V in ((2, 8), (3, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        times = []
        for L in lengths:
            M = max(2, (4 if quick else 64) * 1024 // L)
            fn = lambda: sample_mdm(language, L, f"uniform:{L // 4}", M, rng=1)
            times.append(best_times({"mdm": fn}, 2 if quick else 3)["mdm"] / M)
        slope = np.polyfit(np.log(lengths), np.log(times), 1)[0]
        row = "  ".join(f"L={L}: {t * 1e3:.3f} ms" for L, t in zip(lengths, times))
        print(f"order {order}, V = {V}: {row}  slope {slope:.3f}")


def _one_sided(quick):
    lengths = [2000, 8000] if quick else [2000, 8000, 32000]
    print("\n4. ar at orders 3-4 (1 thread): time per token / ancestral, and the log-log slope in L")
    for order, V in ((3, 4), (3, 8), (4, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        ratios, times = [], []
        for L in lengths:
            M = max(2, (16000 if quick else 64000) // L)
            best = best_times({"ancestral": lambda: language.sample(L, M, rng=1),
                               "ar": lambda: sample_mdm(language, L, "ar", M, rng=1)}, 2 if quick else 3)
            ratios.append(best["ar"] / best["ancestral"])
            times.append(best["ar"] / M)
        slope = np.polyfit(np.log(lengths), np.log(times), 1)[0]
        row = "  ".join(f"L={L}: {r:5.1f}x" for L, r in zip(lengths, ratios))
        print(f"order {order}, V = {V}: {row}  slope {slope:.3f}")


def run(quick=False):
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _order2(quick)
        _higher_orders(quick)
        _growth(quick)
        _one_sided(quick)
    finally:
        numba.set_num_threads(threads)
    print(f"\n(all-thread runs scale both sides alike; {threads} threads available)")


if __name__ == "__main__":
    run()
