"""Adaptive unmasking rules (SPEC §2, item 4): scores and selection with random tie-breaking.

Rules are expressed as keys sorted ascending: ``topk`` uses ``-max_v p(v)``,
``margin`` ``-(p_(1) - p_(2))``, ``eb``/``esum`` the entropy of ``p``.
Keys within ``TIE`` of the selection boundary are tied; the remaining slots
are filled uniformly at random among them (partial Fisher-Yates with the
step's tie-breaking uniforms).
"""

import math

import numba
import numpy as np

from ngramsim._kernels.rng import tie_counter, uniform

TOPK, MARGIN, EB, ESUM = 3, 4, 5, 6
TIE = 1e-12


@numba.njit(cache=True)
def score_key(rule, p):
    """Ascending selection key of a predictive row ``p`` under ``rule``."""
    if rule == TOPK:
        return -p.max()
    if rule == MARGIN:
        first = -1.0
        second = -1.0
        for v in range(p.shape[0]):
            if p[v] > first:
                second = first
                first = p[v]
            elif p[v] > second:
                second = p[v]
        return -(first - second)
    h = 0.0
    for v in range(p.shape[0]):
        if p[v] > 0.0:
            h -= p[v] * math.log(p[v])
    return h


@numba.njit(cache=True)
def _split(rule, keys, candidates, size, gamma, sure, tied):
    """How many to reveal (``k``), the positions surely in (``sure``), and the tied ones at the boundary.

    ``keys[j]`` scores ``candidates[j]`` (masked positions, ascending).  The count ``k``:
    ``topk``/``margin``: ``min(size, #candidates)``; ``eb``: the largest ``k >= 1`` with
    ``sum_{j<k} H_(j) <= gamma + TIE``; ``esum``: the smallest ``k`` with
    ``sum_{j<=k} H_(j) > gamma + TIE`` (all if none).  Keys below ``b - TIE`` (``b`` the
    ``k``-th smallest) are in; the remaining ``k - #sure`` are drawn uniformly among keys
    within ``TIE`` of ``b``.  Returns ``(k, #sure, #tied)``.
    """
    n = candidates.shape[0]
    ranked = np.sort(keys)
    if rule == TOPK or rule == MARGIN:
        k = min(size, n)
    elif rule == EB:
        k = 1
        acc = 0.0
        for j in range(1, n):
            acc += ranked[j - 1]
            if acc <= gamma + TIE:
                k = j + 1
            else:
                break
    else:
        k = n
        acc = 0.0
        for j in range(n):
            acc += ranked[j]
            if acc > gamma + TIE:
                k = j + 1
                break
    bound = ranked[k - 1]
    num_sure = 0
    num_tied = 0
    for j in range(n):
        if keys[j] < bound - TIE:
            sure[num_sure] = candidates[j]
            num_sure += 1
        elif keys[j] <= bound + TIE:
            tied[num_tied] = candidates[j]
            num_tied += 1
    return k, num_sure, num_tied


@numba.njit(cache=True)
def select(rule, keys, candidates, size, gamma, stream, out):
    """Choose the positions to reveal (see :func:`_split`); write them ascending to ``out``, return how many.

    ``stream = (key, length, step)``: tied positions are drawn by a partial Fisher-Yates
    shuffle with the step's tie-breaking uniforms (:func:`.rng.tie_counter`).
    """
    key, length, step = stream
    n = candidates.shape[0]
    tied = np.empty(n, dtype=np.int64)
    k, chosen, num_tied = _split(rule, keys, candidates, size, gamma, out, tied)
    for j in range(k - chosen):
        pick = j + int(uniform(key, tie_counter(length, step, j)) * (num_tied - j))
        if pick >= num_tied:
            pick = num_tied - 1
        tmp = tied[j]
        tied[j] = tied[pick]
        tied[pick] = tmp
        out[chosen + j] = tied[j]
    out[:k].sort()
    return k


@numba.njit(cache=True)
def select_sets(rule, keys, candidates, size, gamma):
    """Every reveal set the rule can choose, each equally likely: ``(sets, k, number of sets)``.

    ``sets[e, :k]`` is the sure positions plus one ``(k - #sure)``-subset of the tied ones.
    """
    n = candidates.shape[0]
    sure = np.empty(n, dtype=np.int64)
    tied = np.empty(n, dtype=np.int64)
    k, num_sure, num_tied = _split(rule, keys, candidates, size, gamma, sure, tied)
    need = k - num_sure
    count = 1
    for j in range(need):
        count = count * (num_tied - j) // (j + 1)
    sets = np.empty((count, max(k, 1)), dtype=np.int64)
    comb = np.arange(max(need, 1))
    for e in range(count):
        sets[e, :num_sure] = sure[:num_sure]
        for j in range(need):
            sets[e, num_sure + j] = tied[comb[j]]
        sets[e, :k].sort()
        j = need - 1  # next combination in lexicographic order
        while j >= 0 and comb[j] == num_tied - need + j:
            j -= 1
        if j >= 0:
            comb[j] += 1
            for l in range(j + 1, need):
                comb[l] = comb[l - 1] + 1
    return sets, k, count
