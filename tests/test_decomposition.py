"""B2 (expected KL over random orders from Phi) and the Monte Carlo B1 estimators."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim.decomposition import estimate_b1, expected_kl, expected_kl_from_phi
from ngramsim.exact import exact_law
from ngramsim.schedules import parse_schedule
from ngramsim.strategies import build_language, languages

TOL = 1e-9


@st.composite
def random_order_cases(draw):
    language = draw(languages(vocab_sizes=(2, 3), orders=(1, 3), max_contexts=9))
    length = draw(st.integers(max(2, language.min_length), 6 if language.vocab_size == 2 else 5))
    kind = draw(st.sampled_from(["linear", "cosine", "poly", "uniform", "counts"]))
    if kind == "counts":
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1)))
        bounds = [0, *cuts, length]
        spec = "counts:" + ",".join(str(b - a) for a, b in zip(bounds, bounds[1:]))
    elif kind == "uniform":
        spec = f"uniform:{draw(st.integers(1, length))}"
    elif kind == "poly":
        spec = f"poly:{draw(st.integers(1, length + 2))}:{draw(st.sampled_from([0.5, 2.0]))}"
    else:
        spec = f"{kind}:{draw(st.integers(1, length + 2))}"
    return language, length, spec


@given(random_order_cases())
def test_b2_equals_exact_expected_kl(case):
    # B2 from Phi (O(N L^2)) against the exact engine's sum of B1 terms over (R_t, S_t).
    language, length, spec = case
    exact = exact_law(language, length, spec)
    b2 = expected_kl(language, length, spec)
    assert abs(b2["kl_expected"] - exact.kl_expected) < TOL
    np.testing.assert_allclose(b2["steps"], exact.steps_tc, rtol=0, atol=TOL)


def test_b2_special_cases():
    phi = np.array([0.0, 1.0, 1.7, 2.2, 2.6])  # any concave-looking curve
    one_each = parse_schedule("uniform:4").resolve(4)
    assert abs(expected_kl_from_phi(phi, one_each).sum()) < 1e-15  # one token per step: 0
    one_step = parse_schedule("uniform:1").resolve(4)
    assert abs(expected_kl_from_phi(phi, one_step).sum() - (4 * phi[1] - phi[4])) < 1e-15  # TC
    with pytest.raises(ValueError, match="B2 applies to count and Bernoulli schedules"):
        expected_kl_from_phi(phi, parse_schedule("ar").resolve(4))
    with pytest.raises(ValueError, match="B2 applies"):
        expected_kl_from_phi(phi, parse_schedule("topk:2").resolve(4))


def test_b2_exact_at_scale_for_order2_matches_monte_carlo():
    language = build_language(3, 2, 0.3, "dirichlet", seed=4)
    L = 120
    for spec in ("uniform:12", "linear:12"):
        b2 = expected_kl(language, L, spec)
        assert b2["method"] == "exact"
        mc = estimate_b1(language, L, spec, 200, rng=5)
        assert abs(mc["kl_expected"] - b2["kl_expected"]) < 5 * mc["kl_expected_stderr"]


@pytest.mark.parametrize("spec", ["uniform:3", "linear:4", "counts:1,4,2,1", "shrink:3"])
def test_b2_monte_carlo_standard_error(spec):
    # Order 3 at L = 8: Phi is exact (enumeration) and can be estimated (Monte Carlo).  The exact
    # path reports standard error 0; the Monte Carlo path's (conservative) standard errors cover
    # the exact values within 5, for the total and for every step.
    language = build_language(2, 3, 0.3, "dirichlet", seed=5)
    exact = expected_kl(language, 8, spec)
    mc = expected_kl(language, 8, spec, method="monte_carlo", num_samples=300, rng=1)
    assert exact["method"] == "exact" and exact["kl_expected_stderr"] == 0 and not np.any(exact["steps_stderr"])
    assert mc["method"] == "monte_carlo" and mc["kl_expected_stderr"] > 0
    assert abs(mc["kl_expected"] - exact["kl_expected"]) < 5 * mc["kl_expected_stderr"]
    assert np.all(np.abs(mc["steps"] - exact["steps"]) < 5 * mc["steps_stderr"] + 1e-12)


def test_b2_standard_error_propagation():
    # se(term_t) <= sum_k |M[t, k]| se(Phi(k)) with M the B2 matrix, and se(KL) likewise with the
    # column sums of M.  Checked on a hand-made curve against the closed form of a count
    # schedule's row, s Phi(r+1) + (1 - s) Phi(r) - Phi(r + s); one token per step is the zero
    # row, so it has standard error 0 (the coefficients cancel before taking absolute values).
    from unittest import mock

    phi = np.array([0.0, 1.0, 1.7, 2.2, 2.6, 2.9])
    se = np.array([0.0, 0.01, 0.02, 0.04, 0.08, 0.16])
    language = build_language(2, 2, 0.0, "dirichlet", seed=0)
    with mock.patch("ngramsim.decomposition.phi_curve", return_value=(phi, se, "monte_carlo")):
        out = expected_kl(language, 5, "counts:2,1,2")
        ones = expected_kl(language, 5, "uniform:5")
    # Steps (r, s) = (0, 2), (2, 1), (3, 2): 2 Phi(1) - Phi(0) - Phi(2), 0, 2 Phi(4) - Phi(3) - Phi(5).
    np.testing.assert_allclose(out["steps"], [2 * phi[1] - phi[0] - phi[2], 0, 2 * phi[4] - phi[3] - phi[5]], rtol=0, atol=1e-15)
    step_se = [2 * se[1] + se[0] + se[2], 0, 2 * se[4] + se[3] + se[5]]
    np.testing.assert_allclose(out["steps_stderr"], step_se, rtol=0, atol=1e-15)
    assert out["kl_expected_stderr"] == pytest.approx(sum(step_se), abs=1e-15)  # no column shared by two steps
    assert ones["kl_expected"] == 0 and ones["kl_expected_stderr"] == 0 and not np.any(ones["steps_stderr"])


@pytest.mark.parametrize(
    "spec, lam, tau",
    [("uniform:2", 0.0, 1.0), ("linear:3", 0.1, 0.7), ("ar", 0.1, 1.0), ("order:0,4;1,3;2", 0.0, 0.8), ("topk:2", 0.1, 0.8), ("eb:0.5", 0.0, 1.0), ("margin:3", 0.05, 1.3)],
)
def test_monte_carlo_b1_matches_exact(spec, lam, tau):
    language = build_language(2, 3, 0.3, "dirichlet", seed=5)
    L = 5
    exact = exact_law(language, L, spec, learning_error=lam, temperature=tau)
    mc = estimate_b1(language, L, spec, 3000, rng=1, learning_error=lam, temperature=tau)
    slack = 5 * mc["kl_expected_stderr"] + 1e-12
    assert abs(mc["kl_expected"] - exact.kl_expected) < slack
    # Per step, where the term is not tiny: a term of order 1e-5 is carried by rare sequences, whose
    # heavy tail makes a 3000-sample standard error unreliable (seen with 1e5 samples).
    steps = len(exact.steps_tc)
    for estimate, stderr, value in ((mc["tc"], mc["tc_stderr"], exact.steps_tc), (mc["learning_kl"], mc["learning_kl_stderr"], exact.steps_learning_kl)):
        big = value > 1e-3
        assert np.all(np.abs(estimate[:steps][big] - value[big]) < 5 * stderr[:steps][big] + 1e-12)


def test_estimator_rejects_bad_input():
    language = build_language(2, 2, 0.0, "dirichlet", seed=0)
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        estimate_b1(language, 5, "ar", 1, rng=0)
    with pytest.raises(TypeError, match="rng must be given"):
        estimate_b1(language, 5, "ar", 10, rng=None)
