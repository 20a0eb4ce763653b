r"""Adaptive rules on order-2 languages with incremental, truncated keys (SPEC §2, item 4).

A masked position ``i`` between the revealed neighbours ``a < i < b`` (virtual
token ``V`` at ``-1`` and ``L``) has the key of the weights
``w(v) = P^(i-a)[x_a, v] P^(b-i)[v, x_b]`` (:func:`key_of`), so a key only changes
when a token is revealed inside its gap.  Far from a neighbour the factor has
mixed: with the truncation distances ``D_L``, ``D_R`` of :mod:`.adaptive` (read off
the tables by :func:`.powers.mixing_profile`), the sampler scores ``i`` with the
*truncated key*, in which a left factor at distance ``i - a >= D_L`` is replaced
by the reference row ``rho = P^L[0, .]`` and a right factor at distance
``b - i >= D_R`` by the constant 1 (the right edge's factor is exactly 1).  It
is within ``KEY_TOLERANCE`` of the exact key; the bound and what it means for
the law are in :mod:`.adaptive`.

The truncated key depends on ``(i - a, x_a)`` only when ``i - a < D_L``, on
``(b - i, x_b)`` only when ``b - i < D_R``: revealing ``j`` in the gap ``(a, b)``
changes the keys of the positions of ``(a, j)`` within ``D_R`` of ``j`` and those of
``(j, b)`` within ``D_L`` of ``j``, nothing else (``O(D)`` per token; the whole
gap when the chain does not mix within ``L``, ``D = L + 1``).  While the table
``(V + 1) V D_L D_R`` fits (:data:`TABLE_LIMIT`) every truncated key is a lookup
in four tables built once per call (:func:`key_tables`: two-sided, left fan,
right fan, and ``k0`` for both factors far); otherwise keys are computed
(``O(V)`` each).  Keys live in :mod:`.selection`'s tournament tree; the nearest
revealed neighbours of a token come from its bitset.

Tokens are always drawn from the exact ``p_theta(. | x_R)`` of the state before
the step; only the keys are truncated.  After ``q(x_R) = 0`` (SPEC's fallback)
every key is the uniform row's and no key changes any more.
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive import score_key, select
from ngramsim._kernels.steps import MARGIN, TOPK
from ngramsim._kernels.powers import gap_weights
from ngramsim._kernels.reverse import draw_uniform, draw_weights, record_kl, theta_row
from ngramsim._kernels.rng import uniform_pair
from ngramsim._kernels.selection import (
    BLOCK_SHIFT,
    bits_add,
    bits_new,
    bits_pred,
    bits_succ,
    choose,
    tree_fill,
    tree_new,
    work_new,
)

#: Truncated keys are tabulated while ``(V + 1) V D_L D_R`` is at most this (else computed).
TABLE_LIMIT = 2**20


@numba.njit(cache=True)
def key_of(da, xa, db, xb, tables, kparams, w, row):
    """The key of ``p_theta`` built from the gap weights ``(da, xa, db, xb)``; ``kparams = (rule, lam, tau)``.

    ``+inf`` for an impossible gap (zero weights): tables list every pair of end tokens, but
    a reachable state never asks for such a key.
    """
    rule, lam, tau = kparams
    total = gap_weights(da, xa, db, xb, tables, w)
    if total <= 0.0:
        return np.inf
    theta_row(w, total, lam, tau, row)
    return score_key(rule, row)


@numba.njit(cache=True)
def key_tables(tables, kparams, dl, dr):
    """``(two, left, right, k0)``: truncated keys at distances ``da < D_L`` and/or ``db < D_R``.

    Laid out so that the positions of one gap read consecutive entries:
    ``two[xa, xb, da + db, da]`` (both factors near; ``xa = V`` is the left edge),
    ``left[xa, da]`` (right factor far: 1), ``right[xb, D_R - db]`` (left factor far: ``rho``),
    ``k0`` (both far).  Entries of index 0 are unused.
    """
    powers = tables[0]
    length = powers.shape[0] - 1
    V = powers.shape[2]
    w = np.empty(V)
    row = np.empty(V)
    two = np.full((V + 1, V, dl + dr - 1, dl), np.inf)
    left = np.full((V + 1, dl), np.inf)
    right = np.full((V, dr), np.inf)
    for xa in range(V + 1):
        for da in range(1, dl):
            left[xa, da] = key_of(da, xa, 1, V, tables, kparams, w, row)
            for xb in range(V):
                for db in range(1, dr):
                    two[xa, xb, da + db, da] = key_of(da, xa, db, xb, tables, kparams, w, row)
    for xb in range(V):
        for db in range(1, dr):
            right[xb, dr - db] = key_of(length, 0, db, xb, tables, kparams, w, row)
    return two, left, right, key_of(length, 0, 1, V, tables, kparams, w, row)


def truncation(tables, kparams, dl, dr):
    """The truncation bundle ``(two, left, right, limits, k0)`` for distances ``D_L, D_R`` (``L + 1``: never mixed).

    ``limits = [D_L, D_R, tabulated]``, ``k0 = [key with both factors far]``; the tables of
    :func:`key_tables`, or placeholders when they would exceed :data:`TABLE_LIMIT` (then
    keys are computed).  Flat: numba's parallel loops take tuples of arrays, not nested ones.
    """
    V = tables[0].shape[2]
    tabulated = (V + 1) * V * dl * dr <= TABLE_LIMIT
    if tabulated:
        two, left, right, k0 = key_tables(tables, kparams, dl, dr)
    else:
        two, left, right = np.zeros((1, 1, 1, 1)), np.zeros((1, 1)), np.zeros((1, 1))
        k0 = key_tables(tables, kparams, 1, 1)[3]
    return two, left, right, np.array([dl, dr, int(tabulated)], dtype=np.int64), np.array([k0])


@numba.njit(cache=True, inline="always")
def _rescore_tabulated(spans, n, x, tree, two, left, right, limits, far):
    """Rewrite the truncated keys of the runs ``spans[:n] = (lo, hi, a, b)`` (positions of the gap ``(a, b)``,
    in increasing order), then repair the tree once per group of nearby runs.

    A factor is near when ``i - a < D_L`` (left; ``a = -1`` is the edge token ``V``) or
    ``b - i < D_R`` with ``b < L`` (right; the right edge is exactly 1, hence far); far
    factors are the reference's.  The tables are those of :func:`key_tables` (``far = k0``).
    """
    val = tree[0]
    length = x.shape[0]
    V = right.shape[0]
    dl, dr = limits[0], limits[1]
    for m in range(n):
        lo, hi, a, b = spans[m, 0], spans[m, 1], spans[m, 2], spans[m, 3]
        xa = x[a] if a >= 0 else V
        xb = x[b] if b < length else V
        # Four straight runs: near/far left factor (i - a < D_L) times far/near right factor.
        last_near = min(hi, a + dl - 1)
        first_near = b - dr + 1 if xb < V else hi + 1
        for i in range(lo, min(last_near, first_near - 1) + 1):
            val[i] = left[xa, i - a]
        for i in range(max(lo, first_near), last_near + 1):
            val[i] = two[xa, xb, b - a, i - a]
        for i in range(max(lo, last_near + 1), min(hi, first_near - 1) + 1):
            val[i] = far
        for i in range(max(lo, last_near + 1, first_near), hi + 1):
            val[i] = right[xb, i - b + dr]
    # Runs closer than a block share blocks and paths: one repair for them (the positions in
    # between, revealed or unchanged, are merely rescanned).
    m = 0
    while m < n:
        lo, hi = spans[m, 0], spans[m, 1]
        m += 1
        while m < n and spans[m, 0] - hi <= 1 << BLOCK_SHIFT:
            hi = spans[m, 1]
            m += 1
        tree_fill(tree, lo, hi)


@numba.njit(cache=True)
def _rescore_computed(spans, n, x, tree, limits, exact):
    """:func:`_rescore_tabulated` when the keys are not tabulated: ``exact = (tables, kparams, w, row)``."""
    val = tree[0]
    tables, kparams, w, row = exact
    length = x.shape[0]
    V = w.shape[0]
    dl, dr = limits[0], limits[1]
    for m in range(n):
        lo, hi, a, b = spans[m, 0], spans[m, 1], spans[m, 2], spans[m, 3]
        xa = x[a] if a >= 0 else V
        xb = x[b] if b < length else V
        for i in range(lo, hi + 1):
            near_left = i - a < dl
            near_right = xb < V and b - i < dr
            val[i] = key_of(i - a if near_left else length, xa if near_left else 0, b - i if near_right else 1,
                            xb if near_right else V, tables, kparams, w, row)
        tree_fill(tree, lo, hi)


@numba.njit(cache=True, inline="always")
def _changed(sel, k, around, x, reach, limits, spans):
    """After revealing ``sel[:k]``: the runs of masked positions whose truncated key changed, and whether
    ``q(x_R) > 0`` still holds.

    ``around[m] = (a, b)``: the nearest revealed tokens of ``sel[m]`` before the step (the
    nearest ones now are these or neighbouring new tokens).  ``spans[n] = (lo, hi, a, b)``, in
    increasing order: positions ``lo .. hi`` of the gap ``(a, b)`` (``-1``/``L`` = the edges).  For a new token
    ``j`` with neighbours ``a < j < b``: the positions of ``(a, j)`` within ``D_R`` of ``j``
    (unless ``a`` is new: then they were listed with ``a``) and those of ``(j, b)`` within
    ``D_L`` of ``j`` or, when ``b`` is new, within ``D_R`` of ``b``.  ``q(x_R) > 0`` iff every pair
    of consecutive revealed tokens is possible (``reach``; only the new pairs can fail).
    Returns ``(n, ok)``.
    """
    length = x.shape[0]
    edge = reach.shape[1] - 1
    dl, dr = limits[0], limits[1]
    n = 0
    ok = True
    for m in range(k):
        j = sel[m]
        a = sel[m - 1] if m > 0 and sel[m - 1] > around[m, 0] else around[m, 0]
        b = sel[m + 1] if m + 1 < k and sel[m + 1] < around[m, 1] else around[m, 1]
        # The new pairs (a, j) and (j, b); the first revealed token pairs with the left edge V.
        ok = ok and (reach[j + 1, edge, x[j]] if a < 0 else reach[j - a, x[a], x[j]])
        ok = ok and (b == length or reach[b - j, x[j], x[b]])
        if m == 0 or sel[m - 1] != a:
            lo = max(a + 1, j - dr + 1)
            if lo < j:
                spans[n, 0], spans[n, 1], spans[n, 2], spans[n, 3] = lo, j - 1, a, j
                n += 1
        hi = min(b - 1, j + dl - 1)
        low = b  # the run within D_R of b when b is new too, if apart from (j, hi]
        if m + 1 < k and sel[m + 1] == b:
            low = max(j + 1, b - dr + 1)
            if low <= hi + 1:
                hi = b - 1
                low = b
        if j < hi:
            spans[n, 0], spans[n, 1], spans[n, 2], spans[n, 3] = j + 1, hi, j, b
            n += 1
        if low < b:
            spans[n, 0], spans[n, 1], spans[n, 2], spans[n, 3] = low, b - 1, j, b
            n += 1
    return n, ok


@numba.njit(cache=True)
def adaptive_local2(key, rule_spec, tables, trunc, params, x, per_step, stats, debug):
    """One sequence under an adaptive rule ``rule_spec = (rule, sizes, gamma)``; returns ``(fallback used, steps)``.

    ``trunc`` from :func:`truncation`.  ``debug`` (float64[4], or empty): when given, every
    step also checks the maintained keys against a full recomputation and the choice
    against :func:`.adaptive.select` (see :func:`_debug_step`).
    """
    rule, sizes, gamma = rule_spec
    lam, tau = params
    two, left, right, limits, k0 = trunc
    powers, powers_t, reach, inexact = tables[0], tables[1], tables[2], tables[3]
    length = x.shape[0]
    V = powers.shape[2]
    exact = (tables, (rule, lam, tau), np.empty(V), np.empty(V))
    w, row = exact[2], exact[3]
    x[:] = -1
    tree = tree_new(length)
    val = tree[0]
    words, offsets = bits_new(length)
    work = work_new(length)
    sel = np.empty(length, dtype=np.int64)
    around = np.empty((length, 2), dtype=np.int64)
    spans = np.empty((2 * length + 1, 4), dtype=np.int64)
    expected = np.empty(length, dtype=np.int64)
    spans[0, 0], spans[0, 1], spans[0, 2], spans[0, 3] = 0, length - 1, -1, length
    n = 1
    failed = False
    revealed = 0
    t = 0
    count = 0
    while revealed < length:
        if limits[2]:
            _rescore_tabulated(spans, n, x, tree, two, left, right, limits, k0[0])
        else:
            _rescore_computed(spans, n, x, tree, limits, exact)
        size = sizes[t] if (rule == TOPK or rule == MARGIN) else 0
        stream = (key, length, t + 1)
        if debug.shape[0] > 0:
            count = _debug_step(x, val, exact, limits, (rule, size, gamma, stream), failed, expected, debug)
        k = choose(rule, size, gamma, stream, tree, work, sel)
        if debug.shape[0] > 0 and (count != k or np.any(expected[:k] != sel[:k])):
            debug[2] += 1.0
        t += 1
        per_step[t - 1] = k
        revealed += k
        for m in range(k):  # draw from p_theta of the state before the step
            q = sel[m]
            u = uniform_pair(key, q)[1]
            if failed:
                x[q] = draw_uniform(V, u)
                continue
            a = bits_pred(words, offsets, q)
            b = bits_succ(words, offsets, q, length)
            around[m, 0], around[m, 1] = a, b
            da, xa, db, xb = q - a, (x[a] if a >= 0 else V), b - q, (x[b] if b < length else V)
            if inexact[0, da, xa] or inexact[1, db, xb]:
                total = gap_weights(da, xa, db, xb, tables, w)
            else:  # gap_weights' float branch, written out (its tuple argument costs reference counts per call)
                total = 0.0
                for c in range(V):
                    w[c] = powers[da, xa, c] * powers_t[db, xb, c]
                    total += w[c]
            record_kl(stats, theta_row(w, total, lam, tau, row))
            x[q] = draw_weights(row, row.sum(), u)
        for m in range(k):
            bits_add(words, offsets, sel[m])
        n = 0
        if not failed:
            n, ok = _changed(sel, k, around, x, reach, limits, spans)
            if not ok:  # SPEC's fallback from now on: every key is the uniform row's
                failed = True
                n = 0
                uniform_key = score_key(rule, np.full(V, 1.0 / V))
                for i in range(length):
                    if x[i] < 0:
                        val[i] = uniform_key
                tree_fill(tree, 0, length - 1)
    return failed, t


@numba.njit(cache=True)
def _debug_step(x, val, exact, limits, choice, failed, expected, debug):
    """Compare the maintained keys with a full recomputation; return :func:`.adaptive.select`'s choice on them.

    ``debug[0]`` = max ``|maintained - exact|``, ``debug[1]`` += positions whose key uses a
    truncated factor (a neighbour at distance ``>= D``), ``debug[3]`` += 1 (steps checked).  ``expected[:count]`` receives the
    positions ``select`` picks from the maintained keys (``count`` returned).
    """
    tables, kparams, w, row = exact
    length = x.shape[0]
    V = w.shape[0]
    masked = np.flatnonzero(x < 0)
    uniform_key = score_key(kparams[0], np.full(V, 1.0 / V))
    right = np.full(length, length)
    nxt = length
    for i in range(length - 1, -1, -1):
        right[i] = nxt
        if x[i] >= 0:
            nxt = i
    a = -1
    for i in range(length):
        if x[i] >= 0:
            a = i
            continue
        b = right[i]
        if failed:
            truth = uniform_key
        else:
            truth = key_of(i - a, x[a] if a >= 0 else V, b - i, x[b] if b < length else V, tables, kparams, w, row)
        debug[0] = max(debug[0], abs(val[i] - truth))
        if not failed and (i - a >= limits[0] or (b < length and b - i >= limits[1])):
            debug[1] += 1.0
    debug[3] += 1.0
    rule, size, gamma, stream = choice
    return select(rule, val[masked], masked, size, gamma, stream, expected)


@numba.njit(cache=True)
def debug_local2(key, rule_spec, tables, trunc, params, length, num_steps):
    """:func:`adaptive_local2` with the per-step checks on (tests): ``(x, per_step, stats, debug, fallback, steps)``."""
    x = np.empty(length, dtype=np.int64)
    per_step = np.zeros(num_steps, dtype=np.int64)
    stats = np.zeros(3)
    debug = np.zeros(4)
    failed, steps = adaptive_local2(key, rule_spec, tables, trunc, params, x, per_step, stats, debug)
    return x, per_step, stats, debug, failed, steps
