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
import time
import warnings
from dataclasses import dataclass

import numba
import numpy as np

from ngramsim._kernels.adaptive import select, truncation_eta
from ngramsim._kernels.adaptive_local2 import debug_local2, truncation
from ngramsim._kernels import mdm as _k
from ngramsim._kernels import remasking as _remasking
from ngramsim._kernels.chain import propagate_context_laws
from ngramsim._kernels.forward_backward import TRUST, chain_trusted
from ngramsim._kernels.powers import mixing_profile, power_tables, truncation_distance
from ngramsim._kernels.reverse import draw_uniform, draw_weights, kl_weights, record_kl, theta_row, theta_rows
from ngramsim._kernels.rng import draw_keys, draw_stream, redraw_counter, uniform
from ngramsim._kernels.steps import LOWCONF, REMDM, TOPK, assign_steps, occupied_steps
from ngramsim._progress import progress_bar
from ngramsim._model import adaptive_choice, check_model_params, oracle_rows
from ngramsim._validation import as_generator, check_int, check_language, check_sample_size
from ngramsim.marginals import chain_arrays, conditional_marginals
from ngramsim.schedules import parse_schedule
from ngramsim.sources import NGramLanguage
from ngramsim.sparse import SparseLanguage, sample_mdm_sparse

__all__ = ["MDMSamples", "sample_mdm", "LOCAL_TABLE_LIMIT", "DENSE_STEP_LIMIT", "WINDOW_SCRATCH_LIMIT"]

#: Order-2 languages use the local model while its tables (``2 (L+1)(V+1) V`` floats) stay within this.
LOCAL_TABLE_LIMIT = 2**25

#: Most tokens per batch of :func:`sample_mdm` (between batches: interrupts, progress).
BATCH_TOKENS = 2**20
#: Batches grow while they take less than half of this (seconds).
BATCH_SECONDS = 0.5

#: Most entries of the dense :attr:`MDMSamples.revealed_per_step` table (2**26: 512 MiB).
DENSE_STEP_LIMIT = 2**26

#: Most float64 entries of the windows kernel's forward-backward scratch per thread,
#: ``2 (L + 1) K`` for ``K = V^(n-1)`` contexts (2**27: 1 GiB).
WINDOW_SCRATCH_LIMIT = 2**27

_METHODS = ("auto", "local", "windows", "naive")


