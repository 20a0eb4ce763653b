"""Parallel driver of the MDM samplers and the adaptive-schedule loop shared by both models.

Model ``local2`` (order 2, powers of ``P``; :mod:`.mdm_local2`) or windows
(any order, forward-backward; :mod:`.mdm_blocks`).  Sequence ``s`` uses only the
stream ``keys[s]``, so results do not depend on threads or chunking.
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive import MARGIN, TOPK, score_key, select
from ngramsim._kernels.mdm_blocks import check_blocks, conditionals_blocks, fixed_blocks
from ngramsim._kernels.mdm_local2 import LOCKSTEP, check_local2, conditionals_local2, fixed_local2
from ngramsim._kernels.reverse import draw_uniform, draw_weights, record_kl
from ngramsim._kernels.rng import uniform_pair

# Samples are dealt to this many chunks, each with its own scratch.
_CHUNKS = 64


@numba.njit(cache=True)
def _adaptive(key, rule_spec, local2, tables, model, params, prefix, x, per_step, stats):
    """One sequence under an adaptive rule ``rule_spec = (rule, sizes, gamma)``; returns ``(fallback used, steps)``."""
    rule, sizes, gamma = rule_spec
    lam, tau = params
    length = x.shape[0]
    P = model[0]
    K, V = P.shape
    mark = np.zeros(length, dtype=np.int64)
    cand = np.empty(length, dtype=np.int64)
    keys = np.empty(length)
    sel = np.empty(length, dtype=np.int64)
    rows = np.empty((length, V))
    kls = np.empty(length)
    w = np.empty(V)
    rgt = np.empty(length, dtype=np.int64)
    A = np.empty((length + 1, K if not local2 else 1))
    B = np.empty((length + 1, K if not local2 else 1))
    w_rows = np.empty((length if not local2 else 1, V))
    totals = np.empty(length)
    x[:] = -1
    failed = False
    revealed = 0
    first_rev = length
    last_rev = -1
    t = 0
    while revealed < length:
        n = 0
        for i in range(length):
            if x[i] < 0:
                cand[n] = i
                n += 1
        masked = cand[:n]
        if not failed:
            if local2:
                conditionals_local2(x, tables, lam, tau, rows, kls, w, rgt)
            elif not conditionals_blocks(x, masked, model, params, prefix, (A, B, w_rows, totals), rows, kls):
                failed = True
        if failed:
            for i in masked:
                rows[i, :] = 1.0 / V
                kls[i] = 0.0
        for j in range(n):
            keys[j] = score_key(rule, rows[masked[j]])
        size = sizes[t] if (rule == TOPK or rule == MARGIN) else 0
        chosen = select(rule, keys[:n], masked, size, gamma, (key, length, t + 1), sel)
        t += 1
        for j in range(chosen):
            i = sel[j]
            u = uniform_pair(key, i)[1]
            if failed:
                x[i] = draw_uniform(V, u)
            else:
                x[i] = draw_weights(rows[i], rows[i].sum(), u)
                record_kl(stats, kls[i])
            mark[i] = t
        per_step[t - 1] = chosen
        revealed += chosen
        first_rev = min(first_rev, sel[0])
        last_rev = max(last_rev, sel[chosen - 1])
        if not failed:
            if local2:
                failed = not check_local2(x, mark, t, tables)
            else:
                failed = not check_blocks(x, sel[:chosen], model, (first_rev, last_rev), prefix, A)
    return failed, t


# Three entry points, one per path, so a first call compiles only the path it uses.
# Common parameters: keys uint64[M] (one stream per sequence); the resolved schedule
# (kind 0 Bernoulli, 1 counts, 2 explicit order, 3 topk, 4 margin, 5 eb, 6 esum; alias tables,
# sizes, step_of, gamma, num_steps; arrays a kind does not use may be empty); params = (lam, tau);
# outputs = (out int64[M, L], nfe int64[M], per_step int64[M, N], fallback bool[M], stats float64[M, 3])
# (learning KL: sum and count over tokens revealed with q(x_R) > 0, and max).


@numba.njit(cache=True, parallel=True)
def sample_local2(keys, schedule, tables, params, outputs):
    """Non-adaptive schedules, order-2 local model (``tables`` from :func:`.powers.power_tables`), in lockstep blocks.

    ``schedule = (kind, alias_prob, alias_index, sizes, step_of, num_steps)``.
    """
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``); tests check every diagnostic.
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    kind, alias_prob, alias_index, sizes, step_of, num_steps = schedule
    lam, tau = params
    num_samples = out.shape[0]
    blocks = (num_samples + LOCKSTEP - 1) // LOCKSTEP
    for block in numba.prange(blocks):
        first = block * LOCKSTEP
        count = min(LOCKSTEP, num_samples - first)
        for s in range(first, first + count):
            stats[s, :] = 0.0
            per_step[s, :] = 0
            nfe[s] = num_steps
        fixed_local2(keys, first, count, kind, alias_prob, alias_index, sizes, step_of, num_steps, tables,
                     lam, tau, out, per_step, stats, fallback)


@numba.njit(cache=True, parallel=True)
def sample_windows(keys, schedule, model, params, prefix, outputs):
    """Non-adaptive schedules, windows model (:mod:`.mdm_blocks`; ``model[5] = False``: naive)."""
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``); tests check every diagnostic.
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    num_steps = schedule[5]
    num_samples, length = out.shape
    K, V = model[0].shape
    chunks = min(num_samples, _CHUNKS)
    for c in numba.prange(chunks):
        scratch = (np.empty(length, dtype=np.int64), np.empty(length, dtype=np.int64),
                   np.empty(length, dtype=np.int64), np.empty((length + 1, K)), np.empty((length + 1, K)),
                   np.empty((length, V)), np.empty(length), np.empty(V), np.empty(length), np.empty(length))
        for s in range(c, num_samples, chunks):
            stats[s, :] = 0.0
            per_step[s, :] = 0
            fallback[s] = fixed_blocks(keys[s], schedule, model, params, prefix, out[s], per_step[s], stats[s],
                                       scratch)
            nfe[s] = num_steps


@numba.njit(cache=True, parallel=True)
def sample_adaptive(keys, rule_spec, local2, tables, model, params, prefix, outputs):
    """Adaptive rules ``rule_spec = (rule, sizes, gamma)`` with either model (``local2`` picks the order-2 tables)."""
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``); tests check every diagnostic.
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    num_samples = out.shape[0]
    for s in numba.prange(num_samples):
        stats[s, :] = 0.0
        per_step[s, :] = 0
        failed, steps = _adaptive(keys[s], rule_spec, local2, tables, model, params, prefix,
                                  out[s], per_step[s], stats[s])
        fallback[s] = failed
        nfe[s] = steps
