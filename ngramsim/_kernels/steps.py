"""Step assignment for non-adaptive schedules (SPEC §2), from counter-based uniforms."""

import numba
import numpy as np

BERNOULLI, COUNTS, ORDER = 0, 1, 2


@numba.njit(cache=True)
def assign_steps(kind, u, alias_prob, alias_index, sizes, step_of, perm, out):
    """Fill ``out[i]`` with the 1-based step at which position ``i`` is revealed.

    ``u`` holds the sequence's schedule uniforms (:func:`.rng.draw_stream`).

    * Bernoulli: step ``t`` with probability ``w_t``, by Walker's alias method on one
      uniform ``u[i]``: ``j = floor(N u)``, then ``j`` if ``N u - j < alias_prob[j]``
      else ``alias_index[j]`` (tables from :func:`alias_table`).
    * Counts: a uniformly random permutation (Fisher-Yates with ``u[i]``,
      ``i = 0 .. L-2``); its first ``s_1`` entries get step 1, the next ``s_2`` step 2, ...
    * Explicit order: ``out = step_of``.

    ``perm`` is int64 scratch of length ``L``.
    """
    length = out.shape[0]
    if kind == BERNOULLI:
        N = alias_prob.shape[0]
        for i in range(length):
            x = u[i] * N
            j = min(int(x), N - 1)
            out[i] = 1 + (j if x - j < alias_prob[j] else alias_index[j])
    elif kind == COUNTS and sizes.shape[0] == 1:
        out[:] = 1  # one step: no permutation needed
    elif kind == COUNTS:
        for i in range(length):
            perm[i] = i
        for i in range(length - 1):
            j = i + int(u[i] * (length - i))
            if j >= length:
                j = length - 1
            tmp = perm[i]
            perm[i] = perm[j]
            perm[j] = tmp
        k = 0
        for t in range(sizes.shape[0]):
            for _ in range(sizes[t]):
                out[perm[k]] = t + 1
                k += 1
    else:
        for i in range(length):
            out[i] = step_of[i]
    return out


@numba.njit(cache=True)
def positions_by_step(step, num_steps, counts, order):
    """Counting sort: ``order`` lists positions by step (by position within a step); ``counts[t-1] = |S_t|``.

    Returns ``start`` with ``S_t = order[start[t-1]:start[t]]``.
    """
    counts[:] = 0
    for i in range(step.shape[0]):
        counts[step[i] - 1] += 1
    start = np.empty(num_steps + 1, dtype=np.int64)
    start[0] = 0
    for t in range(num_steps):
        start[t + 1] = start[t] + counts[t]
    fill = start[:-1].copy()
    for i in range(step.shape[0]):
        t = step[i] - 1
        order[fill[t]] = i
        fill[t] += 1
    return start


def alias_table(weights):
    """Walker/Vose alias tables ``(prob, index)`` for the law ``weights`` (summing to 1).

    Column ``j`` is chosen with probability ``1/N``; it yields ``j`` with probability
    ``prob[j]`` and ``index[j]`` otherwise, so outcome ``t`` has probability ``weights[t]``.
    """
    w = np.asarray(weights, dtype=np.float64)
    N = len(w)
    scaled = w * N
    prob = np.ones(N)
    index = np.arange(N, dtype=np.int64)
    small = [j for j in range(N) if scaled[j] < 1.0]
    large = [j for j in range(N) if scaled[j] >= 1.0]
    while small and large:
        s, big = small.pop(), large[-1]
        prob[s] = scaled[s]
        index[s] = big
        scaled[big] -= 1.0 - scaled[s]
        if scaled[big] < 1.0:
            small.append(large.pop())
    # Leftovers are 1 up to rounding: they keep prob 1 (never aliased).
    return prob, index
