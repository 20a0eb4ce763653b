r"""The idealised masked diffusion sampler (SPEC §2).

Starting from the all-masked sequence, steps ``t = 1 .. N`` reveal the set
``S_t`` chosen by the schedule; every position of ``S_t`` is drawn
*independently* (the paper's conditional-independence assumption) from

.. math::

    p_\theta(x_i \mid x_{R_t}) = (1 - \lambda)\, T_\tau[q(\cdot \mid x_{R_t})](x_i) + \lambda / V,

where ``T_tau[r] ∝ r^(1/tau)`` on the support of ``r``.  If ``q(x_{R_t}) = 0``
(an earlier parallel step produced an impossible combination) every later
draw is uniform on ``V`` and the sequence is flagged (SPEC's normative fallback).

The reverse model is exact by default (numba kernels: local powers of ``P``
for order <= 2, forward-backward on windows otherwise); ``oracle=`` plugs in
any other model ``oracle(tokens, revealed) -> (L, V)`` (a Python loop).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ngramsim._kernels.adaptive import score_key, select, truncation_eta
from ngramsim._kernels.adaptive_local2 import debug_local2, truncation
from ngramsim._kernels import mdm as _k
from ngramsim._kernels.chain import propagate_context_laws
from ngramsim._kernels.forward_backward import TRUST, chain_trusted
from ngramsim._kernels.powers import mixing_profile, power_tables, truncation_distance
from ngramsim._kernels.reverse import draw_uniform, draw_weights, theta_row
from ngramsim._kernels.rng import draw_keys, draw_stream
from ngramsim._kernels.steps import assign_steps, positions_by_step
from ngramsim._validation import as_generator, check_int, check_real
from ngramsim.marginals import chain_arrays, conditional_marginals
from ngramsim.schedules import MARGIN, TOPK, parse_schedule
from ngramsim.sources import NGramLanguage

__all__ = ["MDMSamples", "sample_mdm", "LOCAL_TABLE_LIMIT"]

#: Order-2 languages use the local model while its tables (``2 (L+1)(V+1) V`` floats) stay within this.
LOCAL_TABLE_LIMIT = 2**25

_METHODS = ("auto", "local", "windows", "naive")


@dataclass(frozen=True)
class MDMSamples:
    """Samples of the MDM and their per-sequence diagnostics.

    Attributes
    ----------
    samples : int64 (M, L)
    nfe : int64 (M,)
        Reverse-model evaluations (steps, empty Bernoulli steps included).
    revealed_per_step : int64 (M, N_max)
        Tokens revealed at each step; row ``s`` is meaningful up to ``nfe[s]``.
    fallback : bool (M,)
        Whether ``q(x_R) = 0`` was reached, so that uniform draws were used.
    learning_kl_sum, learning_kl_count, learning_kl_max : float64 (M,)
        ``KL(q(.|x_R) || p_theta(.|x_R))`` summed over the revealed tokens drawn from a
        state with ``q(x_R) > 0``, their number, and the maximum.
    schedule, length, learning_error, temperature, seed :
        What produced them (``seed`` is the int seed, or ``None`` for a Generator).
    """

    samples: np.ndarray
    nfe: np.ndarray
    revealed_per_step: np.ndarray
    fallback: np.ndarray
    learning_kl_sum: np.ndarray
    learning_kl_count: np.ndarray
    learning_kl_max: np.ndarray
    schedule: str
    length: int
    learning_error: float
    temperature: float
    seed: int | None

    @property
    def num_samples(self) -> int:
        return self.samples.shape[0]

    @property
    def learning_kl_mean(self) -> float:
        """Mean learning KL per revealed token under the sampler's law (``nan`` if no token qualifies)."""
        count = self.learning_kl_count.sum()
        return float(self.learning_kl_sum.sum() / count) if count else float("nan")


def _check_model_params(learning_error, temperature):
    lam = check_real(learning_error, "learning_error", low=0.0, high=1.0, high_open=True)
    tau = check_real(temperature, "temperature", low=0.0, low_open=True)
    return lam, tau


