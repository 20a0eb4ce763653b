"""Parallel drivers of the MDM samplers.

Model ``local2`` (order 2, powers of ``P``; :mod:`.mdm_local2`, adaptive rules in
:mod:`.adaptive_local2`) or windows (any order, forward-backward; :mod:`.mdm_windows`,
adaptive rules in :mod:`.adaptive_windows`).  Sequence ``s`` uses only the
stream ``keys[s]``, so results do not depend on threads or chunking.
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive_local2 import adaptive_local2
from ngramsim._kernels.adaptive_windows import adaptive_windows
from ngramsim._kernels.mdm_windows import fixed_windows
from ngramsim._kernels.mdm_local2 import LOCKSTEP, fixed_local2

# Samples are dealt to this many chunks, each with its own scratch.
_CHUNKS = 64


# Four entry points, one per path, so a first call compiles only the path it uses.
# Common parameters: keys uint64[M] (one stream per sequence); the resolved schedule
# (kind 0 Bernoulli, 1 counts, 2 explicit order, 3 topk, 4 margin, 5 eb, 6 esum, 8 blocks; alias tables,
# sizes, step_of, gamma, num_steps, block; arrays a kind does not use may be empty); params = (lam, tau);
# outputs = (out int64[M, L], nfe int64[M], per_step int64[M, 2, W], fallback bool[M], stats float64[M, 3]),
# W = min(N, L): per_step[s, 0, k] is the size of the k-th occupied step, per_step[s, 1, k] its 1-based step
# (empty Bernoulli steps are skipped and not stored)
# (learning KL: sum and count over tokens revealed with q(x_R) > 0, and max).


@numba.njit(cache=True, parallel=True)
def sample_local2(keys, schedule, tables, params, outputs):
    """Non-adaptive schedules, order-2 local model (``tables`` from :func:`.powers.power_tables`), in lockstep blocks.

    ``schedule = (kind, alias_prob, alias_index, sizes, step_of, num_steps, block)``.
    """
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``); tests check every diagnostic.
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    num_steps = schedule[5]
    num_samples = out.shape[0]
    blocks = (num_samples + LOCKSTEP - 1) // LOCKSTEP
    for block in numba.prange(blocks):
        first = block * LOCKSTEP
        count = min(LOCKSTEP, num_samples - first)
        for s in range(first, first + count):
            stats[s, :] = 0.0
            per_step[s, :] = 0
            nfe[s] = num_steps
        fixed_local2(keys, first, count, schedule, tables, params, (out, per_step, stats, fallback))


@numba.njit(cache=True, parallel=True)
def sample_windows(keys, schedule, model, params, prefix, outputs):
    """Non-adaptive schedules, windows model (:mod:`.mdm_windows`; ``model[5] = False``: naive)."""
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
            fallback[s] = fixed_windows(keys[s], schedule, model, params, prefix, out[s], per_step[s], stats[s],
                                       scratch)
            nfe[s] = num_steps


@numba.njit(cache=True, parallel=True)
def sample_adaptive_local2(keys, rule_spec, tables, trunc, params, outputs):
    """Adaptive rules ``rule_spec = (rule, sizes, gamma)``, order-2 local model with truncated keys.

    ``trunc`` from :func:`.adaptive_local2.truncation` (:mod:`.adaptive_local2`).
    """
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``); tests check every diagnostic.
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    no_debug = np.empty(0)
    for s in numba.prange(out.shape[0]):
        stats[s, :] = 0.0
        per_step[s, :] = 0
        failed, steps = adaptive_local2(keys[s], rule_spec, tables, trunc, params, out[s], per_step[s, 0], stats[s],
                                        no_debug)
        fallback[s] = failed
        nfe[s] = steps
        for t in range(steps):  # every adaptive step reveals at least one token
            per_step[s, 1, t] = t + 1


@numba.njit(cache=True, parallel=True)
def sample_adaptive_windows(keys, rule_spec, model, params, prefix, outputs):
    """Adaptive rules ``rule_spec = (rule, sizes, gamma)``, windows model (:mod:`.adaptive_windows`)."""
    # One statement per array (see sample_adaptive_local2).
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    for s in numba.prange(out.shape[0]):
        stats[s, :] = 0.0
        per_step[s, :] = 0
        failed, steps = adaptive_windows(keys[s], rule_spec, model, params, prefix, out[s], per_step[s, 0], stats[s])
        fallback[s] = failed
        nfe[s] = steps
        for t in range(steps):  # every adaptive step reveals at least one token
            per_step[s, 1, t] = t + 1
