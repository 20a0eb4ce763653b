r"""Exact conditional marginals with evidence: ``q(x_i | x_R)`` and ``log q(x_R)`` (SPEC §2).

Forward-backward on the context chain (see :mod:`ngramsim._kernels.forward_backward`),
in a scaled and a log-space variant with identical semantics.
"""

from __future__ import annotations

import functools

import numpy as np

from ngramsim._kernels.forward_backward import chain_trusted, conditional_marginals_log, conditional_marginals_scaled
from ngramsim._validation import check_language
from ngramsim.sources import NGramLanguage

__all__ = ["conditional_marginals", "chain_arrays", "ExactOracle"]


@functools.lru_cache(maxsize=32)
def _chain_arrays_cached(language):
    # Fresh writable copies: numba compiles read-only arrays as a different type, and every
    # language should hit the same compiled kernels.
    if language.order == 1:
        # iid tokens: the same law as an order-2 language whose rows all equal P[0], mu = P[0].
        V = language.vocab_size
        P = np.tile(language.transitions[0], (V, 1))
        mu = np.array(language.transitions[0])
        succ = np.tile(np.arange(V, dtype=np.int64), (V, 1))
        return P, succ, mu, 1
    return np.array(language.transitions), np.array(language.successor), np.array(language.initial), language.order - 1


def chain_arrays(language: NGramLanguage):
    """``(P, successor, mu, m)`` for the kernels, with ``m = n - 1 >= 1``.

    An order-1 language is presented as the order-2 language with every row
    equal to ``P[0]`` and ``mu = P[0]``: the same law ``q``.
    """
    check_language(language)
    return _chain_arrays_cached(language)


def _check_evidence(language, tokens, revealed):
    L = language.min_length
    tokens = np.asarray(tokens)
    revealed = np.asarray(revealed)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must have shape (length,), got {tokens.shape}")
    if tokens.dtype == bool or not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"tokens must be an integer array, got dtype {tokens.dtype}")
    if len(tokens) < L:
        raise ValueError(f"tokens has length {len(tokens)}; length must be >= {L}")
    if revealed.dtype != bool:
        raise TypeError(f"revealed must be a boolean mask, got dtype {revealed.dtype}")
    if revealed.shape != tokens.shape:
        raise ValueError(f"revealed must have the shape of tokens {tokens.shape}, got {revealed.shape}")
    shown = tokens[revealed]
    if shown.size and (shown.min() < 0 or shown.max() >= language.vocab_size):
        bad = shown[(shown < 0) | (shown >= language.vocab_size)][0]
        raise ValueError(f"revealed tokens must lie in [0, {language.vocab_size}), found {int(bad)}")
    return np.where(revealed, tokens, -1).astype(np.int64)