def sample_mdm(
    language: NGramLanguage,
    length,
    schedule,
    num_samples,
    *,
    rng,
    learning_error=0.0,
    temperature=1.0,
    oracle=None,
    method: str = "auto",
) -> MDMSamples:
    r"""Sample the idealised MDM of SPEC §2.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    schedule : str or Schedule
        SPEC §2 schedule string (``"linear:16"``, ``"uniform:8"``, ``"ar"``, ``"topk:4"``,
        ``"eb:0.5"``, ...) or a :class:`~ngramsim.schedules.Schedule` (e.g. from a callable ``alpha``).
    num_samples : int
    rng : int or numpy.random.Generator
        Each sequence gets one 64-bit stream key from ``rng``; the same seed gives the
        same samples whatever the number of threads.
    learning_error : float
        ``lambda in [0, 1)``.
    temperature : float
        ``tau > 0``.
    oracle : callable, optional
        ``oracle(tokens, revealed) -> (L, V)`` predictive rows replacing ``q(.|x_R)``
        (rows at masked positions must be probability vectors); default: the exact model.
    method : {"auto", "local", "windows", "naive"}
        Exact-model kernel: order-2 local conditionals, forward-backward on windows, or
        the naive full forward-backward at every step (a reference; slow).  All give the
        same law; ``auto`` picks ``local`` for order <= 2 when its tables fit.

    Returns
    -------
    MDMSamples

    Examples
    --------
    >>> import ngramsim
    >>> lang = ngramsim.window_language(8, 2)
    >>> out = ngramsim.sample_mdm(lang, 64, "uniform:8", 100, rng=0)
    >>> out.samples.shape, int(out.nfe[0])
    ((100, 64), 8)
    """
    if not isinstance(language, NGramLanguage):
        raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
    length = language.check_length(length)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    spec = parsed.spec
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    lam, tau = _check_model_params(learning_error, temperature)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if oracle is not None and not callable(oracle):
        raise TypeError(f"oracle must be callable as oracle(tokens, revealed), got {type(oracle).__name__}")
    seed = rng if isinstance(rng, int) and not isinstance(rng, bool) else None
    keys = draw_keys(as_generator(rng), num_samples)
    width = max(resolved.num_steps, 1)
    out = np.empty((num_samples, length), dtype=np.int64)
    nfe = np.zeros(num_samples, dtype=np.int64)
    per_step = np.zeros((num_samples, width), dtype=np.int64)
    fallback = np.zeros(num_samples, dtype=bool)
    stats = np.zeros((num_samples, 3))
    if oracle is None:
        _run_exact(language, resolved, keys, lam, tau, method, out, nfe, per_step, fallback, stats)
    else:
        for s in range(num_samples):
            _run_oracle(language, resolved, keys[s], lam, tau, oracle, out[s], per_step[s], stats[s], nfe, fallback, s)
    return MDMSamples(
        samples=out,
        nfe=nfe,
        revealed_per_step=per_step,
        fallback=fallback,
        learning_kl_sum=stats[:, 0],
        learning_kl_count=stats[:, 1],
        learning_kl_max=stats[:, 2],
        schedule=spec,
        length=length,
        learning_error=lam,
        temperature=tau,
        seed=seed,
    )


@functools.lru_cache(maxsize=4)
def _cached_local_tables(language, length):
    """Power tables of the local order-2 model, built once per (language, length)."""
    P, _, mu, _ = chain_arrays(language)
    return power_tables(P, mu, length)


@functools.lru_cache(maxsize=4)
def _cached_mixing_profile(language, length):
    """:func:`~ngramsim._kernels.powers.mixing_profile` of the local tables, once per (language, length)."""
    return mixing_profile(_cached_local_tables(language, length))


def truncation_distances(language, length, rule, temperature):
    """``(D_L, D_R, eta)`` of the order-2 adaptive sampler (``L + 1``: the chain does not mix within ``L``).

    ``eta`` from :func:`~ngramsim._kernels.adaptive.truncation_eta` (keys within
    ``KEY_TOLERANCE`` of the exact ones); the distances from the tables' mixing profile.
    """
    eta = truncation_eta(rule, language.vocab_size, temperature)
    left, right = _cached_mixing_profile(language, length)
    return truncation_distance(left, eta), truncation_distance(right, eta), eta


