"""Ancestral sampling: the numba kernel against its slow reference, and its law against q."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import NGramLanguage, window_language
from ngramsim._kernels.ancestral import ancestral_sample, guarded_cdf
from ngramsim.strategies import build_language, languages
from tests import reference
from tests.stats import gof_pvalue

# Tiny cases for the distributional test: orders 1-4, forbidden transitions, non-stationary mu.
GOF_CASES = [
    (2, 1, 0.0, "point", 1, 6),
    (3, 2, 0.0, "stationary", 2, 4),
    (3, 2, 0.3, "dirichlet", 3, 4),
    (2, 3, 0.0, "sparse", 4, 6),
    (2, 4, 0.3, "dirichlet", 5, 6),
    (4, 2, 0.6, "stationary", 9, 3),
    (3, 3, 0.3, "point", 7, 4),
]
NUM_GOF_SAMPLES = 200_000
# Family-wise level 1e-3 over the cases (Bonferroni).
ALPHA = 1e-3 / len(GOF_CASES)


def _exact_law(case):
    V, n, f, mu_kind, seed, length = case
    language = build_language(V, n, f, mu_kind, seed)
    _, q = reference.enumerate_q(language, length)
    return language, length, q


@pytest.mark.parametrize("case", GOF_CASES, ids=lambda c: f"V{c[0]}n{c[1]}f{c[2]}{c[3]}")
def test_ancestral_law_matches_q(case):
    language, length, q = _exact_law(case)
    samples = language.sample(length, NUM_GOF_SAMPLES, rng=20261128)
    assert gof_pvalue(samples, q, language.vocab_size) > ALPHA


@pytest.mark.parametrize("case", GOF_CASES, ids=lambda c: f"V{c[0]}n{c[1]}f{c[2]}{c[3]}")
def test_goodness_of_fit_rejects_a_wrong_sampler(case):
    # The same test must reject a sampler whose law is 5% off: here 95% of draws from q and 5%
    # from a product of q's token marginals (a different law on every case with dependence;
    # for the iid order-1 case, 5% of sequences drawn uniformly instead).
    language, length, q = _exact_law(case)
    gen = np.random.default_rng(7)
    samples = language.sample(length, NUM_GOF_SAMPLES, rng=20261128)
    wrong = gen.random(NUM_GOF_SAMPLES) < 0.05
    if language.order == 1:
        samples[wrong] = gen.integers(language.vocab_size, size=(int(wrong.sum()), length))
    else:
        marg = language.token_marginals(length)
        cdf = np.cumsum(marg, axis=1)
        u = gen.random((int(wrong.sum()), length))
        samples[wrong] = np.minimum((u[:, :, None] >= cdf[None]).sum(axis=2), language.vocab_size - 1)
    assert gof_pvalue(samples, q, language.vocab_size) < ALPHA


def _kernel(language, uniforms):
    out = np.empty(uniforms.shape, dtype=np.int64)
    return ancestral_sample(
        guarded_cdf(language.initial),
        guarded_cdf(language.transitions),
        np.ascontiguousarray(language.successor),
        language.context_length,
        uniforms,
        out,
    )


@given(languages(), st.integers(1, 30), st.integers(1, 20), st.integers(0, 2**31))
def test_kernel_equals_reference_on_same_uniforms(language, extra, num_samples, seed):
    length = language.min_length + extra
    uniforms = np.random.default_rng(seed).random((num_samples, length))
    # Uniforms right at CDF boundaries exercise the rounding guard.
    cdf = np.cumsum(language.transitions[0])
    uniforms[0, -1] = min(cdf[-1], np.nextafter(1.0, 0.0))
    uniforms[-1, :] = 0.0
    np.testing.assert_array_equal(_kernel(language, uniforms), reference.ancestral_from_uniforms(language, uniforms))


@pytest.mark.parametrize("vocab_size, order", [(31, 2), (32, 2), (33, 2), (70, 2), (40, 3)])
def test_kernel_equals_reference_for_long_rows(vocab_size, order):
    # Rows longer than the branch-free search use bisection; both must agree with the reference.
    language = build_language(vocab_size, order, 0.5, "dirichlet", seed=vocab_size)
    uniforms = np.random.default_rng(0).random((11, 40))
    uniforms[0, :] = np.nextafter(1.0, 0.0)
    np.testing.assert_array_equal(_kernel(language, uniforms), reference.ancestral_from_uniforms(language, uniforms))


def test_guard_never_selects_zero_probability_tail():
    probs = np.array([0.3, 0.7 - 1e-17, 0.0, 0.0])
    cdf = guarded_cdf(probs)[0]
    assert cdf[1] == 1.0 and cdf[-1] == 1.0
    language = NGramLanguage([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], [0.0, 0.0, 1.0])
    x = language.sample(9, 3, rng=1)
    np.testing.assert_array_equal(x, np.tile([2, 0, 1], (3, 3)))


def test_same_seed_same_samples_and_generator_accepted():
    language = window_language(6, 3)
    a = language.sample(50, 20, rng=123)
    b = language.sample(50, 20, rng=123)
    c = language.sample(50, 20, rng=np.random.default_rng(123))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, language.sample(50, 20, rng=124))
    assert a.dtype == np.int64 and a.shape == (20, 50)


def test_samples_independent_of_thread_count():
    language = build_language(3, 3, 0.3, "dirichlet", seed=11)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = language.sample(200, 300, rng=5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = language.sample(200, 300, rng=5)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


def test_zero_samples_gives_empty_array():
    assert window_language(3, 2).sample(4, 0, rng=0).shape == (0, 4)
