"""Information measures against brute force and the dit library; Monte Carlo within 5 standard errors."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import window_language
from ngramsim.information import (
    conditional_entropy,
    dual_total_correlation,
    phi_curve,
    subset_entropy,
    sum_mutual_information,
    total_correlation,
)
from ngramsim.strategies import build_language, languages_with_length
from tests import reference

TOL = 1e-9


def _marginal_entropy(joint, keep):
    others = tuple(j for j in range(joint.ndim) if j not in keep)
    return reference.entropy(joint.sum(axis=others).ravel()) if keep else 0.0


def _joint(language, length):
    _, q = reference.enumerate_q(language, length)
    return q.reshape((language.vocab_size,) * length)


@given(languages_with_length(max_contexts=27), st.data())
def test_measures_equal_brute_force(case, data):
    language, L = case
    joint = _joint(language, L)
    H = reference.entropy(joint.ravel())
    singles = [_marginal_entropy(joint, [i]) for i in range(L)]
    leave_one_out = [H - _marginal_entropy(joint, [j for j in range(L) if j != i]) for i in range(L)]
    tc, dtc = sum(singles) - H, H - sum(leave_one_out)
    assert abs(total_correlation(language, L).value - tc) < TOL
    assert abs(dual_total_correlation(language, L).value - dtc) < TOL
    assert abs(sum_mutual_information(language, L).value - (tc + dtc)) < TOL
    subset = data.draw(st.sets(st.integers(0, L - 1)))
    assert abs(subset_entropy(language, L, subset).value - _marginal_entropy(joint, sorted(subset))) < TOL
    phi = [np.mean([_marginal_entropy(joint, c) for c in itertools.combinations(range(L), k)]) for k in range(L + 1)]
    values, errors, method = phi_curve(language, L)
    assert method == "exact" and np.all(errors == 0)
    np.testing.assert_allclose(values, phi, rtol=0, atol=TOL)


@given(languages_with_length(max_contexts=27))
def test_unclamped_tc_and_dtc_are_nonnegative_and_sum_to_the_mutual_informations(case):
    # The library clamps TC and DTC at 0 (rounding), so non-negativity is checked on the defining
    # identities with brute-force entropies: TC = sum_i H(X_i) - H(X) >= 0 (subadditivity) and
    # DTC = H(X) - sum_i H(X_i | X_-i) >= 0; the library's values equal these to 1e-9
    # (test_measures_equal_brute_force), so its clamp never moves a value by more than rounding.
    language, L = case
    joint = _joint(language, L)
    H = reference.entropy(joint.ravel())
    singles = [_marginal_entropy(joint, [i]) for i in range(L)]
    conditionals = [H - _marginal_entropy(joint, [j for j in range(L) if j != i]) for i in range(L)]
    tc, dtc = sum(singles) - H, H - sum(conditionals)
    assert tc >= -1e-12 and dtc >= -1e-12
    # sum_i I(X_i; X_-i) = sum_i [H(X_i) - H(X_i | X_-i)] = TC + DTC, the library's sum against the direct one.
    direct = sum(h - c for h, c in zip(singles, conditionals))
    assert abs(sum_mutual_information(language, L).value - direct) < TOL


def test_against_dit():
    import dit  # a declared test dependency (the test extra): a missing dit must fail, not skip

    ln2 = math.log(2)
    for language, L in ((build_language(2, 3, 0.3, "dirichlet", seed=1), 5), (build_language(3, 2, 0.3, "sparse", seed=2), 4)):
        xs, q = reference.enumerate_q(language, L)
        keep = q > 0
        d = dit.Distribution(["".join(map(str, x)) for x in xs[keep]], q[keep])
        assert abs(language.entropy(L) - dit.shannon.entropy(d) * ln2) < TOL
        assert abs(total_correlation(language, L).value - dit.multivariate.total_correlation(d) * ln2) < TOL
        assert abs(dual_total_correlation(language, L).value - dit.multivariate.dual_total_correlation(d) * ln2) < TOL
        assert abs(subset_entropy(language, L, [0, 2]).value - dit.shannon.entropy(d, [0, 2]) * ln2) < TOL
        # KL(q || p) of the exact engine against dit's divergence, on a one-step sampler.
        from ngramsim.exact import exact_law

        p = exact_law(language, L, "uniform:2").distribution
        e = dit.Distribution(["".join(map(str, x)) for x in xs], p)
        full = dit.Distribution(["".join(map(str, x)) for x in xs], q)
        assert abs(exact_law(language, L, "uniform:2").kl - dit.divergences.kullback_leibler_divergence(full, e) * ln2) < 1e-8


def test_order2_exact_at_scale_matches_monte_carlo():
    # Exact order-2 formulas at L = 300 against Monte Carlo (forward passes with evidence).
    language = build_language(4, 2, 0.3, "dirichlet", seed=5)
    L = 300
    subset = list(range(0, L, 7))
    exact = subset_entropy(language, L, subset)
    mc = subset_entropy(language, L, subset, method="monte_carlo", num_samples=400, rng=1)
    assert exact.method == "exact" and mc.method == "monte_carlo"
    assert abs(mc.value - exact.value) < 5 * mc.stderr
    values, _, _ = phi_curve(language, 60)
    mc_values, mc_errors, method = phi_curve(language, 60, method="monte_carlo", num_samples=150, rng=2)
    assert method == "monte_carlo"
    k = np.arange(1, 61)
    assert np.all(np.abs(mc_values[k] - values[k]) < 5 * mc_errors[k] + 1e-12)


def test_dtc_monte_carlo_matches_exact():
    language = build_language(3, 3, 0.3, "dirichlet", seed=3)
    exact = dual_total_correlation(language, 40)
    mc = dual_total_correlation(language, 40, method="monte_carlo", num_samples=300, rng=4)
    assert abs(mc.value - exact.value) < 5 * mc.stderr


def test_window_language_values():
    # W(V, m), mu uniform: H(X) = log V + (L-1) log m; each X_i uniform, so TC = (L-1) log(V/m).
    V, m, L = 6, 2, 50
    language = window_language(V, m)
    assert abs(total_correlation(language, L).value - (L - 1) * math.log(V / m)) < 1e-9
    assert abs(conditional_entropy(language, L, [5], [4]).value - math.log(m)) < 1e-12
    assert abs(subset_entropy(language, L, [3], base=2).value - math.log2(V)) < 1e-12


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda lang: subset_entropy(lang, 5, [0, 7]), ValueError, "subset position 7 is out of range for length=5"),
        (lambda lang: subset_entropy(lang, 5, [1, 1]), ValueError, r"subset has duplicated positions: \[1, 1\]"),
        (lambda lang: subset_entropy(lang, 5, [-1]), ValueError, "out of range"),
        (lambda lang: subset_entropy(lang, 5, "ab"), TypeError, "subset must be an iterable of integer positions"),
        (lambda lang: subset_entropy(lang, 5, [0], method="guess"), ValueError, "method must be"),
        (lambda lang: conditional_entropy(lang, 5, [1], [1, 2]), ValueError, r"disjoint; both contain \[1\]"),
        (lambda lang: phi_curve(lang, 0), ValueError, "length must be >= 1"),
        (lambda lang: subset_entropy(lang, 5, [0], method="monte_carlo", num_samples=10), TypeError, "rng must be given"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(window_language(3, 2))


def test_exact_refused_when_out_of_reach():
    language = build_language(3, 3, 0.0, "dirichlet", seed=0)
    with pytest.raises(ValueError, match="no exact method applies here.*monte_carlo"):
        subset_entropy(language, 40, [0, 5], method="exact")


def test_monte_carlo_refuses_jobs_beyond_budget():
    language = build_language(16, 4, 0.0, "dirichlet", seed=0)
    with pytest.raises(ValueError, match="Phi by Monte Carlo would take about .* lower num_samples or length"):
        phi_curve(language, 400, num_samples=1000, rng=0)


@given(st.integers(1, 60), st.integers(0, 2**31))
def test_phi_kernel_equals_binomial_sums(length, seed):
    # phi_from_gaps evaluates its binomial weights by ratio recurrences; the reference sums
    # the same weights written with math.comb (exact integers), term by term.
    from ngramsim._kernels.information import phi_from_gaps

    gen = np.random.default_rng(seed)
    h_first, gaps = gen.random(length), gen.random(length)
    got = np.zeros(length + 1)
    phi_from_gaps(h_first, gaps, got, 1, length // 2 + 1)  # in two chunks, as the library calls it
    phi_from_gaps(h_first, gaps, got, length // 2 + 1, length + 1)
    for k in range(length + 1):
        total = math.comb(length, k)
        first = sum(math.comb(length - 1 - a, k - 1) * h_first[a] for a in range(length)) if k >= 1 else 0.0
        pairs = sum(math.comb(length - d - 1, k - 2) * gaps[d] for d in range(1, length)) if k >= 2 else 0.0
        assert got[k] == pytest.approx((first + pairs) / total, rel=1e-12, abs=1e-15)


@given(st.integers(2, 5), st.integers(0, 2**31))
def test_gap_row_entropies_equal_matrix_powers(V, seed):
    from scipy.special import entr

    from ngramsim._kernels.information import gap_row_entropies

    language = build_language(V, 2, 0.3, "stationary", seed % 1000)
    P = np.array(language.transitions)
    got = gap_row_entropies(P, 40, np.empty((40, V)))
    for d in range(40):
        np.testing.assert_allclose(got[d], entr(np.linalg.matrix_power(P, d)).sum(axis=1), rtol=1e-9, atol=1e-12)


def test_exact_phi_refuses_beyond_budget():
    with pytest.raises(ValueError, match="Phi .exact, order 2. would take"):
        phi_curve(window_language(4, 2), 200_000)
