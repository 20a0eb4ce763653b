"""Constructors of n-gram languages: the families ngramsim experiments use.

Each constructor documents its ``mu``.
"""

from __future__ import annotations

import numpy as np

from ngramsim._validation import as_generator, check_int, check_real, check_table_size
from ngramsim.sources import NGramLanguage

__all__ = [
    "window_language",
    "dirichlet_language",
    "uniform_language",
    "cycle_language",
    "noisy_copy_language",
    "noisy_parity_language",
]


def window_language(vocab_size, window) -> NGramLanguage:
    r"""The cyclic window language ``W(V, m)`` (THEORY C1).

    Order 2, ``P(b | a) = 1/m`` for ``b in {a, a+1, ..., a+m-1} mod V`` and 0
    otherwise; ``mu`` uniform on ``V`` (it is stationary).  A sequence is
    invalid iff some adjacent pair leaves the window; with all tokens iid
    uniform, ``SER = 1 - (m/V)^(L-1)``.

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.
    window : int
        ``m`` with ``1 <= m < V``.

    Returns
    -------
    NGramLanguage
        Order 2, named ``"window(V=...,m=...)"``; ``meta`` records ``family="window"``,
        ``vocab_size`` and ``window``.

    Raises
    ------
    TypeError
        If ``vocab_size`` or ``window`` is not an integer.
    ValueError
        If ``V < 2``, ``m < 1``, ``m >= V``, or the ``V x V`` table exceeds the size limit.

    Notes
    -----
    This is ngramsim's own hard instance for the sequence error rate.  Feng et
    al. (2025, arXiv:2502.09622) show that under SER the number of MDM steps
    must, in the worst case, grow linearly in ``L``; ``W(V, m)`` is the n-gram
    family on which ngramsim checks that claim (THEORY C1-C3): positions
    revealed in the same step are drawn independently, so neighbours revealed
    together (and not forced by tokens already revealed) leave the window with
    positive probability, while the per-token KL at a fixed number of steps
    stays bounded in ``L``.
    The stride order ``stride:s`` with ``s >= ceil((V-1)/(m-1))`` reaches
    ``SER = 0`` in ``s`` steps (THEORY C2'), so the hardness is specific to
    samplers that reveal random positions.

    Examples
    --------
    >>> from ngramsim import window_language, ser_one_step
    >>> lang = window_language(4, 2)
    >>> lang.order, lang.transitions[0].tolist()
    (2, [0.5, 0.5, 0.0, 0.0])
    >>> round(ser_one_step(lang, 5), 12)  # 1 - (2/4)^4
    0.9375
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    m = check_int(window, "window", minimum=1)
    if m >= V:
        raise ValueError(f"window must satisfy 1 <= window < vocab_size={V}, got {m}")
    check_table_size(V, 2)  # before allocating the V x V table
    P = np.zeros((V, V))
    for a in range(V):
        P[a, (a + np.arange(m)) % V] = 1.0 / m
    return NGramLanguage(
        P,
        np.full(V, 1.0 / V),
        name=f"window(V={V},m={m})",
        meta={"family": "window", "vocab_size": V, "window": m},
    )


def uniform_language(vocab_size, order) -> NGramLanguage:
    r"""Tokens iid uniform on ``V``, written as an order-``n`` language.

    ``P(v | c) = 1/V`` for every context ``c`` and ``mu`` uniform on the
    ``V^(n-1)`` contexts, so ``q_L`` is uniform on ``V^L`` at every order.

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.
    order : int
        ``n >= 1``; only the layout of ``P`` depends on it, not the law.

    Returns
    -------
    NGramLanguage
        Named ``"uniform(V=...,n=...)"``; ``meta`` records ``family="uniform"``,
        ``vocab_size`` and ``order``.

    Raises
    ------
    TypeError
        If ``vocab_size`` or ``order`` is not an integer.
    ValueError
        If ``V < 2``, ``n < 1``, or the ``V^(n-1) x V`` table exceeds the size limit.

    Notes
    -----
    The null case of every bound: the tokens are independent, so ``TC = DTC = 0``,
    ``Phi(k) = k log V``, and every schedule (one step included) samples ``q``
    exactly with the ideal reverse model (THEORY B2 gives ``E_S KL(q || p_S) = 0``).

    Examples
    --------
    >>> from ngramsim import uniform_language, total_correlation
    >>> lang = uniform_language(3, 2)
    >>> lang.transitions.shape, round(lang.entropy_rate(), 6)  # log 3
    ((3, 3), 1.098612)
    >>> round(total_correlation(lang, 6).value, 12)
    0.0
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    n = check_int(order, "order", minimum=1)
    K = check_table_size(V, n)
    return NGramLanguage(
        np.full((K, V), 1.0 / V),
        np.full(K, 1.0 / K),
        order=n,
        name=f"uniform(V={V},n={n})",
        meta={"family": "uniform", "vocab_size": V, "order": n},
    )


