"""NGramLanguage: exact probabilities, entropies, marginals and the context chain against brute force."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import NGramLanguage, uniform_language, window_language
from ngramsim.strategies import build_language, languages, languages_with_length
from tests import reference

TIGHT = 1e-12


@given(languages_with_length())
def test_log_prob_equals_brute_force(case):
    language, length = case
    xs, q = reference.enumerate_q(language, length)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(language.log_prob(xs), np.log(q), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(language.is_valid(xs), q > 0)


@given(languages_with_length())
def test_q_sums_to_one(case):
    language, length = case
    xs, _ = reference.enumerate_q(language, length)
    assert abs(language.prob(xs).sum() - 1.0) < 1e-12


@given(languages_with_length())
def test_log_prob_is_batched_over_leading_axes(case):
    language, length = case
    xs, _ = reference.enumerate_q(language, length)
    xs = xs[: (len(xs) // 2) * 2]
    flat = language.log_prob(xs)
    np.testing.assert_array_equal(language.log_prob(xs.reshape(2, -1, length)), flat.reshape(2, -1))
    np.testing.assert_array_equal(language.log_prob(xs[0]), flat[0])


@given(languages_with_length())
def test_exact_entropy_equals_brute_force(case):
    language, length = case
    _, q = reference.enumerate_q(language, length)
    assert abs(language.entropy(length) - reference.entropy(q)) < 1e-9
    assert abs(language.entropy(length, base=2) - reference.entropy(q) / math.log(2)) < 1e-9


@given(languages_with_length())
def test_token_marginals_equal_brute_force(case):
    language, length = case
    np.testing.assert_allclose(
        language.token_marginals(length), reference.token_marginals(language, length), rtol=0, atol=1e-12
    )


@given(languages())
def test_stationary_laws_are_fixed_points(language):
    T = language.context_transition_matrix().toarray()
    laws = language.stationary_laws
    assert np.all(laws >= 0)
    np.testing.assert_allclose(laws.sum(axis=1), 1.0, rtol=0, atol=TIGHT)
    np.testing.assert_allclose(laws @ T, laws, rtol=0, atol=1e-12)
    count, reach = reference.num_recurrent_classes(language)
    assert len(laws) == count
    assert language.has_unique_stationary == (count == 1)
    assert language.is_irreducible == bool(reach.all())
    # The token law under stationarity is the same at every position.
    for law, token in zip(laws, language.stationary_token_laws):
        moved = NGramLanguage(language.transitions, law).token_marginals(language.min_length + 2)
        np.testing.assert_allclose(moved, np.broadcast_to(token, moved.shape), rtol=0, atol=1e-12)


@given(languages(mu_kinds=("stationary",)))
def test_entropy_increments_equal_rate_under_stationary_mu(language):
    # With mu stationary every context law equals mu, so H(q_{L+1}) - H(q_L) is the rate.
    L = language.min_length + 3
    increment = language.entropy(L + 1) - language.entropy(L)
    assert abs(increment - language.entropy_rate()) < 1e-9
    assert language.is_stationary


@given(languages())
def test_limiting_context_law_weights_classes_by_absorption(language):
    law = language.limiting_context_law
    laws = language.stationary_laws
    T = language.context_transition_matrix().toarray()
    np.testing.assert_allclose(law @ T, law, rtol=0, atol=1e-12)
    # Independent check: the mass mu T^t puts on each recurrent class converges (periodic or not)
    # to its absorption probability; T^(2^80) by repeated squaring is far past any transient
    # (rows renormalised after each squaring so rounding cannot compound).
    power = T.copy()
    for _ in range(80):
        power = power @ power
        power /= power.sum(axis=1, keepdims=True)
    final = language.initial @ power
    absorbed = np.array([final[lw > 0].sum() for lw in laws])
    np.testing.assert_allclose(law, absorbed @ laws, rtol=0, atol=1e-9)


@pytest.mark.parametrize("vocab_size, window", [(2, 1), (5, 3), (8, 2), (7, 6)])
def test_window_language_entropy_rate_is_log_window(vocab_size, window):
    language = window_language(vocab_size, window)
    assert abs(language.entropy_rate() - math.log(window)) < 1e-12
    assert abs(language.entropy(10) - (math.log(vocab_size) + 9 * math.log(window))) < 1e-12


def test_entropy_rate_of_reducible_chain_weights_classes_by_absorption():
    # Order 2, V = 4 (context = last token).  Token 0 is transient; {1, 2} is a closed class
    # with rate log 2; {3} is absorbing with rate 0.  From 0 the chain leaves to {1, 2} or {3}
    # with probability 1/4 each per step, so each class absorbs it with probability 1/2.
    P = [[0.5, 0.125, 0.125, 0.25], [0, 0.5, 0.5, 0], [0, 0.5, 0.5, 0], [0, 0, 0, 1]]
    language = NGramLanguage(P, [1.0, 0.0, 0.0, 0.0])
    assert language.stationary_laws.shape == (2, 4)
    assert not language.has_unique_stationary and not language.is_irreducible
    np.testing.assert_allclose(language.stationary_laws, [[0, 0.5, 0.5, 0], [0, 0, 0, 1]], atol=1e-15)
    np.testing.assert_allclose(language.limiting_context_law, [0, 0.25, 0.25, 0.5], atol=1e-15)
    assert abs(language.entropy_rate() - 0.5 * math.log(2)) < 1e-15
    with pytest.raises(ValueError, match="recurrent classes"):
        language.stationary_context
    started_in_class = NGramLanguage(P, [0.0, 1.0, 0.0, 0.0])
    assert abs(started_in_class.entropy_rate() - math.log(2)) < 1e-15


def test_uniform_language_is_iid():
    language = uniform_language(3, 3)
    xs = reference.all_sequences(3, 4)
    np.testing.assert_allclose(language.prob(xs), 3.0**-4, rtol=1e-12)
    assert abs(language.entropy_rate() - math.log(3)) < 1e-12


def test_large_context_space_uses_power_iteration():
    # A class of 4058 of the 4096 contexts exceeds the GTH limit; power iteration converges (no
    # warning) and the law must still be a fixed point.
    language = build_language(4, 7, 0.3, "stationary", seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        law = language.stationary_laws[0]
    T = language.context_transition_matrix()
    assert np.abs(T.T @ law - law).max() < 1e-12


def test_language_is_immutable():
    language = window_language(4, 2)
    with pytest.raises(AttributeError):
        language.order = 3
    with pytest.raises(ValueError):
        language.transitions[0, 0] = 0.5


@given(languages(), st.integers(0, 2**31))
def test_ancestral_samples_are_valid(language, seed):
    samples = language.sample(language.min_length + 5, 50, rng=seed)
    assert language.is_valid(samples).all()


@pytest.mark.parametrize("iterate", [True, False])
def test_large_chains_by_iteration_and_by_sparse_lu(monkeypatch, iterate):
    # 2048 contexts (order 12, V = 2).  Contexts ending in 1 only emit 1, so the all-ones context is
    # absorbing and the 2047 others are transient: above the dense-solve limit, their expected visits
    # come from a Neumann series.  The mixing chain is one class of 2048 contexts, solved by power
    # iteration once the GTH limit is lowered below it.  With no iteration budget both fall back to
    # a sparse LU, each announced by a RuntimeWarning, and the results must be the same.
    from ngramsim import _chain

    monkeypatch.setattr(_chain, "_GTH_LIMIT", 1024)
    if not iterate:
        monkeypatch.setattr(_chain, "_ITERATION_LIMIT", 0)
    K = 2**11
    P = np.full((K, 2), 0.5)
    P[1::2] = [0.0, 1.0]
    language = NGramLanguage(P, np.full(K, 1.0 / K))
    mixing = build_language(2, 12, 0.0, "dirichlet", seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        laws, limit, rate = language.stationary_laws, language.limiting_context_law, language.entropy_rate()
        law = mixing.stationary_laws[0]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == (0 if iterate else 2)
    assert all("did not converge" in m for m in messages)
    expected = np.zeros(K)
    expected[-1] = 1.0
    np.testing.assert_allclose(laws, [expected], atol=1e-12)
    np.testing.assert_allclose(limit, expected, atol=1e-12)
    assert abs(rate) < 1e-12
    assert np.all(law > 0)
    assert np.abs(mixing.context_transition_matrix().T @ law - law).max() < 1e-13
