"""Support is decided exactly even where float64 weights underflow (SPEC §2's fallback must not fire).

The languages here have *transient* tokens: a token ``a`` in a set ``T`` repeats itself
with probability ``s <= 1/2`` and, once a token outside ``T`` appears, tokens of ``T``
never come back.  A gap of ``d`` masked positions between two tokens of ``T`` then has
probability about ``s^d``: zero in float64 from ``d ~ 1075``, though positive.  With
learning error the sampler reaches such states at visible rates, and a kernel that takes
the float zero for ``q(x_R) = 0`` draws from SPEC's uniform fallback instead of the exact
conditional.  References: ``tests/reference.py``'s log-space forward-backward and
log-space matrix powers (no scaling, so zeros are exact).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import binomtest

from ngramsim import ExactOracle, NGramLanguage, conditional_marginals, sample_mdm
from ngramsim._kernels.forward_backward import forward_scaled
from ngramsim._kernels.powers import gap_weights, power_tables
from tests import reference

LENGTH = 1200


def transient_language(vocab_size, order, seed, tiny=False, single=True):
    """Tokens ``T`` are transient: ``P(a | ..a) = s`` in ``[0.3, 0.5]`` for ``a`` in ``T``, and contexts ending
    outside ``T`` never emit ``T``.  ``T`` is one token, or with ``single=False`` a random non-empty
    proper subset.  ``tiny``: one positive entry of some rows is set to 1e-200."""
    gen = np.random.default_rng(seed)
    V, K = vocab_size, vocab_size ** (order - 1)
    T = gen.permutation(V)[: 1 if single else gen.integers(1, V)]
    outside = np.setdiff1d(np.arange(V), T)
    P = np.zeros((K, V))
    for c in range(K):
        last = c % V
        if last in T:
            stay = gen.uniform(0.3, 0.5)
            rest = gen.dirichlet(np.ones(V - 1))
            P[c, np.arange(V) != last] = (1 - stay) * rest
            P[c, last] = stay
        else:
            P[c, outside] = gen.dirichlet(np.ones(len(outside)))
        if tiny:
            positive = np.flatnonzero(P[c] > 0)
            if len(positive) > 1:
                P[c, gen.choice(positive)] = 1e-200
        P[c] /= P[c].sum()
    mu = gen.dirichlet(np.ones(K))
    return NGramLanguage(P, mu, name=f"transient(V={V},n={order},seed={seed})"), T


def _normalise_log(row):
    finite = row > -np.inf
    out = np.zeros_like(row)
    if finite.any():
        out[finite] = np.exp(row[finite] - logsumexp(row[finite]))
    return out


def _assert_same_law(actual, expected):
    # Exact zeros must agree wherever the exact probability is representable; the rest to 1e-9.
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-300)
    assert np.all((actual > 0) | (expected < 1e-290))


# ------------------------------------------------------------------ order 2: power tables
@settings(max_examples=15)
@given(st.integers(2, 4), st.integers(0, 2**31), st.booleans(), st.booleans())
def test_power_tables_decide_support_exactly(V, seed, tiny, single):
    language, _ = transient_language(V, 2, seed, tiny, single)
    tables = power_tables(language.transitions, language.initial, LENGTH)
    reach, inexact = tables[2], tables[3]
    ref = reference.log_matrix_powers(language, LENGTH)
    np.testing.assert_array_equal(reach[:, :V, :], ref > -np.inf)
    with np.errstate(divide="ignore"):
        log_mu = np.log(language.initial)
    edge = logsumexp(log_mu[None, :, None] + ref[:-1], axis=1)  # log mu P^(d-1), d = 1 .. L
    np.testing.assert_array_equal(reach[1:, V, :], edge > -np.inf)
    if single or tiny:  # s^1200 <= 2^-1200 (or a 1e-200 entry): the log-space twins are in use
        assert inexact.any()
    gen = np.random.default_rng(seed)
    w = np.empty(V)
    for _ in range(60):
        da, db = gen.integers(1, LENGTH + 1, size=2)
        xa, xb = gen.integers(0, V + 1, size=2)
        left = edge[da - 1] if xa == V else ref[da, xa]
        right = np.zeros(V) if xb == V else ref[db, :, xb]
        expected = _normalise_log(left + right)
        total = gap_weights(da, xa, db, xb, tables, w)
        if not expected.any():  # the gap is impossible: no weight at all
            assert total == 0.0
            continue
        _assert_same_law(w / total, expected)


# ------------------------------------------------------------------ any order: forward-backward
def _transient_evidence(language, T, gen, density=0.02):
    """A valid sequence that stays in ``T`` for at least 1050 tokens, with a sparse revealed set ending that run
    (so ``q(x_R) <= 2^-1000``: every scaled pass over the run loses the states that explain it)."""
    V, m = language.vocab_size, language.order - 1
    P = language.transitions
    x = np.empty(LENGTH, dtype=np.int64)
    stay = int(gen.integers(LENGTH - 150, LENGTH - 1))
    x[:m] = gen.choice(T, size=m)
    for i in range(m, LENGTH):
        c = reference.context_index(x[i - m : i], V)
        allowed = np.flatnonzero(P[c] > 0)
        if i < stay:
            allowed = np.intersect1d(allowed, T)
        x[i] = gen.choice(allowed)
    revealed = gen.random(LENGTH) < density
    revealed[stay - 1] = True
    return x, revealed


@settings(max_examples=8)
@given(st.integers(2, 3), st.sampled_from([2, 3]), st.sampled_from([0.0, 0.02]), st.integers(0, 2**31))
def test_conditional_marginals_exact_under_underflow(V, order, density, seed):
    # density 0: one revealed token ends a run of >= 1050 transient tokens, so the scaled
    # passes lose precision (log space takes over); 0.02: revealed tokens every ~50 positions.
    language, T = transient_language(V, order, seed)
    gen = np.random.default_rng(seed)
    x, revealed = _transient_evidence(language, T, gen, density)
    rows, log_ev = reference.log_conditionals(language, x, revealed)
    assert np.isfinite(log_ev) and log_ev < -700  # q(x_R) > 0 but far below float64's range
    for method in ("scaled", "log"):
        marg, got = conditional_marginals(language, x, revealed, method=method)
        assert got == pytest.approx(log_ev, rel=1e-9)
        for i in np.flatnonzero(~revealed):
            _assert_same_law(marg[i], _normalise_log(rows[i]))


def test_scaled_forward_reports_the_lost_precision():
    # The trust flag is what sends a window to log space: it must be raised on such evidence.
    language, T = transient_language(2, 3, seed=4)
    x, revealed = _transient_evidence(language, T, np.random.default_rng(4), density=0.0)
    tokens = np.where(revealed, x, -1).astype(np.int64)
    A = np.empty((LENGTH + 1, language.transitions.shape[0]))
    P, mu = np.array(language.transitions), np.array(language.initial)
    _, trusted = forward_scaled(tokens, 0, LENGTH - 1, -1, P, np.array(language.successor), mu, 2, A)
    assert not trusted


# ------------------------------------------------------------------ the samplers
def _same(a, b):
    """``b`` (possibly fewer sequences: sequence ``s`` depends only on its own key) agrees with ``a``."""
    k = b.num_samples
    np.testing.assert_array_equal(a.samples[:k], b.samples)
    np.testing.assert_array_equal(a.fallback[:k], b.fallback)
    np.testing.assert_allclose(a.learning_kl_sum[:k], b.learning_kl_sum, rtol=1e-9, atol=1e-12)


SCHEDULES = [f"order:{LENGTH - 1};0;" + ",".join(map(str, range(1, LENGTH - 1))), "linear:40", "uniform:40", "topk:40", "eb:1.0"]


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("spec", SCHEDULES, ids=["order", "linear", "uniform", "topk", "eb"])
def test_sampler_paths_agree_where_weights_underflow(order, spec):
    # Four independent computations of each draw (power tables, windows, naive full passes and
    # the Python oracle loop on the public marginals) share the random streams, so they agree
    # sequence by sequence only if each gets every conditional right, underflowing gaps included.
    language, _ = transient_language(2, order, seed=11)
    kwargs = {"rng": 5, "learning_error": 0.3, "temperature": 1.5}
    windows = sample_mdm(language, LENGTH, spec, 6, method="windows", **kwargs)
    _same(windows, sample_mdm(language, LENGTH, spec, 6, method="naive", **kwargs))
    if order == 2:
        _same(windows, sample_mdm(language, LENGTH, spec, 6, method="local", **kwargs))
    _same(windows, sample_mdm(language, LENGTH, spec, 2, oracle=ExactOracle(language), **kwargs))
    np.testing.assert_array_equal(windows.fallback, ~language.is_valid(windows.samples))


@pytest.mark.parametrize("method", ["local", "windows"])
def test_conditional_behind_an_underflowing_gap(method):
    # P = [[1/2, 1/2], [0, 1]]: token 1 absorbs.  Reveal x_{L-1} first: q gives 0 with
    # probability 2^-(L-1) (zero in float64), the model (lambda = 1/2) with probability 1/4.
    # Given x_{L-1} = 0 every earlier token must be 0, so x_0 = 0 has model probability
    # (1 - lambda) * 1 + lambda / 2 = 3/4; the uniform fallback would give 1/2.
    language = NGramLanguage(np.array([[0.5, 0.5], [0.0, 1.0]]), np.array([0.5, 0.5]))
    spec = f"order:{LENGTH - 1};0;" + ",".join(map(str, range(1, LENGTH - 1)))
    out = sample_mdm(language, LENGTH, spec, 4000, rng=2, learning_error=0.5, method=method)
    tail_zero = out.samples[:, -1] == 0
    hits = int((out.samples[tail_zero, 0] == 0).sum())
    # About 1000 trials: the test detects a bias of 0.06 (4.5 standard errors) with level 1e-3.
    assert binomtest(hits, int(tail_zero.sum()), 0.75).pvalue > 1e-3
    assert binomtest(int(tail_zero.sum()), len(tail_zero), 0.25).pvalue > 1e-3
