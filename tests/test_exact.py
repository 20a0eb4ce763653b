"""The exact engine against brute force, and the exact identities B1, B3, B7 (THEORY B)."""

import functools
import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import ExactOracle, NGramLanguage, window_language
from ngramsim.exact import EXACT_STATE_LIMIT, check_exact_size, exact_law
from ngramsim.information import total_correlation
from ngramsim.strategies import (
    build_language,
    languages,
    languages_with_length,
    one_token_schedule_specs,
    schedule_specs,
    tiny_lengths,
    window_languages,
)
from tests import reference

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
    # model_log_ppl = H(q)/L + KL/L.
    assert abs(r.model_log_ppl - (language.entropy(length) + r.kl) / length) < TOL


@given(languages_with_length(vocab_sizes=(2, 3), orders=(1, 3), max_contexts=9, max_states=243), MODELS, st.data())
def test_b1_terms_equal_their_unclamped_definitions(case, model, data):
    # The engine clamps each learning KL at 0 (rounding); here both B1 terms of every step are
    # recomputed from their definitions without clamping.  Each is >= 0 (TC by subadditivity
    # of entropy, the learning term by Gibbs' inequality) and the engine's steps equal them.
    language, length = case
    lam, tau = model
    spec = data.draw(schedule_specs(length, kinds=("order", "ar", "stride")))
    blocks = reference.parse_reference_schedule(spec, length)[1]
    tc, learning = reference.b1_terms(language, length, blocks, lam, tau)
    assert tc.min() >= -1e-12 and learning.min() >= -1e-12
    r = exact_law(language, length, spec, learning_error=lam, temperature=tau)
    np.testing.assert_allclose(r.steps_tc, tc, rtol=0, atol=TOL)
    np.testing.assert_allclose(r.steps_learning_kl, learning, rtol=0, atol=TOL)


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
    # The engine's kl is clamped at 0, so the identities are checked on KL(q || p) recomputed,
    # unclamped, from the sampler's law and the brute-force q.
    length = data.draw(st.integers(language.min_length, 5 if language.vocab_size == 2 else 4))
    _, q = reference.enumerate_q(language, length)
    for spec in ("ar", f"uniform:{length}"):
        r = exact_law(language, length, spec)
        assert abs(reference.kl_divergence(q, r.distribution)) < TOL and abs(r.kl_expected) < TOL
    one = exact_law(language, length, "uniform:1")
    H = reference.entropy(q)
    tc = sum(reference.subset_entropy(language, length, [i]) for i in range(length)) - H
    assert abs(reference.kl_divergence(q, one.distribution) - tc) < TOL and abs(one.steps_tc[0] - tc) < TOL


def _best_partition_errors(language, length, temperature=1.0):
    """``{T: min KL(q || p_S)}`` over ordered partitions with ``T`` blocks (``lambda = 0``), unclamped."""
    _, q = reference.enumerate_q(language, length)
    best = {}
    for labels in itertools.product(range(length), repeat=length):
        used = sorted(set(labels))
        if used != list(range(len(used))):
            continue
        spec = "order:" + ";".join(",".join(str(i) for i in range(length) if labels[i] == t) for t in used)
        kl = reference.kl_divergence(q, exact_law(language, length, spec, temperature=temperature).distribution)
        best[len(used)] = min(best.get(len(used), math.inf), kl)
    return [best[T] for T in sorted(best)]


def test_best_partition_error_is_non_increasing_in_steps():
    # B7 (ideal model): min over ordered partitions with T blocks of KL(q || p_S) is non-increasing in T.
    values = _best_partition_errors(build_language(2, 3, 0.3, "dirichlet", seed=11), 4)
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:]))
    assert abs(values[-1]) < TOL


