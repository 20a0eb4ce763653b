"""The exact engine against brute force, and the exact identities B1, B3, B7 (THEORY B)."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import ExactOracle, NGramLanguage, window_language
from ngramsim.exact import EXACT_STATE_LIMIT, exact_law
from ngramsim.information import total_correlation
from tests import reference
from tests.strategies import build_language, languages, schedule_specs

TOL = 1e-9
MODELS = st.sampled_from([(0.0, 1.0), (0.15, 1.0), (0.0, 0.6), (0.1, 1.8)])


@st.composite
def exact_cases(draw, max_length=5):
    language = draw(languages(vocab_sizes=(2, 3), orders=(1, 4), max_contexts=27))
    length = draw(st.integers(language.min_length, max(language.min_length, max_length if language.vocab_size == 2 else 4)))
    spec = draw(schedule_specs(length))
    lam, tau = draw(MODELS)
    return language, length, spec, lam, tau


@given(exact_cases())
def test_exact_engine_equals_brute_force(case):
    language, length, spec, lam, tau = case
    law, ser = reference.exact_mdm_law(language, length, spec, learning_error=lam, temperature=tau)
    result = exact_law(language, length, spec, learning_error=lam, temperature=tau)
    np.testing.assert_allclose(result.distribution, law, rtol=0, atol=1e-12)
    assert abs(result.ser - ser) < 1e-12


@given(exact_cases())
def test_b1_chain_rule_and_b3(case):
    # B1: for explicit orders the sum of the per-step terms (computed from subset entropies and
    # conditionals under q) is KL(q || p) of the sampler's law (computed by a separate DP).
    # B3: the mixture law of a random schedule has KL(q || p) <= E KL(q || p_sigma).
    language, length, spec, lam, tau = case
    r = exact_law(language, length, spec, learning_error=lam, temperature=tau)
    if spec == "ar" or spec.startswith("order:"):
        assert abs(r.kl - r.kl_expected) < TOL
    assert r.kl <= r.kl_expected + TOL
    # B7 (per step, any product model): a step's KL contribution is at least its conditional TC.
    assert np.all(r.steps_tc >= -TOL) and np.all(r.steps_learning_kl >= -TOL)
    # model_log_ppl = H(q)/L + KL/L.
    assert abs(r.model_log_ppl - (language.entropy(length) + r.kl) / length) < TOL


@pytest.mark.parametrize("seed", [3, 4, 7])
@pytest.mark.parametrize("spec", ["topk:2", "margin:3", "eb:0.4", "esum:0.8"])
def test_b1_along_adaptive_orders(seed, spec):
    # Continuous random languages have distinct scores, so the rule is deterministic given the
    # revealed values and B1 holds exactly along its realised order: kl == kl_expected.
    language = build_language(3, 2, 0.0, "dirichlet", seed=seed)
    r = exact_law(language, 5, spec, learning_error=0.1, temperature=0.8)
    assert abs(r.kl - r.kl_expected) < TOL


@given(languages(vocab_sizes=(2, 3), orders=(1, 3), max_contexts=9), st.data())
def test_one_token_per_step_gives_zero_and_one_step_gives_tc(language, data):
    length = data.draw(st.integers(language.min_length, 5 if language.vocab_size == 2 else 4))
    for spec in ("ar", f"uniform:{length}"):
        r = exact_law(language, length, spec)
        assert abs(r.kl) < TOL and abs(r.kl_expected) < TOL
    one = exact_law(language, length, "uniform:1")
    tc = total_correlation(language, length).value
    assert abs(one.kl - tc) < TOL and abs(one.steps_tc[0] - tc) < TOL


def test_best_partition_error_is_non_increasing_in_steps():
    # B7 (ideal model): min over ordered partitions with T blocks of KL(q || p_S) is non-increasing in T.
    language = build_language(2, 3, 0.3, "dirichlet", seed=11)
    L = 4
    best = {}
    for labels in itertools.product(range(L), repeat=L):
        used = sorted(set(labels))
        if used != list(range(len(used))):
            continue
        spec = "order:" + ";".join(",".join(str(i) for i in range(L) if labels[i] == t) for t in used)
        kl = exact_law(language, L, spec).kl
        best[len(used)] = min(best.get(len(used), math.inf), kl)
    values = [best[T] for T in sorted(best)]
    assert all(b <= a + TOL for a, b in zip(values, values[1:]))
    assert values[-1] < TOL


def test_learning_kl_statistics():
    # ar on W(4, 2) with tau = 1: token 0 is uniform (KL 0); every later token drawn from a
    # valid prefix has the exact conditional uniform on a window of 2, so its learning KL is
    # KL(u_2 || 0.8 u_2 + 0.2/4).  Tokens after the prefix turned invalid are not counted; the
    # prefix of i tokens is valid w.p. rho^(i-1), rho = 1 - lambda (V - m)/V (THEORY C3).
    lam, L = 0.2, 5
    r = exact_law(window_language(4, 2), L, "ar", learning_error=lam)
    kl_window = math.log(0.5 / (0.8 * 0.5 + lam / 4))
    rho = 1 - lam * 2 / 4
    valid = [rho ** (i - 1) for i in range(1, L)]
    assert r.learning_kl_max == pytest.approx(kl_window, abs=1e-12)
    assert r.learning_kl_mean == pytest.approx(kl_window * sum(valid) / (1 + sum(valid)), abs=1e-12)


def test_custom_oracle_in_the_exact_engine():
    language = build_language(2, 3, 0.3, "dirichlet", seed=2)
    same = exact_law(language, 5, "cosine:3", oracle=ExactOracle(language))
    np.testing.assert_allclose(same.distribution, exact_law(language, 5, "cosine:3").distribution, atol=1e-12)

    def uniform_oracle(tokens, revealed):
        return np.full((len(tokens), 2), 0.5)

    r = exact_law(language, 5, "uniform:2", oracle=uniform_oracle)
    np.testing.assert_allclose(r.distribution, 1 / 32, atol=1e-15)  # every draw uniform
    assert r.learning_kl_max > 0


def test_size_limit_is_a_clear_error():
    with pytest.raises(ValueError, match=r"beyond the exact engine's limit of .*Monte Carlo"):
        exact_law(window_language(8, 2), 12, "ar")
    assert EXACT_STATE_LIMIT >= 3**12


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"schedule": "linear:0"}, ValueError, "N must be >= 1"),
        ({"learning_error": 1.0}, ValueError, "learning_error must lie in"),
        ({"temperature": -1.0}, ValueError, "temperature must lie in"),
        ({"length": 0}, ValueError, "length must be >= 1"),
        ({"oracle": "exact"}, TypeError, "oracle must be callable"),
    ],
)
def test_exact_rejects_bad_input(kwargs, error, match):
    args = {"language": window_language(3, 2), "length": 4, "schedule": "ar", **kwargs}
    with pytest.raises(error, match=match):
        exact_law(**args)


@given(st.permutations(range(6)), st.sampled_from([0.05, 0.3]))
def test_c3_lower_bound_for_one_token_per_step_orders(perm, lam):
    # THEORY C3: any one-token-per-step order on W(V, m) has SER >= 1 - (1 - lam (V-m)/V)^floor(L/2).
    V, m, L = 3, 2, 6
    spec = "order:" + ";".join(str(i) for i in perm)
    r = exact_law(window_language(V, m), L, spec, learning_error=lam)
    assert r.ser >= 1 - (1 - lam * (V - m) / V) ** (L // 2) - 1e-12


def test_exact_engine_refuses_probabilities_below_float_range():
    # Three transitions of probability 1e-110 give a valid sequence with q(x) ~ 1e-330: its
    # support must not be decided from a float (the Monte Carlo sampler handles it in log space).
    language = NGramLanguage(np.array([[1 - 1e-110, 1e-110], [0.5, 0.5]]), np.array([0.5, 0.5]))
    # At L = 4 the smallest probability is ~1e-220: representable, and the engine agrees with brute force.
    assert exact_law(language, 4, "uniform:2").ser == pytest.approx(reference.exact_mdm_law(language, 4, "uniform:2")[1], abs=1e-12)
    with pytest.raises(ValueError, match="below float64's normal range"):
        exact_law(language, 7, "uniform:2")