@functools.lru_cache(maxsize=4)
def _cached_truncation(language, length, rule, lam, tau):
    """Truncated-key tables of the order-2 adaptive sampler (:func:`~ngramsim._kernels.adaptive_local2.truncation`)."""
    dl, dr, _ = truncation_distances(language, length, rule, tau)
    return truncation(_cached_local_tables(language, length), (rule, float(lam), float(tau)), dl, dr)


def _adaptive_debug(language, length, schedule, key, learning_error=0.0, temperature=1.0):
    """Run the order-2 adaptive loop on one stream ``key`` with its per-step self-checks (tests only).

    Returns ``(tokens, debug)`` with ``debug = [max |maintained key - exact key|, positions scored
    with a truncated factor (summed over steps), steps whose choice differs from select() on the
    maintained keys, steps]``.
    """
    resolved = parse_schedule(schedule).resolve(length)
    lam, tau = _check_model_params(learning_error, temperature)
    rule_spec = (resolved.kind, resolved.sizes, float(resolved.gamma))
    trunc = _cached_truncation(language, length, resolved.kind, lam, tau)
    x, _, _, debug, _, _ = debug_local2(np.uint64(key), rule_spec, _cached_local_tables(language, length), trunc,
                                        (lam, tau), length, max(resolved.num_steps, 1))
    return x, debug


#: The windows model tabulates the prefix law of the context chain while ``(L - n + 2) K`` floats fit.
PREFIX_TABLE_LIMIT = 2**22


@functools.lru_cache(maxsize=4)
def _cached_window_model(language, length):
    """``(P, successor, mu, chain trusted, m)`` and ``prefix = (table, limit)`` (see :mod:`._kernels.mdm_blocks`)."""
    P, succ, mu, m = chain_arrays(language)
    trusted = chain_trusted(P, mu)
    K = P.shape[0]
    rows = length - m + 1
    if not trusted or rows * K > PREFIX_TABLE_LIMIT:
        return (P, succ, mu, trusted, m), (np.zeros((1, K)), -1)
    table = propagate_context_laws(mu, P, succ, np.empty((rows, K)))
    bad = np.flatnonzero(((table > 0) & (table < TRUST)).any(axis=1))
    limit = m + int(bad[0]) - 1 if bad.size else length
    return (P, succ, mu, trusted, m), (table, limit)


# Placeholder of the local tables' types for the windows model (one compiled signature).
_NO_TABLES = (np.zeros((1, 1, 1)), np.zeros((1, 1, 1)), np.zeros((1, 1, 1), dtype=bool),
              np.zeros((2, 1, 1), dtype=bool), np.zeros((1, 1, 1)), np.zeros((1, 1, 1)))


def _run_exact(language, resolved, keys, lam, tau, method, out, nfe, per_step, fallback, stats):
    P, succ, mu, m = chain_arrays(language)
    V = language.vocab_size
    L = resolved.length
    fits = 2 * (L + 1) * (V + 1) * V <= LOCAL_TABLE_LIMIT
    if method == "local" and (m != 1 or not fits):
        raise ValueError(
            "method='local' needs order <= 2 and tables within LOCAL_TABLE_LIMIT "
            f"(order={language.order}, 2 (L+1)(V+1) V = {2 * (L + 1) * (V + 1) * V})"
        )
    local2 = method == "local" or (method == "auto" and m == 1 and fits)
    if local2:
        tables = _cached_local_tables(language, L)
    else:
        tables = _NO_TABLES
    outputs = (out, nfe, per_step, fallback, stats)
    params = (float(lam), float(tau))
    if local2:
        model, prefix = (P, succ, mu, True, m, True), (np.zeros((1, P.shape[0])), -1)
    else:
        (P, succ, mu, trusted, m), prefix = _cached_window_model(language, L)
        model = (P, succ, mu, trusted, m, method != "naive")
    if resolved.is_adaptive:
        rule_spec = (resolved.kind, resolved.sizes, float(resolved.gamma))
        if local2:
            trunc = _cached_truncation(language, L, resolved.kind, params[0], params[1])
            _k.sample_adaptive_local2(keys, rule_spec, tables, trunc, params, outputs)
        else:
            _k.sample_adaptive_windows(keys, rule_spec, model, params, prefix, outputs)
        return
    schedule = (resolved.kind, resolved.alias_prob, resolved.alias_index, resolved.sizes, resolved.step_of,
                resolved.num_steps)
    if local2:
        _k.sample_local2(keys, schedule, tables, params, outputs)
    else:
        _k.sample_windows(keys, schedule, model, params, prefix, outputs)


