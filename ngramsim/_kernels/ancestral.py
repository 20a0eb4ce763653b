"""Ancestral (left-to-right) sampling of an n-gram source by inverse CDF."""

import numba
import numpy as np

# Rows up to this size are searched by a branch-free count; longer rows by bisection.
_COUNT_SEARCH_MAX = 32
# Sequences advanced in lockstep per thread: their chains are independent, so the
# CPU overlaps them (one chain alone is latency-bound on the context dependence).
_LOCKSTEP = 8


@numba.njit(cache=True, inline="always")
def inverse_cdf(cdf, row, u):
    """Smallest ``v`` with ``u < cdf[row, v]``.

    ``cdf`` is a guarded CDF (see :func:`guarded_cdf`): it equals 1.0 exactly
    from the last positive entry on, so every ``u in [0, 1)`` lands on a
    token of positive probability.  For short rows the answer is the count of
    entries ``<= u`` (no branches); for long rows, bisection.
    """
    width = cdf.shape[1]
    if width <= _COUNT_SEARCH_MAX:
        v = 0
        for j in range(width - 1):
            v += u >= cdf[row, j]
        return v
    lo = 0
    hi = width - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if u < cdf[row, mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, parallel=True)
def ancestral_sample(initial_cdf, transition_cdf, successor, context_length, uniforms, out):
    """Fill ``out`` with sequences drawn from ``q`` by inverse CDF.

    Parameters
    ----------
    initial_cdf : float64[1, K]
        Guarded CDF of ``mu`` over context indices.
    transition_cdf : float64[K, V]
        Guarded CDF of every row of ``P``.
    successor : int64[K, V]
        ``successor[c, v]``: index of the context after appending ``v`` to ``c``.
    context_length : int
        ``n - 1``.
    uniforms : float64[M, L]
        Pre-drawn uniforms on [0, 1).  Column 0 draws the initial context
        (when ``n >= 2``); column ``i >= n - 1`` draws ``x_i``; columns
        ``1 .. n-2`` are unused.
    out : int64[M, L]
        Output tokens.
    """
    num_samples, length = out.shape
    vocab_size = transition_cdf.shape[1]
    num_blocks = (num_samples + _LOCKSTEP - 1) // _LOCKSTEP
    for block in numba.prange(num_blocks):
        first = block * _LOCKSTEP
        stop = min(first + _LOCKSTEP, num_samples)
        contexts = np.zeros(_LOCKSTEP, dtype=np.int64)
        if context_length > 0:
            for s in range(first, stop):
                c = inverse_cdf(initial_cdf, 0, uniforms[s, 0])
                contexts[s - first] = c
                for j in range(context_length - 1, -1, -1):
                    out[s, j] = c % vocab_size
                    c //= vocab_size
        for i in range(context_length, length):
            for s in range(first, stop):
                c = contexts[s - first]
                v = inverse_cdf(transition_cdf, c, uniforms[s, i])
                out[s, i] = v
                contexts[s - first] = successor[c, v]
    return out


def guarded_cdf(probs):
    """Row-wise CDF of ``probs`` (last axis), set to exactly 1.0 from each row's last positive entry on.

    The guard absorbs rounding: a uniform in ``[cdf[-1], 1)`` would otherwise
    fall past the end, and a zero-probability tail could be selected.
    Returns a 2-D C-contiguous array (a vector becomes one row).
    """
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    cdf = np.cumsum(probs, axis=-1)
    positive = probs > 0
    last = probs.shape[-1] - 1 - np.argmax(positive[..., ::-1], axis=-1)
    cols = np.arange(probs.shape[-1])
    cdf[cols >= last[..., None]] = 1.0
    return np.ascontiguousarray(cdf)