def cycle_language(vocab_size) -> NGramLanguage:
    r"""The deterministic cycle ``x_{i+1} = x_i + 1 mod V``.

    Order 2, ``P(b | a) = 1`` for ``b = a + 1 mod V`` and 0 otherwise; ``mu``
    uniform on ``V`` (it is stationary).  Like ``W(V, 1)`` (whose one allowed
    successor is ``a`` itself) every token has a single allowed successor, so the
    window-language formulas with ``m = 1`` hold for it.

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.

    Returns
    -------
    NGramLanguage
        Order 2, named ``"cycle(V=...)"``; ``meta`` records ``family="cycle"`` and
        ``vocab_size``.

    Raises
    ------
    TypeError
        If ``vocab_size`` is not an integer.
    ValueError
        If ``V < 2`` or the ``V x V`` table exceeds the size limit.

    Notes
    -----
    The first token fixes the whole sequence: ``H(q_L) = log V``,
    ``TC = (L - 1) log V`` and ``DTC = log V``.  With nothing revealed, two
    positions drawn in the same step are consistent with probability ``1/V``:
    one step gives ``SER = 1 - V^-(L-1)`` (THEORY C1 with ``m = 1``), while ``ar``
    has ``SER = 0`` (Feng et al. 2025, arXiv:2502.09622: with one token per step
    only the learning error is left).

    Examples
    --------
    >>> import numpy as np
    >>> from ngramsim import cycle_language, ser_one_step
    >>> lang = cycle_language(4)
    >>> bool(lang.is_valid(np.array([1, 2, 3, 0]))), bool(lang.is_valid(np.array([1, 3, 0, 1])))
    (True, False)
    >>> round(ser_one_step(lang, 4), 6)  # 1 - 4^-3
    0.984375
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    check_table_size(V, 2)  # before allocating the V x V table
    P = np.zeros((V, V))
    P[np.arange(V), (np.arange(V) + 1) % V] = 1.0
    return NGramLanguage(
        P,
        np.full(V, 1.0 / V),
        name=f"cycle(V={V})",
        meta={"family": "cycle", "vocab_size": V},
    )


def noisy_copy_language(vocab_size, noise) -> NGramLanguage:
    r"""A token copied with noise: order 2, ``P(a | a) = 1 - eps``, ``P(b | a) = eps / (V - 1)``; ``mu`` uniform.

    TC-heavy (THEORY B5): for small ``eps`` one revealed token tells almost everything, so
    ``TC ~ L log V`` while ``DTC`` stays small; revealing small blocks first pays off.

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.
    noise : float
        ``eps in [0, 1]``: the probability that a token differs from its predecessor
        (then uniform on the ``V - 1`` other tokens).  ``mu`` uniform is stationary
        for every ``eps``.

    Returns
    -------
    NGramLanguage
        Order 2, named ``"copy(V=...,eps=...)"``; ``meta`` records ``family="copy"``,
        ``vocab_size`` and ``noise``.

    Raises
    ------
    TypeError
        If ``vocab_size`` is not an integer or ``noise`` not a real number.
    ValueError
        If ``V < 2``, ``noise`` lies outside ``[0, 1]`` or is not finite, or the
        table exceeds the size limit.

    Notes
    -----
    The TC-heavy test source of the schedule-shape results restated in THEORY
    B5 (Chen, Cong and Li 2025, arXiv:2511.04647; Zhao and Cai 2026,
    arXiv:2602.20126): with sizes that grow geometrically (``grow:N``, small
    blocks first) ``E KL = O(DTC log L / N)``, which is small here, whereas sizes
    that shrink (``shrink:N``) pay ``O(TC log L / N)``.  The extreme ``eps = 0``
    is ``L`` copies of one token: ``TC = (L - 1) log V``, ``DTC = log V``.

    Examples
    --------
    >>> from ngramsim import noisy_copy_language, total_correlation, dual_total_correlation
    >>> lang = noisy_copy_language(2, 0.02)
    >>> total_correlation(lang, 64).value > 5 * dual_total_correlation(lang, 64).value
    True
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    eps = check_real(noise, "noise", low=0.0, high=1.0)
    check_table_size(V, 2)
    P = np.full((V, V), eps / (V - 1))
    np.fill_diagonal(P, 1.0 - eps)
    return NGramLanguage(
        P,
        np.full(V, 1.0 / V),
        name=f"copy(V={V},eps={eps:g})",
        meta={"family": "copy", "vocab_size": V, "noise": eps},
    )


