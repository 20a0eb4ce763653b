"""Step assignment for non-adaptive schedules (SPEC §2), from counter-based uniforms."""

import numba
import numpy as np

# Schedule kind codes, the one definition (the public ``ngramsim.schedules`` re-exports them):
# non-adaptive kinds (this module), then the adaptive rules (:mod:`.adaptive`).
BERNOULLI, COUNTS, ORDER, TOPK, MARGIN, EB, ESUM = range(7)
# LLaDA's low-confidence remasking: every masked position is drawn, the most confident are kept.
LOWCONF = 7
# Semi-autoregressive blocks (``blocks:B:uniform:N``): count steps whose random positions stay in
# the current block of ``B`` positions, blocks left to right.
BLOCKS = 8
# ReMDM-style remasking (``remdm:N:eta``): revealed tokens may be remasked and drawn again.
REMDM = 9


@numba.njit(cache=True)
def assign_steps(kind, u, alias_prob, alias_index, sizes, step_of, block, perm, out):
    """Fill ``out[i]`` with the 1-based step at which position ``i`` is revealed.

    ``u`` holds the sequence's schedule uniforms (:func:`.rng.draw_stream`).

    * Bernoulli: step ``t`` with probability ``w_t``, by Walker's alias method on one
      uniform ``u[i]``: ``j = floor(N u)``, then ``j`` if ``N u - j < alias_prob[j]``
      else ``alias_index[j]`` (tables from :func:`alias_table`).
    * Counts: a uniformly random permutation (Fisher-Yates with ``u[i]``,
      ``i = 0 .. L-2``); its first ``s_1`` entries get step 1, the next ``s_2`` step 2, ...
    * Blocks (``block = B``): the same, with the Fisher-Yates swaps kept inside each block
      ``[bB, min((b+1)B, L))``, so the permutation lists block 0's positions in random order,
      then block 1's, ...; as each block's steps have sizes summing to its length, step ``t``
      reveals positions of its own block only.
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
    elif kind == COUNTS or kind == BLOCKS:
        for i in range(length):
            perm[i] = i
        width = block if kind == BLOCKS else length
        for i in range(length - 1):
            end = min((i // width + 1) * width, length)  # end of i's block
            j = i + int(u[i] * (end - i))
            if j >= end:
                j = end - 1
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


@numba.njit(cache=True)
def occupied_steps(step, num_steps, counts, ids, order):
    """Relabel the steps that reveal something ``1 .. K`` in order and sort positions by them.

    An empty step changes nothing (no token is drawn, the state stays), so the samplers
    run only the ``K <= min(N, L)`` occupied steps, in ``O(L)`` time and memory when
    ``N <= 2L`` and ``O(L log L)`` otherwise, never ``O(N)`` per sequence.  On return
    ``step[i]`` is the rank of position ``i``'s step, ``ids[k-1]`` the original (1-based)
    step of rank ``k`` and ``counts[k-1]`` its size, and ``order`` lists positions by rank
    (by position within a rank); returns ``(K, start)`` with rank ``k`` revealing
    ``order[start[k-1]:start[k]]``.  ``counts`` and ``ids`` need ``min(N, L)`` entries.
    """
    length = step.shape[0]
    K = 0
    if num_steps <= 2 * length:
        full = np.zeros(num_steps, dtype=np.int64)
        for i in range(length):
            full[step[i] - 1] += 1
        rank = np.empty(num_steps, dtype=np.int64)
        for t in range(num_steps):
            if full[t] > 0:
                K += 1
                rank[t] = K
                ids[K - 1] = t + 1
        for i in range(length):
            step[i] = rank[step[i] - 1]
    else:
        # Sort (step, position) pairs packed into one integer: steps are bounded by
        # MAX_BERNOULLI_STEPS, so step * L + i fits an int64.
        packed = np.empty(length, dtype=np.int64)
        for i in range(length):
            packed[i] = step[i] * length + i
        packed.sort()
        previous = -1
        for k in range(length):
            t = packed[k] // length
            if t != previous:
                K += 1
                ids[K - 1] = t
                previous = t
            step[packed[k] - t * length] = K
    start = positions_by_step(step, K, counts[:K], order)
    return K, start


@numba.njit(cache=True)
def next_combination(comb, k, n):
    """Advance ``comb[:k]`` to the next k-subset of ``range(n)`` in lexicographic order; False when done.

    Enumerates the reveal sets of a step: a count step's ``s``-subsets (exact engine) and the
    tied positions an adaptive rule may take (:func:`.adaptive.select_sets`).
    """
    j = k - 1
    while j >= 0 and comb[j] == n - k + j:
        j -= 1
    if j < 0:
        return False
    comb[j] += 1
    for l in range(j + 1, k):
        comb[l] = comb[l - 1] + 1
    return True


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
