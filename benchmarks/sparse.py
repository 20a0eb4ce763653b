"""The sparse order-2 language (top-K rows plus a rank-one teleport) against the target and the dense path.

1. Target: ``V = 4096``, ``K = 32``, ``L = 1024``, ``uniform:256``, 64 sequences, one thread, warm
   (compilation and the per-(language, L) rank-one tables excluded; table build time reported
   apart), for ``eps in {0.1, 0.5}``: target under 10 s.
2. Ratio to the dense path (:class:`~ngramsim.NGramLanguage` from ``to_dense()``, whatever kernel
   ``sample_mdm`` picks for it) where both fit, same ``K``, ``eps``, ``L``, schedule, seed; the two
   give the same samples, which is checked.
"""

import time
import warnings

import numba
import numpy as np

from benchmarks._timing import best_times
from ngramsim import sample_mdm
from ngramsim.sparse import SparseLanguage


def random_sparse(V, K, eps, seed=0):
    """Random rows: ``K`` distinct successors per token, Dirichlet(0.5) weights, Dirichlet(1) ``nu``, uniform ``mu``."""
    rng = np.random.default_rng(seed)
    index = np.empty((V, K), dtype=np.int64)
    for first in range(0, V, 256):
        keys = rng.random((min(256, V - first), V))
        index[first:first + 256] = np.argpartition(keys, K, axis=1)[:, :K]
    prob = rng.dirichlet(np.full(K, 0.5), size=V)
    return SparseLanguage(index, prob, eps, rng.dirichlet(np.ones(V)), np.full(V, 1.0 / V),
                          name=f"random(V={V},K={K},eps={eps:g})")


def run(quick=False):
    numba.set_num_threads(1)
    L, K, spec = 1024, 32, "uniform:256"
    M = 8 if quick else 64
    print(f"\n1. sparse target: V = 4096, K = {K}, L = {L}, {spec}, M = {M}, 1 thread (target: 64 sequences < 10 s)")
    print(f"{'eps':>5} {'cutoff D':>9} {'tables s':>9} {'time s':>8} {'us/token':>9} {'64 seqs s':>10}")
    for eps in (0.1, 0.5):
        language = random_sparse(4096, K, eps)
        began = time.perf_counter()
        sample_mdm(language, L, spec, 1, rng=0)  # compiles (cached) and builds the tables
        tables = time.perf_counter() - began
        began = time.perf_counter()
        sample_mdm(language, L, spec, 1, rng=0)
        one = time.perf_counter() - began
        began = time.perf_counter()
        sample_mdm(language, L, spec, M, rng=1)
        elapsed = time.perf_counter() - began
        print(f"{eps:>5g} {language.cutoff(L):>9} {tables - one:>9.2f} {elapsed:>8.2f} "
              f"{elapsed / (M * L) * 1e6:>9.1f} {elapsed / M * 64:>10.2f}")
    print(f"\n2. sparse / dense time where both fit (same K = {K}, L = {L}, {spec}, 1 thread, best of "
          f"{1 if quick else 2})")
    print(f"{'V':>5} {'eps':>5} {'dense kernel':>13} {'dense s/seq':>12} {'sparse s/seq':>13} {'sparse/dense':>13}")
    for V in ((64,) if quick else (64, 256)):
        for eps in (0.1, 0.5):
            language = random_sparse(V, K, eps)
            dense = language.to_dense()
            m = 4 if V > 64 else 16
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the windows kernel's warning for large V
                kernel = sample_mdm(dense, L, spec, 1, rng=0).kernel
                a = sample_mdm(language, L, spec, m, rng=2).samples
                b = sample_mdm(dense, L, spec, m, rng=2).samples
                same = np.array_equal(a, b)
                best = best_times({"sparse": lambda: sample_mdm(language, L, spec, m, rng=1),
                                   "dense": lambda: sample_mdm(dense, L, spec, m, rng=1)}, 1 if quick else 2)
            print(f"{V:>5} {eps:>5g} {kernel:>13} {best['dense'] / m:>12.4f} {best['sparse'] / m:>13.4f} "
                  f"{best['sparse'] / best['dense']:>13.2f}" + ("" if same else "  (samples differ!)"))
