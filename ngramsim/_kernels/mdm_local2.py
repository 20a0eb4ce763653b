"""The MDM sampler for order-2 languages by local conditionals (SPEC §2).

With order 2 every revealed token separates the chain, so for a masked
position ``i`` with nearest revealed neighbours ``a < i < b`` (revealed at
earlier steps)

    q(x_i = v | x_R) ∝ P^(i-a)[x_a, v] · P^(b-i)[v, x_b],

with ``(mu P^i)[v]`` replacing the left factor when nothing is revealed on the
left and 1 replacing the right factor when nothing is revealed on the right.
The tables hold these powers rescaled (left factors per row, right factors per
column, edge rows by their maximum) so that long distances never underflow;
rescaling by a constant leaves each conditional unchanged and keeps zeros
zero, so ``q(x_R) > 0`` is read off the same tables: it holds iff the first
revealed token has ``(mu P^i)[x_i] > 0`` and every pair of consecutive revealed
tokens ``j < k`` has ``P^(k-j)[x_j, x_k] > 0``.

For non-adaptive schedules the step of every position is drawn first, so the
neighbours come from all-nearest-smaller-values passes in ``O(L)`` and each
token costs ``O(V)``.
"""

import numba
import numpy as np

from ngramsim._kernels.reverse import draw_theta, draw_uniform, record_kl, theta_row
from ngramsim._kernels.rng import uniform
from ngramsim._kernels.steps import assign_steps, positions_by_step


@numba.njit(cache=True)
def _nearest_earlier(step, left, right, left_le, right_le, stack):
    """All nearest smaller values of ``step``: strict (``<``) and non-strict (``<=``), both sides; -1 if none."""
    length = step.shape[0]
    top = 0
    for i in range(length):
        while top > 0 and step[stack[top - 1]] >= step[i]:
            top -= 1
        left[i] = stack[top - 1] if top > 0 else -1
        stack[top] = i
        top += 1
    top = 0
    for i in range(length):
        while top > 0 and step[stack[top - 1]] > step[i]:
            top -= 1
        left_le[i] = stack[top - 1] if top > 0 else -1
        stack[top] = i
        top += 1
    top = 0
    for i in range(length - 1, -1, -1):
        while top > 0 and step[stack[top - 1]] >= step[i]:
            top -= 1
        right[i] = stack[top - 1] if top > 0 else -1
        stack[top] = i
        top += 1
    top = 0
    for i in range(length - 1, -1, -1):
        while top > 0 and step[stack[top - 1]] > step[i]:
            top -= 1
        right_le[i] = stack[top - 1] if top > 0 else -1
        stack[top] = i
        top += 1


@numba.njit(cache=True, inline="always")
def _weights(i, a, b, x, left_tab, right_tab, edge, w):
    """Weights ∝ q(x_i = . | x_a, x_b) (``a``/``b`` = -1: no neighbour on that side); return their sum."""
    V = w.shape[0]
    total = 0.0
    for v in range(V):
        f = left_tab[i - a, x[a], v] if a >= 0 else edge[i, v]
        if b >= 0:
            f *= right_tab[b - i, v, x[b]]
        w[v] = f
        total += f
    return total


@numba.njit(cache=True, inline="always")
def _pair_ok(j, k, x, left_tab, edge):
    """Factor of consecutive revealed tokens ``j < k`` (``j = -1``: ``k`` is the first revealed) is positive."""
    if j < 0:
        return edge[k, x[k]] > 0.0
    return left_tab[k - j, x[j], x[k]] > 0.0


@numba.njit(cache=True)
def fixed_local2(key, kind, weights_cdf, sizes, step_of, num_steps, tables, lam, tau,
                 x, per_step, stats, step, order, perm, near, w, row):
    """One sequence under a non-adaptive schedule; returns whether the fallback was used."""
    left_tab, right_tab, edge = tables
    length = x.shape[0]
    V = w.shape[0]
    assign_steps(kind, key, weights_cdf, sizes, step_of, perm, step)
    start = positions_by_step(step, num_steps, per_step, order)
    left, right, left_le, right_le = near[0], near[1], near[2], near[3]
    _nearest_earlier(step, left, right, left_le, right_le, perm)
    failed = False
    for t in range(num_steps):
        for k in range(start[t], start[t + 1]):
            i = order[k]
            u = uniform(key, length + i)
            if failed:
                x[i] = draw_uniform(V, u)
                continue
            total = _weights(i, left[i], right[i], x, left_tab, right_tab, edge, w)
            v, kl = draw_theta(w, total, lam, tau, u, row)
            x[i] = v
            record_kl(stats, kl)
        if failed:
            continue
        for k in range(start[t], start[t + 1]):
            i = order[k]
            if not _pair_ok(left_le[i], i, x, left_tab, edge):
                failed = True
                break
            j = right_le[i]
            if j >= 0 and step[j] < step[i] and not _pair_ok(i, j, x, left_tab, edge):
                failed = True
                break
    return failed


@numba.njit(cache=True)
def conditionals_local2(x, tables, lam, tau, rows, kls, w, rgt):
    """``rows[i] = p_theta(. | x_R)``, ``kls[i] = KL(q(.|x_R) || p_theta)`` at every masked ``i`` (two sweeps)."""
    left_tab, right_tab, edge = tables
    length = x.shape[0]
    last = -1
    for i in range(length - 1, -1, -1):
        if x[i] >= 0:
            last = i
        else:
            rgt[i] = last
    last = -1
    for i in range(length):
        if x[i] >= 0:
            last = i
        else:
            total = _weights(i, last, rgt[i], x, left_tab, right_tab, edge, w)
            kls[i] = theta_row(w, total, lam, tau, rows[i])


@numba.njit(cache=True)
def check_local2(x, mark, t, tables):
    """Whether ``q(x_R) > 0`` still holds after step ``t`` (``mark[i] = t`` for its positions).

    One sweep over consecutive revealed pairs with at least one new member.
    """
    left_tab, right_tab, edge = tables
    prev = -1
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        if mark[i] == t or (prev >= 0 and mark[prev] == t):
            if not _pair_ok(prev, i, x, left_tab, edge):
                return False
        prev = i
    return True


def local_tables(transitions, initial, length):
    """``(left_tab, right_tab, edge)`` for :func:`sample_order2` (see the module docstring).

    ``left_tab[d] ∝ P^d`` row by row, ``right_tab[d] ∝ P^d`` column by column
    (each scaled to maximum 1), ``edge[i] ∝ mu P^i``; index ``d = 0`` is unused.
    """
    P = np.asarray(transitions, dtype=np.float64)
    V = P.shape[0]
    left = np.zeros((length, V, V))
    right = np.zeros((length, V, V))
    edge = np.zeros((length, V))
    cur_l = np.eye(V)
    cur_r = np.eye(V)
    cur_e = np.asarray(initial, dtype=np.float64).copy()
    edge[0] = cur_e / cur_e.max()
    for d in range(1, length):
        cur_l = cur_l @ P
        cur_l /= cur_l.max(axis=1, keepdims=True)
        cur_r = P @ cur_r
        col_max = cur_r.max(axis=0, keepdims=True)
        cur_r /= np.where(col_max > 0, col_max, 1.0)  # a column of zeros: token unreachable at distance d
        cur_e = cur_e @ P
        cur_e /= cur_e.max()
        left[d] = cur_l
        right[d] = cur_r
        edge[d] = cur_e
    return left, right, edge
