r"""Adaptive unmasking rules (SPEC §2, item 4): scores, counting and selection with random tie-breaking.

Rules are expressed as keys sorted ascending: ``topk`` uses ``-max_v p(v)``,
``margin`` ``-(p_(1) - p_(2))``, ``eb``/``esum`` the entropy of ``p``.  With the
ranked keys ``r_0 <= r_1 <= ...`` and ``S_j = r_0 + ... + r_{j-1}``, the rank ``j``
joins the reveal set while :func:`takes` says so (the one home of each rule's
counting logic); ``b`` is the last key taken (the ``k``-th smallest).  Keys below
``b - TIE`` are in (*sure*); the remaining ``k - #sure`` slots are filled uniformly
at random among the keys within ``TIE`` of ``b`` (*tied*, listed by ascending
position), by a partial Fisher-Yates shuffle driven by the step's tie-breaking
uniforms ``uniform(key, tie_counter(L, step, j))`` (:func:`draw_ties`).
:func:`select` applies this to an array of keys (the Python paths and the
exact engine's :func:`select_sets`); the samplers' incremental selection
(:mod:`.selection`) feeds the same functions from a stream of keys in
ascending order, so every path draws the same sets from the same keys.

**Truncated keys (order-2 sampler, :mod:`.adaptive_local2`).**  A masked position
with nearest revealed neighbours ``a < i < b`` has weights
``w(v) = P^(i-a)[x_a, v] P^(b-i)[v, x_b]`` (virtual token ``V`` at ``-1`` and ``L``).
Once a chain has mixed, far factors hardly depend on the neighbour: ``D_L`` is the
least distance such that for *all* ``d >= D_L`` (up to ``L``) and all rows ``a``
(the left edge included) ``P^d[a, .]`` has the zero pattern of a fixed reference
row ``rho = P^L[0, .]`` and entrywise ratios to it within ``[1/(1+eta), 1+eta]``;
``D_R`` the least distance with every column ``P^d[., b]`` positive and
``max/min <= 1 + eta`` for all ``d >= D_R``.  Both are read off the actual float
tables (:func:`.powers.mixing_profile`); rows or columns flagged ``inexact`` never
count as mixed, and a chain that does not mix within ``L`` (periodic, reducible,
transient structure) gets ``D = infinity``: no truncation.  The sampler scores
position ``i`` with the *truncated key*: the key computed with a far left factor
(``i - a >= D_L``) replaced by ``rho`` and a far right factor (``b - i >= D_R``) by
the constant 1.  Each replaced factor is within ``(1+eta)^(+-1)`` entrywise of the
exact one up to a constant, so the weights are within ``(1+eta)^(+-2)`` up to a
constant; normalising, tempering (``r^(1/tau)``, renormalised) and mixing with
``lam/V`` keep every ``p_theta(v)`` within a factor ``e^(+-K)`` of the exact one,
``K = 4 log(1+eta) / tau``.  Hence
``|delta max-prob| <= e^K - 1``, ``|delta margin| <= 2 (e^K - 1)`` and
``|delta entropy| <= (e^K - 1) log V + K`` (write ``p' = p e^g``, ``|g| <= K``:
``H' - H = -sum (p' - p) log p - sum p' g``).  ``eta`` is the largest value whose
bound is at most ``KEY_TOLERANCE / 2`` (:func:`truncation_eta`; the other half is
left for rounding), so every truncated key is within ``delta = KEY_TOLERANCE =
1e-13`` (a tenth of ``TIE``) of the exact key of the same state.

*What this means for the law.*  The truncated keys are a fixed function of the
revealed tokens, and the sampler's selection is exactly SPEC's rule applied to
them (tested against :func:`select`).  Since every truncated key is within
``delta`` of the exact one, the ``k``-th smallest key moves by at most ``delta``
too, so every comparison of the rule (``key < b - TIE``, ``|key - b| <= TIE``)
comes out the same for exact and truncated keys unless some difference of two
exact keys lies within ``2 delta`` of ``+-TIE``; and for ``eb``/``esum`` the count
``k`` is the same unless some partial sum of the ``j`` smallest exact entropies
lies within ``j delta`` of ``gamma + TIE``.  Off these events the selection, hence
the law, equals SPEC's rule on the exact keys.  Rounding in the key
computations already makes the sampler paths agree only off events of this
kind (of width ~1e-16); truncation widens them to ~1e-13.
"""

import math

import numba
import numpy as np

from ngramsim._kernels.rng import tie_counter, uniform
from ngramsim._kernels.steps import MARGIN, TOPK, next_combination

