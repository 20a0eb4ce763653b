"""The MDM sampler for order-2 languages by local conditionals (SPEC §2).

With order 2 every revealed token separates the chain, so for a masked
position ``i`` whose nearest revealed neighbours are ``a < i < b``

    q(x_i = v | x_R) ∝ P^(i-a)[x_a, v] · P^(b-i)[v, x_b],

with ``(mu P^i)[v]`` for the left factor when nothing is revealed on the left
and 1 for the right factor when nothing is revealed on the right.
``q(x_R) > 0`` iff the first revealed token has ``(mu P^i)[x_i] > 0`` and every
pair of consecutive revealed tokens ``j < k`` has ``P^(k-j)[x_j, x_k] > 0``.

Tables (:func:`local_tables`) add a virtual token ``V`` at positions ``-1`` and
``L`` so that every conditional is one product without branches:
``powers[d, a] = P^d[a, .]`` and ``powers[d, V] = mu P^(d-1)`` (the left edge);
``powers_t[d, b] = P^d[., b]`` (a contiguous row) and ``powers_t[d, V] = 1``
(nothing revealed on the right).

For non-adaptive schedules the step of every position is drawn first; one
all-nearest-smaller-values pass then gives, for each position, the nearest
neighbours revealed at earlier steps, so each token costs ``O(V)``.
"""

import numba
import numpy as np

from ngramsim._kernels.reverse import draw_theta, draw_uniform, record_kl, theta_row
from ngramsim._kernels.rng import uniform
from ngramsim._kernels.steps import assign_steps, positions_by_step


@numba.njit(cache=True)
def _nearest_earlier(step, left, left_le, right, stack):
    """One stack pass: ``left[i]`` / ``right[i]`` = nearest ``j`` with ``step[j] < step[i]`` on each side,
    ``left_le[i]`` = nearest ``j < i`` with ``step[j] <= step[i]`` (-1 if none)."""
    length = step.shape[0]
    top = 0
    for i in range(length):
        si = step[i]
        while top > 0 and step[stack[top - 1]] > si:
            top -= 1
            right[stack[top]] = i  # the first later position with a smaller step
        if top > 0:
            j = stack[top - 1]
            left_le[i] = j
            # Between j and i every step exceeds step[i]; equal steps share their strict neighbour.
            left[i] = left[j] if step[j] == si else j
        else:
            left_le[i] = -1
            left[i] = -1
        stack[top] = i
        top += 1
    for k in range(top):
        right[stack[k]] = -1


@numba.njit(cache=True, forceinline=True)
def _neighbours(i, a, b, x, vocab_size, length):
    """``(i - a, x_a, b - i, x_b)`` with the virtual token ``V`` at ``a = -1`` and ``b = L``."""
    if a < 0:
        a, xa = -1, vocab_size
    else:
        xa = x[a]
    if b < 0:
        b, xb = length, vocab_size
    else:
        xb = x[b]
    return i - a, xa, b - i, xb


@numba.njit(cache=True, forceinline=True)
def _pair_ok(j, k, x, powers):
    """The factor of consecutive revealed tokens ``j < k`` (``j = -1``: ``k`` is the first revealed) is positive."""
    if j < 0:
        return powers[k + 1, powers.shape[1] - 1, x[k]] > 0.0
    return powers[k - j, x[j], x[k]] > 0.0


