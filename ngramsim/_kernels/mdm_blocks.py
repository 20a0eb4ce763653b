"""The MDM sampler for any order by forward-backward on windows (SPEC §2).

``n - 1`` consecutive revealed tokens fix the context, so they separate the
chain: a masked position's conditional depends only on its *window* (see
:func:`ngramsim._kernels.forward_backward.window_bounds`).  Each step runs one
scaled forward-backward pass per window that holds positions to reveal, and
after the step one forward pass per window holding a new token checks that
``q(x_R) > 0`` still holds (a window's evidence is a factor of ``q(x_R)``; the
others are unchanged).  ``local=False`` uses the whole sequence as the window
every time: the naive reference the benchmarks compare against.
"""

import numba
import numpy as np

from ngramsim._kernels.forward_backward import (
    backward_scaled,
    forward_scaled,
    position_weights,
    start_context,
    window_bounds,
)
from ngramsim._kernels.reverse import draw_theta, draw_uniform, record_kl, theta_row
from ngramsim._kernels.rng import uniform
from ngramsim._kernels.steps import assign_steps, positions_by_step


@numba.njit(cache=True, inline="always")
def _window(x, i, m, local):
    if local:
        return window_bounds(x, i, m)
    return 0, x.shape[0] - 1


@numba.njit(cache=True)
def _weights_for(x, positions, chain, m, local, A, B, rows, totals):
    """Weights ∝ ``q(x_i = . | x_R)`` into ``rows[j]`` (sum ``totals[j]``) for the masked ``positions[j]`` (ascending).

    One window per group of positions: forward only up to the group's last position,
    backward only down to its first.  Returns ``(ok, shared)``: ``ok`` is False if a
    window has zero evidence (impossible while ``q(x_R) > 0``), ``shared`` whether some
    window holds two or more of the positions.
    """
    transitions, successor, initial = chain
    V = transitions.shape[1]
    n = positions.shape[0]
    shared = False
    j = 0
    while j < n:
        lo, hi = _window(x, positions[j], m, local)
        end = j
        while end < n and positions[end] <= hi:
            end += 1
        shared = shared or end - j >= 2
        ctx = start_context(x, lo, m, V)
        first = m if ctx < 0 else lo
        if not local:  # the naive reference recomputes the whole window every time
            head, tail = hi, first
        else:
            head, tail = positions[end - 1] - 1, max(first, positions[j] + 1)
        if forward_scaled(x, lo, head, ctx, transitions, successor, initial, m, A) == -np.inf:
            return False, shared
        backward_scaled(x, hi, tail, transitions, successor, B)
        while j < end:
            totals[j] = position_weights(positions[j], lo, ctx, transitions, successor, m, A, B, rows[j])
            j += 1
    return True, shared


@numba.njit(cache=True)
def check_blocks(x, new, chain, m, local, A):
    """Whether ``q(x_R) > 0`` still holds after revealing ``new`` (ascending): evidence of each window holding one."""
    transitions, successor, initial = chain
    V = transitions.shape[1]
    prev_lo = -1
    prev_hi = -1
    for i in new:
        lo, hi = _window(x, i, m, local)
        if lo == prev_lo and hi == prev_hi:
            continue
        prev_lo, prev_hi = lo, hi
        ctx = start_context(x, lo, m, V)
        if forward_scaled(x, lo, hi, ctx, transitions, successor, initial, m, A) == -float("inf"):
            return False
    return True


@numba.njit(cache=True)
def fixed_blocks(key, kind, alias_prob, alias_index, sizes, step_of, num_steps, chain, m, local, lam, tau,
                 x, per_step, stats, step, order, perm, A, B, rows, totals, row):
    """One sequence under a non-adaptive schedule; returns whether the fallback was used."""
    length = x.shape[0]
    V = row.shape[0]
    x[:] = -1
    assign_steps(kind, key, alias_prob, alias_index, sizes, step_of, perm, step)
    start = positions_by_step(step, num_steps, per_step, order)
    failed = False
    for t in range(num_steps):
        members = order[start[t]:start[t + 1]]
        shared = True
        if not failed:
            ok, shared = _weights_for(x, members, chain, m, local, A, B, rows, totals)
            failed = not ok  # unreachable while q(x_R) > 0; kept so a numerical zero cannot crash
        for j in range(members.shape[0]):
            i = members[j]
            u = uniform(key, length + i)
            if failed:
                x[i] = draw_uniform(V, u)
            else:
                v, kl = draw_theta(rows[j], totals[j], lam, tau, u, row)
                x[i] = v
                record_kl(stats, kl)
        # With lambda = 0 a token is drawn inside the support of q(. | x_R), so a window that
        # receives a single new token keeps positive evidence: only shared windows need a check.
        if not failed and members.shape[0] > 0 and (shared or lam > 0.0 or not local):
            failed = not check_blocks(x, members, chain, m, local, A)
    return failed


@numba.njit(cache=True)
def conditionals_blocks(x, chain, m, local, lam, tau, rows, kls, masked, A, B, w_rows, totals):
    """``rows[i] = p_theta(. | x_R)``, ``kls[i] = KL(q || p_theta)`` at every masked ``i`` (listed in ``masked``)."""
    ok, _ = _weights_for(x, masked, chain, m, local, A, B, w_rows, totals)
    for j in range(masked.shape[0]):
        i = masked[j]
        if ok:
            kls[i] = theta_row(w_rows[j], totals[j], lam, tau, rows[i])
        else:
            rows[i, :] = 1.0 / rows.shape[1]
            kls[i] = 0.0
    return ok
