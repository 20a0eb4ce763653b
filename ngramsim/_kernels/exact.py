"""Exact engine on tiny cases: dynamic programming over partial states (SPEC §4-§5).

A *partial state* fixes the revealed set ``R`` and the revealed values; it is
encoded in base ``V + 1`` with position 0 most significant: digit ``0`` is
masked, digit ``v + 1`` is value ``v`` (weight of position ``i``:
``(V+1)^(L-1-i)``).  Fully revealed states map to ``V^L`` in lexicographic C
order.  ``Ev[state] = q(x_R)`` (the evidence) for every partial state, so every
conditional ``q(x_i = v | x_R) = Ev[state + (v+1) w_i] / Ev[state]`` and every
subset entropy ``H(X_A)`` is a lookup.
"""

import math

import numba
import numpy as np

from ngramsim._kernels.adaptive import score_key, select_sets
from ngramsim._kernels.reverse import kl_weights, theta_row
from ngramsim._kernels.steps import BERNOULLI, BLOCKS, COUNTS, LOWCONF, MARGIN, ORDER, REMDM, TOPK, next_combination



@numba.njit(cache=True)
def _weights(V, L):
    w = np.empty(L, dtype=np.int64)
    acc = 1
    for i in range(L - 1, -1, -1):
        w[i] = acc
        acc *= V + 1
    return w


@numba.njit(cache=True)
def _decode(state, V, L, digits):
    for i in range(L - 1, -1, -1):
        digits[i] = state % (V + 1)
        state //= V + 1


@numba.njit(cache=True)
def _full_index(digits, V):
    idx = 0
    for d in digits:
        idx = idx * V + (d - 1)
    return idx


@numba.njit(cache=True)
def evidence_table(q_full, V, L):
    """``Ev[state] = q(x_R)``: ``q`` of full states, then ``Ev[s] = sum_v Ev[s with its first masked position = v]``."""
    size = (V + 1) ** L
    w = _weights(V, L)
    Ev = np.zeros(size)
    digits = np.empty(L, dtype=np.int64)
    for state in range(size - 1, -1, -1):  # children have larger indices
        _decode(state, V, L, digits)
        j = -1
        for i in range(L):
            if digits[i] == 0:
                j = i
                break
        if j < 0:
            Ev[state] = q_full[_full_index(digits, V)]
        else:
            acc = 0.0
            for v in range(V):
                acc += Ev[state + (v + 1) * w[j]]
            Ev[state] = acc
    return Ev


@numba.njit(cache=True)
def _state_rows(state, digits, model, w, rows):
    """Exact rows ``q(.|x_R)`` and model rows ``p_theta`` at the masked positions of ``state``; return ``Ev[state] > 0``.

    ``model = (Ev, oracle_rows, use_oracle, lam, tau)``; ``rows = (q_rows, p_rows, kls)`` receive
    the rows and ``KL(q(.|x_R) || p_theta(.|x_R))``.  With ``q(x_R) = 0`` the model rows are
    uniform (SPEC's fallback) and no KL is defined.
    """
    Ev, oracle_rows, use_oracle, lam, tau = model
    q_rows, p_rows, kls = rows
    L, V = q_rows.shape
    ev = Ev[state]
    for i in range(L):
        if digits[i] != 0:
            continue
        if ev <= 0.0:
            p_rows[i, :] = 1.0 / V
            kls[i] = 0.0
            continue
        for v in range(V):
            q_rows[i, v] = Ev[state + (v + 1) * w[i]] / ev
        base = oracle_rows[state, i] if use_oracle else q_rows[i]
        theta_row(base, base.sum(), lam, tau, p_rows[i])
        if not use_oracle and lam == 0.0 and tau == 1.0:
            kls[i] = 0.0  # the model is q itself: its KL is 0, not the round-off of renormalising q
            continue
        kls[i] = kl_weights(q_rows[i], 1.0, p_rows[i])
    return ev > 0.0


