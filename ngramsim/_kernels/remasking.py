"""Samplers of the decoders that draw more than they keep: LLaDA's low-confidence remasking
(``lowconf``, also inside blocks) and ReMDM-style remasking of revealed tokens (``remdm``).

Each step runs a full forward-backward pass (:func:`.forward_backward.conditional_marginals_scaled`,
``O(L V^n)``), since every masked position of the step's range is drawn.  The streams and the
arithmetic are those of the Python loops in :mod:`ngramsim.sampler` (``_run_lowconf``,
``_run_remdm``), which serve user oracles; with the exact model both give the same samples (tested).
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive import select
from ngramsim._kernels.forward_backward import conditional_marginals_scaled, log_evidence
from ngramsim._kernels.reverse import draw_weights, kl_weights, record_kl, theta_row
from ngramsim._kernels.rng import redraw_counter, tie_counter, uniform, uniform_pair
from ngramsim._kernels.steps import TOPK


@numba.njit(cache=True)
def _model_row(row, valid, lam, tau, out):
    """``p_theta`` from the exact row, or the uniform fallback when ``q(x_R) = 0``."""
    if valid:
        theta_row(row, row.sum(), lam, tau, out)
    else:
        out[:] = 1.0 / out.shape[0]


@numba.njit(cache=True)
def lowconf_sequence(key, schedule, chain, params, x, per_step, stats):
    """One sequence of ``lowconf`` (``schedule = (sizes, bounds, remask)``); returns whether ``q(x) = 0``.

    At step ``t`` every masked position ``i`` of ``[bounds[t-1, 0], bounds[t-1, 1])`` draws ``y_i ~
    p_theta(. | x_R)`` with ``uniform(key, redraw_counter(L, t, i))``; the ``sizes[t-1]`` with the
    largest ``p_theta(y_i)`` keep it (``topk``'s tie rule and streams), the rest are remasked.
    ``chain = (P, successor, mu, m, trusted)``, ``params = (lam, tau)``.
    """
    sizes, bounds, _ = schedule
    P, succ, mu, m, trusted = chain
    lam, tau = params
    L = x.shape[0]
    V = P.shape[1]
    ideal = lam == 0.0 and tau == 1.0
    rows = np.empty((L, V))
    theta = np.empty((L, V))
    masked = np.empty(L, dtype=np.int64)
    drawn = np.empty(L, dtype=np.int64)
    keys = np.empty(L)
    out = np.empty(L, dtype=np.int64)
    x[:] = -1
    failed = False
    for t in range(1, sizes.shape[0] + 1):
        k = 0
        for i in range(bounds[t - 1, 0], bounds[t - 1, 1]):
            if x[i] < 0:
                masked[k] = i
                k += 1
        if not failed:
            conditional_marginals_scaled(x, P, succ, mu, m, trusted, rows)
        for j in range(k):
            i = masked[j]
            _model_row(rows[i], not failed, lam, tau, theta[j])
            drawn[j] = draw_weights(theta[j], theta[j].sum(), uniform(key, redraw_counter(L, t, i)))
            keys[j] = -theta[j, drawn[j]]  # ascending keys: most confident first
        count = select(TOPK, keys[:k], masked[:k], sizes[t - 1], 0.0, (key, L, t), out)
        j = 0
        for c in range(count):  # out and masked are both ascending
            i = out[c]
            while masked[j] != i:
                j += 1
            x[i] = drawn[j]
            if not failed:
                record_kl(stats, 0.0 if ideal else kl_weights(rows[i], 1.0, theta[j]))
        per_step[0, t - 1] = count
        per_step[1, t - 1] = t
        if not failed:
            failed = log_evidence(x, P, succ, mu, m, trusted) == -np.inf
    return failed


@numba.njit(cache=True)
def remdm_choice(key, t, sigma, target, x):
    """Step ``t`` of ``remdm`` on ``x`` (``-1`` = masked), in place: remask each revealed ``i`` whose coin
    (first uniform of block ``tie_counter(L, t, i)``) is below ``sigma``; return, ascending, the
    ``target - |R|`` masked positions with the smallest ranking keys (second uniform of the same
    block).  The keys are i.i.d. and independent of the coins, so the set is a uniformly random
    subset whatever was remasked (a coin used as its own key would favour what was just remasked).
    """
    L = x.shape[0]
    keys = np.empty(L)
    masked = np.empty(L, dtype=np.int64)
    k = 0
    for i in range(L):
        coin, rank = uniform_pair(key, tie_counter(L, t, i))
        if x[i] >= 0 and coin < sigma:
            x[i] = -1
        if x[i] < 0:
            masked[k] = i
            keys[k] = rank
            k += 1
    count = target - (L - k)
    return np.sort(masked[:k][np.argsort(keys[:k], kind="mergesort")[:count]])


@numba.njit(cache=True)
def remdm_sequence(key, schedule, chain, params, x, per_step, stats):
    """One sequence of ``remdm`` (``schedule = (sizes, bounds, remask)``, bounds unused); returns whether ``q(x) = 0``.

    Step ``t``: :func:`remdm_choice` remasks and picks the ``r_t - |R|`` positions to draw, each from
    ``p_theta(. | x_R)`` with ``uniform(key, redraw_counter(L, t, i))`` (uniform rows while ``q(x_R) = 0``).
    """
    sizes, _, remask = schedule
    P, succ, mu, m, trusted = chain
    lam, tau = params
    L = x.shape[0]
    V = P.shape[1]
    ideal = lam == 0.0 and tau == 1.0
    rows = np.empty((L, V))
    theta = np.empty(V)
    x[:] = -1
    target = 0
    for t in range(1, sizes.shape[0] + 1):
        target += sizes[t - 1]
        chosen = remdm_choice(key, t, remask[t - 1], target, x)
        count = chosen.shape[0]
        valid = conditional_marginals_scaled(x, P, succ, mu, m, trusted, rows) > -np.inf
        for i in chosen:
            _model_row(rows[i], valid, lam, tau, theta)
            x[i] = draw_weights(theta, theta.sum(), uniform(key, redraw_counter(L, t, i)))
            if valid:
                record_kl(stats, 0.0 if ideal else kl_weights(rows[i], 1.0, theta))
        per_step[0, t - 1] = count
        per_step[1, t - 1] = t
    return log_evidence(x, P, succ, mu, m, trusted) == -np.inf


@numba.njit(cache=True, parallel=True)
def sample_remasking(keys, kind_is_lowconf, schedule, chain, params, outputs):
    """Sequences in parallel; ``outputs = (out, nfe, per_step, fallback, stats)`` as for the other kernels."""
    # One statement per array: numba 0.68 loses writes inside prange to arrays unpacked from a
    # tuple argument (``a, b = outputs``).
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    num_steps = schedule[0].shape[0]
    for s in numba.prange(out.shape[0]):
        stats[s, :] = 0.0
        per_step[s, :] = 0
        if kind_is_lowconf:
            fallback[s] = lowconf_sequence(keys[s], schedule, chain, params, out[s], per_step[s], stats[s])
        else:
            fallback[s] = remdm_sequence(keys[s], schedule, chain, params, out[s], per_step[s], stats[s])
        nfe[s] = num_steps
