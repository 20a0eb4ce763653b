"""Exact engine timings on warm calls (compilation excluded), against the issue's targets.

``V = 3, L = 8``: every schedule kind under 10 s; ``V = 2, L = 12``: counts, explicit and
adaptive under 10 s, Bernoulli with ``N = L`` under 30 s.  Also the order-2 B2 curve at
large ``L`` (exact, ``O(L^2)``).
"""

import numba

from benchmarks._timing import best_times
from ngramsim import dirichlet_language
from ngramsim.decomposition import expected_kl
from ngramsim.exact import exact_law

CASES = [
    (3, 8, ["linear:8", "cosine:4", "counts:2,3,3", "uniform:4", "order:0,1;2,3;4,5;6,7", "ar", "topk:4", "margin:4", "eb:0.5", "esum:1.0"], 10.0),
    (2, 12, ["counts:3,3,3,3", "uniform:6", "ar", "order:0,6;1,7;2,8;3,9;4,10;5,11", "topk:4", "margin:6", "eb:0.5", "esum:1.0"], 10.0),
    (2, 12, ["linear:12", "cosine:12"], 30.0),
]


def run(quick=False):
    print(f"exact engine, warm calls, numba threads = {numba.get_num_threads()}, learning_error = 0.05")
    print(f"{'V':>2} {'L':>3} {'schedule':<34} {'seconds':>8} {'target':>7}")
    for V, L, specs, target in CASES:
        if quick and L > 8:
            L = 9
            specs = [s for s in specs if not s.startswith(("counts", "order"))]
        language = dirichlet_language(V, 2, concentration=0.5, forbidden=0.2, rng=1)
        for spec in specs:
            # best_times' warm-up call compiles; the timed call is warm.
            seconds = best_times({"x": lambda: exact_law(language, L, spec, learning_error=0.05)}, 1)["x"]
            flag = "" if seconds <= target else "  over target"
            print(f"{V:>2} {L:>3} {spec:<34} {seconds:>8.2f} {target:>7.0f}{flag}")
    language = dirichlet_language(4, 2, concentration=0.5, forbidden=0.3, rng=2)
    for L in (1000, 4000):
        seconds = best_times({"x": lambda: expected_kl(language, L, "uniform:32")}, 1)["x"]
        print(f"B2 (order 2, exact) at L = {L}, uniform:32: {seconds:.2f} s")


if __name__ == "__main__":
    run()
