r"""The inequalities of the theory (docs/theory.md), computed: one public function per statement.

Each docstring gives the inequality, its source, its conditions (learning error
``lambda``, temperature ``tau``, schedule class) and whether each constant is
published, reconstructed or ours; ``proofs/`` holds the proofs of ours.
:func:`check_bound` holds a bound against what the simulator observes and
returns a :class:`BoundCheck` record.

Notation (SPEC §4): ``Phi(k) = E_{|A|=k} H(X_A)``, ``DeltaPhi(k) = Phi(k+1) - Phi(k)``,
``D_k = DeltaPhi(k) - DeltaPhi(k+1) >= 0``; for a count schedule with sizes ``s_t`` the rank
``k`` (0-based, in reveal order) falls in a block ending at rank ``e(k)``, and
``w_k = e(k) - k``.  Then ``E KL = sum_k D_k w_k`` (B2), ``TC = sum_k D_k (L-1-k)``,
``DTC = sum_k D_k (k+1)`` (B4').
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ngramsim._kernels.adaptive import TIE
from ngramsim._validation import check_language, check_real
from ngramsim.information import dual_total_correlation, total_correlation
from ngramsim.schedules import COUNTS, ORDER, parse_schedule
from ngramsim.window_ser import c2_bound_details, window_parameters

__all__ = [
    "BoundCheck",
    "check_bound",
    "b4prime_weights",
    "a2_ter_bound",
    "b4_li_cai_bound",
    "b4prime_bound",
    "b5_dtc_bound",
    "b5_tc_bound",
    "b6_entropy_bounded_step_bound",
    "b7_one_step_lower_bound",
    "c2_ser_lower_bound",
    "c3_ser_lower_bound",
]


@dataclass(frozen=True)
class BoundCheck:
    """One inequality held against an observation.

    Attributes
    ----------
    name : str
        The statement (``"B4'"``, ``"C2"``, ...) and what it was applied to.
    bound : float
    observed : float
        Exact value, or a Monte Carlo point estimate.
    observed_interval : tuple of float
        ``(lo, hi)``: the confidence interval (``(observed, observed)`` when exact).
    direction : str
        ``"upper"`` (the statement says ``observed <= bound``) or ``"lower"``
        (``observed >= bound``).
    slack : float
        Distance from the bound to the conservative end of the interval (``bound - lo``
        for upper bounds, ``hi - bound`` for lower ones): negative means violated.
    holds : bool
        ``slack >= -tolerance``.
    method : str
        ``"exact"`` or ``"monte_carlo"``.
    details : dict
        What was compared (language, length, schedule, parameters).
    """

    name: str
    bound: float
    observed: float
    observed_interval: tuple
    direction: str
    slack: float
    holds: bool
    method: str
    details: dict


def check_bound(name, bound, observed, *, direction, interval=None, tolerance=1e-9, details=None) -> BoundCheck:
    """Hold ``bound`` against ``observed`` and return a :class:`BoundCheck`.

    Monte Carlo figures come with ``interval = (lo, hi)``; the check uses the end that makes it
    conservative (a violation is reported only when the whole interval lies beyond the bound).

    Examples
    --------
    >>> from ngramsim.bounds import check_bound
    >>> check_bound("B3", bound=0.5, observed=0.4, direction="upper").holds
    True
    >>> round(check_bound("C2", bound=0.3, observed=0.25, interval=(0.2, 0.35), direction="lower").slack, 12)
    0.05
    """
    if direction not in ("upper", "lower"):
        raise ValueError(f"direction must be 'upper' or 'lower', got {direction!r}")
    bound, observed = float(bound), float(observed)
    lo, hi = (observed, observed) if interval is None else (float(interval[0]), float(interval[1]))
    slack = bound - lo if direction == "upper" else hi - bound
    return BoundCheck(
        name=str(name),
        bound=bound,
        observed=observed,
        observed_interval=(lo, hi),
        direction=direction,
        slack=slack,
        holds=bool(slack >= -tolerance),
        method="exact" if interval is None else "monte_carlo",
        details=dict(details or {}),
    )


def _count_sizes(language, length, schedule, statement):
    check_language(language)
    length = language.check_length(length)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    if resolved.kind != COUNTS:
        raise ValueError(
            f"{statement} holds for count schedules (fixed sizes, uniformly random positions: uniform:N, "
            f"counts:..., grow:N, shrink:N); got {parsed.spec!r}"
        )
    return length, resolved.sizes


def b4prime_weights(sizes) -> np.ndarray:
    """``w_k = e(k) - k``: how many ranks after ``k`` its block still holds (``k = 0 .. L-1``).

    >>> from ngramsim.bounds import b4prime_weights
    >>> b4prime_weights([2, 3]).tolist()
    [1, 0, 2, 1, 0]
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    ends = np.repeat(np.cumsum(sizes) - 1, sizes)
    return ends - np.arange(int(sizes.sum()))