TIE = 1e-12
#: Bound on ``|truncated key - exact key|`` (``delta``): a tenth of the tie tolerance.
KEY_TOLERANCE = 1e-13


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
def takes(rule, j, acc, size, gamma):
    """Whether the key of rank ``j`` (0-based) joins the reveal set, given ``acc = S_j``, the sum of the ``j`` smallest.

    ``topk``/``margin``: the ``size`` smallest.  ``eb``: the largest ``k >= 1`` with
    ``S_{k-1} <= gamma + TIE``, i.e. rank ``j`` joins iff ``S_j <= gamma + TIE``.  ``esum``:
    the smallest ``k`` with ``S_k > gamma + TIE`` (all if none), i.e. again rank ``j``
    joins iff ``S_j <= gamma + TIE`` (entropies are non-negative, so ``S`` is
    non-decreasing and both rules stop at the first crossing).  Rank 0 always joins.
    """
    if rule == TOPK or rule == MARGIN:
        return j < size
    return j == 0 or acc <= gamma + TIE


@numba.njit(cache=True)
def classify(keys, positions, n, bound, sure, tied):
    """Split ``positions[:n]`` (scored ``keys[:n]``) into ``sure`` (key ``< bound - TIE``) and ``tied``
    (``|key - bound| <= TIE``), keeping their order; larger keys are dropped.  Returns ``(#sure, #tied)``."""
    num_sure = 0
    num_tied = 0
    for j in range(n):
        if keys[j] < bound - TIE:
            sure[num_sure] = positions[j]
            num_sure += 1
        elif keys[j] <= bound + TIE:
            tied[num_tied] = positions[j]
            num_tied += 1
    return num_sure, num_tied


@numba.njit(cache=True)
def draw_ties(stream, need, tied, num_tied, out, start):
    """Write ``need`` of ``tied[:num_tied]`` (ascending positions) to ``out[start:]``: partial Fisher-Yates.

    ``stream = (key, length, step)``: draw ``j`` swaps ``tied[j]`` with ``tied[pick]``,
    ``pick = j + floor(u_j (num_tied - j))``, ``u_j = uniform(key, tie_counter(length, step, j))``
    (not computed when one candidate is left: then ``pick = j`` whatever ``u_j``).
    """
    key, length, step = stream
    for j in range(need):
        pick = j  # the last candidate needs no draw: pick = j + floor(u * 1) = j
        if num_tied - j > 1:
            pick = j + int(uniform(key, tie_counter(length, step, j)) * (num_tied - j))
            if pick >= num_tied:
                pick = num_tied - 1
        tmp = tied[j]
        tied[j] = tied[pick]
        tied[pick] = tmp
        out[start + j] = tied[j]


@numba.njit(cache=True)
def _split(rule, keys, candidates, size, gamma, sure, tied):
    """How many to reveal (``k``), the positions surely in (``sure``), and the tied ones at the boundary.

    ``keys[j]`` scores ``candidates[j]`` (masked positions, ascending); ``k`` counts the
    ranks that :func:`takes`.  Returns ``(k, #sure, #tied)``.
    """
    n = candidates.shape[0]
    ranked = np.sort(keys)
    k = 0
    acc = 0.0
    while k < n and takes(rule, k, acc, size, gamma):
        acc += ranked[k]
        k += 1
    num_sure, num_tied = classify(keys, candidates, n, ranked[k - 1], sure, tied)
    return k, num_sure, num_tied


@numba.njit(cache=True)
def select(rule, keys, candidates, size, gamma, stream, out):
    """Choose the positions to reveal (see :func:`_split`); write them ascending to ``out``, return how many.

    ``stream = (key, length, step)``: tied positions are drawn by :func:`draw_ties`.
    """
    n = candidates.shape[0]
    tied = np.empty(n, dtype=np.int64)
    k, chosen, num_tied = _split(rule, keys, candidates, size, gamma, out, tied)
    draw_ties(stream, k - chosen, tied, num_tied, out, chosen)
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
        next_combination(comb, need, num_tied)
    return sets, k, count


def key_error_bound(rule, vocab_size, log_ratio):
    """Worst ``|truncated key - exact key|`` when every ``p_theta(v)`` is within ``e^(+-K)``, ``K = log_ratio``."""
    growth = math.expm1(log_ratio)
    if rule == TOPK:
        return growth
    if rule == MARGIN:
        return 2.0 * growth
    return growth * math.log(vocab_size) + log_ratio


def truncation_eta(rule, vocab_size, tau, delta=KEY_TOLERANCE):
    """The largest ``eta`` whose truncated keys are within ``delta / 2`` of the exact ones (module docstring).

    ``K = 4 log(1 + eta) / tau`` must satisfy ``key_error_bound(K) <= delta / 2``; the
    bound is increasing in ``K``, so ``K`` is found by bisection.
    """
    lo, hi = 0.0, delta
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if key_error_bound(rule, vocab_size, mid) <= 0.5 * delta:
            lo = mid
        else:
            hi = mid
    return math.expm1(lo * tau / 4.0)
