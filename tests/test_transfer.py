"""Exact SER by transfer matrices against brute force and THEORY C1/C3's closed forms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import window_language
from ngramsim.strategies import languages_with_length
from ngramsim.transfer import ser_autoregressive, ser_one_step, theta
from tests import reference

MODEL = st.sampled_from([(0.0, 1.0), (0.2, 1.0), (0.1, 0.5), (0.0, 2.0)])


@pytest.mark.parametrize("spec, exact", [("uniform:1", ser_one_step), ("ar", ser_autoregressive)])
@given(case=languages_with_length(max_contexts=27), model=MODEL)
def test_transfer_matrix_ser_equals_brute_force(spec, exact, case, model):
    language, length = case
    lam, tau = model
    _, ser = reference.exact_mdm_law(language, length, spec, learning_error=lam, temperature=tau)
    assert abs(exact(language, length, learning_error=lam, temperature=tau) - ser) < 1e-12


@pytest.mark.parametrize("V, m", [(2, 1), (4, 3), (8, 2), (16, 5)])
@pytest.mark.parametrize("L", [2, 17, 400])
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_window_closed_forms(V, m, L, tau):
    language = window_language(V, m)
    for lam in (0.0, 0.01, 0.3):
        # C1, every lambda and tau: one step draws every token from p_theta of the uniform
        # marginal, which is uniform (tempering and mixing with lambda/V keep a uniform law).
        one_step = ser_one_step(language, L, learning_error=lam, temperature=tau)
        assert abs(one_step - (1 - (m / V) ** (L - 1))) < 1e-12
        # C3, every tau: ar draws each token from p_theta of a conditional uniform on m values.
        expected = 1 - (1 - lam * (V - m) / V) ** (L - 1)
        assert abs(ser_autoregressive(language, L, learning_error=lam, temperature=tau) - expected) < 1e-12


def test_theta_matches_definition():
    r = np.array([0.5, 0.3, 0.2, 0.0])
    lam, tau = 0.1, 0.5
    sharp = r**2 / (r**2).sum()
    np.testing.assert_allclose(theta(r, lam, tau), 0.9 * sharp + 0.1 / 4, rtol=1e-15)
    np.testing.assert_allclose(theta(r), r, rtol=1e-15)
