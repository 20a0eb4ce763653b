r"""The exact engine for tiny cases (SPEC §4-§5): the sampler's whole law and the B1 decomposition.

By dynamic programming over partial states (revealed set and values) — never
by enumerating schedules — it returns the output law ``p`` over ``V^L`` for
every schedule kind (Bernoulli, counts, explicit order, adaptive with SPEC's
random tie-breaking averaged exactly), with learning error, temperature and a
pluggable oracle, and from it

* ``KL(q || p)``, ``SER(p)``, ``model_log_ppl = E_q[-log p] / L``,
  ``gen_log_ppl = E_p[-log q] / L`` and ``gen_log_ppl_valid``;
* the learning KL ``KL(q(.|x_R) || p_theta(.|x_R))`` per revealed token, its mean
  under the sampler's law and its maximum over reachable states (``epsilon_learning``);
* the B1 terms of every step (THEORY B1):
  ``E_q TC(X_{S_t} | X_{R_t})`` and ``sum_{i in S_t} E_q KL(q(.|x_{R_t}) || p_theta(.|x_{R_t}))``,
  averaged over the schedule's randomness (for adaptive rules: along the rule run on
  ``x ~ q``); their sum is ``kl_expected = E KL(q || p_sigma)``, which equals ``kl`` for
  explicit orders and bounds it from above otherwise (B3).

The state space has ``(V+1)^L`` entries; beyond :data:`EXACT_STATE_LIMIT` the
engine refuses with an error that points to the Monte Carlo tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ngramsim._kernels import exact as _k
from ngramsim._enumeration import all_sequences
from ngramsim._model import check_model_params, oracle_rows
from ngramsim.schedules import BERNOULLI, LOWCONF, REMDM, parse_schedule
from ngramsim._validation import check_language
from ngramsim.sources import NGramLanguage

__all__ = ["EXACT_STATE_LIMIT", "ExactResult", "exact_law", "all_sequences", "check_exact_size"]

#: Largest number of partial states ``(V+1)^L`` the exact engine accepts (a few arrays of this many floats).
EXACT_STATE_LIMIT = 2**23


def check_exact_size(language: NGramLanguage, length: int) -> int:
    """Return ``(V+1)^L`` after checking it against :data:`EXACT_STATE_LIMIT` (in log space: no huge integers)."""
    V = language.vocab_size
    log10_size = length * math.log10(V + 1)
    # Exact integers while they are small, logarithms beyond (a 10^6990-digit integer is not printable).
    if (V + 1) ** length > EXACT_STATE_LIMIT if log10_size < 18 else log10_size > math.log10(EXACT_STATE_LIMIT):
        shown = f"{(V + 1) ** length}" if log10_size < 15 else f"about 10^{log10_size:.0f}"
        raise ValueError(
            f"length={length} with vocab_size={V} needs (V+1)^L = {V + 1}^{length} = {shown} partial states, "
            f"beyond the exact engine's limit of 2^{int(math.log2(EXACT_STATE_LIMIT))}; lower length or use "
            "Monte Carlo instead (ngramsim.sample_mdm / `ngramsim sample`, or the estimators in "
            "ngramsim.decomposition)"
        )
    return (V + 1) ** length


@dataclass(frozen=True)
class ExactResult:
    """Exact quantities of one sampler configuration (see the module docstring).

    ``distribution`` is ``p`` over ``V^L`` in lexicographic C order and ``q`` the source law
    on the same grid; ``steps_tc[t]`` and ``steps_learning_kl[t]`` are the B1 terms of step
    ``t + 1``; for ``eb``/``esum`` the list stops at the longest run on ``x ~ q`` (later entries of
    shorter runs count as 0).

    Returned by :func:`exact_law`.  A frozen dataclass: each parameter is stored
    as the attribute of the same name.  All information quantities are in nats.

    Parameters
    ----------
    distribution : float64 (V^L,)
        ``p(x)``, the sampler's output law (for random schedules the mixture over the
        schedule's randomness).
    q : float64 (V^L,)
        ``q(x)``, the source law.
    ser : float
        ``SER(p) = sum_{x : q(x) = 0} p(x)``.
    kl : float
        ``KL(q || p)`` of the mixture law; ``inf`` if ``p`` misses part of the support of ``q``.
    kl_expected : float
        ``E KL(q || p_sigma)`` over the schedule's randomness: the sum of ``steps_tc``
        and ``steps_learning_kl`` (THEORY B1).  Equals ``kl`` for explicit orders and
        bounds it from above for other non-adaptive schedules (B3).
    model_log_ppl : float
        ``E_{x~q}[-log p(x)] / L = H(q)/L + KL(q || p)/L``, the reading of the TER
        theorem of Feng et al. (2025, arXiv:2502.09622).
    gen_log_ppl : float
        ``E_{x~p}[-log q(x)] / L``; ``inf`` once ``ser > 0``.
    gen_log_ppl_valid : float
        ``E_{x~p}[-log q(x) | q(x) > 0] / L``; ``nan`` if ``p`` puts no mass on valid
        sequences.
    learning_kl_mean : float
        ``KL(q(.|x_R) || p_theta(.|x_R))`` per revealed token, averaged under the
        sampler's law over states with ``q(x_R) > 0``.
    learning_kl_max : float
        Its maximum over reachable states: the smallest ``eps_learning`` for which the
        learning assumption holds on this run.
    steps_tc : float64 (N,)
        ``E_q TC(X_{S_t} | X_{R_t})`` per step, averaged over the schedule.
    steps_learning_kl : float64 (N,)
        ``sum_{i in S_t} E_q KL(q(.|x_{R_t}) || p_theta(.|x_{R_t}))`` per step.
    schedule : str
        Canonical schedule string.
    length : int
        ``L``.
    learning_error, temperature : float
        ``lambda`` and ``tau``.

    Attributes
    ----------
    steps : list of dict
        SPEC §3's per-step records ``{"tc", "learning_kl"}``.

    Examples
    --------
    >>> from ngramsim import exact_law, total_correlation, window_language
    >>> lang = window_language(3, 2)
    >>> one = exact_law(lang, 4, "uniform:1")  # one step: all tokens iid uniform
    >>> round(one.ser, 12), round(1 - (2 / 3) ** 3, 12)
    (0.703703703704, 0.703703703704)
    >>> round(one.kl_expected, 9) == round(total_correlation(lang, 4).value, 9), one.gen_log_ppl
    (True, inf)
    >>> ar = exact_law(lang, 4, "ar")  # one token per step, ideal model: p = q
    >>> round(ar.kl, 12), round(ar.ser, 12), ar.distribution.shape, len(ar.steps)
    (0.0, 0.0, (81,), 4)
    """

    distribution: np.ndarray
    q: np.ndarray
    ser: float
    kl: float
    kl_expected: float
    model_log_ppl: float
    gen_log_ppl: float
    gen_log_ppl_valid: float
    learning_kl_mean: float
    learning_kl_max: float
    steps_tc: np.ndarray
    steps_learning_kl: np.ndarray
    schedule: str
    length: int
    learning_error: float
    temperature: float

    @property
    def steps(self) -> list:
        """SPEC §3's ``steps``: one ``{"tc", "learning_kl"}`` per step in execution order.

        The values of ``steps_tc`` and ``steps_learning_kl`` as Python floats.
        """
        return [{"tc": float(a), "learning_kl": float(b)} for a, b in zip(self.steps_tc, self.steps_learning_kl)]


def _oracle_table(language, length, oracle, Ev, size):
    """The oracle's rows at every partial state of positive evidence, shape ``(size, L, V)``."""
    V = language.vocab_size
    table = np.zeros((size, length, V))
    weights = (V + 1) ** np.arange(length - 1, -1, -1)
    for state in np.flatnonzero(Ev > 0):
        digits = (state // weights) % (V + 1)
        x = np.where(digits > 0, digits - 1, -1).astype(np.int64)
        masked = np.flatnonzero(x < 0)
        if len(masked):
            table[state] = oracle_rows(oracle, x, masked, V, "exact")
    return table


def exact_law(language: NGramLanguage, length, schedule, *, learning_error=0.0, temperature=1.0, oracle=None) -> ExactResult:
    r"""The sampler's exact law and the B1 decomposition for ``language`` at ``length`` (tiny cases).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L``, with ``(V+1)^L <= EXACT_STATE_LIMIT``.
    schedule : str or Schedule
        Any SPEC §2 schedule.
    learning_error, temperature : float
        ``lambda in [0, 1)``, ``tau > 0``.
    oracle : callable, optional
        ``oracle(tokens, revealed) -> (L, V)`` replacing ``q(.|x_R)`` in ``p_theta``; the
        learning KL is still measured against the exact ``q(.|x_R)``.

    Returns
    -------
    ExactResult
        ``p`` and ``q`` over ``V^L``, ``SER``, ``KL(q || p)``, ``E KL(q || p_sigma)``,
        both perplexities, the learning KL and the per-step B1 terms.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, ``oracle`` is not callable,
        or an argument has the wrong type.
    ValueError
        If ``length < max(1, n - 1)``; the schedule is malformed or does not fit
        ``length``; ``lambda`` lies outside ``[0, 1)`` or ``tau <= 0``; ``(V+1)^L``
        exceeds ``EXACT_STATE_LIMIT = 2^23``; a Bernoulli schedule would take more than
        ``2^28`` state transitions; a valid sequence has ``q(x)`` or ``p(x)`` below
        ``2^-960`` (float64 can no longer decide the support); or the oracle returns
        rows that are not probability vectors.

    Notes
    -----
    The law is computed by dynamic programming over partial states (revealed set
    and values, ``(V+1)^L`` of them), never by enumerating schedules.  It checks,
    exactly and on tiny cases, what the Monte Carlo tools estimate at scale:

    * B1 (chain rule): ``KL(q || p_S) = sum_t E_q TC(X_{S_t} | X_{R_t}) +
      sum_t sum_{i in S_t} E_q KL(q(.|x_{R_t}) || p_theta(.|x_{R_t}))``, reported as
      ``steps_tc`` and ``steps_learning_kl``;
    * B3 (convexity): ``KL(q || p) <= E_S KL(q || p_S)``, i.e. ``kl <= kl_expected``;
    * B2 (with ``lambda = 0``, ``tau = 1``): ``kl_expected`` equals
      :func:`~ngramsim.decomposition.expected_kl` (Chen, Cong and Li 2025,
      arXiv:2511.04647);
    * the TER reading ``KL(q || p)/L`` and SER of Feng et al. (2025,
      arXiv:2502.09622), and with one token per step, ``lambda = 0`` and
      ``tau = 1``, ``p = q`` exactly.

    Examples
    --------
    >>> import ngramsim
    >>> from ngramsim.exact import exact_law
    >>> r = exact_law(ngramsim.window_language(3, 2), 4, "uniform:2")
    >>> round(r.kl - r.kl_expected, 12) <= 0, round(sum(s["tc"] for s in r.steps) - r.kl_expected, 12)
    (True, 0.0)
    """
    check_language(language)
    length = language.check_length(length)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    lam, tau = check_model_params(learning_error, temperature)
    if oracle is not None and not callable(oracle):
        raise TypeError(f"oracle must be callable as oracle(tokens, revealed), got {type(oracle).__name__}")
    V = language.vocab_size
    size = check_exact_size(language, length)
    xs = all_sequences(V, length)
    log_q = language.log_prob(xs)
    _check_representable(log_q > -np.inf, log_q, "q(x)")
    q = np.exp(log_q)
    Ev = _k.evidence_table(q, V, length)
    use_oracle = oracle is not None
    oracle_rows = _oracle_table(language, length, oracle, Ev, size) if use_oracle else np.zeros((1, length, V))
    kind = resolved.kind
    hazards = resolved.hazards
    if kind == BERNOULLI:
        _check_bernoulli_work(int(np.count_nonzero(hazards > 0)), V, length, parsed.spec)
    law = np.zeros(V**length)
    stats = np.zeros(3)
    model = (Ev, oracle_rows, use_oracle, lam, tau)
    if kind == REMDM:
        hazards = resolved.remask  # the DP's per-step probability slot: remasking, for remdm
    _k.sampler_law((kind, hazards, resolved.sizes, resolved.step_of, resolved.gamma, resolved.num_steps,
                    resolved.bounds), model, V, length, law, stats)
    tc = np.zeros(resolved.num_steps)
    lk = np.zeros(resolved.num_steps)
    if kind in (LOWCONF, REMDM):
        # lowconf: kept tokens are chosen after they are drawn, so they are not draws from q(.|x_R);
        # remdm: tokens are drawn again.  The B1 decomposition does not apply (its terms are nan).
        tc[:] = np.nan
        lk[:] = np.nan
    elif resolved.is_adaptive:
        used = _k.b1_adaptive((kind, resolved.sizes, resolved.gamma, resolved.num_steps), model, V, length, tc, lk)
        tc, lk = tc[:used], lk[:used]  # eb/esum: steps up to the longest run on x ~ q
    else:
        H = np.zeros(2**length)
        LK = np.zeros((2**length, length))
        _k.subset_tables(model, V, length, H, LK)
        _k.b1_fixed((kind, resolved.weights, resolved.sizes, resolved.step_of, resolved.bounds), resolved.num_steps,
                    H, LK, length, tc, lk)
    # A valid sequence always has positive probability under the sampler (its own reveal order
    # draws each token from a conditional that is positive on it), so p(x) = 0 is underflow.
    _check_representable(log_q > -np.inf, np.where(law > 0, 0.0, -np.inf), "p(x)")
    return _summarise(language, q, law, stats, tc, lk, parsed.spec, length, lam, tau)


#: Most state transitions of a Bernoulli schedule in the exact engine: each step with a positive
#: hazard moves every partial state to each of its outcomes, ``(2V+1)^L`` in all (2**28: ~10 s).
EXACT_WORK_LIMIT = 2**28


def _check_bernoulli_work(active_steps: int, V: int, length: int, spec: str) -> None:
    log2_work = math.log2(active_steps) + length * math.log2(2 * V + 1)
    if log2_work > math.log2(EXACT_WORK_LIMIT):
        raise ValueError(
            f"schedule {spec!r} at length={length}: the exact engine would follow {active_steps} steps x "
            f"(2V+1)^L = 2^{log2_work:.1f} state transitions, beyond its limit of 2^28; use fewer steps or a "
            "smaller length, or Monte Carlo (sample_mdm, `ngramsim sample`)"
        )


#: The exact engine works in float64; it refuses languages where a valid sequence's probability
#: falls below this (2^-960), since sums and ratios of such numbers are no longer exact to rounding.
REPRESENTABLE = 2.0**-960


def _check_representable(valid, log_values, what):
    """Refuse, naming the remedy, when some valid sequence's ``what`` underflows float64's normal range."""
    low = valid & (log_values < np.log(REPRESENTABLE))
    if np.any(low):
        worst = float(np.min(log_values[valid]))
        raise ValueError(
            f"exact engine: {what} of a valid sequence is below float64's normal range "
            f"(log {what} = {worst:.1f} < log 2^-960); its support would be decided from an underflowing "
            "float. Use the Monte Carlo sampler (sample_mdm), whose conditionals are exact in log space."
        )


def _summarise(language, q, p, stats, tc, lk, spec, length, lam, tau) -> ExactResult:
    valid = q > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_q = np.log(q)
        log_p = np.log(p)
    if np.any(p[valid] <= 0):
        kl = math.inf
        model = math.inf
    else:
        kl = float(max(np.sum(q[valid] * (log_q[valid] - log_p[valid])), 0.0))
        model = float(-np.sum(q[valid] * log_p[valid]) / length)
    ser = float(np.clip(p[~valid].sum(), 0.0, 1.0))
    valid_mass = float(p[valid].sum())
    nll_valid = float(-np.sum(p[valid] * log_q[valid]))
    gen_valid = nll_valid / valid_mass / length if valid_mass > 0 else math.nan
    gen = math.inf if ser > 0 else nll_valid / length
    mean = float(stats[0] / stats[1]) if stats[1] > 0 else math.nan
    return ExactResult(
        distribution=p,
        q=q,
        ser=ser,
        kl=kl,
        kl_expected=float(tc.sum() + lk.sum()),
        model_log_ppl=model,
        gen_log_ppl=gen,
        gen_log_ppl_valid=gen_valid,
        learning_kl_mean=mean,
        learning_kl_max=float(stats[2]),
        steps_tc=tc,
        steps_learning_kl=lk,
        schedule=spec,
        length=length,
        learning_error=lam,
        temperature=tau,
    )
