r"""Forward-backward with evidence on the context chain (SPEC §1-§2).

Tokens are ``x[i] >= 0`` where revealed and ``-1`` where masked.  With
``m = n - 1 >= 1``, the state after position ``i >= m-1`` is the context
``s_i = idx(x_{i-m+1} .. x_i)``; ``s_{m-1} ~ mu`` and ``s_i = successor[s_{i-1}, x_i]``
with probability ``P[s_{i-1}, x_i]``.  A *window* ``[lo, hi]`` starts either at
the sequence start (``ctx0 = -1``: the initial context is drawn from ``mu``,
constrained by the revealed tokens among ``x_0 .. x_{m-1}``) or right after
``m`` consecutive revealed tokens (``ctx0`` = their context index), and ends at
``hi``; ``P(evidence in window | ctx0)`` is its evidence.

Two variants with identical semantics: *scaled* (each forward vector
normalised to sum 1, the log of the normalisers accumulated) used by the
samplers, and *log-space* (log-sum-exp) for the public API; tests hold them to
the same answers.

Array ``A`` holds ``alpha_i`` in row ``i + 1`` for ``i = first - 1 .. hi``, where
``first = m`` for a window at the start and ``first = lo`` otherwise; ``B``
holds ``beta_i`` (rescaled) in the same rows.
"""

import math

import numba
import numpy as np


@numba.njit(cache=True)
def window_bounds(x, i, m):
    """``(lo, hi)`` of the window around position ``i``.

    ``lo - 1`` ends the nearest run of ``m`` revealed tokens left of ``i`` (``lo = 0``
    if none: the window starts with ``mu``; a run gives ``lo >= m``); ``hi`` ends the
    nearest run of ``m`` revealed tokens right of ``i`` (``L - 1`` if none).  Factors
    outside the window do not involve tokens masked inside it.
    """
    length = x.shape[0]
    lo = 0
    run = 0
    p = i - 1
    while p >= 0:
        if x[p] >= 0:
            run += 1
            if run == m:
                lo = p + m
                break
        else:
            run = 0
        p -= 1
    hi = length - 1
    run = 0
    p = i + 1
    while p < length:
        if x[p] >= 0:
            run += 1
            if run == m:
                hi = p
                break
        else:
            run = 0
        p += 1
    return lo, hi


@numba.njit(cache=True)
def start_context(x, lo, m, vocab_size):
    """The context index of the ``m`` revealed tokens before ``lo``, or -1 for a window at the start."""
    if lo == 0:
        return -1
    c = 0
    for p in range(lo - m, lo):
        c = c * vocab_size + x[p]
    return c


@numba.njit(cache=True)
def forward_scaled(x, lo, hi, start_context, transitions, successor, initial, m, A):
    """Scaled forward pass over ``[lo, hi]``; return ``log P(evidence in lo..hi | start)`` (``-inf`` if 0).

    ``hi`` may stop short of the window's end when only ``alpha`` up to there is needed.
    ``start_context < 0``: start from ``mu`` restricted to the revealed initial tokens;
    otherwise start from that context index (the ``m`` tokens before ``lo``).
    """
    K, V = transitions.shape
    first = m if start_context < 0 else lo
    row = A[first]
    if start_context < 0:
        total = 0.0
        for s in range(K):
            weight = initial[s]
            if weight > 0.0:
                rest = s
                for j in range(m - 1, -1, -1):
                    if x[j] >= 0 and x[j] != rest % V:
                        weight = 0.0
                        break
                    rest //= V
            row[s] = weight
            total += weight
    else:
        row[:] = 0.0
        row[start_context] = 1.0
        total = 1.0
    if total <= 0.0:
        return -np.inf
    log_evidence = math.log(total)
    for s in range(K):
        row[s] /= total
    for i in range(first, hi + 1):
        prev = A[i]
        cur = A[i + 1]
        cur[:] = 0.0
        xi = x[i]
        for s in range(K):
            a = prev[s]
            if a == 0.0:
                continue
            if xi >= 0:
                cur[successor[s, xi]] += a * transitions[s, xi]
            else:
                for v in range(V):
                    cur[successor[s, v]] += a * transitions[s, v]
        total = 0.0
        for s in range(K):
            total += cur[s]
        if total <= 0.0:
            return -np.inf
        log_evidence += math.log(total)
        scale = 1.0 / total  # one division per position, not K
        for s in range(K):
            cur[s] *= scale
    return log_evidence


@numba.njit(cache=True)
def backward_scaled(x, hi, down_to, transitions, successor, B):
    """Backward pass from ``hi``: ``B[hi + 1] = 1`` and ``B[i] ∝ beta_{i-1}`` for ``i = hi .. down_to``
    (each row rescaled to maximum 1)."""
    K, V = transitions.shape
    B[hi + 1, :] = 1.0
    for i in range(hi, down_to - 1, -1):
        nxt = B[i + 1]
        cur = B[i]
        xi = x[i]
        top = 0.0
        for s in range(K):
            acc = 0.0
            if xi >= 0:
                acc = transitions[s, xi] * nxt[successor[s, xi]]
            else:
                for v in range(V):
                    acc += transitions[s, v] * nxt[successor[s, v]]
            cur[s] = acc
            if acc > top:
                top = acc
        if top > 0.0:
            scale = 1.0 / top
            for s in range(K):
                cur[s] *= scale


