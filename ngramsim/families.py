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
    """Tokens iid uniform on ``V``, written as an order-``n`` language; ``mu`` uniform on ``V^(n-1)``."""
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
    """Deterministic cycle ``x_{i+1} = x_i + 1 mod V``: order 2, ``mu`` uniform (stationary)."""
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
    rng : int or numpy.random.Generator
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