@numba.njit(cache=True, inline="always")
def _masked_positions(state, V, L, digits, masked):
    """Decode ``state`` into ``digits`` and list its masked positions in ``masked``; return how many."""
    _decode(state, V, L, digits)
    k = 0
    for i in range(L):
        if digits[i] == 0:
            masked[k] = i
            k += 1
    return k


@numba.njit(cache=True)
def _adaptive_sets(kind, sizes, t, gamma, p_rows, masked, k, keys):
    """The equally likely reveal sets of an adaptive rule at a state with model rows ``p_rows``."""
    for j in range(k):
        keys[j] = score_key(kind, p_rows[masked[j]])
    size_t = sizes[t] if (kind == TOPK or kind == MARGIN) else 0
    return select_sets(kind, keys[:k], masked[:k], size_t, gamma)


@numba.njit(cache=True)
def _spread_values(mass, state, chosen, count, p_rows, w, V, nxt):
    """Add ``mass * prod_j p_rows[chosen_j, v_j]`` to ``nxt[state + sum_j (v_j + 1) w[chosen_j]]`` for all values."""
    if count == 0:
        nxt[state] += mass
        return
    total = V**count
    for code in range(total):
        rest = code
        prob = mass
        target = state
        for j in range(count):
            v = rest % V
            rest //= V
            i = chosen[j]
            prob *= p_rows[i, v]
            target += (v + 1) * w[i]
        if prob != 0.0:
            nxt[target] += prob


@numba.njit(cache=True)
def _binomial(n, k):
    if k < 0 or k > n:
        return 0.0
    acc = 1.0
    for j in range(k):
        acc = acc * (n - j) / (j + 1)
    return acc


@numba.njit(cache=True)
def _bernoulli_outcomes(mass, state, masked, k, hazard, p_rows, w, V, nxt):
    """Each masked position stays masked w.p. ``1 - h`` or is revealed with value ``v`` w.p. ``h p(v)``.

    An odometer over the ``(V+1)^k`` outcomes with prefix products, so each outcome costs
    O(1) amortised; a zero prefix skips its whole subtree.
    """
    digits = np.zeros(k, dtype=np.int64)
    prefix_p = np.empty(k + 1)
    prefix_i = np.empty(k + 1, dtype=np.int64)
    prefix_p[0] = mass
    prefix_i[0] = state
    j = 0
    while True:
        # Recompute prefixes from level j; stop early on a zero prefix.
        dead = -1
        for l in range(j, k):
            o = digits[l]
            if o == 0:
                f = 1.0 - hazard
            else:
                f = hazard * p_rows[masked[l], o - 1]
            prefix_p[l + 1] = prefix_p[l] * f
            prefix_i[l + 1] = prefix_i[l] + o * w[masked[l]]
            if prefix_p[l + 1] == 0.0:
                dead = l
                break
        if dead < 0:
            nxt[prefix_i[k]] += prefix_p[k]
            j = k - 1
        else:
            j = dead  # the subtree below level `dead` is all zero
        while j >= 0 and digits[j] == V:
            j -= 1
        if j < 0:
            return
        digits[j] += 1
        for l in range(j + 1, k):
            digits[l] = 0


@numba.njit(cache=True)
def _scratch(V, L):
    """Per-call work arrays of the DPs: start distribution, digits, masked/chosen lists, rows, KLs, keys."""
    cur = np.zeros((V + 1) ** L)
    cur[0] = 1.0  # all masked
    return (cur, np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64), np.empty(L, dtype=np.int64),
            np.empty((L, V)), np.empty((L, V)), np.empty(L), np.empty(L))


@numba.njit(cache=True)
def _within(masked, k, lo, hi):
    """Keep the masked positions in ``[lo, hi)`` (the current block) at the front; their number."""
    kept = 0
    for j in range(k):
        if lo <= masked[j] < hi:
            masked[kept] = masked[j]
            kept += 1
    return kept