@numba.njit(cache=True)
def position_weights(i, lo, start_context, transitions, successor, m, A, B, w):
    """Weights ∝ ``q(x_i = . | evidence)`` for a masked ``i`` in the window; return their sum.

    ``i >= first``: ``sum_s alpha_{i-1}(s) P[s, v] beta_i(successor[s, v])``;
    ``i < m`` (window at the start): ``sum_{s: digit_i(s) = v} alpha_{m-1}(s) beta_{m-1}(s)``.
    """
    K, V = transitions.shape
    first = m if start_context < 0 else lo
    w[:] = 0.0
    if i >= first:
        prev = A[i]
        nxt = B[i + 1]
        for s in range(K):
            a = prev[s]
            if a == 0.0:
                continue
            for v in range(V):
                w[v] += a * transitions[s, v] * nxt[successor[s, v]]
    else:
        scale = 1
        for _ in range(m - 1 - i):
            scale *= V
        for s in range(K):
            w[(s // scale) % V] += A[m, s] * B[m, s]
    return w.sum()


@numba.njit(cache=True)
def conditional_marginals_scaled(x, transitions, successor, initial, m, out):
    """``out[i] = q(x_i = . | x_R)`` for every position (one-hot where revealed); return ``log q(x_R)``.

    When ``q(x_R) = 0`` the masked rows are uniform (SPEC §2's fallback law) and ``-inf`` is returned.
    """
    length = x.shape[0]
    K, V = transitions.shape
    A = np.empty((length + 1, K))
    B = np.empty((length + 1, K))
    log_evidence = forward_scaled(x, 0, length - 1, -1, transitions, successor, initial, m, A)
    if log_evidence > -np.inf:
        backward_scaled(x, length - 1, m, transitions, successor, B)
    for i in range(length):
        if x[i] >= 0:
            out[i, :] = 0.0
            out[i, x[i]] = 1.0
        elif log_evidence == -np.inf:
            out[i, :] = 1.0 / V
        else:
            total = position_weights(i, 0, -1, transitions, successor, m, A, B, out[i])
            for v in range(V):
                out[i, v] /= total
    return log_evidence


@numba.njit(cache=True, inline="always")
def _logaddexp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@numba.njit(cache=True)
def conditional_marginals_log(x, log_transitions, successor, log_initial, m, out):
    """Log-space twin of :func:`conditional_marginals_scaled` (same outputs, no rescaling)."""
    length = x.shape[0]
    K, V = log_transitions.shape
    la = np.full((length + 1, K), -np.inf)
    lb = np.full((length + 1, K), -np.inf)
    for s in range(K):
        weight = log_initial[s]
        rest = s
        for j in range(m - 1, -1, -1):
            if x[j] >= 0 and x[j] != rest % V:
                weight = -np.inf
            rest //= V
        la[m, s] = weight
    for i in range(m, length):
        xi = x[i]
        for s in range(K):
            a = la[i, s]
            if a == -np.inf:
                continue
            for v in range(V):
                if xi >= 0 and v != xi:
                    continue
                t = successor[s, v]
                la[i + 1, t] = _logaddexp(la[i + 1, t], a + log_transitions[s, v])
    log_evidence = -np.inf
    for s in range(K):
        log_evidence = _logaddexp(log_evidence, la[length, s])
    lb[length, :] = 0.0
    for i in range(length - 1, m - 1, -1):
        xi = x[i]
        for s in range(K):
            acc = -np.inf
            for v in range(V):
                if xi >= 0 and v != xi:
                    continue
                acc = _logaddexp(acc, log_transitions[s, v] + lb[i + 1, successor[s, v]])
            lb[i, s] = acc
    lw = np.empty(V)
    for i in range(length):
        if x[i] >= 0:
            out[i, :] = 0.0
            out[i, x[i]] = 1.0
            continue
        if log_evidence == -np.inf:
            out[i, :] = 1.0 / V
            continue
        lw[:] = -np.inf
        if i >= m:
            for s in range(K):
                a = la[i, s]
                if a == -np.inf:
                    continue
                for v in range(V):
                    lw[v] = _logaddexp(lw[v], a + log_transitions[s, v] + lb[i + 1, successor[s, v]])
        else:
            scale = 1
            for _ in range(m - 1 - i):
                scale *= V
            for s in range(K):
                v = (s // scale) % V
                lw[v] = _logaddexp(lw[v], la[m, s] + lb[m, s])
        for v in range(V):
            out[i, v] = math.exp(lw[v] - log_evidence)
    return log_evidence
