"""Exact conditional marginals with evidence: both variants against brute-force summation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import NGramLanguage, conditional_marginals, window_language
from ngramsim.strategies import languages_with_length
from tests import reference


def _brute_force(language, length, x, revealed):
    xs, q = reference.enumerate_q(language, length)
    match = np.all(xs[:, revealed] == x[revealed], axis=1)
    evidence = q[match].sum()
    rows = np.array([[q[match & (xs[:, i] == v)].sum() for v in range(language.vocab_size)] for i in range(length)])
    return evidence, rows


@given(languages_with_length(), st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_conditionals_equal_brute_force(case, seed, density):
    language, length = case
    gen = np.random.default_rng(seed)
    xs, q = reference.enumerate_q(language, length)
    # Half the cases take tokens from a valid sequence, half arbitrary (often zero evidence).
    x = xs[gen.choice(len(xs), p=q)] if seed % 2 else gen.integers(language.vocab_size, size=length)
    revealed = gen.random(length) < density
    evidence, rows = _brute_force(language, length, x, revealed)
    for method in ("scaled", "log"):
        marg, log_ev = conditional_marginals(language, x, revealed, method=method)
        assert not np.any(np.isnan(marg))
        if evidence > 0:
            assert abs(log_ev - math.log(evidence)) < 1e-9
            np.testing.assert_allclose(marg, rows / evidence, rtol=0, atol=1e-12)
        else:
            assert log_ev == -np.inf
            np.testing.assert_array_equal(marg[~revealed], 1.0 / language.vocab_size)
        np.testing.assert_array_equal(marg[revealed], np.eye(language.vocab_size)[x[revealed]])


@given(languages_with_length(), st.integers(0, 2**31))
def test_scaled_and_log_variants_agree(case, seed):
    language, length = case
    gen = np.random.default_rng(seed)
    x = language.sample(length, 1, rng=seed)[0]
    revealed = gen.random(length) < 0.4
    a, ea = conditional_marginals(language, x, revealed, method="scaled")
    b, eb = conditional_marginals(language, x, revealed, method="log")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert abs(ea - eb) < 1e-9


def test_long_sequences_do_not_underflow():
    # log q(x_R) of 5000 revealed tokens is about -3500: far below float range, fine when scaled.
    language = window_language(8, 2)
    x = language.sample(5000, 1, rng=0)[0]
    revealed = np.ones(5000, dtype=bool)
    revealed[::7] = False
    for method in ("scaled", "log"):
        marg, log_ev = conditional_marginals(language, x, revealed, method=method)
        assert np.isfinite(log_ev) and log_ev < -3000
        assert np.all(np.isfinite(marg))


def test_nothing_revealed_gives_token_marginals():
    language = NGramLanguage([[0.2, 0.8], [0.6, 0.4]], [0.9, 0.1])
    marg, log_ev = conditional_marginals(language, np.zeros(6, dtype=int), np.zeros(6, dtype=bool))
    np.testing.assert_allclose(marg, language.token_marginals(6), atol=1e-15)
    assert log_ev == pytest.approx(0.0, abs=1e-15)


@pytest.mark.parametrize(
    "tokens, revealed, error, match",
    [
        (np.zeros(4, dtype=int), np.zeros(3, dtype=bool), ValueError, "revealed must have the shape"),
        (np.zeros(4), np.zeros(4, dtype=bool), TypeError, "tokens must be an integer array"),
        (np.zeros(4, dtype=int), np.zeros(4, dtype=int), TypeError, "revealed must be a boolean mask"),
        (np.array([0, 5, 0, 0]), np.ones(4, dtype=bool), ValueError, r"revealed tokens must lie in \[0, 3\), found 5"),
        (np.zeros((2, 4), dtype=int), np.zeros((2, 4), dtype=bool), ValueError, r"tokens must have shape \(length,\)"),
    ],
)
def test_bad_evidence_is_rejected(tokens, revealed, error, match):
    with pytest.raises(error, match=match):
        conditional_marginals(window_language(3, 2), tokens, revealed)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method must be 'scaled' or 'log'"):
        conditional_marginals(window_language(3, 2), [0, 1], [True, False], method="exact")