@numba.njit(cache=True)
def _spread_subsets(share, state, work, valid, rows, w, nxt, stats):
    """Every ``s``-subset of ``masked[:k]`` with mass ``share``, its positions drawn from ``p_rows``.

    ``work = (masked, k, s, comb, chosen)``; learning-KL mass into ``stats`` when ``valid``.
    """
    masked, k, s, comb, chosen = work
    p_rows = rows[1]
    kls = rows[2]
    V = p_rows.shape[1]
    for j in range(s):
        comb[j] = j
    while True:
        for j in range(s):
            chosen[j] = masked[comb[j]]
        if valid:
            for j in range(s):
                stats[0] += share * kls[chosen[j]]
                stats[1] += share
                stats[2] = max(stats[2], kls[chosen[j]])
        _spread_values(share, state, chosen, s, p_rows, w, V, nxt)
        if not next_combination(comb, s, k):
            break


@numba.njit(cache=True)
def _remdm_outcomes(mass, state, work, model, rows, nxt, stats):
    """ReMDM-style step from ``state``: each revealed token is remasked with probability ``sigma``
    (every subset ``D`` enumerated), then a uniformly random ``(size + |D|)``-subset of the masked
    positions is drawn from ``p_theta(. | x_{R minus D})``, the rows of the *reduced* state.

    ``work = (sigma, size, digits, masked, chosen, comb, w)``; ``rows = (q_rows, p_rows, kls)``
    (scratch, refilled for every reduced state).  Spreads ``mass`` into ``nxt``; learning-KL mass
    into ``stats`` for draws from states with ``q(x_R) > 0``.
    """
    sigma, size, digits, masked, chosen, comb, w = work
    p_rows = rows[1]
    kls = rows[2]
    L, V = p_rows.shape
    _decode(state, V, L, digits)
    revealed = np.empty(L, dtype=np.int64)
    values = np.empty(L, dtype=np.int64)
    nr = 0
    for i in range(L):
        if digits[i] != 0:
            revealed[nr] = i
            values[nr] = digits[i]
            nr += 1
    for D in range(1 << nr):
        d = _popcount(D)
        p_remask = sigma**d * (1.0 - sigma) ** (nr - d)
        if p_remask == 0.0:
            continue
        reduced = state
        for j in range(nr):
            if D >> j & 1:
                reduced -= values[j] * w[revealed[j]]
        k = _masked_positions(reduced, V, L, digits, masked)
        valid = _state_rows(reduced, digits, model, w, rows)
        s = size + d
        _spread_subsets(mass * p_remask / _binomial(k, s), reduced, (masked, k, s, comb, chosen), valid, rows, w,
                        nxt, stats)


@numba.njit(cache=True)
def _lowconf_outcomes(mass, state, size, valid, work, rows, V, nxt, stats):
    """Low-confidence remasking from ``state``: every masked position draws ``y_i ~ p_theta``, and
    the ``size`` with the largest ``p_theta(y_i)`` keep their draw (tied sets equally likely).

    ``work = (masked, k, keys, drawn, w)`` (scratch and place values), ``rows = (q_rows, p_rows, kls)``.
    Spreads ``mass`` over the successor states in ``nxt``; learning-KL mass into ``stats``.
    """
    masked, k, keys, drawn, w = work
    p_rows = rows[1]
    kls = rows[2]
    total = V**k
    for code in range(total):
        rest = code
        p_draw = 1.0
        for j in range(k):
            v = rest % V
            rest //= V
            i = masked[j]
            drawn[i] = v
            p_draw *= p_rows[i, v]
            keys[j] = -p_rows[i, v]  # ascending keys: most confident first
        if p_draw == 0.0:
            continue
        sets, count, num_sets = select_sets(TOPK, keys[:k], masked[:k], size, 0.0)
        share = mass * p_draw / num_sets
        for e in range(num_sets):
            target = state
            for j in range(count):
                i = sets[e, j]
                target += (drawn[i] + 1) * w[i]
                if valid:
                    stats[0] += share * kls[i]
                    stats[1] += share
                    stats[2] = max(stats[2], kls[i])
            nxt[target] += share