def _tc_dtc(language, length):
    tc = total_correlation(language, length).value
    dtc = dual_total_correlation(language, length, method="exact").value
    return tc, dtc


def a2_ter_bound(language, num_steps, *, learning_kl=0.0) -> dict:
    r"""THEORY A2 (Feng et al. 2025, arXiv 2502.09622, TER theorem; **reconstructed** constants).

    With ``KL(q(x_i|x_R) || p_theta(x_i|x_R)) <= eps_learning`` for every masked ``i``, an
    n-gram language, and a schedule of ``N = (n-1)/eps^n`` steps (constant 1 assumed: the
    published ``O(.)`` constant could not be read), for ``L > (n-1)/eps^(n+1/2)``

    .. math::

        \frac{\mathrm{KL}(q \| p)}{L} \le \varepsilon_\mathrm{learning} + 4 \varepsilon \log V,
        \qquad \varepsilon = ((n-1)/N)^{1/n},

    read as excess model log-perplexity per token (SPEC §3; the only reading under which it
    can hold on languages with zeros).  Returns ``{"bound", "epsilon", "min_length"}``; the
    bound applies for lengths above ``min_length``.  Conditions: any ``lambda``, ``tau``
    (through ``learning_kl``); the schedule is the paper's construction, which ngramsim stands
    in for by uniformly random positions with ``N`` steps.
    """
    check_language(language)
    N = int(num_steps)
    if N < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps!r}")
    eps_learning = check_real(learning_kl, "learning_kl", low=0.0)
    n = max(language.order, 2)  # order 1 is covered by n = 2 (iid tokens)
    eps = ((n - 1) / N) ** (1.0 / n)
    return {
        "bound": eps_learning + 4.0 * eps * math.log(language.vocab_size),
        "epsilon": eps,
        "min_length": (n - 1) / eps ** (n + 0.5),
    }


def b4_li_cai_bound(language, length, schedule, *, learning_kl=0.0) -> float:
    r"""THEORY B4 (Li & Cai 2025, arXiv 2505.21400, Theorem 1; **restated** constants).

    For uniformly random positions with sizes ``s_t`` (``s_max = max s_t``):

    .. math::

        \mathbb{E}\,\mathrm{KL}(q \| p_S) \le \frac{2^{\lceil \log_2 s_{\max} \rceil} - 1}{L}
        \sum_i I(X_i; X_{-i}) + \varepsilon_\mathrm{train},
        \qquad \sum_i I(X_i; X_{-i}) = \mathrm{TC} + \mathrm{DTC}.

    ``learning_kl`` stands for ``eps_train`` (0 for the ideal model).  Conditions: count
    schedules; TC and DTC exact (order 2 at any ``L``; higher orders while exact).
    """
    length, sizes = _count_sizes(language, length, schedule, "B4")
    tc, dtc = _tc_dtc(language, length)
    s_max = int(np.max(sizes))
    factor = (2 ** math.ceil(math.log2(s_max)) - 1) / length
    return factor * (tc + dtc) + check_real(learning_kl, "learning_kl", low=0.0)


