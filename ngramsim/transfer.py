r"""Exact SER by transfer matrices, at any length (SPEC §5, THEORY C1/C3).

* :func:`ser_one_step`: one step (``N = 1``) draws every token independently from
  ``p_theta(x_i | nothing revealed)``; ``P[valid]`` is a forward pass over contexts
  weighting each allowed transition ``(c, v)`` (``P[c, v] > 0``) by ``p_i(v)``.
* :func:`ser_autoregressive`: ``ar`` (one token per step, left to right) draws
  ``x_i`` from ``p_theta(. | x_{<i})``, which on a valid prefix is built from
  ``P(. | c_i)``; ``P[valid]`` is a forward pass with weights ``p_theta(v | c)``
  on allowed transitions.

On ``W(V, m)`` these give THEORY C1's ``1 - (m/V)^(L-1)`` and C3's
``1 - (1 - lambda (V - m)/V)^(L-1)``.
"""

from __future__ import annotations

import numpy as np

from ngramsim._kernels.reverse import theta_rows
from ngramsim._model import check_model_params
from ngramsim._validation import check_language
from ngramsim.marginals import chain_arrays
from ngramsim.sources import NGramLanguage

__all__ = ["theta", "ser_one_step", "ser_autoregressive"]


def theta(rows, learning_error=0.0, temperature=1.0):
    r"""``p_theta = (1 - lambda) T_tau[r] + lambda / V`` row-wise (last axis), ``T_tau[r] ∝ r^(1/tau)`` on the support."""
    lam, tau = check_model_params(learning_error, temperature)
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    flat = rows.reshape(-1, rows.shape[-1])
    return theta_rows(flat, lam, tau, np.empty_like(flat)).reshape(rows.shape)


def _advance(alpha, weights, vocab_size):
    """``alpha'[successor[c, v]] += alpha[c] * weights[c, v]`` (``successor[c, v] = (c V + v) mod K``)."""
    K = alpha.shape[0]
    return (alpha[:, None] * weights).reshape(vocab_size, K).sum(axis=0)


def _initial_digits_law(mu, m, vocab_size, learning_error, temperature):
    """Law of the first ``m`` tokens when each is drawn from ``p_theta`` of ``mu``'s conditional given the previous ones.

    Prefixes of ``mu``-probability 0 fall back to uniform draws (they are invalid anyway).
    """
    law = np.ones(1)
    for j in range(m):
        prefix_mass = mu.reshape((vocab_size,) * m).sum(axis=tuple(range(j + 1, m))).reshape(-1, vocab_size)
        totals = prefix_mass.sum(axis=1, keepdims=True)
        cond = np.where(totals > 0, prefix_mass / np.where(totals > 0, totals, 1.0), 1.0 / vocab_size)
        law = (law[:, None] * theta(cond, learning_error, temperature)).ravel()
    return law


def _check(language, length):
    check_language(language)
    return language.check_length(length)


def _probability(value) -> float:
    """A probability computed as ``1 - (sum of valid mass)``: round-off (``-2.2e-16``) clamped into ``[0, 1]``."""
    return float(min(max(value, 0.0), 1.0))


def ser_one_step(language: NGramLanguage, length, *, learning_error=0.0, temperature=1.0) -> float:
    r"""Exact SER of the one-step sampler: ``1 - sum_x prod_i p_i(x_i) [q(x) > 0]``.

    ``p_i = p_theta(. | empty)`` built from the token marginal ``q(x_i)``.
    """
    length = _check(language, length)
    p = theta(language.token_marginals(length), learning_error, temperature)
    P, _, mu, m = chain_arrays(language)
    V = language.vocab_size
    allowed = P > 0
    digits = np.ones(1)
    for j in range(m):
        digits = (digits[:, None] * p[j][None, :]).ravel()
    alpha = digits * (mu > 0)
    for i in range(m, length):
        alpha = _advance(alpha, allowed * p[i][None, :], V)
    return _probability(1.0 - alpha.sum())


def ser_autoregressive(language: NGramLanguage, length, *, learning_error=0.0, temperature=1.0) -> float:
    r"""Exact SER of ``ar`` with learning error and temperature: ``1 - P[every prefix stays valid]``."""
    length = _check(language, length)
    P, _, mu, m = chain_arrays(language)
    V = language.vocab_size
    alpha = _initial_digits_law(mu, m, V, learning_error, temperature) * (mu > 0)
    step = theta(P, learning_error, temperature) * (P > 0)
    for _ in range(m, length):
        alpha = _advance(alpha, step, V)
    return _probability(1.0 - alpha.sum())