@numba.njit(cache=True)
def sampler_law(schedule, model, V, L, law, stats):
    """The sampler's exact law over ``V^L`` (into ``law``) by forward DP over partial states.

    ``schedule = (kind, hazards, sizes, step_of, gamma, num_steps, bounds)`` (Bernoulli hazards
    ``w_t / (1 - w_1 - ... - w_{t-1})``, for ``remdm`` the remasking probabilities ``sigma_t``; ``bounds[t]``: the positions step ``t`` may reveal from,
    for blocks and ``lowconf``); ``model = (Ev, oracle_rows, use_oracle, lam, tau)``.

    ``stats`` receives ``[sum of learning KL mass, count mass, max learning KL over reachable
    states]``: the learning KL ``KL(q(.|x_R) || p_theta(.|x_R))`` of each position revealed from a
    state with ``q(x_R) > 0``, weighted by the probability of revealing it there.
    Adaptive rules (kind >= 3) run until every state is full (``num_steps`` bounds the loop).
    """
    kind, hazards, sizes, step_of, gamma, num_steps, bounds = schedule
    size = (V + 1) ** L
    w = _weights(V, L)
    cur, digits, masked, chosen, q_rows, p_rows, kls, keys = _scratch(V, L)
    rows = (q_rows, p_rows, kls)
    comb = np.empty(L, dtype=np.int64)
    drawn = np.empty(L, dtype=np.int64)
    stats[:] = 0.0
    for t in range(num_steps):
        if kind == BERNOULLI and hazards[t] == 0.0:
            continue  # nothing can be revealed: the law stays
        nxt = np.zeros(size)
        moved = False
        for state in range(size):
            mass = cur[state]
            if mass == 0.0:
                continue
            k = _masked_positions(state, V, L, digits, masked)
            if k == 0:
                nxt[state] += mass
                continue
            moved = True
            if kind == REMDM:
                work = (hazards[t], sizes[t], digits, masked, chosen, comb, w)
                _remdm_outcomes(mass, state, work, model, rows, nxt, stats)
                continue
            valid = _state_rows(state, digits, model, w, rows)
            if kind == BLOCKS or kind == LOWCONF:
                k = _within(masked, k, bounds[t, 0], bounds[t, 1])
            if kind == BERNOULLI:
                h = hazards[t]
                if valid and h > 0.0:
                    for j in range(k):
                        stats[0] += mass * h * kls[masked[j]]
                        stats[1] += mass * h
                        stats[2] = max(stats[2], kls[masked[j]])
                _bernoulli_outcomes(mass, state, masked, k, h, p_rows, w, V, nxt)
            elif kind == COUNTS or kind == BLOCKS:
                s = sizes[t]
                _spread_subsets(mass / _binomial(k, s), state, (masked, k, s, comb, chosen), valid, rows, w, nxt,
                                stats)
                if valid:
                    for j in range(k):
                        stats[2] = max(stats[2], kls[masked[j]])
            elif kind == ORDER:
                s = 0
                for i in range(L):
                    if step_of[i] == t + 1:
                        chosen[s] = i
                        s += 1
                if valid:
                    for j in range(s):
                        stats[0] += mass * kls[chosen[j]]
                        stats[1] += mass
                        stats[2] = max(stats[2], kls[chosen[j]])
                _spread_values(mass, state, chosen, s, p_rows, w, V, nxt)
            elif kind == LOWCONF:
                _lowconf_outcomes(mass, state, sizes[t], valid, (masked, k, keys, drawn, w), rows, V, nxt, stats)
            else:
                sets, count, num_sets = _adaptive_sets(kind, sizes, t, gamma, p_rows, masked, k, keys)
                share = mass / num_sets
                for e in range(num_sets):
                    for j in range(count):
                        chosen[j] = sets[e, j]
                    if valid:
                        for j in range(count):
                            stats[0] += share * kls[chosen[j]]
                            stats[1] += share
                            stats[2] = max(stats[2], kls[chosen[j]])
                    _spread_values(share, state, chosen, count, p_rows, w, V, nxt)
        cur = nxt
        if not moved:
            break
    law[:] = 0.0
    for state in range(size):
        if cur[state] != 0.0:
            _decode(state, V, L, digits)
            law[_full_index(digits, V)] += cur[state]


