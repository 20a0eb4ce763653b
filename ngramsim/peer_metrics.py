r"""Distribution metrics that peer evaluations of diffusion samplers report, from samples.

Oracle evaluations of discrete diffusion samplers on Markov chains (e.g. Tang, Yu, Zhang and
Ver Steeg 2026, arXiv:2602.19619) compare the *transitions* of generated text with the chain's,
and text-generation papers report unigram distances and n-gram diversity.  For samples
``x^(1..M)`` of length ``L`` and a source ``q`` of order ``n`` (context ``c_i`` = the ``n - 1``
tokens before position ``i``), one line each:

* **transition KL rate** (per token, along valid sequences): ``sum_c pi(c) KL(P_hat(.|c) || P(.|c))``,
  with ``P_hat`` and ``pi`` the empirical transition law and context frequency over the positions
  ``i >= n - 1`` of the *valid* samples (on an invalid sample it would be infinite);
* **transition TV rate**: ``sum_c pi(c) TV(P_hat(.|c), P(.|c))``, over the same transitions;
* **unigram L1**: ``sum_v |f_hat(v) - f(v)|``, ``f_hat`` the token frequencies of all samples and
  ``f(v) = (1/L) sum_i q(x_i = v)`` the source's average position marginal;
* **distinct-k ratio**: the number of distinct k-grams (windows of ``k`` consecutive tokens) over
  all samples divided by the number of k-gram occurrences, ``M (L - k + 1)``.

These are plug-in estimates: with finitely many samples the KL and TV rates are biased upward even
for samples of ``q`` itself (about ``df / (2T)`` for the KL rate, ``df`` the number of free cells,
``T`` the number of transitions), and distinct-k depends on ``M``.  Compare samplers on equal
numbers of samples, with ``ar`` (which samples ``q`` exactly) as the floor.  The exact per-token
``KL(q || p) / L`` of a sampler's law is :func:`ngramsim.exact.exact_law`'s ``kl / L`` on tiny cases.
"""

from __future__ import annotations

import numpy as np

from ngramsim._validation import check_int, check_language
from ngramsim.sources import NGramLanguage

__all__ = ["peer_metrics"]


def _check_samples(language, samples):
    x = np.asarray(samples)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"samples must be a 2-d array (num_samples, length) with at least one row, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"samples must hold integer token ids, got dtype {x.dtype}")
    language.check_length(x.shape[1], "samples.shape[1]")
    if x.size and (x.min() < 0 or x.max() >= language.vocab_size):
        raise ValueError(f"samples must hold token ids in 0..{language.vocab_size - 1}, "
                         f"got values in {int(x.min())}..{int(x.max())}")
    return x.astype(np.int64)


def _transition_counts(language, x):
    """``(counts[c, v], number of transitions)`` over positions ``i >= n - 1`` of the rows of ``x``."""
    V, m = language.vocab_size, language.context_length
    K = language.num_contexts
    if m == 0 or x.shape[0] == 0:
        context = np.zeros(x.size, dtype=np.int64)
        nxt = x.ravel()
    else:
        context = np.zeros((x.shape[0], x.shape[1] - m), dtype=np.int64)
        for j in range(m):  # C order: the oldest token is the most significant digit
            context = context * V + x[:, j : x.shape[1] - m + j]
        context, nxt = context.ravel(), x[:, m:].ravel()
    counts = np.bincount(context * V + nxt, minlength=K * V).reshape(K, V)
    return counts, int(nxt.size)


def peer_metrics(language: NGramLanguage, samples, *, max_k=4) -> dict:
    r"""Transition KL and TV rates along valid samples, unigram L1 and distinct-k ratios.

    Definitions (module docstring): with ``T_hat[c, v]`` the number of transitions from context
    ``c`` to token ``v`` in the valid samples and ``T`` their total,

    .. math::

        \mathrm{KL} = \frac{1}{T} \sum_{c, v} T_{hat}[c, v] \log \frac{T_{hat}[c, v] / T_{hat}[c]}{P(v \mid c)},
        \qquad
        \mathrm{TV} = \frac{1}{T} \sum_c T_{hat}[c] \cdot \tfrac12 \sum_v \left| \frac{T_{hat}[c, v]}{T_{hat}[c]} - P(v \mid c) \right|,

    ``unigram_l1 = sum_v |f_hat(v) - (1/L) sum_i q(x_i = v)|`` over all samples, and
    ``distinct[k] = #distinct k-grams / (M (L - k + 1))``.  Token-level counterparts of the
    sequence-level SER: Feng et al. (2025, arXiv:2502.09622) separate the two readings.

    Parameters
    ----------
    language : NGramLanguage
        The source ``q`` (order ``n``, transitions ``P``).
    samples : array_like of int, shape (M, L)
        Token ids, e.g. :attr:`MDMSamples.samples`; ``L >= max(1, n - 1)``.
    max_k : int
        Largest ``k`` of the distinct-k ratios (``1 <= max_k``; ``k > L`` is skipped).

    Returns
    -------
    dict
        ``transition_kl`` and ``transition_tv`` (``nan`` when no valid sample has a transition),
        ``num_valid`` (valid samples), ``num_transitions`` (``T``), ``unigram_l1``,
        ``distinct`` (``{k: ratio}``), ``num_samples``, ``length``.

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, ``samples`` are not integers or
        ``max_k`` is not an integer.
    ValueError
        If ``samples`` is not 2-d with at least one row, its length is below the language's
        minimum, it holds ids outside ``0 .. V-1``, or ``max_k < 1``.

    Examples
    --------
    >>> from ngramsim import sample_mdm, window_language
    >>> from ngramsim.peer_metrics import peer_metrics
    >>> lang = window_language(4, 2)
    >>> ar = peer_metrics(lang, sample_mdm(lang, 64, "ar", 500, rng=0).samples)
    >>> ar["num_valid"], ar["transition_kl"] < 1e-3, ar["unigram_l1"] < 0.02
    (500, True, True)
    >>> fast = peer_metrics(lang, sample_mdm(lang, 64, "uniform:8", 500, rng=0).samples)
    >>> fast["num_valid"] < 500, fast["distinct"][1]  # 4 tokens in 500 * 64 positions
    (True, 0.000125)
    """
    check_language(language)
    x = _check_samples(language, samples)
    max_k = check_int(max_k, "max_k", minimum=1)
    M, L = x.shape
    V = language.vocab_size
    valid = language.is_valid(x)
    counts, total = _transition_counts(language, x[valid])
    P = language.transitions
    rows = counts.sum(axis=1)
    seen = counts > 0  # decided on integers: every seen transition of a valid sample has P > 0
    if total:
        p_hat = counts / np.maximum(rows, 1)[:, None]
        kl = float(np.sum(counts[seen] * np.log(p_hat[seen] / P[seen])) / total)
        tv = float(np.sum(rows * 0.5 * np.abs(p_hat - P).sum(axis=1) * (rows > 0)) / total)
    else:
        kl = tv = float("nan")
    f_hat = np.bincount(x.ravel(), minlength=V) / x.size
    f = language.token_marginals(L).mean(axis=0)
    distinct = {}
    for k in range(1, min(max_k, L) + 1):
        windows = np.lib.stride_tricks.sliding_window_view(x, k, axis=1).reshape(-1, k)
        distinct[k] = len(np.unique(windows, axis=0)) / len(windows)
    return {
        "transition_kl": kl,
        "transition_tv": tv,
        "num_valid": int(valid.sum()),
        "num_transitions": total,
        "unigram_l1": float(np.abs(f_hat - f).sum()),
        "distinct": distinct,
        "num_samples": M,
        "length": L,
    }