def b4prime_bound(language, length, schedule) -> float:
    r"""THEORY B4' (ours, a corollary of B2; ``proofs/B4prime_and_B5.md``).

    .. math::

        \mathbb{E}\,\mathrm{KL}(q \| p_S) = \sum_k D_k w_k \le \frac{s_{\max} - 1}{L}\,(\mathrm{TC} + \mathrm{DTC}),

    since ``0 <= w_k <= s_max - 1``, ``D_k >= 0`` and ``TC + DTC = L sum_k D_k``.  Sharper than
    B4 (``s_max - 1 <= 2^ceil(log2 s_max) - 1``).  Conditions: count schedules, ``lambda = 0``,
    ``tau = 1``; constants ours.
    """
    length, sizes = _count_sizes(language, length, schedule, "B4'")
    tc, dtc = _tc_dtc(language, length)
    return (int(np.max(sizes)) - 1) / length * (tc + dtc)


def b5_dtc_bound(language, length, schedule) -> float:
    r"""THEORY B5, small blocks first (ours, via B4'; after Chen–Cong–Li 2025 and Zhao & Cai 2026, arXiv 2602.20126).

    .. math::

        \mathbb{E}\,\mathrm{KL}(q \| p_S) \le \Big(\max_k \frac{w_k}{k+1}\Big)\, \mathrm{DTC}.

    For sizes growing geometrically (``grow:N``: the revealed count multiplies by about
    ``rho = L^(1/N)`` per step) ``max_k w_k/(k+1) ~ rho - 1 ~ ln L / N``: ``E KL = O(DTC log L / N)``,
    small on sources whose information is spread thin (TC-heavy).  Conditions: count
    schedules, ``lambda = 0``, ``tau = 1``.
    """
    length, sizes = _count_sizes(language, length, schedule, "B5")
    w = b4prime_weights(sizes)
    _, dtc = _tc_dtc(language, length)
    return float(np.max(w / np.arange(1, length + 1))) * dtc


def b5_tc_bound(language, length, schedule) -> float:
    r"""THEORY B5, big blocks first (ours, via B4'; the mirror image of :func:`b5_dtc_bound`).

    .. math::

        \mathbb{E}\,\mathrm{KL}(q \| p_S) \le \Big(\max_{k < L-1} \frac{w_k}{L-1-k}\Big)\, \mathrm{TC}

    (``w_{L-1} = 0``).  For sizes shrinking geometrically (``shrink:N``) the factor is
    ``~ ln L / N``: ``E KL = O(TC log L / N)``, small on DTC-heavy sources.  Conditions: count
    schedules, ``lambda = 0``, ``tau = 1``.
    """
    length, sizes = _count_sizes(language, length, schedule, "B5")
    w = b4prime_weights(sizes)
    tc, _ = _tc_dtc(language, length)
    if length == 1:
        return 0.0
    return float(np.max(w[:-1] / (length - 1 - np.arange(length - 1)))) * tc


def b6_entropy_bounded_step_bound(gamma, temperature=1.0) -> float:
    r"""THEORY B6 (Ben-Hamu et al. 2025, arXiv 2505.24857; **restated**; proof in ``proofs/B6_entropy_bounded.md``).

    At every step of ``eb:gamma`` the revealed set ``S`` satisfies, for the exact conditional,

    .. math::

        \mathrm{TC}(X_S \mid x_R) \le \sum_{i \in S} H(X_i \mid x_R) - \max_{i \in S} H(X_i \mid x_R) \le \gamma

    (plus SPEC's tie slack ``1e-12``), so B1's dependence term of every step is at most
    ``gamma``.  Conditions: ``tau >= 1`` and any ``lambda`` (the model's entropies are then at
    least the exact ones); a sharpening ``tau < 1`` breaks it (``ValueError``).
    """
    gamma = check_real(gamma, "gamma", low=0.0)
    tau = check_real(temperature, "temperature", low=0.0, low_open=True)
    if tau < 1.0:
        raise ValueError(f"B6 needs temperature >= 1 (a sharpening tau < 1 breaks it), got {tau!r}")
    return gamma + TIE


def b7_one_step_lower_bound(language, length) -> float:
    r"""THEORY B7 (ParallelBench 2025; **restated**; proof in ``proofs/B7_one_step.md``): one parallel step.

    .. math::

        \mathrm{KL}(q \| p_{\{0..L-1\}}) \ge \mathrm{TC}(X),

    with equality for the ideal model (B1: one step's dependence term is ``TC(X)``, its
    learning term is ``>= 0``).  Conditions: any ``lambda``, ``tau``.  The companion statement
    (the best ``T``-step partition's error does not increase with ``T`` under the ideal model,
    and can for ``tau < 1``) is checked in ``tests/test_bounds.py``.
    """
    check_language(language)
    return total_correlation(language, language.check_length(length)).value