@numba.njit(cache=True)
def fixed_local2(key, kind, alias_prob, alias_index, sizes, step_of, num_steps, tables, lam, tau,
                 x, per_step, stats, step, order, perm, near, w, row):
    """One sequence under a non-adaptive schedule; returns whether the fallback was used.

    Positions of a step are drawn in increasing order and each is checked right
    after its draw against its nearest revealed neighbours at or before its step
    (the left one may be of the same step, already drawn); a failure switches
    to the fallback from the next step on.  The exact-model draw is written out
    in the loop: helper calls taking arrays cost reference counting per token.
    """
    powers, powers_t = tables
    length = x.shape[0]
    V = w.shape[0]
    exact = lam == 0.0 and tau == 1.0
    assign_steps(kind, key, alias_prob, alias_index, sizes, step_of, perm, step)
    start = positions_by_step(step, num_steps, per_step, order)
    left, left_le, right = near[0], near[1], near[2]
    _nearest_earlier(step, left, left_le, right, perm)
    failed = False
    for t in range(num_steps):
        fails_next = False
        end = start[t + 1]
        for k in range(start[t], end):
            i = order[k]
            u = uniform(key, length + i)
            if failed:
                x[i] = draw_uniform(V, u)
                continue
            b = right[i]
            da, xa, db, xb = _neighbours(i, left[i], b, x, V, length)
            total = 0.0
            for c in range(V):
                f = powers[da, xa, c] * powers_t[db, xb, c]
                w[c] = f
                total += f
            if exact:
                # Branch-free inverse CDF: v = #{c : w_0 + ... + w_c <= u * total}, capped at
                # the last positive weight (rounding); zero weights are never selected.
                target = u * total
                acc = 0.0
                count = 0
                last = -1
                for c in range(V):
                    acc += w[c]
                    count += acc <= target
                    last = c if w[c] > 0.0 else last
                v = min(count, last)
                if v < 0:  # no weight at all: unreachable while q(x_R) > 0
                    v = draw_uniform(V, u)
                    fails_next = True
                stats[1] += 1.0
            else:
                v, kl = draw_theta(w, total, lam, tau, u, row)
                record_kl(stats, kl)
            x[i] = v
            j = left_le[i]
            if j < 0:
                if powers[i + 1, V, v] <= 0.0:
                    fails_next = True
            elif powers[i - j, x[j], v] <= 0.0:
                fails_next = True
            # The next revealed token to the right is b unless a same-step position comes first.
            if b >= 0 and (k + 1 == end or order[k + 1] > b) and powers[b - i, v, x[b]] <= 0.0:
                fails_next = True
        failed = failed or fails_next
    return failed


@numba.njit(cache=True)
def conditionals_local2(x, tables, lam, tau, rows, kls, w, rgt):
    """``rows[i] = p_theta(. | x_R)``, ``kls[i] = KL(q(.|x_R) || p_theta)`` at every masked ``i`` (two sweeps)."""
    powers, powers_t = tables
    length = x.shape[0]
    V = w.shape[0]
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
            da, xa, db, xb = _neighbours(i, last, rgt[i], x, V, length)
            total = 0.0
            for c in range(V):
                w[c] = powers[da, xa, c] * powers_t[db, xb, c]
                total += w[c]
            kls[i] = theta_row(w, total, lam, tau, rows[i])


@numba.njit(cache=True)
def check_local2(x, mark, t, tables):
    """Whether ``q(x_R) > 0`` still holds after step ``t`` (``mark[i] = t`` for its positions).

    One sweep over consecutive revealed pairs with at least one new member.
    """
    powers = tables[0]
    prev = -1
    for i in range(x.shape[0]):
        if x[i] < 0:
            continue
        if mark[i] == t or (prev >= 0 and mark[prev] == t):
            if not _pair_ok(prev, i, x, powers):
                return False
        prev = i
    return True


@numba.njit(cache=True)
def _fill_tables(transitions, initial, powers, powers_t):
    size, rows, V = powers.shape  # rows = V + 1: the virtual token V
    for a in range(V):
        for b in range(V):
            powers[0, a, b] = 1.0 if a == b else 0.0
            powers_t[0, b, a] = powers[0, a, b]
    powers[0, V, :] = 0.0
    powers_t[:, V, :] = 1.0
    for d in range(1, size):
        for a in range(V):
            for b in range(V):
                acc = 0.0
                for c in range(V):
                    acc += powers[d - 1, a, c] * transitions[c, b]
                powers[d, a, b] = acc
                powers_t[d, b, a] = acc
        for b in range(V):
            if d == 1:
                powers[d, V, b] = initial[b]
            else:
                acc = 0.0
                for c in range(V):
                    acc += powers[d - 1, V, c] * transitions[c, b]
                powers[d, V, b] = acc


def local_tables(transitions, initial, length):
    """``(powers, powers_t)`` of shape ``(L + 1, V + 1, V)`` (see the module docstring)."""
    P = np.ascontiguousarray(transitions, dtype=np.float64)
    V = P.shape[0]
    powers = np.empty((length + 1, V + 1, V))
    powers_t = np.empty((length + 1, V + 1, V))
    _fill_tables(P, np.ascontiguousarray(initial, dtype=np.float64), powers, powers_t)
    return powers, powers_t