@numba.njit(cache=True)
def subset_tables(model, V, L, H, LK):
    """``H[mask] = H(X_A)`` for every subset ``A`` (bit ``i`` = position ``i``) and
    ``LK[mask, i] = E_{x_A ~ q} KL(q(.|x_A) || p_theta(.|x_A))`` for ``i`` outside ``A``;
    ``model = (Ev, oracle_rows, use_oracle, lam, tau)``."""
    Ev, _, use_oracle, lam, tau = model
    size = (V + 1) ** L
    w = _weights(V, L)
    digits = np.empty(L, dtype=np.int64)
    q_rows = np.empty((L, V))
    p_rows = np.empty((L, V))
    kls = np.empty(L)
    rows = (q_rows, p_rows, kls)
    H[:] = 0.0
    LK[:, :] = 0.0
    for state in range(size):
        ev = Ev[state]
        if ev <= 0.0:
            continue
        _decode(state, V, L, digits)
        mask = 0
        for i in range(L):
            if digits[i] != 0:
                mask |= 1 << i
        H[mask] -= ev * math.log(ev)
        if lam == 0.0 and tau == 1.0 and not use_oracle:
            continue
        _state_rows(state, digits, model, w, rows)
        for i in range(L):
            if digits[i] == 0:
                LK[mask, i] += ev * kls[i]


@numba.njit(cache=True)
def _step_terms(R, S, H, LK, L):
    """B1 terms of revealing ``S`` after ``R`` (bit masks): ``E TC(X_S | X_R)`` and the learning term."""
    tc = -H[R | S]
    lk = 0.0
    size = 0
    for i in range(L):
        if S >> i & 1:
            tc += H[R | (1 << i)]
            lk += LK[R, i]
            size += 1
    tc -= (size - 1) * H[R]
    return tc, lk


@numba.njit(cache=True)
def b1_fixed(schedule, num_steps, H, LK, L, tc, lk):
    """Per-step B1 terms of a non-adaptive schedule, averaged over its randomness.

    ``schedule = (kind, weights, sizes, step_of, bounds)``.  Explicit order: the one ``(R_t, S_t)``.
    Counts: ``R_t`` a uniform ``r_t``-subset and ``S_t`` a uniform ``s_t``-subset of the rest.
    Blocks: the same inside the step's block ``[lo, hi)``, with every position before ``lo`` in
    ``R_t``.  Bernoulli: each position independently in ``R_t`` (prob. ``w_1 + ... + w_{t-1}``),
    ``S_t`` (``w_t``) or later.
    """
    kind, weights, sizes, step_of, bounds = schedule
    everything = (1 << L) - 1
    before = 0
    for t in range(num_steps):
        tc[t] = 0.0
        lk[t] = 0.0
        if kind == ORDER:
            S = 0
            for i in range(L):
                if step_of[i] == t + 1:
                    S |= 1 << i
            a, b = _step_terms(before, S, H, LK, L)
            tc[t], lk[t] = a, b
            before |= S
        elif kind == COUNTS or kind == BLOCKS:
            lo, hi = (bounds[t, 0], bounds[t, 1]) if kind == BLOCKS else (0, L)
            done = (1 << lo) - 1  # earlier blocks, fully revealed
            universe = ((1 << hi) - 1) & ~done
            r = 0
            for u in range(t):
                r += sizes[u]
            r -= lo
            s = sizes[t]
            norm = _binomial(hi - lo, r) * _binomial(hi - lo - r, s)
            R = universe
            while True:  # R_t = earlier blocks + every r-subset of the block
                if _popcount(R) == r:
                    rest = universe & ~R
                    S = rest
                    while True:  # submasks of rest
                        if _popcount(S) == s:
                            a, b = _step_terms(R | done, S, H, LK, L)
                            tc[t] += a / norm
                            lk[t] += b / norm
                        if S == 0:
                            break
                        S = (S - 1) & rest
                if R == 0:
                    break
                R = (R - 1) & universe
        else:
            a_t = 0.0
            for u in range(t):
                a_t += weights[u]
            w_t = weights[t]
            later = max(1.0 - a_t - w_t, 0.0)
            for R in range(everything + 1):
                nr = _popcount(R)
                p_r = a_t**nr
                if p_r == 0.0:
                    continue
                rest = everything & ~R
                S = rest
                while True:
                    if S != 0:
                        ns = _popcount(S)
                        prob = p_r * w_t**ns * later ** (L - nr - ns)
                        if prob > 0.0:
                            a, b = _step_terms(R, S, H, LK, L)
                            tc[t] += prob * a
                            lk[t] += prob * b
                    if S == 0:
                        break
                    S = (S - 1) & rest


