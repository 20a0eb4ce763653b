"""Forward propagation of context laws along the first-order context chain."""

import numba


@numba.njit(cache=True)
def propagate_context_laws(initial, transitions, successor, out):
    """Fill ``out[t]`` with the law of the context ``c_{n-1+t}``.

    ``out[0] = initial``; ``out[t+1][successor[c, v]] += out[t][c] * P[c, v]``.

    Parameters
    ----------
    initial : float64[K]
    transitions : float64[K, V]
    successor : int64[K, V]
    out : float64[T, K]
        Overwritten.
    """
    num_contexts, vocab_size = transitions.shape
    out[0, :] = initial
    for t in range(out.shape[0] - 1):
        out[t + 1, :] = 0.0
        for c in range(num_contexts):
            w = out[t, c]
            if w == 0.0:
                continue
            for v in range(vocab_size):
                out[t + 1, successor[c, v]] += w * transitions[c, v]
    return out
