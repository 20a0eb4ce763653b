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
   32000`` (target <= 20, and flat in ``L``: no pass over the masked side of a window);
5. adaptive rules against the fixed schedule with the same number of steps, ``L = 1024``:
   ``topk:256`` and ``margin:256`` / ``uniform:256``, ``eb:0.5`` and ``esum:1.0`` / ``uniform:L``
   (target <= 10 for order 2, V = 4; orders 2 at V = 8, 16 and order 3 reported), with the
   order-2 truncation distances ``D_L/D_R``;
6. adaptive growth: time per sequence against ``L`` (``topk``/``margin`` at ``N = L/4``), log-log
   slope (target <= 1.3 for order 2 over ``L = 1024 .. 16384``; order 3 reported).

Sections 5-6 use the same number of sequences for every schedule of a comparison.
"""

import numba
import numpy as np

from benchmarks._timing import best_times
from ngramsim import dirichlet_language, sample_mdm
from ngramsim.sampler import truncation_distances
from ngramsim.schedules import parse_schedule


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


_RULES = ("topk", "margin", "eb:0.5", "esum:1.0")


def _rule_spec(rule, L):
    """``topk``/``margin`` at ``N = L/4``; ``eb``/``esum`` as given."""
    return f"{rule}:{L // 4}" if rule in ("topk", "margin") else rule


def _baseline(rule, L):
    """The fixed schedule with the same number of steps: ``uniform:N`` (or ``uniform:L`` for eb/esum)."""
    return f"uniform:{L // 4}" if rule in ("topk", "margin") else f"uniform:{L}"


def _adaptive(quick):
    L = 1024
    M = 8 if quick else 64
    repeats = 2 if quick else 5
    print(f"\n5. adaptive / fixed schedule with the same N, L = {L} (1 thread, best of {repeats}, interleaved, "
          f"{M} sequences each)")
    print(f"{'n':>2} {'V':>3} " + " ".join(f"{_rule_spec(r, L) + ' / ' + _baseline(r, L):>24}" for r in _RULES)
          + "   D_L/D_R (topk, eb)")
    for order, V in ((2, 4), (2, 8), (2, 16), (3, 4)):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        specs = sorted({s for r in _RULES for s in (_rule_spec(r, L), _baseline(r, L))})
        fns = {spec: (lambda spec=spec: sample_mdm(language, L, spec, M, rng=1)) for spec in specs}
        best = best_times(fns, repeats)
        ratios = [best[_rule_spec(r, L)] / best[_baseline(r, L)] for r in _RULES]
        if order == 2:
            d = [truncation_distances(language, L, parse_schedule(s).kind, 1.0)[:2] for s in ("topk:1", "eb:1")]
            dist = ", ".join(f"{dl}/{dr}" for dl, dr in d)
        else:
            dist = "(no truncation)"
        print(f"{order:>2} {V:>3} " + " ".join(f"{x:>24.2f}" for x in ratios) + f"   {dist}")


def _adaptive_growth(quick):
    print("\n6. adaptive growth (1 thread): time per sequence, fitted log-log slope")
    for order, V, lengths in ((2, 4, [1024, 4096] if quick else [1024, 4096, 16384]),
                              (3, 4, [256, 1024] if quick else [256, 1024, 4096])):
        language = dirichlet_language(V, order, concentration=0.5, rng=0)
        for rule in ("uniform",) + _RULES:
            times = []
            for L in lengths:
                spec = f"uniform:{L // 4}" if rule == "uniform" else _rule_spec(rule, L)
                M = max(2, (2 if quick else 16) * 1024 // L)
                fn = lambda spec=spec, L=L, M=M: sample_mdm(language, L, spec, M, rng=1)
                times.append(best_times({"mdm": fn}, 2 if quick else 3)["mdm"] / M)
            slope = np.polyfit(np.log(lengths), np.log(times), 1)[0]
            name = "uniform:L/4" if rule == "uniform" else (f"{rule}:L/4" if rule in ("topk", "margin") else rule)
            row = "  ".join(f"L={L}: {t * 1e3:.3f} ms" for L, t in zip(lengths, times))
            print(f"order {order}, V = {V}, {name:>11}: {row}  slope {slope:.3f}")


def run(quick=False):
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _order2(quick)
        _higher_orders(quick)
        _growth(quick)
        _one_sided(quick)
        _adaptive(quick)
        _adaptive_growth(quick)
    finally:
        numba.set_num_threads(threads)
    print(f"\n(all-thread runs scale both sides alike; {threads} threads available)")


if __name__ == "__main__":
    run()
