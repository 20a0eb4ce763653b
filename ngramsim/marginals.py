r"""Exact conditional marginals with evidence: ``q(x_i | x_R)`` and ``log q(x_R)`` (SPEC §2).

Forward-backward on the context chain (see :mod:`ngramsim._kernels.forward_backward`),
in a scaled and a log-space variant with identical semantics.
"""

from __future__ import annotations

import functools

import numpy as np

from ngramsim._kernels.forward_backward import chain_trusted, conditional_marginals_log, conditional_marginals_scaled
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
    if not isinstance(language, NGramLanguage):
        raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
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

    Parameters
    ----------
    language : NGramLanguage
    tokens : int array (L,)
        Values at revealed positions (others are ignored).
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
    """

    def __init__(self, language: NGramLanguage):
        if not isinstance(language, NGramLanguage):
            raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
        self.language = language

    def __call__(self, tokens, revealed):
        return conditional_marginals(self.language, tokens, revealed)[0]

    def __repr__(self):
        return f"ExactOracle({self.language!r})"
