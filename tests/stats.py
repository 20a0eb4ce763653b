"""Goodness-of-fit helpers for distributional tests of samplers."""

import numpy as np
from scipy import stats


def encode(samples, vocab_size):
    """Index of each row of ``samples`` in lexicographic C order of ``V^L``."""
    weights = vocab_size ** np.arange(samples.shape[1] - 1, -1, -1, dtype=np.int64)
    return samples @ weights


def gof_pvalue(samples, probs, vocab_size, min_expected=5.0):
    """Pearson chi-square p-value of ``samples`` (rows of tokens) against the law ``probs`` over ``V^L``.

    A sample on a cell of probability 0 is an outright failure (p-value 0).
    Cells with expected count below ``min_expected`` are pooled into one.
    """
    counts = np.bincount(encode(samples, vocab_size), minlength=len(probs))
    if np.any(counts[probs == 0] > 0):
        return 0.0
    expected = probs * len(samples)
    small = expected < min_expected
    obs = np.append(counts[~small & (probs > 0)], counts[small & (probs > 0)].sum())
    exp = np.append(expected[~small & (probs > 0)], expected[small & (probs > 0)].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    if len(exp) < 2:
        return 1.0
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)