def _cut(draw, items):
    """``items`` cut into consecutive non-empty blocks at drawn places (no blocks if empty)."""
    cuts = sorted(draw(st.sets(st.integers(1, len(items) - 1)))) if len(items) > 1 else []
    bounds = [0, *cuts, len(items)]
    return [list(items[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]


@st.composite
def block_splits(draw):
    """A language, a length >= 2, an ordered partition, the index of a block of >= 2 positions and a split of it."""
    language = draw(languages(vocab_sizes=(2, 3), orders=(1, 3), max_contexts=9))
    length = draw(st.sampled_from([L for L in tiny_lengths(language, 243) if L >= 2]))
    perm = draw(st.permutations(range(length)))
    start = draw(st.integers(0, length - 2))
    stop = draw(st.integers(start + 2, length))
    before, block, after = _cut(draw, perm[:start]), list(perm[start:stop]), _cut(draw, perm[stop:])
    first = sorted(draw(st.sets(st.sampled_from(block), min_size=1, max_size=len(block) - 1)))
    return language, length, [*before, block, *after], len(before), first


def _order_spec(blocks):
    return "order:" + ";".join(",".join(map(str, b)) for b in blocks)


@given(block_splits())
def test_b7_splitting_a_block_lowers_the_kl(case):
    # B7 with the ideal model: revealing S = S1 u S2 at one step versus S1 then S2 (the rest of the
    # partition unchanged) changes the KL by exactly E_q sum_{i in S2} I(X_i; X_S1 | X_R) >= 0,
    # I(X_i; X_S1 | X_R) = H(X_{R+i}) + H(X_{R+S1}) - H(X_R) - H(X_{R+S1+i}) (brute-force entropies).
    language, length, blocks, t, first = case
    second = [i for i in blocks[t] if i not in first]
    split = [*blocks[:t], first, second, *blocks[t + 1:]]
    _, q = reference.enumerate_q(language, length)
    kl_whole = reference.kl_divergence(q, exact_law(language, length, _order_spec(blocks)).distribution)
    kl_split = reference.kl_divergence(q, exact_law(language, length, _order_spec(split)).distribution)
    R = [i for b in blocks[:t] for i in b]
    H = functools.partial(reference.subset_entropy, language, length)
    gain = sum(H(R + [i]) + H(R + first) - H(R) - H(R + first + [i]) for i in second)
    assert gain >= -1e-12
    assert kl_split <= kl_whole + 1e-12
    assert abs((kl_whole - kl_split) - gain) < TOL


def test_b7_monotonicity_fails_for_a_sharpening_temperature():
    # THEORY B7: with tau < 1 splitting a block can raise the KL.  Binary symmetric chain, flip
    # probability eps, mu uniform, L = 2.  Every marginal is uniform and T_tau leaves a uniform
    # law unchanged, so the one-step sampler is exact on marginals and pays only TC = I(X_0; X_1);
    # two steps draw the second token from T_tau[Bern(eps)], whose KL from Bern(eps) grows
    # without bound as tau -> 0 while TC stays fixed.  At eps = 0.1, tau = 1/4 it exceeds TC
    # (about 0.55 nats against 0.37); near eps = 1/2 the comparison reads (1/tau - 1)^2 > 1.
    eps = 0.1
    language = NGramLanguage([[1 - eps, eps], [eps, 1 - eps]], [0.5, 0.5])
    one, two = _best_partition_errors(language, 2, temperature=0.25)
    tc = total_correlation(language, 2).value
    assert abs(one - tc) < TOL  # one step: no learning error, as argued
    assert two > one  # the violation: the best 2-step partition is worse than the best 1-step one
    ideal_one, ideal_two = _best_partition_errors(language, 2)
    assert ideal_two <= ideal_one + 1e-12  # with tau = 1 the same language obeys B7


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


@pytest.mark.parametrize("V", [2, 3, 8])
def test_size_limit_is_the_boundary(V):
    # The largest L with (V+1)^L <= EXACT_STATE_LIMIT is accepted (and reported), the next refused.
    language = window_language(V, 1)
    L = max(L for L in range(1, 64) if (V + 1) ** L <= EXACT_STATE_LIMIT)
    assert check_exact_size(language, L) == (V + 1) ** L
    with pytest.raises(ValueError, match=f"needs .V.1.\\^L = {V + 1}\\^{L + 1} = {(V + 1) ** (L + 1)} partial states"):
        check_exact_size(language, L + 1)


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


@st.composite
def c3_cases(draw):
    """``W(V, m)``, a length with ``(V+1)^L <= 4096``, a one-token-per-step order, ``lambda``, ``tau``."""
    language = draw(window_languages(vocab_sizes=(2, 5)))
    V = language.vocab_size
    length = draw(st.integers(1, max(L for L in range(1, 8) if (V + 1) ** L <= 4096)))
    spec = draw(one_token_schedule_specs(length))
    lam = draw(st.floats(0.01, 0.95))
    tau = draw(st.sampled_from([0.5, 1.0, 2.0]))
    return language, length, spec, lam, tau


@given(c3_cases())
def test_c3_lower_bound_for_one_token_per_step_orders(case):
    # THEORY C3 (proofs/C3_learning_error.md), for every tau: any order revealing one token per
    # step -- fixed, uniformly random, or adaptive (topk/margin score the model's marginals, so
    # the order depends on the values) -- has SER >= 1 - (1 - lambda (V - m)/V)^floor(L/2); ar
    # attains 1 - (1 - lambda (V - m)/V)^(L - 1) exactly.
    language, length, spec, lam, tau = case
    V, m = language.vocab_size, language.meta["window"]
    keep = 1 - lam * (V - m) / V  # probability that a reveal next to a revealed token keeps the state valid
    r = exact_law(language, length, spec, learning_error=lam, temperature=tau)
    assert r.ser >= 1 - keep ** (length // 2) - 1e-12
    if spec == "ar":
        assert abs(r.ser - (1 - keep ** (length - 1))) < 1e-12


@given(window_languages(vocab_sizes=(2, 5)), st.integers(1, 4), st.floats(0.0, 0.95), st.sampled_from([0.5, 1.0, 2.0]))
def test_c1_one_step_for_every_model(language, length, lam, tau):
    # THEORY C1 (proofs/C1_window_one_step.md) for every lambda and tau: one step draws every
    # token from p_theta of the uniform marginal, which is uniform, so SER = 1 - (m/V)^(L-1).
    V, m = language.vocab_size, language.meta["window"]
    r = exact_law(language, length, "uniform:1", learning_error=lam, temperature=tau)
    assert abs(r.ser - (1 - (m / V) ** (length - 1))) < 1e-12


def test_exact_engine_refuses_probabilities_below_float_range():
    # Three transitions of probability 1e-110 give a valid sequence with q(x) ~ 1e-330: its
    # support must not be decided from a float (the Monte Carlo sampler handles it in log space).
    language = NGramLanguage(np.array([[1 - 1e-110, 1e-110], [0.5, 0.5]]), np.array([0.5, 0.5]))
    # At L = 4 the smallest probability is ~1e-220: representable, and the engine agrees with brute force.
    assert exact_law(language, 4, "uniform:2").ser == pytest.approx(reference.exact_mdm_law(language, 4, "uniform:2")[1], abs=1e-12)
    with pytest.raises(ValueError, match="below float64's normal range"):
        exact_law(language, 7, "uniform:2")
