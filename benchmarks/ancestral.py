"""Ancestral sampling throughput against quantecon's ``MarkovChain.simulate`` (the external peer).

Both draw their uniforms with numpy and map them through row CDFs in a numba
kernel; the peer runs on the equivalent first-order chain (on ``V`` states for
order 2, on the ``V^(n-1)`` context states for higher orders, sparse when
large).  ``ours/peer`` is a throughput ratio (> 1: ngramsim is faster),
single-threaded for a like-for-like comparison; ``ours (all threads)`` shows
the parallel kernel.
"""

import numba
import numpy as np

from benchmarks._timing import best_times
from ngramsim import dirichlet_language

LENGTH = 4096


def _peer(language):
    import quantecon

    T = language.context_transition_matrix()
    chain = quantecon.MarkovChain(T if language.num_contexts > 256 else T.toarray())

    def simulate(num_samples, seed):
        gen = np.random.default_rng(seed)
        init = gen.choice(language.num_contexts, size=num_samples, p=language.initial)
        paths = chain.simulate(LENGTH - language.context_length + 1, init=init, random_state=gen)
        return paths % language.vocab_size  # the newest token of each context

    return simulate


def run(quick=False):
    num_samples = 64 if quick else 1024
    repeats = 2 if quick else 5
    threads = numba.get_num_threads()
    print(f"ancestral sampling, L = {LENGTH}, {num_samples} sequences, tokens/s (best of {repeats})")
    print(f"{'order':>5} {'V':>4} {'ours 1 thread':>14} {'peer':>14} {'ours/peer':>10} {f'ours ({threads} thr)':>14}")
    tokens = num_samples * LENGTH
    for order in (2, 3, 4):
        for V in (4, 16):
            language = dirichlet_language(V, order, concentration=0.5, rng=0)
            peer = _peer(language)
            numba.set_num_threads(1)
            best = best_times(
                {"ours": lambda: language.sample(LENGTH, num_samples, rng=1), "peer": lambda: peer(num_samples, 1)},
                repeats,
            )
            ours_1, theirs = tokens / best["ours"], tokens / best["peer"]
            numba.set_num_threads(threads)
            ours_n = tokens / best_times({"ours": lambda: language.sample(LENGTH, num_samples, rng=1)}, repeats)["ours"]
            print(f"{order:>5} {V:>4} {ours_1:>14.3e} {theirs:>14.3e} {ours_1 / theirs:>10.2f} {ours_n:>14.3e}")


if __name__ == "__main__":
    run()
