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
normalised to sum 1, the log of the normalisers accumulated; each backward
vector rescaled to maximum 1) and *log-space* (log-sum-exp).  Tests hold them to
the same answers.  The scaled passes report whether they stayed *trusted*:
every positive entry that entered them was at least ``TRUST = 2^-300``, so
that every product of a forward entry, a transition probability and a
backward entry is a normal float64 and no positive quantity was rounded to 0.
Then the support of every weight they produce is exact.  An untrusted window
(a state whose relative weight decays below ``TRUST``, e.g. a transient state
far from the evidence) is recomputed in log space, where zeros are exact: the
sampler never mistakes an underflow for ``q(x_R) = 0``.

Array ``A`` holds ``alpha_i`` in row ``i + 1`` for ``i = first - 1 .. hi``, where
``first = m`` for a window at the start and ``first = lo`` otherwise; ``B``
holds ``beta_i`` (rescaled) in the same rows.
"""

import math

import numba
import numpy as np

#: Scaled passes are trusted while every positive entry entering them is at least this
#: (products of three such entries stay normal float64 numbers).
TRUST = 2.0**-300


def chain_trusted(transitions, initial):
    """Whether every positive entry of ``P`` and ``mu`` is at least :data:`TRUST` (else scaled passes never are)."""
    P = np.asarray(transitions)
    mu = np.asarray(initial)
    return bool(np.all((P == 0) | (P >= TRUST)) and np.all((mu == 0) | (mu >= TRUST)))


@numba.njit(cache=True)
def window_bounds(x, i, m, first_rev, last_rev):
    """``(lo, hi)`` of the window around position ``i``.

    ``lo - 1`` ends the nearest run of ``m`` revealed tokens left of ``i`` (``lo = 0``
    if none: the window starts with ``mu``; a run gives ``lo >= m``); ``hi`` ends the
    nearest run of ``m`` revealed tokens right of ``i`` (``L - 1`` if none).  Factors
    outside the window do not involve tokens masked inside it.  ``first_rev`` and
    ``last_rev`` are the first and last revealed positions (``L`` and ``-1`` if none):
    the scans stop there, so a window open on one side costs nothing to find.
    """
    length = x.shape[0]
    lo = 0
    run = 0
    p = i - 1
    while p >= first_rev:
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
    while p <= last_rev:
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
def _initial_weight(x, s, m, vocab_size, weight):
    """``weight`` if the context ``s`` agrees with the revealed tokens among ``x_0 .. x_{m-1}``, else 0."""
    rest = s
    for j in range(m - 1, -1, -1):
        if x[j] >= 0 and x[j] != rest % vocab_size:
            return 0.0
        rest //= vocab_size
    return weight


@numba.njit(cache=True)
def forward_start(x, lo, start_context, transitions, initial, m, A):
    """The first forward row ``A[first]`` of a window (``first = m`` at the start, else ``lo``); return ``(log total, trusted)``.

    ``start_context < 0``: ``mu`` restricted to the revealed initial tokens; otherwise the
    one-hot law of that context index (the ``m`` tokens before ``lo``).
    """
    K, V = transitions.shape
    first = m if start_context < 0 else lo
    row = A[first]
    if start_context >= 0:
        row[:] = 0.0
        row[start_context] = 1.0
        return 0.0, True
    total = 0.0
    for s in range(K):
        weight = initial[s]
        if weight > 0.0:
            weight = _initial_weight(x, s, m, V, weight)
        row[s] = weight
        total += weight
    if total <= 0.0:
        return -np.inf, True
    trusted = True
    for s in range(K):
        row[s] /= total
        if 0.0 < row[s] < TRUST:
            trusted = False
    return math.log(total), trusted


@numba.njit(cache=True)
def forward_run(x, start, hi, transitions, successor, A):
    """Scaled forward from the row ``A[start]`` over positions ``start .. hi``; return ``(log evidence, trusted)``.

    ``A[i + 1]`` becomes the law of ``s_i`` given the evidence, normalised; the evidence
    is ``-inf`` when a normaliser is 0, which is exact only if ``trusted``.
    """
    K, V = transitions.shape
    log_evidence = 0.0
    trusted = True
    for i in range(start, hi + 1):
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
            return -np.inf, trusted
        log_evidence += math.log(total)
        scale = 1.0 / total  # one division per position, not K
        for s in range(K):
            cur[s] *= scale
            if 0.0 < cur[s] < TRUST:
                trusted = False
    return log_evidence, trusted


@numba.njit(cache=True)
def forward_scaled(x, lo, hi, start_context, transitions, successor, initial, m, A):
    """Scaled forward pass over the window ``[lo, hi]``: :func:`forward_start` then :func:`forward_run`.

    Returns ``(log P(evidence in lo..hi | start), trusted)``.
    """
    first = m if start_context < 0 else lo
    head, trusted = forward_start(x, lo, start_context, transitions, initial, m, A)
    if head == -np.inf:
        return head, trusted
    rest, trusted_run = forward_run(x, first, hi, transitions, successor, A)
    return head + rest, trusted and trusted_run


@numba.njit(cache=True)
def backward_scaled(x, hi, down_to, transitions, successor, B):
    """Backward pass from ``hi``: ``B[hi + 1] = 1`` and ``B[i] ∝ beta_{i-1}`` for ``i = hi .. down_to``
    (each row rescaled to maximum 1); return whether it stayed trusted."""
    K, V = transitions.shape
    B[hi + 1, :] = 1.0
    trusted = True
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
                if 0.0 < cur[s] < TRUST:
                    trusted = False
    return trusted


@numba.njit(cache=True)
def position_weights(i, first, transitions, successor, m, alpha, beta, w):
    """Weights ∝ ``q(x_i = . | evidence)`` for a masked ``i`` of a window whose forward starts at ``first``; return their sum.

    ``i >= first``: ``sum_s alpha(s) P[s, v] beta(successor[s, v])`` with ``alpha`` the
    forward row of ``s_{i-1}`` and ``beta`` the backward row of ``s_i``;
    ``i < m`` (window at the start): ``sum_{s: digit_i(s) = v} alpha(s) beta(s)`` with
    both rows those of ``s_{m-1}``.
    """
    K, V = transitions.shape
    w[:] = 0.0
    if i >= first:
        for s in range(K):
            a = alpha[s]
            if a == 0.0:
                continue
            for v in range(V):
                w[v] += a * transitions[s, v] * beta[successor[s, v]]
    else:
        scale = 1
        for _ in range(m - 1 - i):
            scale *= V
        for s in range(K):
            w[(s // scale) % V] += alpha[s] * beta[s]
    return w.sum()


@numba.njit(cache=True, inline="always")
def _logaddexp(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@numba.njit(cache=True, inline="always")
def _log(p):
    return math.log(p) if p > 0.0 else -np.inf


@numba.njit(cache=True)
def window_log(x, lo, hi, start_context, transitions, successor, initial, m, la, lb):
    """Log-space forward and backward over the window ``[lo, hi]``; return the window's log evidence.

    Rows are relative to ``first`` (``m`` for a window at the start, else ``lo``):
    ``la[k]`` is ``log alpha`` of ``s_{first-1+k}``, ``lb[k]`` ``log beta`` of the same
    state, for ``k = 0 .. hi - first + 1`` (``la``, ``lb`` need that many rows).  No
    rescaling, so ``-inf`` entries are exact zeros.
    """
    K, V = transitions.shape
    first = m if start_context < 0 else lo
    n = hi - first + 1
    for s in range(K):
        if start_context < 0:
            la[0, s] = _log(_initial_weight(x, s, m, V, initial[s]))
        else:
            la[0, s] = 0.0 if s == start_context else -np.inf
    for k in range(n):
        xi = x[first + k]
        la[k + 1, :] = -np.inf
        for s in range(K):
            a = la[k, s]
            if a == -np.inf:
                continue
            for v in range(V):
                if (xi >= 0 and v != xi) or transitions[s, v] <= 0.0:
                    continue
                t = successor[s, v]
                la[k + 1, t] = _logaddexp(la[k + 1, t], a + math.log(transitions[s, v]))
    lb[n, :] = 0.0
    for k in range(n - 1, -1, -1):
        xi = x[first + k]
        for s in range(K):
            acc = -np.inf
            for v in range(V):
                if (xi >= 0 and v != xi) or transitions[s, v] <= 0.0:
                    continue
                acc = _logaddexp(acc, math.log(transitions[s, v]) + lb[k + 1, successor[s, v]])
            lb[k, s] = acc
    log_evidence = -np.inf
    for s in range(K):
        log_evidence = _logaddexp(log_evidence, la[n, s])
    return log_evidence


@numba.njit(cache=True)
def position_weights_log(i, first, transitions, successor, m, la, lb, w):
    """:func:`position_weights` from the log rows of :func:`window_log`: ``w = exp(log w - max)``; return the sum.

    Zero weights are exact zeros, and the positive ones are exact to rounding.
    """
    K, V = transitions.shape
    w[:] = -np.inf
    if i >= first:
        k = i - first
        for s in range(K):
            a = la[k, s]
            if a == -np.inf:
                continue
            for v in range(V):
                if transitions[s, v] > 0.0:
                    w[v] = _logaddexp(w[v], a + math.log(transitions[s, v]) + lb[k + 1, successor[s, v]])
    else:
        scale = 1
        for _ in range(m - 1 - i):
            scale *= V
        for s in range(K):
            v = (s // scale) % V
            w[v] = _logaddexp(w[v], la[0, s] + lb[0, s])
    top = w.max()
    total = 0.0
    for v in range(V):
        w[v] = math.exp(w[v] - top) if w[v] > -np.inf else 0.0
        total += w[v]
    return total


@numba.njit(cache=True)
def log_evidence(x, transitions, successor, initial, m, trusted_chain):
    """``log q(x_R)`` of a whole sequence (``-inf`` exactly when ``q(x_R) = 0``): scaled, or log space if untrusted."""
    length = x.shape[0]
    K = transitions.shape[0]
    A = np.empty((length + 1, K))
    value, trusted = forward_scaled(x, 0, length - 1, -1, transitions, successor, initial, m, A)
    if trusted and trusted_chain:
        return value
    la = np.empty((length - m + 2, K))
    lb = np.empty((length - m + 2, K))
    return window_log(x, 0, length - 1, -1, transitions, successor, initial, m, la, lb)


@numba.njit(cache=True, inline="always")
def _fixed_row(x, i, log_ev, out):
    """Rows that need no pass: one-hot at a revealed position, SPEC's uniform fallback when ``q(x_R) = 0``."""
    if x[i] >= 0:
        out[i, :] = 0.0
        out[i, x[i]] = 1.0
        return True
    if log_ev == -np.inf:
        out[i, :] = 1.0 / out.shape[1]
        return True
    return False


