"""Local conditional entropies ``H(X_i | X_{-i})`` from the ``2n - 1`` tokens around ``i``."""

import math

import numba
import numpy as np


@numba.njit(cache=True, inline="always")
def _conditional_entropy_term(probs, total):
    """``-sum_v p_v log(p_v / total)``: joint masses ``p_v`` over the values of ``x_i`` of one configuration."""
    acc = 0.0
    if total > 0.0:
        for v in range(probs.shape[0]):
            if probs[v] > 0.0:
                acc -= probs[v] * math.log(probs[v] / total)
    return acc


@numba.njit(cache=True)
def local_conditional_entropies(laws, transitions, successor, initial, m, out):
    """``out[i] = H(X_i | X_{-i})`` for ``i = 0 .. L-1`` (``m = n - 1 >= 1``).

    ``q(x_i | x_{-i})`` involves only the factors whose context or token is ``x_i``: the
    transitions ``j = i .. i+m`` (and ``mu`` when ``i < m``, where ``x_i`` is a digit of the
    initial context).  The joint law of the start context and those tokens is
    ``law(start) * prod P``; for each configuration of everything but ``x_i`` the conditional
    normalises over ``x_i``.  ``laws[r]`` is the law of ``c_{m + r}``.
    """
    K, V = transitions.shape
    L = out.shape[0]
    probs = np.empty(V)
    for i in range(L):
        acc = 0.0
        if i >= m:
            after = min(m, L - 1 - i)  # tokens after x_i whose context holds x_i
            for c in range(K):
                weight = laws[i - m, c]
                if weight == 0.0:
                    continue
                for code in range(V**after):
                    total = 0.0
                    for y0 in range(V):
                        p = weight * transitions[c, y0]
                        ctx = successor[c, y0]
                        rest = code
                        for _ in range(after):
                            y = rest % V
                            rest //= V
                            p *= transitions[ctx, y]
                            ctx = successor[ctx, y]
                        probs[y0] = p
                        total += p
                    acc += _conditional_entropy_term(probs, total)
        else:
            steps = min(i + m, L - 1) - m + 1  # transitions j = m .. i+m see x_i in their context
            scale = V ** (m - 1 - i)
            for base in range(K):
                if (base // scale) % V != 0:
                    continue
                for code in range(V ** max(steps, 0)):
                    total = 0.0
                    for v in range(V):
                        c = base + v * scale
                        p = initial[c]
                        ctx = c
                        rest = code
                        for _ in range(steps):
                            y = rest % V
                            rest //= V
                            p *= transitions[ctx, y]
                            ctx = successor[ctx, y]
                        probs[v] = p
                        total += p
                    acc += _conditional_entropy_term(probs, total)
        out[i] = acc
    return out


@numba.njit(cache=True)
def gap_row_entropies(transitions, length, out):
    """``out[d, u] = H(P^d[u, .])`` (nats) for ``d = 0 .. length-1``, one ``V x V`` power at a time."""
    V = transitions.shape[0]
    power = np.eye(V)
    nxt = np.empty((V, V))
    for d in range(length):
        for u in range(V):
            acc = 0.0
            for v in range(V):
                p = power[u, v]
                if p > 0.0:
                    acc -= p * math.log(p)
            out[d, u] = acc
        for u in range(V):
            for v in range(V):
                s = 0.0
                for c in range(V):
                    s += power[u, c] * transitions[c, v]
                nxt[u, v] = s
        power[:, :] = nxt
    return out


@numba.njit(cache=True)
def phi_from_gaps(h_first, gap_terms, out, k_first, k_stop):
    """``out[k] = sum_a h_first[a] P(min A = a) + sum_d gap_terms[d] C(L-d-1, k-2) / C(L, k)`` for ``|A| = k``,
    ``k_first <= k < k_stop`` (``1 <= k_first``; callers split ``1 .. L`` into chunks to stay interruptible).

    ``P(min A = a) = C(L-1-a, k-1) / C(L, k)`` for a uniformly random ``k``-subset of ``0 .. L-1``;
    a pair ``(a, a + d)`` is consecutive in ``A`` with probability ``C(L-d-1, k-2) / C(L, k)``
    (``gap_terms[d]`` already sums over ``a``; index 0 unused).  Both are evaluated by their
    ratio recurrences in ``a`` and ``d``: ``O(L^2)`` multiply-adds, relative error ``O(L eps)``.
    """
    L = h_first.shape[0]
    for k in range(k_first, k_stop):
        acc = 0.0
        w = k / L  # P(min A = 0)
        for a in range(L - k + 1):
            acc += w * h_first[a]
            w *= (L - a - k) / (L - 1 - a) if a < L - 1 else 0.0
        if k >= 2:
            v = k * (k - 1) / (L * (L - 1.0))  # gap d = 1
            for d in range(1, L - k + 2):
                acc += v * gap_terms[d]
                v *= (L - d - k + 1) / (L - d - 1) if d < L - 1 else 0.0
        out[k] = acc
    return out
