"""The MDM sampler for any order by forward-backward on windows (SPEC §2).

``n - 1`` consecutive revealed tokens fix the context, so they separate the
chain: a masked position's conditional depends only on its *window* (see
:func:`ngramsim._kernels.forward_backward.window_bounds`).  Each step runs one
scaled forward-backward pass per window that holds positions to reveal, and
after the step one forward pass per window holding a new token checks that
``q(x_R) > 0`` still holds (a window's evidence is a factor of ``q(x_R)``; the
others are unchanged).

Only the stretch of a window that carries evidence costs a pass: after the
last revealed token of a window the backward message is 1, and before the
first revealed token of a window at the sequence start the forward message is
the prefix law of the context chain, tabulated once per ``(language, L)``
(``prefix``).  So ``ar`` costs ``O(K V)`` per token at every order.  Passes that
lose precision (see ``TRUST`` in :mod:`.forward_backward`) are redone in log
space, so support is always decided exactly.

``model = (P, successor, mu, chain_trusted, m, local)``; ``local=False`` uses the
whole sequence as the window every time and no shortcuts: the naive reference the
benchmarks compare against.  ``edges = (first revealed, last revealed)`` positions
(``L`` and ``-1`` when nothing is revealed); ``prefix = (table, limit)``: row ``k - m``
of ``table`` is the law of ``s_{k-1}`` without evidence, trusted for ``k <= limit``
(``limit = -1``: no table).
"""

import numba
import numpy as np

from ngramsim._kernels.forward_backward import (
    backward_scaled,
    forward_run,
    forward_start,
    position_weights,
    position_weights_log,
    start_context,
    window_bounds,
    window_log,
)
from ngramsim._kernels.reverse import draw_theta, draw_uniform, record_kl
from ngramsim._kernels.rng import draw_stream
from ngramsim._kernels.steps import assign_steps, occupied_steps


@numba.njit(cache=True)
def _window(x, i, model, edges):
    """``(lo, hi, start context, last revealed position in the window or first - 1)``."""
    P, _, _, _, m, local = model
    V = P.shape[1]
    length = x.shape[0]
    if local:
        lo, hi = window_bounds(x, i, m, edges[0], edges[1])
    else:
        lo, hi = 0, length - 1
    ctx = start_context(x, lo, m, V)
    first = m if ctx < 0 else lo
    if not local or hi < length - 1:
        last = hi  # a window closed on the right ends with a run of revealed tokens
    else:
        last = max(min(edges[1], hi), first - 1)
    return lo, hi, ctx, last


@numba.njit(cache=True)
def _forward_to(x, lo, ctx, head, model, edges, prefix, A):
    """Forward rows up to ``A[head + 1]``; return ``(start row index, log evidence, trusted)``.

    A window at the start whose first revealed token ``f`` lies at or after ``m`` begins at
    the tabulated prefix law of ``s_{j-1}``, ``j = min(f, head + 1)``; rows ``A[k]`` for
    ``k < j`` are then read from the table instead.
    """
    P, succ, mu, _, m, local = model
    table, limit = prefix
    if local and ctx < 0:
        j = max(min(edges[0], head + 1), m)
        if edges[0] >= m and j <= limit:
            A[j, :] = table[j - m]
            log_ev, trusted = forward_run(x, j, head, P, succ, A)
            return j, log_ev, trusted
    log_ev, trusted = forward_start(x, lo, ctx, P, mu, m, A)
    first = m if ctx < 0 else lo
    if log_ev == -np.inf:
        return first, log_ev, trusted
    rest, trusted_run = forward_run(x, first, head, P, succ, A)
    return first, log_ev + rest, trusted and trusted_run


@numba.njit(cache=True)
def _group_scaled(x, members, window, model, edges, prefix, A, B, w_rows, totals):
    """Scaled weights of ``members`` (ascending, one window); return 1 (done), 0 (zero evidence) or -1 (untrusted)."""
    P, succ, _, chain_trusted, m, _ = model
    lo, hi, ctx, last = window
    table = prefix[0]
    first = m if ctx < 0 else lo
    head = max(members[-1] - 1, first - 1)
    start, log_ev, trusted = _forward_to(x, lo, ctx, head, model, edges, prefix, A)
    if log_ev == -np.inf:
        return 0 if trusted and chain_trusted else -1
    # Backward from the last revealed token of the window (the message after it is 1).
    tail = max(first, members[0] + 1)
    trusted = backward_scaled(x, last, tail, P, succ, B) and trusted and chain_trusted
    if not trusted:
        return -1
    for j in range(members.shape[0]):
        i = members[j]
        if i < first:
            alpha = A[m] if start == m else table[0]
            beta = B[m]
        else:
            alpha = A[i] if i >= start else table[i - m]
            beta = B[i + 1] if i <= last else B[last + 1]
        totals[j] = position_weights(i, first, P, succ, m, alpha, beta, w_rows[j])
    return 1


@numba.njit(cache=True)
def _group_log(x, members, window, model, w_rows, totals):
    """Log-space weights of ``members`` over their whole window; return whether its evidence is positive."""
    P, succ, mu, _, m, _ = model
    lo, hi, ctx, _ = window
    first = m if ctx < 0 else lo
    K = P.shape[0]
    la = np.empty((hi - first + 2, K))
    lb = np.empty((hi - first + 2, K))
    if window_log(x, lo, hi, ctx, P, succ, mu, m, la, lb) == -np.inf:
        return False
    for j in range(members.shape[0]):
        totals[j] = position_weights_log(members[j], first, P, succ, m, la, lb, w_rows[j])
    return True