def conditional_marginals(language: NGramLanguage, tokens, revealed, *, method: str = "scaled"):
    r"""Exact ``q(x_i = v | x_R)`` at every position and ``log q(x_R)``.

    .. math::

        q(x_i = v \mid x_R) = \frac{\sum_{x' : x'_R = x_R,\ x'_i = v} q(x')}{q(x_R)},
        \qquad q(x_R) = \sum_{x' : x'_R = x_R} q(x'),

    computed by forward-backward on the context chain in ``O(L V^n)`` time (no
    enumeration of ``V^L``).  With ``lambda = 0`` and ``tau = 1`` these rows are the
    ideal reverse model ``p_theta(x_i | x_R)`` of SPEC §2, the model the learning
    assumption ``KL(q(. | x_R) || p_theta(. | x_R)) <= eps_learning`` of Feng et al.
    (2025, arXiv:2502.09622) is measured against.

    Parameters
    ----------
    language : NGramLanguage
    tokens : int array (L,)
        Values at revealed positions (others are ignored).  ``L >= max(1, n - 1)``.
    revealed : bool array (L,)
        The revealed set ``R``.
    method : {"scaled", "log"}
        Scaled forward-backward (default) or log-space; both give the same answers (a scaled
        pass that loses precision to underflow is redone in log space, so the support of
        every row, and whether ``q(x_R) > 0``, is decided exactly).

    Returns
    -------
    marginals : float64 (L, V)
        ``q(x_i | x_R)``; one-hot at revealed positions.  When ``q(x_R) = 0`` the
        conditional does not exist and masked rows are uniform (SPEC §2's fallback).
    log_evidence : float
        ``log q(x_R) = log sum_{x: x_R fixed} q(x)`` (``-inf`` when impossible).

    Raises
    ------
    TypeError
        If ``tokens`` is not an integer array or ``revealed`` not a boolean array.
    ValueError
        If ``tokens`` is not 1-D or shorter than ``max(1, n - 1)``, ``revealed`` has
        another shape, a revealed token lies outside ``[0, V)``, or ``method`` is not
        ``"scaled"`` or ``"log"``.

    Examples
    --------
    >>> import numpy as np
    >>> from ngramsim import conditional_marginals, window_language
    >>> lang = window_language(4, 2)  # P(b | a) = 1/2 for b in {a, a+1} mod 4
    >>> rows, log_ev = conditional_marginals(lang, np.array([0, 0, 2]), np.array([True, False, True]))
    >>> rows[1].tolist()  # x_0 = 0 and x_2 = 2 force x_1 = 1
    [0.0, 1.0, 0.0, 0.0]
    >>> round(log_ev, 6), round(float(np.log(1 / 16)), 6)  # q(x_0 = 0, x_2 = 2) = 1/4 * 1/2 * 1/2
    (-2.772589, -2.772589)
    >>> rows, log_ev = conditional_marginals(lang, np.array([0, 0, 3]), np.array([True, False, True]))
    >>> log_ev, rows[1].tolist()  # impossible evidence: the uniform fallback
    (-inf, [0.25, 0.25, 0.25, 0.25])
    """
    x = _check_evidence(language, tokens, revealed)
    P, succ, mu, m = chain_arrays(language)
    out = np.empty((len(x), language.vocab_size))
    if method == "scaled":
        log_evidence = conditional_marginals_scaled(x, P, succ, mu, m, chain_trusted(P, mu), out)
    elif method == "log":
        log_evidence = conditional_marginals_log(x, P, succ, mu, m, out)
    else:
        raise ValueError(f"method must be 'scaled' or 'log', got {method!r}")
    return out, float(log_evidence)


class ExactOracle:
    """The ideal reverse model as a pluggable oracle: ``oracle(tokens, revealed) -> q(x_i | x_R)``, shape ``(L, V)``.

    Any callable with this signature can be passed to :func:`ngramsim.sample_mdm`
    as ``oracle=``; wrap this one to build perturbed models.

    The sampler applies ``p_theta = (1 - lambda) T_tau[row] + lambda / V`` to the
    oracle's rows and still measures the learning KL against the exact
    ``q(. | x_R)``, so a wrapped oracle is a learned model whose error
    ``KL(q(. | x_R) || p_theta(. | x_R))`` is reported (the quantity bounded by
    ``eps_learning`` in Feng et al. 2025, arXiv:2502.09622).  Passing this oracle
    unchanged draws the same sequences, seed for seed, as the default exact kernels,
    through a slower Python loop.

    Parameters
    ----------
    language : NGramLanguage
        The source ``q``; stored as the attribute ``language``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`.

    Examples
    --------
    >>> import numpy as np
    >>> from ngramsim import ExactOracle, sample_mdm, window_language
    >>> lang = window_language(4, 2)
    >>> oracle = ExactOracle(lang)
    >>> oracle(np.array([0, 0, 2]), np.array([True, False, True]))[1].tolist()
    [0.0, 1.0, 0.0, 0.0]
    >>> def smoothed(tokens, revealed):  # a perturbed model: mix with uniform
    ...     return 0.9 * oracle(tokens, revealed) + 0.1 / 4
    >>> out = sample_mdm(lang, 6, "uniform:3", 4, rng=0, oracle=smoothed)
    >>> out.kernel, out.samples.shape, bool(out.learning_kl_mean > 0)
    ('oracle', (4, 6), True)
    """

    def __init__(self, language: NGramLanguage):
        check_language(language)
        self.language = language

    def __call__(self, tokens, revealed):
        """The rows ``q(x_i = v | x_R)`` of :func:`conditional_marginals` (``log q(x_R)`` dropped).

        Parameters
        ----------
        tokens : int array (L,)
            Values at revealed positions (others are ignored).
        revealed : bool array (L,)
            The revealed set ``R``.

        Returns
        -------
        float64 array (L, V)
            One-hot at revealed positions; uniform at masked positions when
            ``q(x_R) = 0``.
        """
        return conditional_marginals(self.language, tokens, revealed)[0]

    def __repr__(self):
        return f"ExactOracle({self.language!r})"
