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

    That is ``p_i = (1 - lambda) T_tau[q(x_i = .)] + lambda / V``: with one step
    (``N = 1``, e.g. ``uniform:1``) nothing is revealed, so every token is drawn
    independently from its own marginal.  The sum over ``V^L`` sequences is a
    forward pass over contexts that keeps only allowed transitions
    (``P[c, v] > 0``, and ``mu > 0`` for the first ``n - 1`` tokens), in
    ``O(L V^n)`` time, at any ``L``.

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    learning_error : float
        ``lambda in [0, 1)``.
    temperature : float
        ``tau > 0``.

    Returns
    -------
    float
        ``SER(p) in [0, 1]`` (round-off clamped into the interval).

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage` or an argument has the wrong
        type.
    ValueError
        If ``length < max(1, n - 1)``, ``lambda`` lies outside ``[0, 1)`` or ``tau <= 0``.

    Notes
    -----
    On ``W(V, m)`` this is ``1 - (m/V)^(L-1)`` for ``lambda = 0`` (THEORY C1): the
    one-step sampler fails with probability tending to 1 as ``L`` grows, the
    extreme case of the SER lower bound of Feng et al. (2025, arXiv:2502.09622).

    Examples
    --------
    >>> from ngramsim import ser_one_step, window_language
    >>> round(ser_one_step(window_language(8, 2), 10), 12), round(1 - (2 / 8) ** 9, 12)
    (0.999996185303, 0.999996185303)
    >>> ser_one_step(window_language(8, 2), 1)  # a single token is always valid
    0.0
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
    r"""Exact SER of ``ar`` with learning error and temperature: ``1 - P[every prefix stays valid]``.

    ``ar`` reveals one token per step, left to right, so ``x_i`` is drawn from
    ``p_theta(. | x_{<i})``; on a valid prefix ``q(. | x_{<i})`` is ``P(. | c_i)``
    (for the first ``n - 1`` tokens, the conditional of ``mu``), hence

    ``SER = 1 - sum_{x : q(x) > 0} prod_i p_theta(x_i | x_{<i})``,
    ``p_theta = (1 - lambda) T_tau[q(. | x_{<i})] + lambda / V``,

    a forward pass over contexts with weights ``p_theta(v | c)`` on the allowed
    transitions (``O(L V^n)``, any ``L``).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n - 1)``.
    learning_error : float
        ``lambda in [0, 1)``.
    temperature : float
        ``tau > 0``.

    Returns
    -------
    float
        ``SER(p) in [0, 1]``; 0 when ``lambda = 0`` (``tau`` keeps the support).

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage` or an argument has the wrong
        type.
    ValueError
        If ``length < max(1, n - 1)``, ``lambda`` lies outside ``[0, 1)`` or ``tau <= 0``.

    Notes
    -----
    On ``W(V, m)``: ``SER = 1 - (1 - lambda (V - m)/V)^(L-1)`` (THEORY C3), so
    ``SER <= delta`` needs ``lambda = O(delta / L)``: with one token per step
    only the learning error remains (Feng et al. 2025, arXiv:2502.09622), but
    it must shrink with ``L``.  :func:`~ngramsim.reports.sample_report` uses
    this as the ``ar`` baseline.

    Examples
    --------
    >>> from ngramsim import ser_autoregressive, window_language
    >>> lang = window_language(8, 2)
    >>> round(ser_autoregressive(lang, 10, learning_error=0.1), 12), round(1 - (1 - 0.1 * 6 / 8) ** 9, 12)
    (0.504235306568, 0.504235306568)
    >>> ser_autoregressive(lang, 10, temperature=0.5)
    0.0
    """
    length = _check(language, length)
    P, _, mu, m = chain_arrays(language)
    V = language.vocab_size
    alpha = _initial_digits_law(mu, m, V, learning_error, temperature) * (mu > 0)
    step = theta(P, learning_error, temperature) * (P > 0)
    for _ in range(m, length):
        alpha = _advance(alpha, step, V)
    return _probability(1.0 - alpha.sum())