@dataclass(frozen=True)
class MDMSamples:
    """Samples of the MDM and their per-sequence diagnostics.

    Returned by :func:`sample_mdm`; summarised by
    :func:`~ngramsim.metrics.summarize_samples`.  A frozen dataclass: each
    parameter is stored as the attribute of the same name.

    Parameters
    ----------
    samples : int64 (M, L)
        The sequences ``x ~ p``, one per row.
    nfe : int64 (M,)
        Reverse-model evaluations (steps, empty Bernoulli steps included).
    step_sizes, step_indices : int64 (M, W), ``W = min(N, L)``
        The steps that revealed something, compactly: sequence ``s`` revealed
        ``step_sizes[s, k]`` tokens at step ``step_indices[s, k]`` (1-based, increasing),
        for ``k`` below its number of occupied steps; the rest is 0.  Empty steps (a
        Bernoulli schedule with ``N`` near or above ``L``) change nothing and are not
        stored; :attr:`revealed_per_step` gives the dense ``(M, N)`` table.
    fallback : bool (M,)
        Whether ``q(x_R) = 0`` was reached, so that uniform draws were used.
    learning_kl_sum, learning_kl_count, learning_kl_max : float64 (M,)
        ``KL(q(.|x_R) || p_theta(.|x_R))`` summed over the revealed tokens drawn from a
        state with ``q(x_R) > 0``, their number, and the maximum.
    schedule : str
        Canonical schedule string.
    length : int
        ``L``.
    learning_error, temperature : float
        ``lambda`` and ``tau`` of ``p_theta``.
    seed : int or None
        The int seed given as ``rng``, or ``None`` for a Generator.
    kernel : str
        The path that ran: ``"local"`` (order <= 2, powers of ``P``), ``"windows"``
        (forward-backward on windows), ``"naive"``, ``"oracle"`` (a user oracle), or
        ``"lowconf"`` / ``"remdm"`` (those decoders' kernels; with a user oracle the kernel is ``"oracle"``).

    Attributes
    ----------
    num_samples : int
        ``M``.
    revealed_per_step : int64 (M, N_max)
        Dense per-step reveal counts, empty steps included.
    learning_kl_mean : float
        Mean learning KL per revealed token.

    Examples
    --------
    >>> from ngramsim import sample_mdm, window_language
    >>> out = sample_mdm(window_language(4, 2), 8, "linear:16", 3, rng=0)
    >>> out.num_samples, out.nfe.tolist(), out.step_sizes.shape  # W = min(N, L) = 8
    (3, [16, 16, 16], (3, 8))
    >>> out.revealed_per_step.shape, out.revealed_per_step.sum(axis=1).tolist()
    ((3, 16), [8, 8, 8])
    >>> out.learning_kl_mean, out.kernel  # lambda = 0, tau = 1: the ideal model
    (0.0, 'local')
    """

    samples: np.ndarray
    nfe: np.ndarray
    step_sizes: np.ndarray
    step_indices: np.ndarray
    fallback: np.ndarray
    learning_kl_sum: np.ndarray
    learning_kl_count: np.ndarray
    learning_kl_max: np.ndarray
    schedule: str
    length: int
    learning_error: float
    temperature: float
    seed: int | None
    kernel: str = "local"

    @property
    def num_samples(self) -> int:
        """``M``, the number of sequences."""
        return self.samples.shape[0]

    @property
    def revealed_per_step(self) -> np.ndarray:
        """int64 (M, N_max): tokens revealed at each step, empty steps included (``N_max = max(nfe)``).

        Row ``s`` is meaningful up to ``nfe[s]``.  Refuses (``ValueError``) beyond
        :data:`DENSE_STEP_LIMIT` entries: use :attr:`step_sizes` and :attr:`step_indices`.
        """
        width = int(self.nfe.max(initial=0))
        size = self.num_samples * width
        if size > DENSE_STEP_LIMIT:
            raise ValueError(
                f"revealed_per_step would hold num_samples x steps = {self.num_samples} x {width} = {size} entries "
                f"(limit {DENSE_STEP_LIMIT}); read the occupied steps from step_sizes and step_indices instead"
            )
        dense = np.zeros((self.num_samples, width), dtype=np.int64)
        rows, cols = np.nonzero(self.step_indices)
        dense[rows, self.step_indices[rows, cols] - 1] = self.step_sizes[rows, cols]
        return dense

    @property
    def learning_kl_mean(self) -> float:
        """Mean learning KL per revealed token under the sampler's law (``nan`` if no token qualifies).

        ``sum(learning_kl_sum) / sum(learning_kl_count)``: a Monte Carlo estimate of
        ``E KL(q(.|x_R) || p_theta(.|x_R))`` over the tokens drawn from states with
        ``q(x_R) > 0``, to compare with ``eps_learning`` in the assumption of Feng
        et al. (2025, arXiv:2502.09622).
        """
        count = self.learning_kl_count.sum()
        return float(self.learning_kl_sum.sum() / count) if count else float("nan")


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
    progress: bool = False,
) -> MDMSamples:
    r"""Sample the idealised MDM of SPEC §2.

    Parameters
    ----------
    language : NGramLanguage or SparseLanguage
        A :class:`~ngramsim.sparse.SparseLanguage` runs :func:`~ngramsim.sparse.sample_mdm_sparse`
        (non-adaptive schedules, exact model only).
    length : int
        ``L >= max(1, n - 1)``.
    schedule : str or Schedule
        SPEC §2 schedule string (``"linear:16"``, ``"uniform:8"``, ``"ar"``, ``"topk:4"``,
        ``"eb:0.5"``, ...) or a :class:`~ngramsim.schedules.Schedule` (e.g. from a callable ``alpha``).
    num_samples : int
        ``M >= 1`` sequences, with ``M L <= 2^27`` tokens per call.
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
        same law; ``auto`` picks ``local`` for order <= 2 when its tables fit (and warns
        when an order-2 language is too large for them).
    progress : bool
        Show a progress bar with ETA on stderr when it is a terminal (tqdm if installed).
        Sequences are sampled in batches of about :data:`BATCH_TOKENS` tokens either way, so
        Ctrl-C (``KeyboardInterrupt``) takes effect within a batch; batching changes no sample.

    Returns
    -------
    MDMSamples
        The ``(M, L)`` samples with, per sequence, the NFEs, the occupied steps, the
        fallback flag and the learning-KL statistics, and what produced them.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, ``schedule`` neither a string
        nor a :class:`~ngramsim.schedules.Schedule`, ``rng`` missing or of the wrong
        type, ``oracle`` not callable, or a numeric argument of the wrong type.
    ValueError
        If ``length`` is below ``max(1, n - 1)``; the schedule is malformed or does not
        fit ``length``; ``num_samples < 1`` or ``num_samples * length > 2^27`` tokens;
        ``lambda`` lies outside ``[0, 1)`` or ``tau <= 0``; ``method`` is unknown, or
        ``"local"`` where it does not apply; the windows kernel's scratch would exceed
        ``WINDOW_SCRATCH_LIMIT``; or the oracle returns rows of the wrong shape or that
        are not probability vectors (within ``1e-6``).

    Warns
    -----
    UserWarning
        With ``method="auto"``, when an order-2 language is too large for the power
        tables (``LOCAL_TABLE_LIMIT``) and the slower windows kernel runs instead.

    Notes
    -----
    At step ``t`` every position of ``S_t`` is drawn independently (the
    conditional-independence assumption of Feng et al. 2025, arXiv:2502.09622)
    from

    ``p_theta(x_i | x_{R_t}) = (1 - lambda) T_tau[q(. | x_{R_t})](x_i) + lambda / V``,
    ``T_tau[r](v) ∝ r(v)^(1/tau)`` on the support of ``r``;

    once ``q(x_{R_t}) = 0`` every later draw is uniform on ``V`` (``fallback``).  For
    a non-adaptive schedule the law of a row of ``samples`` is the mixture over the
    schedule's randomness of ``p_S(x) = prod_t prod_{i in S_t} p_theta(x_i | x_{R_t})``;
    the exact engine :func:`~ngramsim.exact.exact_law` computes the same law on tiny
    cases.  Each step costs one NFE, revealing or not; ``ar`` costs ``L``.

    Examples
    --------
    >>> import ngramsim
    >>> lang = ngramsim.window_language(8, 2)
    >>> out = ngramsim.sample_mdm(lang, 64, "uniform:8", 100, rng=0)
    >>> out.samples.shape, int(out.nfe[0])
    ((100, 64), 8)

    On ``W(8, 2)`` parallel random steps break the window (THEORY C2), while
    ``ar`` (16 NFEs) and the planned ``stride:7`` (7 NFEs) never do (C2'):

    >>> short = {s: ngramsim.sample_mdm(lang, 16, s, 500, rng=0) for s in ("uniform:4", "stride:7", "ar")}
    >>> {s: round(float(1 - lang.is_valid(o.samples).mean()), 1) for s, o in short.items()}
    {'uniform:4': 0.9, 'stride:7': 0.0, 'ar': 0.0}
    """
    if isinstance(language, SparseLanguage):  # large vocabularies, non-adaptive schedules: ngramsim/sparse.py
        return sample_mdm_sparse(language, length, schedule, num_samples, rng=rng, learning_error=learning_error,
                                 temperature=temperature, oracle=oracle, method=method, progress=progress)
    check_language(language)
    length = language.check_length(length)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    spec = parsed.spec
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    check_sample_size(num_samples, length)
    lam, tau = check_model_params(learning_error, temperature)
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if oracle is not None and not callable(oracle):
        raise TypeError(f"oracle must be callable as oracle(tokens, revealed), got {type(oracle).__name__}")
    seed = rng if isinstance(rng, int) and not isinstance(rng, bool) else None
    keys = draw_keys(as_generator(rng), num_samples)
    width = max(min(resolved.num_steps, length), 1)
    out = np.empty((num_samples, length), dtype=np.int64)
    nfe = np.zeros(num_samples, dtype=np.int64)
    per_step = np.zeros((num_samples, 2, width), dtype=np.int64)
    fallback = np.zeros(num_samples, dtype=bool)
    stats = np.zeros((num_samples, 3))
    if resolved.kind in (LOWCONF, REMDM) and oracle is None:
        kernel = "lowconf" if resolved.kind == LOWCONF else "remdm"
        P, succ, mu, m = chain_arrays(language)
        chain = (P, succ, mu, m, chain_trusted(P, mu))
        lowconf = resolved.kind == LOWCONF
        schedule_arrays = (resolved.sizes, resolved.bounds, resolved.remask)
        batch = max(1, BATCH_TOKENS // length)

        def run(keys, outputs):
            _remasking.sample_remasking(keys, lowconf, schedule_arrays, chain, (lam, tau), outputs)
    elif resolved.kind in (LOWCONF, REMDM):  # a user oracle: the Python loops
        kernel, runner = "oracle", (_run_lowconf if resolved.kind == LOWCONF else _run_remdm)
        batch = 1

        def run(keys, outputs):
            out, nfe, per_step, fallback, stats = outputs
            nfe[0], fallback[0] = runner(language, resolved, keys[0], (lam, tau, oracle),
                                         (out[0], per_step[0], stats[0]))
    elif oracle is None:
        run, kernel = _exact_runner(language, resolved, lam, tau, method)
        batch = max(1, BATCH_TOKENS // length)
    else:
        kernel, batch = "oracle", 1

        def run(keys, outputs):
            out, nfe, per_step, fallback, stats = outputs
            nfe[0], fallback[0] = _run_oracle(language, resolved, keys[0], (lam, tau, oracle),
                                              (out[0], per_step[0], stats[0]))

    # Batches of sequences: between them Ctrl-C is acted on and the progress bar moves.  Each
    # sequence has its own random stream, so batching changes no sample.  Batches start small
    # and grow (up to BATCH_TOKENS) while they take less than BATCH_SECONDS.
    size = min(batch, numba.get_num_threads())
    first = 0
    with progress_bar(num_samples, "sample", "seq", enabled=progress) as bar:
        while first < num_samples:
            part = slice(first, min(first + size, num_samples))
            began = time.perf_counter()
            run(keys[part], (out[part], nfe[part], per_step[part], fallback[part], stats[part]))
            elapsed = time.perf_counter() - began
            bar.update(part.stop - part.start)
            first = part.stop
            if elapsed < BATCH_SECONDS / 2:
                size = min(batch, 2 * size)
    return MDMSamples(
        samples=out,
        nfe=nfe,
        step_sizes=per_step[:, 0],
        step_indices=per_step[:, 1],
        fallback=fallback,
        learning_kl_sum=stats[:, 0],
        learning_kl_count=stats[:, 1],
        learning_kl_max=stats[:, 2],
        schedule=spec,
        length=length,
        learning_error=lam,
        temperature=tau,
        seed=seed,
        kernel=kernel,
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
    lam, tau = check_model_params(learning_error, temperature)
    rule_spec = (resolved.kind, resolved.sizes, float(resolved.gamma))
    trunc = _cached_truncation(language, length, resolved.kind, lam, tau)
    x, _, _, debug, _, _ = debug_local2(np.uint64(key), rule_spec, _cached_local_tables(language, length), trunc,
                                        (lam, tau), length, max(resolved.num_steps, 1))
    return x, debug


#: The windows model tabulates the prefix law of the context chain while ``(L - n + 2) K`` floats fit.
PREFIX_TABLE_LIMIT = 2**22


@functools.lru_cache(maxsize=4)
def _cached_window_model(language, length):
    """``(P, successor, mu, chain trusted, m)`` and ``prefix = (table, limit)`` (see :mod:`._kernels.mdm_windows`)."""
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


def _exact_runner(language, resolved, lam, tau, method):
    """``(run, kernel)``: ``run(keys, outputs)`` samples one batch with the exact model; ``kernel``
    names the path (``"local"``: order-2 powers of ``P``; ``"windows"``; ``"naive"``)."""
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
    if method == "auto" and m == 1 and not fits:
        warnings.warn(
            f"order-2 language with vocab_size={V} at length={L}: the order-2 power tables would need "
            f"2 (L+1)(V+1) V = {2 * (L + 1) * (V + 1) * V} entries (LOCAL_TABLE_LIMIT = {LOCAL_TABLE_LIMIT}), "
            "so the windows kernel runs instead (the same law, slower per token)",
            stacklevel=3,
        )
    K = P.shape[0]
    if not local2 and 2 * (L + 1) * K > WINDOW_SCRATCH_LIMIT:
        raise ValueError(
            f"length={L} is too long for the windows kernel at {K} contexts (V^(n-1)): its forward-backward "
            f"scratch needs 2 (L+1) K = {2 * (L + 1) * K} float64 entries per thread, limit "
            f"{WINDOW_SCRATCH_LIMIT} (1 GiB); lower length"
        )
    params = (float(lam), float(tau))
    if local2:
        tables = _cached_local_tables(language, L)
        model, prefix = (P, succ, mu, True, m, True), (np.zeros((1, P.shape[0])), -1)
    else:
        tables = _NO_TABLES
        (P, succ, mu, trusted, m), prefix = _cached_window_model(language, L)
        model = (P, succ, mu, trusted, m, method != "naive")
    kernel = "local" if local2 else ("naive" if method == "naive" else "windows")
    if resolved.is_adaptive:
        rule_spec = (resolved.kind, resolved.sizes, float(resolved.gamma))
        if local2:
            trunc = _cached_truncation(language, L, resolved.kind, params[0], params[1])
            return (lambda keys, outputs: _k.sample_adaptive_local2(keys, rule_spec, tables, trunc, params, outputs),
                    kernel)
        return (lambda keys, outputs: _k.sample_adaptive_windows(keys, rule_spec, model, params, prefix, outputs),
                kernel)
    schedule = resolved.kernel_schedule
    if local2:
        return lambda keys, outputs: _k.sample_local2(keys, schedule, tables, params, outputs), kernel
    return lambda keys, outputs: _k.sample_windows(keys, schedule, model, params, prefix, outputs), kernel


def _run_oracle(language, resolved, key, model, outputs):
    """One sequence with a user oracle: the kernels' semantics and random streams, in Python.

    ``model = (lam, tau, oracle)``; ``outputs = (x_out, per_step, stats)`` receive the tokens, the
    occupied steps (sizes, 1-based steps) and the learning-KL sums; returns ``(nfe, fallback)``.
    """
    lam, tau, oracle = model
    x_out, per_step, stats = outputs
    L, V = resolved.length, language.vocab_size
    x = np.full(L, -1, dtype=np.int64)
    row = np.empty(V)
    failed = False
    schedule_u = np.empty(L)
    value_u = np.empty(L)
    draw_stream(key, schedule_u, value_u)

    occupied = 0

    def draw_step(members, t, rows=None):
        nonlocal failed, occupied
        members = np.sort(np.asarray(members, dtype=np.int64))
        if not failed:
            if rows is None:
                rows = oracle_rows(oracle, x, members, V, t)
            exact, _ = conditional_marginals(language, np.maximum(x, 0), x >= 0)
        for i in members:
            u = value_u[i]
            if failed:
                x[i] = draw_uniform(V, u)
                continue
            theta_row(rows[i], 1.0, lam, tau, row)
            x[i] = draw_weights(row, row.sum(), u)
            kl = kl_weights(exact[i], 1.0, row)
            stats[0] += kl
            stats[1] += 1.0
            stats[2] = max(stats[2], kl)
        if not failed:
            failed = conditional_marginals(language, np.maximum(x, 0), x >= 0)[1] == -np.inf
        per_step[0, occupied] = len(members)
        per_step[1, occupied] = t
        occupied += 1

    if resolved.is_adaptive:
        t = 0
        while np.any(x < 0):
            masked = np.flatnonzero(x < 0).astype(np.int64)
            rows = None
            if failed:
                theta = np.full((L, V), 1.0 / V)
            else:
                rows = oracle_rows(oracle, x, masked, V, t + 1)
                theta = np.empty((L, V))
                for i in masked:
                    theta_row(rows[i], 1.0, lam, tau, theta[i])
            chosen = adaptive_choice(resolved, theta.__getitem__, masked, key, t + 1)
            t += 1
            draw_step(chosen, t, rows)
        num_steps = t
    else:
        step = np.empty(L, dtype=np.int64)
        perm = np.empty(L, dtype=np.int64)
        order = np.empty(L, dtype=np.int64)
        counts = np.empty(per_step.shape[1], dtype=np.int64)
        ids = np.empty(per_step.shape[1], dtype=np.int64)
        assign_steps(resolved.kind, schedule_u, *resolved.kernel_schedule[1:5], resolved.block, perm, step)
        num_occupied, start = occupied_steps(step, resolved.num_steps, counts, ids, order)
        for k in range(num_occupied):  # empty steps change nothing: the oracle is not called for them
            draw_step(order[start[k] : start[k + 1]], int(ids[k]))
        num_steps = resolved.num_steps
    x_out[:] = x
    return num_steps, failed


def _run_lowconf(language, resolved, key, model, outputs):
    """One sequence of low-confidence remasking (``lowconf:N``), in Python over per-step kernels.

    At step ``t`` every masked position ``i`` draws ``y_i`` from ``p_theta(. | x_R)`` (exact rows, or
    the oracle's) with the uniform ``redraw_counter(L, t, i)``; the ``s_t`` positions with the
    largest ``p_theta(y_i)`` keep their draw (ties broken as for ``topk``, at ``tie_counter(L, t, j)``);
    the others are remasked.  ``model = (lam, tau, oracle or None)``; ``outputs = (x, per_step,
    stats)``; returns ``(nfe, fallback)``.  Once ``q(x_R) = 0`` every row is uniform (the fallback).
    """
    lam, tau, oracle = model
    x_out, per_step, stats = outputs
    L, V = resolved.length, language.vocab_size
    x = np.full(L, -1, dtype=np.int64)
    failed = False
    ideal = oracle is None and lam == 0.0 and tau == 1.0
    out = np.empty(L, dtype=np.int64)
    for t in range(1, resolved.num_steps + 1):
        lo, hi = resolved.bounds[t - 1]  # the current block (the whole sequence without blocks)
        masked = lo + np.flatnonzero(x[lo:hi] < 0).astype(np.int64)
        if failed:
            theta = np.full((len(masked), V), 1.0 / V)
        else:
            exact, _ = conditional_marginals(language, np.maximum(x, 0), x >= 0)
            base = exact[masked] if oracle is None else oracle_rows(oracle, x, masked, V, t)[masked]
            theta = theta_rows(np.ascontiguousarray(base), lam, tau, np.empty((len(masked), V)))
        drawn = np.empty(len(masked), dtype=np.int64)
        for j, i in enumerate(masked):
            drawn[j] = draw_weights(theta[j], theta[j].sum(), uniform(key, redraw_counter(L, t, i)))
        keys = -theta[np.arange(len(masked)), drawn]  # ascending keys: most confident first
        size = int(resolved.sizes[t - 1])
        count = select(TOPK, keys, masked, size, 0.0, (key, L, t), out)
        slot = {int(i): j for j, i in enumerate(masked)}
        for i in out[:count]:
            j = slot[int(i)]
            x[i] = drawn[j]
            if not failed:
                record_kl(stats, 0.0 if ideal else kl_weights(exact[i], 1.0, theta[j]))
        per_step[0, t - 1] = count
        per_step[1, t - 1] = t
        if not failed:
            failed = conditional_marginals(language, np.maximum(x, 0), x >= 0)[1] == -np.inf
    x_out[:] = x
    return resolved.num_steps, failed


def _model_rows(language, x, masked, model, t):
    """``(q rows, p_theta rows, q(x_R) > 0)`` at the ``masked`` positions of the partial sequence ``x``
    (``-1`` = masked); uniform ``p_theta`` rows when ``q(x_R) = 0`` (the fallback)."""
    lam, tau, oracle = model
    V = language.vocab_size
    exact, log_evidence = conditional_marginals(language, np.maximum(x, 0), x >= 0)
    if log_evidence == -np.inf:
        return None, np.full((len(masked), V), 1.0 / V), False
    base = exact[masked] if oracle is None else oracle_rows(oracle, x, masked, V, t)[masked]
    return exact[masked], theta_rows(np.ascontiguousarray(base), lam, tau, np.empty((len(masked), V))), True


def _run_remdm(language, resolved, key, model, outputs):
    """One sequence of ReMDM-style remasking (``remdm:N:eta``), in Python over per-step kernels.

    Step ``t``: :func:`~ngramsim._kernels.remasking.remdm_choice` remasks each revealed position with
    probability ``sigma_t`` and picks a uniformly random set of ``r_t - |R|`` masked positions, each drawn
    from ``p_theta(. | x_R)`` with ``uniform(key, redraw_counter(L, t, i))`` -- the kernel's streams.
    ``model = (lam, tau, oracle)``, ``outputs = (x, per_step, stats)``; returns ``(nfe, fallback)``, the
    fallback meaning ``q(x) = 0`` at the end (uniform rows are used whenever ``q(x_R) = 0``, and
    remasking can leave that state again).
    """
    lam, tau, _ = model
    x_out, per_step, stats = outputs
    L = resolved.length
    ideal = model[2] is None and lam == 0.0 and tau == 1.0
    x = np.full(L, -1, dtype=np.int64)
    ends = np.cumsum(resolved.sizes)
    for t in range(1, resolved.num_steps + 1):
        chosen = _remasking.remdm_choice(key, t, resolved.remask[t - 1], int(ends[t - 1]), x)
        count = len(chosen)
        masked = np.flatnonzero(x < 0).astype(np.int64)
        exact, theta, valid = _model_rows(language, x, masked, model, t)
        slot = np.searchsorted(masked, chosen)
        for i, j in zip(chosen, slot):
            x[i] = draw_weights(theta[j], theta[j].sum(), uniform(key, redraw_counter(L, t, i)))
            if valid:
                record_kl(stats, 0.0 if ideal else kl_weights(exact[j], 1.0, theta[j]))
        per_step[0, t - 1] = count
        per_step[1, t - 1] = t
    x_out[:] = x
    return resolved.num_steps, not language.is_valid(x[None, :])[0]
