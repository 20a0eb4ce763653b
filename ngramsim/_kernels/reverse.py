"""The reverse model's per-position law and draws (SPEC §2).

These run once per token in the samplers' hot loops, so they are inlined:
a call that passes arrays costs reference counting on every token.

``p_theta(v) = (1 - lam) T_tau[r](v) + lam / V`` with ``T_tau[r] ∝ r^(1/tau)`` on the
support of ``r`` (log space), where ``r ∝ w`` are conditional weights.
"""

import math

import numba
import numpy as np


@numba.njit(cache=True, forceinline=True)
def draw_weights(w, total, u):
    """Smallest ``v`` with ``u * total < sum_{j<=v} w_j`` among ``w_v > 0``; the last positive ``v`` if rounding leaves none."""
    target = u * total
    acc = 0.0
    last = -1
    for v in range(w.shape[0]):
        if w[v] > 0.0:
            acc += w[v]
            last = v
            if target < acc:
                return v
    return last


@numba.njit(cache=True, forceinline=True)
def draw_uniform(vocab_size, u):
    """The fallback draw: uniform on ``{0, ..., V-1}``."""
    v = int(u * vocab_size)
    return v if v < vocab_size else vocab_size - 1


@numba.njit(cache=True, forceinline=True)
def theta_row(w, total, lam, tau, out):
    """Fill ``out`` with ``p_theta`` built from weights ``w`` (``total = sum w > 0``); return ``KL(r || p_theta)``.

    ``r = w / total``; ``KL = sum_{r_v > 0} r_v (log r_v - log p_theta(v))`` (0 when ``lam = 0, tau = 1``).
    """
    V = w.shape[0]
    if tau == 1.0:
        for v in range(V):
            out[v] = (1.0 - lam) * (w[v] / total) + lam / V
    else:
        top = -np.inf
        for v in range(V):
            if w[v] > 0.0:
                s = math.log(w[v]) / tau
                if s > top:
                    top = s
        norm = 0.0
        for v in range(V):
            if w[v] > 0.0:
                e = math.exp(math.log(w[v]) / tau - top)
                out[v] = e
                norm += e
            else:
                out[v] = 0.0
        for v in range(V):
            out[v] = (1.0 - lam) * (out[v] / norm) + lam / V
    if lam == 0.0 and tau == 1.0:
        return 0.0
    return kl_weights(w, total, out)


@numba.njit(cache=True)
def theta_rows(rows, lam, tau, out):
    """:func:`theta_row` on every row of ``rows`` (2-D, each with positive sum) into ``out``."""
    for i in range(rows.shape[0]):
        theta_row(rows[i], rows[i].sum(), lam, tau, out[i])
    return out


@numba.njit(cache=True, forceinline=True)
def kl_weights(w, total, p):
    """``KL(r || p) = sum_{r_v > 0} r_v (log r_v - log p_v)`` for ``r = w / total``: the one home of
    the learning KL (``inf`` if ``p_v = 0 < r_v``; round-off below 0 is clipped)."""
    kl = 0.0
    for v in range(w.shape[0]):
        if w[v] > 0.0:
            r = w[v] / total
            if p[v] <= 0.0:
                return np.inf
            kl += r * (math.log(r) - math.log(p[v]))
    return max(kl, 0.0)


@numba.njit(cache=True, forceinline=True)
def draw_theta(w, total, lam, tau, u, row):
    """Draw from ``p_theta`` built from ``w``; return ``(v, KL(r || p_theta))``.  ``row`` is float64[V] scratch."""
    if lam == 0.0 and tau == 1.0:
        return draw_weights(w, total, u), 0.0
    kl = theta_row(w, total, lam, tau, row)
    return draw_weights(row, row.sum(), u), kl


@numba.njit(cache=True, forceinline=True)
def record_kl(stats, kl):
    """Accumulate one revealed token's learning KL into ``stats = [sum, count, max]``."""
    stats[0] += kl
    stats[1] += 1.0
    if kl > stats[2]:
        stats[2] = kl