def c2_ser_lower_bound(language, length, schedule) -> float:
    r"""THEORY C2 (ours): a lower bound on the SER of position-oblivious samplers on ``W(V, m)``.

    .. math::

        \mathrm{SER} \ge 1 - \mathbb{E}\,(1 - c)^{Z},

    where ``c = c(V, m, D)`` bounds below the probability that two adjacent positions revealed
    at the same step, whose nearest revealed tokens are at distance ``>= D``, leave the window
    (a finite check over boundary contexts), and ``Z`` counts disjoint blocks of ``2D``
    positions whose centre pair is revealed at one step before the rest of the block.  For
    Bernoulli schedules ``E (1-c)^Z <= exp(-c J g_D(w))``; for count schedules it is bounded
    from the exact mean and variance of ``Z`` (Cantelli).  The largest bound over
    ``D = 1 .. 40`` is returned.  For ``linear:N`` it reads
    ``1 - exp(-c floor(L/2D) / (N (2D - 1)))``: constant at fixed ``L/N``, tending to 1 as
    ``L/N`` grows, so ``SER <= 1/2`` needs ``N`` linear in ``L``.

    Source: ours (``proofs/C2_window_ser_lower_bound.md``); every constant is computed here.

    Conditions: ``language`` is ``W(V, m)`` (:func:`~ngramsim.window_language`, ``mu`` uniform),
    ``schedule`` a count (``uniform:N``, ``counts:...``, ``grow:N``, ``shrink:N``) or Bernoulli
    (``linear:N``, ``cosine:N``, ``poly:N:p``, a callable ``alpha``) schedule, and the ideal
    reverse model (``lambda = 0``, ``tau = 1``).  Anything else raises ``ValueError`` saying why.

    Examples
    --------
    >>> import ngramsim
    >>> from ngramsim.bounds import c2_ser_lower_bound
    >>> w = ngramsim.window_language(4, 2)
    >>> round(c2_ser_lower_bound(w, 1024, "linear:16"), 4) == round(c2_ser_lower_bound(w, 4096, "linear:64"), 4)
    True
    >>> c2_ser_lower_bound(w, 4096, "linear:16") > 0.99
    True
    """
    return c2_bound_details(language, length, schedule)["bound"]


def c3_ser_lower_bound(language, length, schedule, learning_error) -> float:
    r"""THEORY C3 (ours; ``proofs/C3_learning_error.md``): learning error and SER on ``W(V, m)``.

    For ``ar`` the SER is exactly ``1 - (1 - lambda (V-m)/V)^(L-1)``; for any other order that
    reveals one token per step (an explicit order of singletons, ``topk:L``, ``margin:L``, or an
    ``eb``/``esum`` run that happens to, the order possibly depending on the values)

    .. math::

        \mathrm{SER} \ge 1 - \Big(1 - \frac{\lambda (V - m)}{V}\Big)^{\lfloor L/2 \rfloor}.

    Conditions: ``W(V, m)`` with ``mu`` uniform, every ``tau``, one token per step; so
    ``SER <= delta`` forces ``lambda = O(delta / L)``.  Other schedules raise ``ValueError``.
    """
    V, m = window_parameters(language)
    length = language.check_length(length)
    lam = check_real(learning_error, "learning_error", low=0.0, high=1.0, high_open=True)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    keep = 1.0 - lam * (V - m) / V
    if parsed.autoregressive:
        return 1.0 - keep ** (length - 1)
    one_per_step = (resolved.kind == ORDER and resolved.num_steps == length) or (
        resolved.is_adaptive and resolved.sizes.size and int(resolved.sizes.max()) == 1
    )
    if not one_per_step:
        raise ValueError(
            f"C3 bounds orders that reveal one token per step (ar, order:... with singletons, topk:L, margin:L); "
            f"got {parsed.spec!r}"
        )
    return 1.0 - keep ** (length // 2)
