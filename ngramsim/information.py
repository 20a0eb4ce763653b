r"""Information measures of the source at length ``L`` (SPEC §4, THEORY B2-B4).

Each measure is written as its defining identity:

* ``H(X_A)`` for a subset ``A`` of positions; ``H(X_B | X_A) = H(X_{A u B}) - H(X_A)``;
* ``TC(X) = sum_i H(X_i) - H(X)``;
* ``DTC(X) = H(X) - sum_i H(X_i | X_{-i})``;
* ``sum_i I(X_i; X_{-i}) = TC + DTC``;
* ``Phi(k) = E_{|A| = k} H(X_A)`` over uniformly random ``k``-subsets.

Regimes (``method=``): ``"exact"`` by enumeration of ``V^L`` (tiny ``L``), exact at any
``L`` where the Markov structure allows (``H(X)`` and ``H(X_i)`` by the chain rule, so
``TC`` always; ``H(X_i | X_{-i})`` from the ``2n - 1`` tokens around ``i``, so ``DTC``
whenever ``V^(2n-1)`` is small; ``H(X_A)`` and ``Phi`` for order <= 2 as sums over
consecutive revealed pairs), else ``"monte_carlo"``: ``H(X_A) = E_q[-log q(x_A)]``
with ``log q(x_A)`` from a forward pass with evidence, with standard errors.
Results are :class:`Measure` records (nats unless ``base`` says otherwise).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import entr

from ngramsim._kernels.chain import propagate_context_laws
from ngramsim._kernels.forward_backward import chain_trusted, log_evidence
from ngramsim._kernels.information import (
    gap_row_entropies,
    local_conditional_entropies,
    phi_from_gaps,
)
from ngramsim._progress import progress_bar
from ngramsim._validation import as_generator, check_int, check_language, log_base
from ngramsim.marginals import chain_arrays
from ngramsim.measure import Measure

__all__ = [
    "Measure",
    "subset_entropy",
    "conditional_entropy",
    "total_correlation",
    "dual_total_correlation",
    "sum_mutual_information",
    "phi_curve",
    "ENUMERATION_LIMIT",
    "LOCAL_WINDOW_LIMIT",
    "MONTE_CARLO_BUDGET",
]

#: ``V^L`` up to which exact quantities are computed by enumerating the whole law.
ENUMERATION_LIMIT = 2**20
#: ``L V^(2n-1)`` up to which ``H(X_i | X_{-i})`` is summed exactly over local windows.
LOCAL_WINDOW_LIMIT = 2**26
#: Largest Monte Carlo job (elementary operations, roughly) accepted before refusing with advice.
MONTE_CARLO_BUDGET = 2e10


#: Multiply-adds per call of the exact order-2 Phi kernel (interrupts and progress between calls).
PHI_CHUNK_OPERATIONS = 2**26


def _check_exact_budget(cost, what):
    if cost > MONTE_CARLO_BUDGET:
        raise ValueError(
            f"{what} would take about {cost:.1e} operations (limit {MONTE_CARLO_BUDGET:.0e}); lower length"
        )


def _check_budget(cost, what):
    if cost > MONTE_CARLO_BUDGET:
        raise ValueError(
            f"{what} by Monte Carlo would take about {cost:.1e} operations (limit {MONTE_CARLO_BUDGET:.0e}); "
            "lower num_samples or length"
        )


def _exact(value, base):
    return Measure(value / log_base(base), 0.0, "exact")


def _check(language, length):
    check_language(language)
    return language.check_length(length)


def _check_subset(subset, length, name="subset"):
    try:
        items = [int(i) for i in subset]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an iterable of integer positions, got {subset!r}") from None
    if any(not isinstance(i, int | np.integer) or isinstance(i, bool) for i in subset):
        raise TypeError(f"{name} must hold integer positions, got {subset!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} has duplicated positions: {sorted(items)}")
    bad = [i for i in items if not 0 <= i < length]
    if bad:
        raise ValueError(f"{name} position {bad[0]} is out of range for length={length} (positions are 0-based)")
    return sorted(items)


def _method(method, allowed):
    if method not in ("auto", "exact", "monte_carlo"):
        raise ValueError(f"method must be 'auto', 'exact' or 'monte_carlo', got {method!r}")
    if method == "exact" and not allowed:
        raise ValueError("no exact method applies here (V^L too large and order > 2); use method='monte_carlo'")
    return "exact" if (method == "auto" and allowed) or method == "exact" else "monte_carlo"


def _joint(language, length):
    from ngramsim._enumeration import all_sequences

    xs = all_sequences(language.vocab_size, length)
    return np.exp(language.log_prob(xs)).reshape((language.vocab_size,) * length)


def _order2_subset_entropy(language, length, items):
    """``H(X_A) = H(X_{a_1}) + sum_j sum_u q(x_{a_j} = u) H(P^(a_{j+1} - a_j)[u, .])`` (order <= 2)."""
    if not items:
        return 0.0
    P, _, _, _ = chain_arrays(language)
    marg = language.token_marginals(length)
    value = float(entr(marg[items[0]]).sum())
    for a, b in zip(items, items[1:]):
        rows = np.linalg.matrix_power(P, b - a)
        value += float(marg[a] @ entr(rows).sum(axis=1))
    return value


def _mc_log_evidence(language, length, x, revealed):
    """``log q(x_R)`` by a forward pass with evidence (masked positions set to -1; log space if it underflows)."""
    P, succ, mu, m = chain_arrays(language)
    tokens = np.where(revealed, x, -1).astype(np.int64)
    return log_evidence(tokens, P, succ, mu, m, chain_trusted(P, mu))


def subset_entropy(language, length, subset, *, base=None, method="auto", num_samples=2000, rng=None) -> Measure:
    r"""``H(X_A)`` of the positions ``A`` (0-based) of ``q_L``.

    Exact by enumeration when ``V^L <= ENUMERATION_LIMIT`` or for order <= 2 at any ``L``;
    otherwise Monte Carlo ``-mean log q(x_A)`` over ``num_samples`` draws ``x ~ q`` (needs ``rng``).

    ``H(X_A) = -sum_{x_A} q(x_A) log q(x_A)``, where ``q(x_A)`` is the marginal of the
    positions ``A`` under ``q_L``.  For order <= 2 with ``A = {a_1 < ... < a_k}``,
    ``H(X_A) = H(X_{a_1}) + sum_j sum_u q(x_{a_j} = u) H(P^(a_{j+1} - a_j)[u, .])``
    (the revealed tokens form a Markov chain with gap-``d`` kernel ``P^d``).  The
    Monte Carlo estimate evaluates ``log q(x_A)`` by a forward pass with evidence.
    Averaged over ``|A| = k`` this is the information curve ``Phi(k)`` of
    :func:`phi_curve`.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    subset : iterable of int
        The positions ``A``, distinct, in ``[0, L)``; order does not matter.  Empty
        gives 0.
    base : float, optional
        Logarithm base (default ``e``: nats).
    method : {"auto", "exact", "monte_carlo"}
        ``"auto"`` is exact whenever an exact method applies.
    num_samples : int
        Monte Carlo draws (``>= 2``).
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for Monte Carlo.

    Returns
    -------
    Measure
        ``value``, ``stderr`` (0 when exact), ``method`` (``"exact"`` or
        ``"monte_carlo"``) and ``num_samples`` (0 when exact).

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, ``subset`` does not hold
        integers, or Monte Carlo runs without ``rng``.
    ValueError
        If ``length < max(1, n - 1)``; ``subset`` has duplicated or out-of-range
        positions; ``method`` is unknown, or ``"exact"`` where no exact method applies;
        ``num_samples < 2``; the Monte Carlo job exceeds ``MONTE_CARLO_BUDGET``; or
        ``base`` is invalid.

    Examples
    --------
    >>> import math
    >>> from ngramsim import noisy_parity_language, subset_entropy, window_language
    >>> lang = window_language(4, 2)
    >>> round(subset_entropy(lang, 5, [0, 1]).value, 6), round(math.log(4) + math.log(2), 6)
    (2.079442, 2.079442)
    >>> parity = noisy_parity_language(3, 0.1)  # order 3: Monte Carlo, checked against enumeration
    >>> mc = subset_entropy(parity, 10, [0, 1, 5], method="monte_carlo", num_samples=200, rng=0)
    >>> exact = subset_entropy(parity, 10, [0, 1, 5])
    >>> mc.method, exact.method, bool(abs(mc.value - exact.value) < 4 * mc.stderr)
    ('monte_carlo', 'exact', True)
    """
    length = _check(language, length)
    items = _check_subset(subset, length)
    small = language.vocab_size**length <= ENUMERATION_LIMIT
    chosen = _method(method, small or language.order <= 2)
    if chosen == "exact":
        if language.order <= 2:
            return _exact(_order2_subset_entropy(language, length, items), base)
        joint = _joint(language, length)
        others = tuple(i for i in range(length) if i not in items)
        return _exact(float(entr(joint.sum(axis=others)).sum()), base)
    num_samples = check_int(num_samples, "num_samples", minimum=2)
    _check_budget(num_samples * length * language.num_contexts * language.vocab_size, "H(X_A)")
    xs = language.sample(length, num_samples, rng=as_generator(rng))
    revealed = np.zeros(length, dtype=bool)
    revealed[items] = True
    values = np.array([-_mc_log_evidence(language, length, x, revealed) for x in xs])
    scale = log_base(base)
    return Measure(float(values.mean() / scale), float(values.std(ddof=1) / math.sqrt(num_samples) / scale), "monte_carlo", num_samples)


def conditional_entropy(language, length, target, given, **kwargs) -> Measure:
    """``H(X_B | X_A) = H(X_{A u B}) - H(X_A)`` (``target`` = B, ``given`` = A, disjoint).

    Both entropies come from :func:`subset_entropy`, with the same keyword
    arguments.  The conditional TC of a step (THEORY B1) is built from such
    terms: ``TC(X_S | X_R) = sum_{i in S} H(X_i | X_R) - H(X_S | X_R)``.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    target : iterable of int
        The positions ``B``.
    given : iterable of int
        The positions ``A``, disjoint from ``B``; empty gives ``H(X_B)``.
    **kwargs
        ``base``, ``method``, ``num_samples``, ``rng`` of :func:`subset_entropy`.

    Returns
    -------
    Measure
        ``value``; ``stderr`` is ``sqrt(se(H(X_{A u B}))^2 + se(H(X_A))^2)`` (0 when
        exact); ``method`` and ``num_samples`` of the joint term.

    Raises
    ------
    TypeError
        As :func:`subset_entropy`, for ``target`` and ``given``.
    ValueError
        If ``target`` and ``given`` overlap, or as :func:`subset_entropy`.

    Examples
    --------
    >>> from ngramsim import conditional_entropy, window_language
    >>> lang = window_language(4, 2)
    >>> round(conditional_entropy(lang, 5, [1], [0]).value, 6)  # log 2: two successors
    0.693147
    >>> round(conditional_entropy(lang, 5, [4], [0]).value, 6)  # four steps later: less known
    1.320888
    """
    length = _check(language, length)
    b = _check_subset(target, length, "target")
    a = _check_subset(given, length, "given")
    if set(a) & set(b):
        raise ValueError(f"target and given must be disjoint; both contain {sorted(set(a) & set(b))}")
    joint = subset_entropy(language, length, a + b, **kwargs)
    cond = subset_entropy(language, length, a, **kwargs)
    stderr = math.hypot(joint.stderr, cond.stderr)
    return Measure(joint.value - cond.value, stderr, joint.method, joint.num_samples)


def total_correlation(language, length, *, base=None) -> Measure:
    r"""``TC(X) = sum_i H(X_i) - H(X)``, exact at any ``L`` (chain rule and token marginals).

    ``H(X)`` is ``H(q_L)`` by the chain rule over contexts and ``H(X_i)`` the
    entropy of the token marginal ``q(x_i)``; no enumeration, ``O(L V^n)`` time.
    It is the KL of drawing every token at once from its marginal: the one-step
    value of ``E_S KL(q || p_S)`` (THEORY B2).  It enters the Li and Cai
    bound (2025, arXiv:2505.21400, Theorem 1) through ``sum_i I(X_i; X_{-i}) =
    TC + DTC``, and governs sizes that shrink (big blocks first: ``O(TC log L /
    N)``, THEORY B5; Zhao and Cai 2026, arXiv:2602.20126).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    base : float, optional
        Logarithm base (default ``e``: nats).

    Returns
    -------
    Measure
        Exact: ``stderr = 0``, ``method = "exact"``.  Round-off below 0 is clipped.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage` or ``length`` not an integer.
    ValueError
        If ``length < max(1, n - 1)`` or ``base`` is not a positive number other than 1.

    Examples
    --------
    >>> import math
    >>> from ngramsim import cycle_language, total_correlation, window_language
    >>> round(total_correlation(window_language(4, 2), 5).value, 6), round(4 * math.log(2), 6)  # (L-1) log(V/m)
    (2.772589, 2.772589)
    >>> total_correlation(cycle_language(2), 5, base=2).value  # 5 copies of one bit: (L-1) bits
    4.0
    """
    length = _check(language, length)
    marginal = float(entr(language.token_marginals(length)).sum())
    return _exact(max(marginal - language.entropy(length), 0.0), base)


def _local_conditional_entropies(language, length):
    """``H(X_i | X_{-i})`` for every ``i`` (see :func:`~ngramsim._kernels.information.local_conditional_entropies`)."""
    P, succ, mu, m = chain_arrays(language)
    laws = propagate_context_laws(mu, P, succ, np.empty((length - m + 1, P.shape[0])))
    return local_conditional_entropies(laws, P, succ, mu, m, np.empty(length))


def dual_total_correlation(language, length, *, base=None, method="auto", num_samples=2000, rng=None) -> Measure:
    r"""``DTC(X) = H(X) - sum_i H(X_i | X_{-i})``.

    Exact when ``L V^(2n-1) <= LOCAL_WINDOW_LIMIT`` (always for order 2 with moderate ``V``);
    otherwise Monte Carlo of ``E_q[-log q(x_i | x_{-i})]`` from the local conditionals.

    In an order-``n`` language ``x_i`` depends on the rest only through the
    ``n - 1`` tokens on each side, so each ``H(X_i | X_{-i})`` is a sum over
    windows of ``2n - 1`` tokens.  DTC is large when each token is nearly
    determined by the rest of the sequence, even if the tokens are nearly
    independent of one another (noisy parity: large DTC, small TC); it governs
    sizes that grow (small blocks first: ``O(DTC log L / N)``,
    THEORY B5; Chen, Cong and Li 2025, arXiv:2511.04647; Zhao and Cai 2026,
    arXiv:2602.20126).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    base : float, optional
        Logarithm base (default ``e``: nats).
    method : {"auto", "exact", "monte_carlo"}
        ``"auto"`` is exact within ``LOCAL_WINDOW_LIMIT``.
    num_samples : int
        Monte Carlo draws ``x ~ q`` (``>= 2``).
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for Monte Carlo.

    Returns
    -------
    Measure
        ``value`` (exact values clipped at 0), ``stderr``, ``method``, ``num_samples``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, an argument has the wrong
        type, or Monte Carlo runs without ``rng``.
    ValueError
        If ``length < max(1, n - 1)``; ``method`` is unknown, or ``"exact"`` beyond
        ``LOCAL_WINDOW_LIMIT``; ``num_samples < 2``; the Monte Carlo job exceeds
        ``MONTE_CARLO_BUDGET``; or ``base`` is invalid.

    Examples
    --------
    >>> import math
    >>> from ngramsim import cycle_language, dual_total_correlation, noisy_parity_language
    >>> round(dual_total_correlation(cycle_language(4), 5).value, 6), round(math.log(4), 6)  # H(X) = log V
    (1.386294, 1.386294)
    >>> parity = noisy_parity_language(3, 0.1)
    >>> mc = dual_total_correlation(parity, 10, method="monte_carlo", num_samples=200, rng=0)
    >>> bool(abs(mc.value - dual_total_correlation(parity, 10).value) < 4 * mc.stderr)
    True
    """
    length = _check(language, length)
    V, n = language.vocab_size, language.order
    chosen = _method(method, length * V ** (2 * n - 1) <= LOCAL_WINDOW_LIMIT)
    if chosen == "exact":
        value = language.entropy(length) - float(_local_conditional_entropies(language, length).sum())
        return _exact(max(value, 0.0), base)
    num_samples = check_int(num_samples, "num_samples", minimum=2)
    _check_budget(num_samples * length * length * V, "DTC")
    xs = language.sample(length, num_samples, rng=as_generator(rng))
    totals = np.array([_mc_local_surprisal(language, length, x) for x in xs])
    value = language.entropy(length) - totals.mean()
    scale = log_base(base)
    return Measure(float(value / scale), float(totals.std(ddof=1) / math.sqrt(num_samples) / scale), "monte_carlo", num_samples)


def _mc_local_surprisal(language, length, x):
    """``sum_i -log q(x_i | x_{-i})`` for one sequence (each term normalises over ``x_i``'s ``V`` values)."""
    V = language.vocab_size
    total = 0.0
    trial = np.array(x)
    base = language.log_prob(trial)
    for i in range(length):
        batch = np.tile(trial, (V, 1))
        batch[:, i] = np.arange(V)
        logs = language.log_prob(batch)
        top = logs.max()
        total -= base - (top + math.log(np.exp(logs - top).sum()))
    return total


def sum_mutual_information(language, length, **kwargs) -> Measure:
    """``sum_i I(X_i; X_{-i}) = TC + DTC``.

    The information measure of Li and Cai (2025, arXiv:2505.21400, Theorem 1):
    for random orders with step sizes at most ``s_max`` and the ideal model,
    ``E KL <= ((2^ceil(log2 s_max) - 1)/L) sum_i I(X_i; X_{-i})``; ngramsim's
    B4' sharpens the factor to ``(s_max - 1)/L`` (see
    :func:`~ngramsim.decomposition.expected_kl`).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    **kwargs
        ``base``, ``method``, ``num_samples``, ``rng`` of
        :func:`dual_total_correlation` (``TC`` is always exact).

    Returns
    -------
    Measure
        ``value = TC + DTC``; ``stderr``, ``method`` and ``num_samples`` of the DTC term.

    Raises
    ------
    TypeError
        As :func:`dual_total_correlation`.
    ValueError
        As :func:`dual_total_correlation`.

    Examples
    --------
    >>> from ngramsim import expected_kl, sum_mutual_information, window_language
    >>> lang = window_language(4, 2)
    >>> total = sum_mutual_information(lang, 6).value
    >>> round(total, 6)
    5.545177
    >>> bool(expected_kl(lang, 6, "uniform:2")["kl_expected"] <= (4 - 1) / 6 * total)  # Li-Cai, s_max = 3
    True
    """
    tc = total_correlation(language, length, base=kwargs.get("base"))
    dtc = dual_total_correlation(language, length, **kwargs)
    return Measure(tc.value + dtc.value, dtc.stderr, dtc.method, dtc.num_samples)


def _phi_order2(language, length, progress=False):
    """``Phi(k)`` for order <= 2 in ``O(L^2 + L V^3)``: first revealed token plus consecutive pairs by gap.

    The ``O(L^2)`` part runs in chunks of ``k`` (Ctrl-C acts between them; a progress bar on a
    terminal if ``progress``)."""
    _check_exact_budget(length * length, "Phi (exact, order 2)")
    P, _, _, _ = chain_arrays(language)
    marg = language.token_marginals(length)
    h_first = entr(marg).sum(axis=1)  # H(X_a)
    row_h = gap_row_entropies(P, length, np.empty((length, P.shape[0])))  # H(P^d[u, .])
    prefix = np.cumsum(marg, axis=0)  # prefix[n - 1] = sum_{a < n} q(x_a)
    gaps = np.zeros(length)
    gaps[1:] = np.einsum("du,du->d", prefix[length - 1 - np.arange(1, length)], row_h[1:])  # sum_a h(a, a + d)
    out = np.zeros(length + 1)
    chunk = max(1, PHI_CHUNK_OPERATIONS // (2 * length))
    with progress_bar(length, "Phi", "k", enabled=progress) as bar:
        for first in range(1, length + 1, chunk):
            stop = min(first + chunk, length + 1)
            phi_from_gaps(h_first, gaps, out, first, stop)
            bar.update(stop - first)
    return out


def phi_curve(language, length, *, base=None, method="auto", num_samples=200, rng=None, progress=False):
    r"""``Phi(k) = E_{|A|=k} H(X_A)`` for ``k = 0 .. L``: ``(values, stderrs, method)``.

    Exact for order <= 2 at any ``L`` (``O(L^2)`` from the law of gaps) and by enumeration of
    all subsets when ``V^L`` and ``2^L`` are small; otherwise Monte Carlo with ``num_samples``
    pairs (random ``k``-subset, ``x ~ q``) per ``k``.  ``progress``: a bar over ``k`` on stderr
    when it is a terminal.

    The expectation is over uniformly random ``k``-subsets ``A`` of the ``L``
    positions.  ``Phi(0) = 0``, ``Phi(L) = H(X)``, and ``Phi`` is concave.  It is
    the information curve of THEORY B2 (Chen, Cong and Li 2025,
    arXiv:2511.04647): the expected KL of a random-order schedule is the
    left-Riemann error of this curve (:func:`~ngramsim.decomposition.expected_kl`).
    The Monte Carlo estimates of different ``k`` share their draws ``x ~ q``.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    base : float, optional
        Logarithm base (default ``e``: nats).
    method : {"auto", "exact", "monte_carlo"}
        ``"auto"`` is exact whenever an exact method applies.
    num_samples : int
        Monte Carlo pairs per ``k`` (``>= 2``).
    rng : int, numpy.random.SeedSequence or numpy.random.Generator, optional
        Required for Monte Carlo.
    progress : bool
        Progress bar over ``k`` on stderr when it is a terminal.

    Returns
    -------
    values : ndarray, shape (L + 1,)
        ``Phi(0), ..., Phi(L)``.
    stderrs : ndarray, shape (L + 1,)
        Standard errors (zeros when exact).
    method : str
        ``"exact"`` or ``"monte_carlo"``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, an argument has the wrong
        type, or Monte Carlo runs without ``rng``.
    ValueError
        If ``length < max(1, n - 1)``; ``method`` is unknown, or ``"exact"`` where no
        exact method applies; ``num_samples < 2``; the job exceeds
        ``MONTE_CARLO_BUDGET``; or ``base`` is invalid.

    Examples
    --------
    >>> import numpy as np
    >>> from ngramsim import phi_curve, window_language
    >>> values, stderrs, method = phi_curve(window_language(4, 2), 4)
    >>> method, values.round(6).tolist()  # Phi(1) = log 4, Phi(4) = H(X) = log 4 + 3 log 2
    ('exact', [0.0, 1.386294, 2.288689, 2.945876, 3.465736])
    >>> bool(np.all(np.diff(values, 2) <= 1e-12))  # concave
    True
    """
    length = _check(language, length)
    small = language.vocab_size**length <= ENUMERATION_LIMIT and length <= 16
    chosen = _method(method, language.order <= 2 or small)
    scale = log_base(base)
    if chosen == "exact":
        if language.order <= 2:
            values = _phi_order2(language, length, progress)
        else:
            values = _phi_enumerated(language, length)
        return values / scale, np.zeros(length + 1), "exact"
    num_samples = check_int(num_samples, "num_samples", minimum=2)
    _check_budget(num_samples * length * length * language.num_contexts * language.vocab_size, "Phi")
    gen = as_generator(rng)
    values = np.zeros(length + 1)
    errors = np.zeros(length + 1)
    xs = language.sample(length, num_samples, rng=gen)
    with progress_bar(length, "Phi", "k", enabled=progress) as bar:
        for k in range(1, length + 1):
            draws = np.empty(num_samples)
            for s in range(num_samples):
                revealed = np.zeros(length, dtype=bool)
                revealed[gen.choice(length, size=k, replace=False)] = True
                draws[s] = -_mc_log_evidence(language, length, xs[s], revealed)
            values[k] = draws.mean()
            errors[k] = draws.std(ddof=1) / math.sqrt(num_samples)
            bar.update()
    return values / scale, errors / scale, "monte_carlo"


def _phi_enumerated(language, length):
    from ngramsim._kernels import exact as _k

    V = language.vocab_size
    joint = _joint(language, length).ravel()
    Ev = _k.evidence_table(joint, V, length)
    H = np.zeros(2**length)
    LK = np.zeros((2**length, length))
    _k.subset_tables((Ev, np.zeros((1, length, V)), False, 0.0, 1.0), V, length, H, LK)
    sizes = np.array([bin(mask).count("1") for mask in range(2**length)])
    return np.array([H[sizes == k].mean() for k in range(length + 1)])
