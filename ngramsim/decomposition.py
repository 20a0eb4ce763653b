r"""The KL of parallel sampling, decomposed (THEORY B1, B2, B7) — at any length.

* **B2** (:func:`expected_kl`): for count schedules with sizes ``s_t`` (``r_t = s_1 + ... +
  s_{t-1}``), uniformly random positions and the ideal reverse model,
  ``E_S KL(q || p_S) = sum_t [ s_t (Phi(r_t + 1) - Phi(r_t)) - (Phi(r_t + s_t) - Phi(r_t)) ]``;
  for Bernoulli schedules the same expression averaged over the binomial chain of
  ``(r_t, s_t)`` (``s_t ~ Bin(L - r_t, h_t)``, ``O(N L^2)``).  Exact at any ``L`` for order 2;
  elsewhere from a Monte Carlo ``Phi``, whose standard errors propagate to the result (the
  terms are linear in ``Phi``: :func:`b2_matrix`).
* **B1** (:func:`estimate_b1`): Monte Carlo estimates, with standard errors, of each step's
  ``E_q TC(X_{S_t} | X_{R_t})`` and learning term along ``x ~ q`` and the schedule's
  randomness (adaptive rules run on ``x ~ q``); each term is a difference of log-evidences:
  ``TC(X_S | x_R) = sum_{i in S} -log q(x_i | x_R) + log q(x_{R u S}) - log q(x_R)``.
  B7: each step's ``tc`` is a lower bound on that step's KL contribution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.stats import binom

from ngramsim._kernels.forward_backward import chain_trusted, conditional_marginals_scaled
from ngramsim._kernels.reverse import theta_row
from ngramsim._kernels.rng import draw_keys, draw_stream
from ngramsim._kernels.steps import LOWCONF, REMDM, assign_steps
from ngramsim._validation import as_generator, check_int, check_language
from ngramsim.information import phi_curve
from ngramsim.marginals import chain_arrays
from ngramsim._model import adaptive_choice, check_model_params
from ngramsim.schedules import BERNOULLI, COUNTS, parse_schedule
from ngramsim.sources import NGramLanguage

__all__ = ["b2_matrix", "expected_kl_from_phi", "expected_kl", "estimate_b1"]


def b2_matrix(resolved, length):
    r"""B2 as a linear map of the information curve: the sparse matrix ``M`` with ``term_t = sum_k M[t, k] Phi(k)``.

    For a count schedule (sizes ``s_t``, ``r_t = s_1 + ... + s_{t-1}``) row ``t`` is

    .. math::

        s_t \Phi(r_t + 1) + (1 - s_t) \Phi(r_t) - \Phi(r_t + s_t),

    i.e. ``s_t (Phi(r_t + 1) - Phi(r_t)) - (Phi(r_t + s_t) - Phi(r_t))`` (a step of one token
    gives the zero row).  For a Bernoulli schedule it is the same expression averaged over the
    binomial chain of ``(r_t, s_t)``: given ``r_t = r``, ``s_t ~ Bin(L - r, h_t)`` with hazard
    ``h_t = w_t / (1 - w_1 - ... - w_{t-1})`` (``h_N = 1``), which costs ``O(N L^2)`` time and
    ``O(N L)`` memory (count schedules: ``O(N)``).

    Parameters
    ----------
    resolved : ResolvedSchedule
        A count or Bernoulli schedule resolved against ``length``.
    length : int
        ``L``; the matrix has ``L + 1`` columns, ``k = 0 .. L``.

    Returns
    -------
    scipy.sparse.csr_array, shape ``(N, L + 1)``
        Duplicate entries summed, so ``|M|`` is the map of absolute coefficients.
    """
    L = length
    if resolved.kind == COUNTS:
        sizes = np.asarray(resolved.sizes, dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        steps = np.arange(len(sizes))
        rows = np.repeat(steps, 3)
        cols = np.stack([starts + 1, starts, starts + sizes], axis=1).ravel()
        vals = np.stack([sizes, 1 - sizes, -np.ones_like(sizes)], axis=1).ravel().astype(float)
        matrix = sparse.coo_array((vals, (rows, cols)), shape=(len(sizes), L + 1)).tocsr()
        matrix.eliminate_zeros()
        return matrix
    if resolved.kind != BERNOULLI:
        raise ValueError("B2 applies to count and Bernoulli schedules (random positions), not to explicit or adaptive ones")
    hazards = resolved.hazards
    dist = np.zeros(L + 1)  # law of r_t, the number revealed before step t
    dist[0] = 1.0
    matrix = np.zeros((len(hazards), L + 1))
    for t, h in enumerate(hazards):
        nxt = np.zeros(L + 1)
        for r in np.flatnonzero(dist > 0):
            s = np.arange(L - r + 1)
            weight = dist[r] * binom.pmf(s, L - r, h)  # P(r_t = r, s_t = s)
            matrix[t, min(r + 1, L)] += weight @ s
            matrix[t, r] += weight.sum() - weight @ s
            matrix[t, r + s] -= weight  # r + s are distinct columns
            nxt[r + s] += weight
        dist = nxt
    return sparse.csr_array(matrix)


def expected_kl_from_phi(phi, resolved) -> np.ndarray:
    r"""B2 per-step terms ``M @ Phi`` from a curve ``Phi(0..L)`` (:func:`b2_matrix`)."""
    phi = np.asarray(phi, dtype=float)
    return b2_matrix(resolved, len(phi) - 1) @ phi


def expected_kl(language: NGramLanguage, length, schedule, **phi_kwargs) -> dict:
    r"""``E_S KL(q || p_S)`` for a count or Bernoulli schedule with the ideal model (B2), with standard errors.

    For sizes ``s_t`` (``r_t = s_1 + ... + s_{t-1}``) at uniformly random positions,
    with ``lambda = 0``, ``tau = 1`` and ``Phi(k) = E_{|A|=k} H(X_A)``:

    .. math::

        E_S\, KL(q \| p_S) = \sum_t \bigl[ s_t (\Phi(r_t + 1) - \Phi(r_t))
                                     - (\Phi(r_t + s_t) - \Phi(r_t)) \bigr],

    each step's term being the gap between ``s_t`` times the slope of ``Phi`` at
    ``r_t`` and the actual rise of ``Phi`` over the step (a left-Riemann error of
    the concave information curve; THEORY B2, consistent with Chen, Cong and Li
    2025, arXiv:2511.04647).  One token per step gives 0 and a single step gives
    ``TC(X)``.  For Bernoulli schedules the expression is averaged over the
    binomial chain of ``(r_t, s_t)``.

    The per-step terms are linear in the information curve, ``term_t = sum_k M[t, k] Phi(k)``
    (:func:`b2_matrix`), so an estimated curve propagates to them linearly.  Exact whenever
    :func:`~ngramsim.information.phi_curve` is (order <= 2 at any ``L``, or tiny cases);
    otherwise ``Phi`` is estimated by Monte Carlo (``phi_kwargs`` go to ``phi_curve``:
    ``method``, ``num_samples``, ``rng``, ``base``) and the standard errors are

    .. math::

        \mathrm{se}(\mathrm{term}_t) \le \sum_k |M[t, k]|\, \mathrm{se}(\Phi(k)),
        \qquad
        \mathrm{se}(\mathrm{KL}) \le \sum_k \Bigl|\sum_t M[t, k]\Bigr|\, \mathrm{se}(\Phi(k)).

    The per-``k`` estimates of ``phi_curve`` share their draws ``x ~ q`` (one sample reused for
    every ``k``), so they are correlated and ``sqrt(sum_k c_k^2 se_k^2)`` would not be justified;
    the triangle inequality for standard deviations, ``sd(sum_k c_k Y_k) <= sum_k |c_k| sd(Y_k)``,
    holds whatever the correlations, and is what is reported (conservative).  Exact paths
    report 0.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    schedule : str or Schedule
        A count schedule (``counts``, ``uniform``, ``grow``, ``shrink``) or a Bernoulli
        one (``linear``, ``cosine``, ``poly``, a callable ``alpha``).
    **phi_kwargs
        Passed to :func:`~ngramsim.information.phi_curve`: ``method``, ``num_samples``,
        ``rng`` (required for Monte Carlo), ``base``, ``progress``.

    Returns
    -------
    dict
        ``kl_expected`` and ``kl_expected_stderr``; ``steps`` (one term per step) and
        ``steps_stderr``; ``method`` (``"exact"`` or ``"monte_carlo"``); ``phi`` and
        ``phi_stderr``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, or an argument has the wrong
        type.
    ValueError
        If ``length < max(1, n - 1)``; the schedule is malformed, does not fit
        ``length``, or is an explicit order or adaptive (B2 needs random positions);
        or ``phi_curve`` refuses (``method="exact"`` where no exact method applies, a
        Monte Carlo job beyond ``MONTE_CARLO_BUDGET``).

    See Also
    --------
    exact_law : the same ``kl_expected`` on tiny cases, with learning error too.
    estimate_b1 : Monte Carlo B1 terms, for any schedule.

    Notes
    -----
    With ``s_max = max_t s_t``, the B2 terms give ``E KL <= ((s_max - 1)/L) (TC +
    DTC)`` (THEORY B4'), a sharpening of Li and Cai (2025, arXiv:2505.21400,
    Theorem 1), whose factor is ``2^ceil(log2 s_max) - 1``; ``TC + DTC =
    sum_i I(X_i; X_{-i})`` is :func:`~ngramsim.information.sum_mutual_information`.

    Examples
    --------
    >>> from ngramsim import expected_kl, exact_law, sum_mutual_information, total_correlation, window_language
    >>> lang = window_language(4, 2)
    >>> b2 = expected_kl(lang, 6, "uniform:2")
    >>> b2["method"], round(b2["kl_expected"], 6), b2["steps"].round(6).tolist()
    ('exact', 1.237216, [0.946876, 0.29034])
    >>> round(exact_law(lang, 6, "uniform:2").kl_expected, 6)  # the exact engine agrees
    1.237216
    >>> bool(b2["kl_expected"] <= (3 - 1) / 6 * sum_mutual_information(lang, 6).value)  # B4'
    True
    >>> one = expected_kl(lang, 6, "uniform:1")["kl_expected"]  # a single step: TC
    >>> round(one, 9) == round(total_correlation(lang, 6).value, 9), expected_kl(lang, 6, "uniform:6")["kl_expected"]
    (True, 0.0)
    """
    check_language(language)
    length = language.check_length(length)
    resolved = parse_schedule(schedule).resolve(length)
    phi, phi_stderr, method = phi_curve(language, length, **phi_kwargs)
    matrix = b2_matrix(resolved, length)
    terms = matrix @ phi
    return {
        "kl_expected": float(terms.sum()),
        "kl_expected_stderr": float(np.abs(matrix.sum(axis=0)) @ phi_stderr),
        "steps": terms,
        "steps_stderr": abs(matrix) @ phi_stderr,
        "method": method,
        "phi": phi,
        "phi_stderr": phi_stderr,
    }


def _state(language, x, revealed, P, succ, mu, m, out):
    tokens = np.where(revealed, x, -1).astype(np.int64)
    return conditional_marginals_scaled(tokens, P, succ, mu, m, chain_trusted(P, mu), out)


def estimate_b1(language: NGramLanguage, length, schedule, num_samples, *, rng, learning_error=0.0, temperature=1.0) -> dict:
    r"""Monte Carlo B1 terms along ``x ~ q`` and the schedule's randomness.

    Returns ``{"tc", "tc_stderr", "learning_kl", "learning_kl_stderr", "kl_expected",
    "kl_expected_stderr", "num_samples"}`` where ``tc[t]`` estimates
    ``E TC(X_{S_t} | X_{R_t})`` and ``learning_kl[t]`` the learning term of step ``t + 1``.
    Cost: one forward-backward pass per step and sample.

    The chain rule (THEORY B1) splits the KL of a fixed ordered partition ``S`` into

    .. math::

        KL(q \| p_S) = \sum_t E_q\, TC(X_{S_t} \mid X_{R_t})
                     + \sum_t \sum_{i \in S_t} E_q\, KL(q(\cdot \mid x_{R_t}) \| p_\theta(\cdot \mid x_{R_t})),

    a dependence term (what drawing ``S_t`` independently loses) and a learning
    term.  Each sample draws ``x ~ q`` and one realisation of the schedule (for
    adaptive rules, the rule run on ``x``) and evaluates, per step,
    ``TC(X_S | x_R) = sum_{i in S} -log q(x_i | x_R) + log q(x_{R u S}) - log q(x_R)``
    (a single-sample estimate of the conditional TC) and the exact learning KL
    of the revealed positions.  By B7 (ParallelBench 2025), each step's ``tc``
    is also a lower bound on that step's contribution to the KL.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    schedule : str or Schedule
        Any SPEC §2 schedule, adaptive ones included.
    num_samples : int
        ``>= 2`` pairs (sequence, schedule realisation).
    rng : int, numpy.random.SeedSequence or numpy.random.Generator
        Required; the same seed gives the same estimates.
    learning_error : float
        ``lambda in [0, 1)``.
    temperature : float
        ``tau > 0``.

    Returns
    -------
    dict
        ``tc``, ``tc_stderr``, ``learning_kl``, ``learning_kl_stderr``: arrays of one
        entry per step (``N``; for ``eb``/``esum``, ``L``, with trailing zeros after a
        run ends); ``kl_expected`` and ``kl_expected_stderr``: the estimate of
        ``E KL(q || p_sigma)`` (the sum of both terms over steps) and its standard
        error; ``num_samples``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, ``rng`` is missing or of the
        wrong type, or an argument has the wrong type.
    ValueError
        If ``length < max(1, n - 1)``; the schedule is malformed or does not fit
        ``length``; ``num_samples < 2``; ``lambda`` lies outside ``[0, 1)`` or
        ``tau <= 0``.

    Examples
    --------
    >>> from ngramsim import estimate_b1, exact_law, window_language
    >>> lang = window_language(4, 2)
    >>> mc = estimate_b1(lang, 6, "uniform:2", 200, rng=0, learning_error=0.1)
    >>> mc["tc"].shape, mc["num_samples"]
    ((2,), 200)
    >>> exact = exact_law(lang, 6, "uniform:2", learning_error=0.1).kl_expected
    >>> bool(abs(mc["kl_expected"] - exact) < 4 * mc["kl_expected_stderr"])
    True
    """
    check_language(language)
    length = language.check_length(length)
    resolved = parse_schedule(schedule).resolve(length)
    if resolved.kind == LOWCONF:
        raise ValueError(f"schedule {schedule!r}: B1 does not apply to lowconf (kept tokens are chosen "
                         "after they are drawn, so they are not draws from q(.|x_R))")
    if resolved.kind == REMDM:
        raise ValueError(f"schedule {schedule!r}: B1 does not apply to remdm (revealed tokens are remasked "
                         "and drawn again, so the steps do not factorise q)")
    num_samples = check_int(num_samples, "num_samples", minimum=2)
    lam, tau = check_model_params(learning_error, temperature)
    gen = as_generator(rng)
    xs = language.sample(length, num_samples, rng=gen)
    keys = draw_keys(gen, num_samples)
    P, succ, mu, m = chain_arrays(language)
    V = language.vocab_size
    steps = resolved.num_steps
    tc = np.zeros((num_samples, steps))
    lk = np.zeros((num_samples, steps))
    rows = np.empty((length, V))
    theta = np.empty(V)
    step_of = np.empty(length, dtype=np.int64)
    perm = np.empty(length, dtype=np.int64)
    schedule_u = np.empty(length)
    value_u = np.empty(length)
    for s, x in enumerate(xs):
        revealed = np.zeros(length, dtype=bool)
        log_ev = _state(language, x, revealed, P, succ, mu, m, rows)
        if not resolved.is_adaptive:
            draw_stream(keys[s], schedule_u, value_u)
            assign_steps(resolved.kind, schedule_u, *resolved.kernel_schedule[1:5], resolved.block, perm, step_of)
        t = 0
        while not revealed.all():
            if resolved.is_adaptive:
                masked = np.flatnonzero(~revealed).astype(np.int64)

                def model_row(i):
                    theta_row(rows[i], 1.0, lam, tau, theta)
                    return theta

                chosen = adaptive_choice(resolved, model_row, masked, keys[s], t + 1)
            else:
                chosen = np.flatnonzero(step_of == t + 1)
            surprisal = 0.0
            learning = 0.0
            for i in chosen:
                surprisal -= math.log(rows[i, x[i]])
                if lam > 0 or tau != 1:
                    learning += theta_row(rows[i], 1.0, lam, tau, theta)
            revealed[chosen] = True
            new_ev = _state(language, x, revealed, P, succ, mu, m, rows)
            tc[s, t] = surprisal + new_ev - log_ev
            lk[s, t] = learning
            log_ev = new_ev
            t += 1
    totals = tc.sum(axis=1) + lk.sum(axis=1)
    root = math.sqrt(num_samples)
    return {
        "tc": tc.mean(axis=0),
        "tc_stderr": tc.std(axis=0, ddof=1) / root,
        "learning_kl": lk.mean(axis=0),
        "learning_kl_stderr": lk.std(axis=0, ddof=1) / root,
        "kl_expected": float(totals.mean()),
        "kl_expected_stderr": float(totals.std(ddof=1) / root),
        "num_samples": num_samples,
    }