@numba.njit(cache=True)
def conditional_marginals_scaled(x, transitions, successor, initial, m, trusted_chain, out):
    """``out[i] = q(x_i = . | x_R)`` for every position (one-hot where revealed); return ``log q(x_R)``.

    When ``q(x_R) = 0`` the masked rows are uniform (SPEC §2's fallback law) and ``-inf`` is
    returned.  An untrusted scaled pass is redone in log space (:func:`conditional_marginals_log`).
    """
    length = x.shape[0]
    K, V = transitions.shape
    A = np.empty((length + 1, K))
    B = np.empty((length + 1, K))
    log_ev, trusted = forward_scaled(x, 0, length - 1, -1, transitions, successor, initial, m, A)
    if trusted and log_ev > -np.inf:
        trusted = backward_scaled(x, length - 1, m, transitions, successor, B)
    if not (trusted and trusted_chain):
        return conditional_marginals_log(x, transitions, successor, initial, m, out)
    for i in range(length):
        if not _fixed_row(x, i, log_ev, out):
            j = max(i, m)
            total = position_weights(i, m, transitions, successor, m, A[j], B[j if i < m else i + 1], out[i])
            for v in range(V):
                out[i, v] /= total
    return log_ev


@numba.njit(cache=True)
def conditional_marginals_log(x, transitions, successor, initial, m, out):
    """Log-space twin of :func:`conditional_marginals_scaled` (same outputs, no rescaling)."""
    length = x.shape[0]
    K, V = transitions.shape
    la = np.empty((length - m + 2, K))
    lb = np.empty((length - m + 2, K))
    log_ev = window_log(x, 0, length - 1, -1, transitions, successor, initial, m, la, lb)
    for i in range(length):
        if not _fixed_row(x, i, log_ev, out):
            total = position_weights_log(i, m, transitions, successor, m, la, lb, out[i])
            for v in range(V):
                out[i, v] /= total
    return log_ev