def _oracle_rows(oracle, x, positions, vocab_size, step):
    """Call the oracle on the state ``x`` (-1 = masked) and validate its rows at ``positions``."""
    revealed = x >= 0
    rows = np.asarray(oracle(np.where(revealed, x, 0), revealed.copy()), dtype=np.float64)
    if rows.shape != (len(x), vocab_size):
        raise ValueError(f"oracle must return an array of shape {(len(x), vocab_size)}, got {rows.shape} (step {step})")
    sub = rows[positions]
    if not np.all(np.isfinite(sub)) or np.any(sub < 0):
        raise ValueError(f"oracle returned a row with a negative or non-finite entry at step {step}")
    sums = sub.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        j = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"oracle row for position {int(positions[j])} sums to {float(sums[j])!r} at step {step}; "
            "rows must be probability vectors (atol=1e-06)"
        )
    return rows / np.where(rows.sum(axis=1, keepdims=True) > 0, rows.sum(axis=1, keepdims=True), 1.0)


def _kl(q_row, p_row):
    support = q_row > 0
    if np.any(p_row[support] <= 0):
        return np.inf
    return float(max(np.sum(q_row[support] * (np.log(q_row[support]) - np.log(p_row[support]))), 0.0))


def _run_oracle(language, resolved, key, lam, tau, oracle, x_out, per_step, stats, nfe, fallback, s):
    """One sequence with a user oracle: the kernels' semantics and random streams, in Python."""
    L, V = resolved.length, language.vocab_size
    x = np.full(L, -1, dtype=np.int64)
    row = np.empty(V)
    failed = False
    schedule_u = np.empty(L)
    value_u = np.empty(L)
    draw_stream(key, schedule_u, value_u)

    def draw_step(members, t, rows=None):
        nonlocal failed
        members = np.sort(np.asarray(members, dtype=np.int64))
        if not failed:
            if rows is None:
                rows = _oracle_rows(oracle, x, members, V, t)
            exact, _ = conditional_marginals(language, np.maximum(x, 0), x >= 0)
        for i in members:
            u = value_u[i]
            if failed:
                x[i] = draw_uniform(V, u)
                continue
            theta_row(rows[i], 1.0, lam, tau, row)
            x[i] = draw_weights(row, row.sum(), u)
            kl = _kl(exact[i], row)
            stats[0] += kl
            stats[1] += 1.0
            stats[2] = max(stats[2], kl)
        if not failed:
            failed = conditional_marginals(language, np.maximum(x, 0), x >= 0)[1] == -np.inf
        per_step[t - 1] = len(members)

    if resolved.is_adaptive:
        t = 0
        while np.any(x < 0):
            masked = np.flatnonzero(x < 0).astype(np.int64)
            rows = None
            if failed:
                theta = np.full((L, V), 1.0 / V)
            else:
                rows = _oracle_rows(oracle, x, masked, V, t + 1)
                theta = np.empty((L, V))
                for i in masked:
                    theta_row(rows[i], 1.0, lam, tau, theta[i])
            keys = np.array([score_key(resolved.kind, theta[i]) for i in masked])
            size = int(resolved.sizes[t]) if resolved.kind in (TOPK, MARGIN) else 0
            sel = np.empty(L, dtype=np.int64)
            chosen = select(resolved.kind, keys, masked, size, resolved.gamma, (key, L, t + 1), sel)
            t += 1
            draw_step(sel[:chosen], t, rows)
        nfe[s] = t
    else:
        step = np.empty(L, dtype=np.int64)
        perm = np.empty(L, dtype=np.int64)
        order = np.empty(L, dtype=np.int64)
        counts = np.empty(resolved.num_steps, dtype=np.int64)
        assign_steps(resolved.kind, schedule_u, resolved.alias_prob, resolved.alias_index, resolved.sizes, resolved.step_of, perm, step)
        start = positions_by_step(step, resolved.num_steps, counts, order)
        for t in range(resolved.num_steps):
            draw_step(order[start[t] : start[t + 1]], t + 1)
        nfe[s] = resolved.num_steps
    fallback[s] = failed
    x_out[:] = x