@numba.njit(cache=True, inline="always")
def _popcount(x):
    c = 0
    while x:
        x &= x - 1
        c += 1
    return c


@numba.njit(cache=True)
def b1_adaptive(rule, model, V, L, tc, lk):
    """Per-step B1 terms along an adaptive rule ``rule = (kind, sizes, gamma, num_steps)`` run on
    ``x ~ q`` (tie-breaks averaged); ``model = (Ev, oracle_rows, use_oracle, lam, tau)``.

    Forward DP over partial states with ``q``-masses; at each state the rule scores the
    model rows, and every reveal set ``S`` it may choose contributes
    ``TC(X_S | x_R) = sum_i H(X_i | x_R) - H(X_S | x_R)`` and ``sum_i KL(q(.|x_R) || p_theta)``.
    Returns the number of steps some run takes (later entries of ``tc``/``lk`` are 0).
    """
    kind, sizes, gamma, num_steps = rule
    Ev = model[0]
    size = (V + 1) ** L
    w = _weights(V, L)
    cur, digits, masked, chosen, q_rows, p_rows, kls, keys = _scratch(V, L)
    rows = (q_rows, p_rows, kls)
    used = 0
    for t in range(num_steps):
        tc[t] = 0.0
        lk[t] = 0.0
        nxt = np.zeros(size)
        for state in range(size):
            mass = cur[state]
            if mass == 0.0:
                continue
            k = _masked_positions(state, V, L, digits, masked)
            if k == 0:
                nxt[state] += mass
                continue
            used = t + 1
            _state_rows(state, digits, model, w, rows)
            sets, count, num_sets = _adaptive_sets(kind, sizes, t, gamma, p_rows, masked, k, keys)
            share = mass / num_sets
            ev = Ev[state]
            for e in range(num_sets):
                marginal_h = 0.0
                learning = 0.0
                for j in range(count):
                    i = sets[e, j]
                    chosen[j] = i
                    learning += kls[i]
                    for v in range(V):
                        r = q_rows[i, v]
                        if r > 0.0:
                            marginal_h -= r * math.log(r)
                joint_h = 0.0
                for code in range(V**count):
                    rest = code
                    target = state
                    for j in range(count):
                        target += (rest % V + 1) * w[chosen[j]]
                        rest //= V
                    prob = Ev[target] / ev
                    if prob > 0.0:
                        joint_h -= prob * math.log(prob)
                        nxt[target] += share * prob
                tc[t] += share * (marginal_h - joint_h)
                lk[t] += share * learning
        cur = nxt
    return used
