"""The MDM sampler for order-2 languages by local conditionals (SPEC §2).

With order 2 every revealed token separates the chain, so for a masked
position ``i`` whose nearest revealed neighbours are ``a < i < b``

    q(x_i = v | x_R) ∝ P^(i-a)[x_a, v] · P^(b-i)[v, x_b],

with ``(mu P^i)[v]`` for the left factor when nothing is revealed on the left
and 1 for the right factor when nothing is revealed on the right.
``q(x_R) > 0`` iff the first revealed token has ``(mu P^i)[x_i] > 0`` and every
pair of consecutive revealed tokens ``j < k`` has ``P^(k-j)[x_j, x_k] > 0``; both
are read from the boolean table ``reach``, never from a float that may underflow.

The tables (:mod:`.powers`) add a virtual token ``V`` at positions ``-1`` and
``L`` so that every conditional is one product without branches; gaps whose
float factors are not trusted (underflow) are drawn from the log-space tables.

For non-adaptive schedules the step of every position is drawn first; one
all-nearest-smaller-values pass then gives, for each position, the nearest
neighbours revealed at earlier steps, so each token costs ``O(V)``.
"""

import numba
import numpy as np

from ngramsim._kernels.powers import gap_weights
from ngramsim._kernels.reverse import draw_theta, draw_uniform, draw_weights, record_kl
from ngramsim._kernels.rng import draw_stream
from ngramsim._kernels.steps import assign_steps, occupied_steps


@numba.njit(cache=True)
def _nearest_earlier(order, start, left, right_le, prev, nxt):
    """Neighbours by deletion from a linked list: ``left[i]`` = nearest ``j < i`` revealed at an
    earlier step, ``right_le[i]`` = nearest ``j > i`` revealed at the same step or earlier (-1 if none).

    Positions are deleted from the list ``0 .. L-1`` by decreasing step, a step's positions
    in increasing order (``order`` holds each step's run right to left): when ``i`` goes, its
    predecessor and successor are exactly these.
    No data-dependent branches, unlike a stack pass.  ``prev``/``nxt`` are int64 scratch of
    length ``L + 2`` (indices shifted by one: 0 and ``L + 1`` are sentinels).
    """
    length = order.shape[0]
    for p in range(length + 2):
        prev[p] = p - 1
        nxt[p] = p + 1
    for t in range(start.shape[0] - 2, -1, -1):
        for k in range(start[t + 1] - 1, start[t] - 1, -1):  # runs are stored right to left
            i = order[k] + 1
            before = prev[i]
            after = nxt[i]
            left[i - 1] = before - 1
            right_le[i - 1] = after - 1 if after <= length else -1
            nxt[before] = after
            prev[after] = before


#: Sequences advanced in lockstep by :func:`fixed_local2`: their dependency chains are
#: independent, so the CPU overlaps their memory latency.
LOCKSTEP = 4