def noisy_parity_language(order, noise) -> NGramLanguage:
    r"""Noisy parity bits: ``x_i = x_{i-n+1} xor ... xor x_{i-1}`` with probability ``1 - eps``; ``mu`` uniform.

    Order ``n >= 2``, ``V = 2``.  DTC-heavy for ``n >= 3`` and moderate ``eps`` (THEORY B5):
    each bit is pinned down by the ``n`` parity checks it enters, so ``H(X_i | X_{-i})`` is small
    while consecutive bits are nearly independent (small ``TC``); revealing big blocks first
    pays off.

    Parameters
    ----------
    order : int
        ``n >= 2``: each bit depends on the ``n - 1`` bits before it.
    noise : float
        ``eps in [0, 1]``: the probability that a bit breaks its parity.  ``mu``
        uniform on the ``2^(n-1)`` contexts is stationary for every ``eps``.

    Returns
    -------
    NGramLanguage
        ``V = 2``, order ``n``, named ``"parity(n=...,eps=...)"``; ``meta`` records
        ``family="parity"``, ``order`` and ``noise``.

    Raises
    ------
    TypeError
        If ``order`` is not an integer or ``noise`` not a real number.
    ValueError
        If ``n < 2``, ``noise`` lies outside ``[0, 1]`` or is not finite, or the
        ``2^(n-1) x 2`` table exceeds the size limit.

    Notes
    -----
    The DTC-heavy counterpart of :func:`noisy_copy_language` for the
    schedule-shape results of THEORY B5 (Chen, Cong and Li 2025,
    arXiv:2511.04647; Zhao and Cai 2026, arXiv:2602.20126): sizes that shrink
    (``shrink:N``, big blocks first) pay ``O(TC log L / N)``, small here, while
    sizes that grow pay ``O(DTC log L / N)``.

    Examples
    --------
    >>> from ngramsim import noisy_parity_language, total_correlation, dual_total_correlation
    >>> lang = noisy_parity_language(4, 0.3)
    >>> dual_total_correlation(lang, 16).value > 2 * total_correlation(lang, 16).value
    True
    """
    n = check_int(order, "order", minimum=2)
    eps = check_real(noise, "noise", low=0.0, high=1.0)
    K = check_table_size(2, n)
    parity = np.array([bin(c).count("1") % 2 for c in range(K)])
    P = np.empty((K, 2))
    P[np.arange(K), parity] = 1.0 - eps
    P[np.arange(K), 1 - parity] = eps
    return NGramLanguage(
        P,
        np.full(K, 1.0 / K),
        order=n,
        name=f"parity(n={n},eps={eps:g})",
        meta={"family": "parity", "order": n, "noise": eps},
    )


