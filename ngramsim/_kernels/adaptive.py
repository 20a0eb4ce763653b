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

from ngramsim._kernels.rng import uniform

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
def select(rule, keys, candidates, size, gamma, key, counter_base, out):
    """Choose the positions to reveal; write them (ascending) to ``out`` and return how many.

    ``keys[j]`` scores ``candidates[j]`` (masked positions, ascending).  The count ``k``:
    ``topk``/``margin``: ``min(size, #candidates)``; ``eb``: the largest ``k >= 1`` with
    ``sum_{j<k} H_(j) <= gamma + TIE``; ``esum``: the smallest ``k`` with
    ``sum_{j<=k} H_(j) > gamma + TIE`` (all if none).  Then every key below
    ``b - TIE`` (``b`` the ``k``-th smallest key) is in, and the rest is drawn
    uniformly among keys within ``TIE`` of ``b`` with ``u(key, counter_base + j)``.
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
    chosen = 0
    tied = np.empty(n, dtype=np.int64)
    num_tied = 0
    for j in range(n):
        if keys[j] < bound - TIE:
            out[chosen] = candidates[j]
            chosen += 1
        elif keys[j] <= bound + TIE:
            tied[num_tied] = candidates[j]
            num_tied += 1
    need = k - chosen
    for j in range(need):
        pick = j + int(uniform(key, counter_base + j) * (num_tied - j))
        if pick >= num_tied:
            pick = num_tied - 1
        tmp = tied[j]
        tied[j] = tied[pick]
        tied[pick] = tmp
        out[chosen] = tied[j]
        chosen += 1
    out[:chosen].sort()
    return chosen