@numba.njit(cache=True)
def fixed_local2(keys, first, count, schedule, tables, params, outputs):
    """Sequences ``first .. first+count-1`` (``count <= LOCKSTEP``) under a non-adaptive schedule.

    ``schedule = (kind, alias_prob, alias_index, sizes, step_of, num_steps, block)``, ``params = (lam, tau)``,
    ``outputs = (out, per_step, stats, fallback)`` (the driver's arrays, rows ``first ..``).

    Per sequence: steps, positions by step, neighbours.  Then the ``k``-th token (in
    step order; right to left within a step) of every sequence is drawn in turn, and
    the new pairs of consecutive revealed tokens it forms are checked right away; a
    failure switches that sequence to the fallback from its next step on.  The exact-model draw is written out
    here: helper calls taking arrays cost reference counting on every token.
    """
    kind, alias_prob, alias_index, sizes, step_of, num_steps, block = schedule
    lam, tau = params
    out, per_step, stats, fallback = outputs
    powers, powers_t, reach, inexact = tables[0], tables[1], tables[2], tables[3]
    length = out.shape[1]
    V = powers.shape[2]
    exact = lam == 0.0 and tau == 1.0
    step = np.empty((count, length), dtype=np.int64)
    order = np.empty((count, length), dtype=np.int64)
    nxt = np.empty(length + 2, dtype=np.int64)
    left = np.empty((count, length), dtype=np.int64)
    right = np.empty((count, length), dtype=np.int64)
    perm = np.empty(length + 2, dtype=np.int64)
    schedule_u = np.empty(length)
    value_u = np.empty((count, length))
    w = np.empty(V)
    row = np.empty(V)
    current = np.zeros(count, dtype=np.int64)
    last_valid = np.zeros(count, dtype=np.int64)  # occupied steps drawn from q(.|x_R), q(x_R) > 0
    failed = np.zeros(count, dtype=np.bool_)
    fails_next = np.zeros(count, dtype=np.bool_)
    for q in range(count):
        s = first + q
        draw_stream(keys[s], schedule_u, value_u[q])
        assign_steps(kind, schedule_u, alias_prob, alias_index, sizes, step_of, block, perm, step[q])
        # Empty steps are skipped: step[q] holds ranks of the occupied steps from here on.
        occupied, start = occupied_steps(step[q], num_steps, per_step[s, 0], per_step[s, 1], order[q])
        last_valid[q] = occupied
        # Within a step the draws go right to left, so each position finds its strict right
        # neighbour through the same-step position after it: reverse each step's run in place.
        for t in range(occupied):
            lo = start[t]
            hi = start[t + 1] - 1
            while lo < hi:
                tmp = order[q, lo]
                order[q, lo] = order[q, hi]
                order[q, hi] = tmp
                lo += 1
                hi -= 1
        _nearest_earlier(order[q], start, left[q], right[q], perm, nxt)
    for k in range(length):
        for q in range(count):
            s = first + q
            i = order[q, k]
            t = step[q, i]
            if t != current[q]:  # a new step: failures of the previous one take effect
                if fails_next[q] and not failed[q]:
                    failed[q] = True
                    last_valid[q] = current[q]
                fails_next[q] = False
                current[q] = t
            u = value_u[q, i]
            if failed[q]:
                out[s, i] = draw_uniform(V, u)
                continue
            a = left[q, i]
            b_le = right[q, i]  # nearest revealed at this step or before, right of i
            b = right[q, b_le] if b_le >= 0 and step[q, b_le] == t else b_le
            right[q, i] = b  # strict: the same-step positions to the left read it
            da, xa = (i + 1, V) if a < 0 else (i - a, out[s, a])  # virtual token V at -1
            db, xb = (length - i, V) if b < 0 else (b - i, out[s, b])  # ... and at L
            if exact and not (inexact[0, da, xa] or inexact[1, db, xb]):
                # Trusted float factors: branch-free inverse CDF on the unnormalised weights f_c
                # (recomputed rather than stored): v = #{c : f_0 + ... + f_c <= u * total}, capped at
                # the last positive weight (rounding).  Zero weights are never selected, and the
                # positive ones are exactly the support (q(x_R) > 0 makes it non-empty).
                total = 0.0
                for c in range(V):
                    total += powers[da, xa, c] * powers_t[db, xb, c]
                target = u * total
                acc = 0.0
                below = 0
                last = -1
                for c in range(V):
                    f = powers[da, xa, c] * powers_t[db, xb, c]
                    acc += f
                    below += acc <= target
                    last = c if f > 0.0 else last
                v = min(below, last)
            elif exact:  # a factor underflowed in float64: the same law from the log tables
                v = draw_weights(w, gap_weights(da, xa, db, xb, tables, w), u)
            else:
                v, kl = draw_theta(w, gap_weights(da, xa, db, xb, tables, w), lam, tau, u, row)
                record_kl(stats[s], kl)
            out[s, i] = v
            # New consecutive pairs after this step: (i, b_le) always; (a, i) unless a same-step
            # position p with a < p < i sits between (that pair is p's (p, b_le(p)) check).
            if b_le >= 0 and not reach[b_le - i, v, out[s, b_le]]:
                fails_next[q] = True
            p = order[q, k + 1] if k + 1 < length and step[q, order[q, k + 1]] == t else -1
            if p < a or p < 0:
                if a < 0:
                    if not reach[i + 1, V, v]:
                        fails_next[q] = True
                elif not reach[i - a, out[s, a], v]:
                    fails_next[q] = True
    for q in range(count):
        s = first + q
        fallback[s] = failed[q] or fails_next[q]
        if exact:  # every token of the steps before the fallback was drawn from the exact model
            stats[s, 1] = per_step[s, 0, : last_valid[q]].sum()
