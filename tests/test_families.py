"""Constructors: each family has the structure its docstring promises."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import cycle_language, dirichlet_language, uniform_language, window_language
from tests import reference


@given(st.integers(2, 9).flatmap(lambda V: st.tuples(st.just(V), st.integers(1, V - 1))))
def test_window_language_matches_definition(params):
    V, m = params
    language = window_language(V, m)
    assert (language.vocab_size, language.order) == (V, 2)
    for a in range(V):
        for b in range(V):
            inside = (b - a) % V < m
            assert language.transitions[a, b] == pytest.approx(1 / m if inside else 0.0, abs=1e-15)
    np.testing.assert_allclose(language.initial, 1 / V, rtol=0, atol=1e-15)
    assert language.is_stationary
    # m = 1 repeats the first token forever: V absorbing states.
    assert language.is_irreducible == (m >= 2)


@pytest.mark.parametrize("V, m, L", [(3, 2, 5), (4, 1, 4), (4, 3, 5)])
def test_window_iid_uniform_ser_closed_form(V, m, L):
    # THEORY C1: with all tokens iid uniform, P[invalid] = 1 - (m/V)^(L-1).
    language = window_language(V, m)
    valid = language.is_valid(reference.all_sequences(V, L))
    assert abs(1 - valid.mean() - (1 - (m / V) ** (L - 1))) < 1e-12


def test_cycle_language_is_deterministic():
    language = cycle_language(5)
    x = language.sample(12, 4, rng=0)
    np.testing.assert_array_equal(np.diff(x, axis=1) % 5, 1)
    assert language.entropy_rate() == 0.0
    np.testing.assert_allclose(language.initial, 0.2, rtol=0, atol=1e-15)


def test_uniform_language_rows():
    language = uniform_language(4, 3)
    np.testing.assert_allclose(language.transitions, 0.25, rtol=0, atol=1e-15)
    assert language.num_contexts == 16
    assert abs(language.entropy(7) - 7 * math.log(4)) < 1e-12


@given(
    st.integers(2, 5),
    st.integers(1, 3),
    st.floats(0.05, 5.0),
    st.sampled_from([0.0, 0.4, 0.9]),
    st.integers(0, 2**31),
)
def test_dirichlet_language_structure(V, n, a, f, seed):
    language = dirichlet_language(V, n, concentration=a, forbidden=f, rng=seed)
    assert (language.vocab_size, language.order) == (V, n)
    assert np.all((language.transitions > 0).sum(axis=1) >= 1)
    if language.has_unique_stationary:
        np.testing.assert_allclose(language.initial, language.stationary_context, atol=1e-12)
        assert language.meta["initial"] == "stationary"
    else:
        np.testing.assert_allclose(language.initial, 1 / language.num_contexts, rtol=0, atol=1e-15)
    again = dirichlet_language(V, n, concentration=a, forbidden=f, rng=seed)
    np.testing.assert_array_equal(language.transitions, again.transitions)


def test_dirichlet_forbidden_fraction_is_respected():
    # Each transition is forbidden with probability f (rows never empty): with 16 * 64 entries
    # the observed zero fraction lies within 5 binomial standard errors of f.
    f = 0.3
    language = dirichlet_language(16, 3, forbidden=f, rng=1)
    zeros = (language.transitions == 0).mean()
    se = math.sqrt(f * (1 - f) / language.transitions.size)
    assert abs(zeros - f) < 5 * se


def test_dirichlet_concentration_controls_peakedness():
    # Mean row entropy of Dirichlet(a) rows grows with a (E H = psi(Va+1) - psi(a+1)).
    from scipy.special import digamma

    V = 8
    for a in (0.1, 1.0, 10.0):
        language = dirichlet_language(V, 3, concentration=a, rng=2)
        expected = digamma(V * a + 1) - digamma(a + 1)
        h = language.row_entropies
        assert abs(h.mean() - expected) < 5 * h.std() / math.sqrt(len(h))