def dirichlet_language(vocab_size, order, *, concentration=1.0, forbidden=0.0, rng) -> NGramLanguage:
    r"""A random language: each row of ``P`` drawn from a symmetric Dirichlet.

    Each transition ``(c, v)`` is first forbidden independently with
    probability ``forbidden``; a row left with no allowed transition gets one
    back, chosen uniformly.  The allowed entries of each row are then drawn
    from ``Dirichlet(concentration, ..., concentration)`` (normalised Gamma
    draws; a row whose draws all underflow to 0 puts its mass on one allowed
    entry chosen uniformly).

    ``mu`` is the stationary law of the context chain when it is unique, and
    the uniform law on ``V^(n-1)`` otherwise (recorded in ``meta["initial"]``).

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.
    order : int
        ``n >= 1``.
    concentration : float
        Dirichlet parameter ``a > 0``: small values give peaked rows.
    forbidden : float
        Probability ``f in [0, 1)`` that a transition is forbidden.
    rng : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of all randomness (keyword-only, required).  An int seed is
        recorded in ``meta["seed"]``; the same seed gives the same language.

    Returns
    -------
    NGramLanguage
        Named ``"dirichlet(V=...,n=...,a=...,f=...)"``; ``meta`` records
        ``family="dirichlet"``, ``vocab_size``, ``order``, ``concentration``,
        ``forbidden``, ``initial`` (how ``mu`` was chosen) and ``seed``.

    Raises
    ------
    TypeError
        If an integer argument is not an integer, a real one not a real number, or
        ``rng`` is missing or of the wrong type.
    ValueError
        If ``V < 2``, ``n < 1``, ``a <= 0``, ``f`` lies outside ``[0, 1)``, a seed is
        negative, or the ``V^(n-1) x V`` table exceeds the size limit.

    Notes
    -----
    The generic random source on which the exact identities (THEORY B1, B2)
    and the inequalities (B3, B4 of Li and Cai 2025, arXiv:2505.21400, and the
    TER bound of Feng et al. 2025, arXiv:2502.09622) are checked.  With
    ``f > 0`` the language has forbidden transitions, hence invalid sequences
    and a positive SER for parallel steps.

    Examples
    --------
    >>> import numpy as np
    >>> from ngramsim import dirichlet_language
    >>> lang = dirichlet_language(3, 2, forbidden=0.3, rng=0)
    >>> lang.transitions.shape, lang.meta["initial"], lang.is_stationary
    ((3, 3), 'stationary', True)
    >>> bool(np.allclose(lang.transitions.sum(axis=1), 1.0))
    True
    >>> again = dirichlet_language(3, 2, forbidden=0.3, rng=0)
    >>> bool(np.array_equal(lang.transitions, again.transitions))
    True
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    n = check_int(order, "order", minimum=1)
    a = check_real(concentration, "concentration", low=0.0, low_open=True)
    f = check_real(forbidden, "forbidden", low=0.0, high=1.0, high_open=True)
    K = check_table_size(V, n)
    gen = as_generator(rng)
    allowed = gen.random((K, V)) >= f
    empty = ~allowed.any(axis=1)
    allowed[np.flatnonzero(empty), gen.integers(V, size=int(empty.sum()))] = True
    draws = np.where(allowed, gen.gamma(a, size=(K, V)), 0.0)
    dead = draws.sum(axis=1) == 0.0
    for c in np.flatnonzero(dead):
        draws[c, gen.choice(np.flatnonzero(allowed[c]))] = 1.0
    P = draws / draws.sum(axis=1, keepdims=True)
    meta = {"family": "dirichlet", "vocab_size": V, "order": n, "concentration": a, "forbidden": f}
    if isinstance(rng, int):
        meta["seed"] = rng
    probe = NGramLanguage(P, np.full(K, 1.0 / K), order=n)
    if probe.has_unique_stationary:
        mu, meta["initial"] = probe.stationary_context, "stationary"
    else:
        mu, meta["initial"] = np.full(K, 1.0 / K), "uniform (no unique stationary law)"
    return NGramLanguage(
        P,
        mu,
        order=n,
        name=f"dirichlet(V={V},n={n},a={a:g},f={f:g})",
        meta=meta,
    )