@numba.njit(cache=True)
def weights_for(x, positions, model, edges, prefix, A, B, w_rows, totals):
    """Weights ∝ ``q(x_i = . | x_R)`` into ``w_rows[j]`` (sum ``totals[j]``) for the masked ``positions[j]`` (ascending).

    One window per group of positions.  Returns ``(ok, shared)``: ``ok`` is False if a
    window has zero evidence (``q(x_R) = 0``, decided exactly), ``shared`` whether some
    window holds two or more of the positions.
    """
    n = positions.shape[0]
    shared = False
    j = 0
    while j < n:
        window = _window(x, positions[j], model, edges)
        end = j
        while end < n and positions[end] <= window[1]:
            end += 1
        shared = shared or end - j >= 2
        members = positions[j:end]
        lo, _, ctx, last = window
        if ctx >= 0 and end - j == 1 and members[0] == lo and last < lo:
            # Right after a run of n-1 revealed tokens with nothing revealed further on (every
            # step of `ar`): the conditional is the transition row of that context, exactly.
            P = model[0]
            total = 0.0
            for v in range(P.shape[1]):
                w_rows[j, v] = P[ctx, v]
                total += P[ctx, v]
            totals[j] = total
            j = end
            continue
        status = _group_scaled(x, members, window, model, edges, prefix, A, B, w_rows[j:end], totals[j:end])
        if status < 0:
            status = 1 if _group_log(x, members, window, model, w_rows[j:end], totals[j:end]) else 0
        if status == 0:
            return False, shared
        j = end
    return True, shared


@numba.njit(cache=True)
def check_windows(x, new, model, edges, prefix, A):
    """Whether ``q(x_R) > 0`` still holds after revealing ``new`` (ascending; ``edges`` include them).

    The evidence of each window holding a new token, up to its last revealed token; in log
    space when the scaled pass is untrusted.
    """
    P, succ, mu, chain_trusted, m, _ = model
    K = P.shape[0]
    prev_lo = -1
    prev_hi = -1
    for i in new:
        # The window around a new token (scanned without it) holds every factor of q(x_R) that
        # involves it; the windows of two new tokens may nest, so only exact repeats are skipped.
        lo, hi, ctx, last = _window(x, i, model, edges)
        if lo == prev_lo and hi == prev_hi:
            continue
        prev_lo, prev_hi = lo, hi
        _, log_ev, trusted = _forward_to(x, lo, ctx, last, model, edges, prefix, A)
        if not (trusted and chain_trusted):
            first = m if ctx < 0 else lo
            la = np.empty((last - first + 2, K))
            lb = np.empty((last - first + 2, K))
            log_ev = window_log(x, lo, last, ctx, P, succ, mu, m, la, lb)
        if log_ev == -np.inf:
            return False
    return True


@numba.njit(cache=True)
def fixed_windows(key, schedule, model, params, prefix, x, per_step, stats, scratch):
    """One sequence under a non-adaptive schedule; returns whether the fallback was used.

    ``schedule = (kind, alias_prob, alias_index, sizes, step_of, num_steps, block)``, ``params =
    (lam, tau)``, ``scratch = (step, order, perm, A, B, rows, totals, row, schedule_u, value_u)``;
    ``per_step`` (2, W) receives the sizes and 1-based steps of the occupied steps.
    """
    kind, alias_prob, alias_index, sizes, step_of, num_steps, block = schedule
    lam, tau = params
    step, order, perm, A, B, rows, totals, row, schedule_u, value_u = scratch
    local = model[5]
    length = x.shape[0]
    V = row.shape[0]
    x[:] = -1
    draw_stream(key, schedule_u, value_u)
    assign_steps(kind, schedule_u, alias_prob, alias_index, sizes, step_of, block, perm, step)
    occupied, start = occupied_steps(step, num_steps, per_step[0], per_step[1], order)  # empty steps skipped
    failed = False
    first_rev = length
    last_rev = -1
    for t in range(occupied):
        members = order[start[t]:start[t + 1]]
        shared = True
        if not failed:
            ok, shared = weights_for(x, members, model, (first_rev, last_rev), prefix, A, B, rows, totals)
            failed = not ok  # exact: q(x_R) = 0 cannot reach here, but a user oracle could
        for j in range(members.shape[0]):
            i = members[j]
            u = value_u[i]
            if failed:
                x[i] = draw_uniform(V, u)
            else:
                v, kl = draw_theta(rows[j], totals[j], lam, tau, u, row)
                x[i] = v
                record_kl(stats, kl)
        first_rev = min(first_rev, members[0])
        last_rev = max(last_rev, members[-1])
        # With lambda = 0 a token is drawn inside the support of q(. | x_R), so a window that
        # receives a single new token keeps positive evidence: only shared windows need a check.
        if not failed and (shared or lam > 0.0 or not local):
            failed = not check_windows(x, members, model, (first_rev, last_rev), prefix, A)
    return failed
