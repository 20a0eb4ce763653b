"""The MDM sampler: its law against the brute-force exact law, path agreement, diagnostics, bad input."""

import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import ExactOracle, Schedule, sample_mdm, window_language
from ngramsim.metrics import wilson_interval
from ngramsim.strategies import build_language, languages, schedule_specs
from ngramsim.transfer import ser_autoregressive, ser_one_step
from tests import reference
from tests.stats import gof_pvalue

LANGUAGES = {
    "W(3,2)": (window_language(3, 2), 4),  # order 2, zeros: the local kernel
    "order3": (build_language(2, 3, 0.3, "dirichlet", seed=5), 5),  # forbidden, non-stationary mu: windows
    "order4": (build_language(2, 4, 0.3, "sparse", seed=8), 5),
    "order1": (build_language(3, 1, 0.3, "point", seed=2), 3),
}


def _square(t):
    return (1.0 - t) ** 2


def _schedules(L):
    return [
        "linear:3",
        "cosine:2",
        "poly:3:2.5",
        "callable",
        f"counts:1,{L - 2},1",
        "uniform:2",
        "grow:3",
        "stride:2",
        "order:0,3;1;2" if L == 4 else ("order:0,4;2;1,3" if L == 5 else "order:0,2;1"),
        "ar",
        "topk:2",
        "margin:2",
        "eb:0.6",
        "esum:0.9",
    ]


MODELS = [(0.0, 1.0), (0.15, 0.6), (0.1, 1.7)]
CASES = [
    (name, spec, lam, tau)
    for name in ("W(3,2)", "order3")
    for spec in _schedules(LANGUAGES[name][1])
    for lam, tau in MODELS[:2]
] + [
    (name, spec, *MODELS[2])
    for name in ("order4", "order1")
    for spec in _schedules(LANGUAGES[name][1])
]
NUM_SAMPLES = 120_000
# Family-wise level 1e-3 across all distributional cases (Bonferroni).
ALPHA = 1e-3 / len(CASES)


def _run(name, spec, lam, tau, num_samples=NUM_SAMPLES, seed=20261128):
    language, L = LANGUAGES[name]
    if spec == "callable":
        schedule, kwargs = Schedule.bernoulli(_square, 3), {"alpha": _square, "num_steps": 3}
    else:
        schedule, kwargs = spec, {}
    law, ser = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau, **kwargs)
    result = sample_mdm(language, L, schedule, num_samples, rng=seed, learning_error=lam, temperature=tau)
    return language, law, ser, result


@pytest.mark.parametrize("name, spec, lam, tau", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_sampler_law_equals_exact_law(name, spec, lam, tau):
    language, law, ser, result = _run(name, spec, lam, tau)
    assert abs(law.sum() - 1.0) < 1e-12
    assert gof_pvalue(result.samples, law, language.vocab_size) > ALPHA
    # The fallback flag marks exactly the invalid sequences (once q(x_R) = 0 it stays 0).
    np.testing.assert_array_equal(result.fallback, ~language.is_valid(result.samples))


@pytest.mark.parametrize("name, spec, lam, tau", CASES[::4], ids=[f"{c[0]}-{c[1]}" for c in CASES[::4]])
def test_goodness_of_fit_rejects_five_percent_contamination(name, spec, lam, tau):
    # The same test, sample size and level must reject 0.95 p + 0.05 uniform(V^L).
    language, law, _, result = _run(name, spec, lam, tau)
    samples = result.samples.copy()
    gen = np.random.default_rng(1)
    swap = gen.random(len(samples)) < 0.05
    samples[swap] = gen.integers(language.vocab_size, size=(int(swap.sum()), samples.shape[1]))
    uniform = np.full(len(law), 1.0 / len(law))
    assert 0.5 * np.abs(law - uniform).sum() > 0.2  # the contamination really changes the law
    assert gof_pvalue(samples, law, language.vocab_size) < ALPHA


@pytest.mark.parametrize("name", ["W(3,2)", "order3", "order4", "order1"])
def test_one_token_per_step_reproduces_q(name):
    language, L = LANGUAGES[name]
    _, q = reference.enumerate_q(language, L)
    for spec in ("ar", f"uniform:{L}"):
        result = sample_mdm(language, L, spec, NUM_SAMPLES, rng=3)
        assert gof_pvalue(result.samples, q, language.vocab_size) > ALPHA
        assert not result.fallback.any()


@pytest.mark.parametrize("name", ["W(3,2)", "order3", "order4"])
def test_one_step_gives_product_of_marginals(name):
    language, L = LANGUAGES[name]
    xs, _ = reference.enumerate_q(language, L)
    marg = reference.token_marginals(language, L)
    product = np.prod(marg[np.arange(L), xs], axis=1)
    result = sample_mdm(language, L, "uniform:1", NUM_SAMPLES, rng=4)
    assert gof_pvalue(result.samples, product, language.vocab_size) > ALPHA


# ------------------------------------------------------------------ agreement of the sampler paths
@st.composite
def sampler_cases(draw):
    language = draw(languages(vocab_sizes=(2, 4), orders=(1, 4), max_contexts=27))
    length = draw(st.integers(language.min_length, 9))
    spec = draw(schedule_specs(length))
    lam = draw(st.sampled_from([0.0, 0.1]))
    tau = draw(st.sampled_from([1.0, 0.7, 1.5]))
    return language, length, spec, lam, tau, draw(st.integers(0, 2**31))


def _same(a, b):
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.nfe, b.nfe)
    np.testing.assert_array_equal(a.revealed_per_step, b.revealed_per_step)
    np.testing.assert_array_equal(a.fallback, b.fallback)
    np.testing.assert_allclose(a.learning_kl_sum, b.learning_kl_sum, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(a.learning_kl_count, b.learning_kl_count)


@given(sampler_cases())
def test_all_sampler_paths_draw_the_same_sequences(case):
    # Every path consumes the same per-sequence streams, so with the exact model they must agree
    # sequence by sequence: windows (local forward-backward), naive (full pass every step), the
    # order-2 local kernel, and the Python oracle loop.
    language, length, spec, lam, tau, seed = case
    kwargs = {"rng": seed, "learning_error": lam, "temperature": tau}
    windows = sample_mdm(language, length, spec, 30, method="windows", **kwargs)
    _same(windows, sample_mdm(language, length, spec, 30, method="naive", **kwargs))
    if language.order <= 2:
        _same(windows, sample_mdm(language, length, spec, 30, method="local", **kwargs))
    _same(sample_mdm(language, length, spec, 4, **kwargs), sample_mdm(language, length, spec, 4, oracle=ExactOracle(language), **kwargs))
    # Diagnostics are consistent with the schedule.
    assert np.all(windows.revealed_per_step.sum(axis=1) == length)
    np.testing.assert_array_equal(windows.fallback, ~language.is_valid(windows.samples))


def test_local_kernel_on_long_sequences_matches_windows():
    # Distances up to L exercise the rescaled power tables (no underflow over 3000 steps).
    language = build_language(4, 2, 0.5, "dirichlet", seed=12)
    for spec in ("linear:7", "uniform:300", "topk:40", "eb:1.0"):
        a = sample_mdm(language, 3000, spec, 3, rng=9, method="local", learning_error=0.001)
        b = sample_mdm(language, 3000, spec, 3, rng=9, method="windows", learning_error=0.001)
        _same(a, b)


# ------------------------------------------------------------------ diagnostics and reproducibility
@pytest.mark.parametrize(
    "language, spec",
    [
        (build_language(3, 3, 0.3, "dirichlet", seed=1), "cosine:6"),  # windows kernel
        (build_language(4, 2, 0.3, "dirichlet", seed=1), "uniform:9"),  # local order-2 kernel
        (build_language(3, 2, 0.3, "dirichlet", seed=1), "topk:7"),  # adaptive
    ],
    ids=["windows", "local", "adaptive"],
)
def test_same_seed_same_samples_whatever_the_threads(language, spec):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sample_mdm(language, 40, spec, 200, rng=5, learning_error=0.05)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = sample_mdm(language, 40, spec, 200, rng=5, learning_error=0.05)
    finally:
        numba.set_num_threads(before)
    _same(one, many)
    # Sequence s depends only on its own stream: a shorter run gives the first sequences.
    assert np.array_equal(many.samples[:50], sample_mdm(language, 40, spec, 50, rng=5, learning_error=0.05).samples)
    assert not np.array_equal(many.samples, sample_mdm(language, 40, spec, 200, rng=6, learning_error=0.05).samples)


def test_bernoulli_step_sizes_follow_the_weights():
    # Each position lands in step t with probability w_t = alpha(u_t) - alpha(u_{t-1}); here linear: 1/N.
    N, L, M = 5, 200, 400
    result = sample_mdm(window_language(4, 2), L, f"linear:{N}", M, rng=2)
    counts = result.revealed_per_step
    assert counts.shape == (M, N) and np.all(counts.sum(axis=1) == L) and np.all(result.nfe == N)
    se = math.sqrt(L * (1 / N) * (1 - 1 / N) / M)
    assert np.all(np.abs(counts.mean(axis=0) - L / N) < 5 * se)


def test_empty_bernoulli_steps_count_as_steps():
    result = sample_mdm(window_language(4, 2), 3, "linear:40", 50, rng=0)
    assert np.all(result.nfe == 40)
    assert np.any(result.revealed_per_step == 0)


def test_adaptive_step_counts():
    language = build_language(3, 2, 0.0, "dirichlet", seed=3)
    topk = sample_mdm(language, 30, "topk:7", 20, rng=0)
    assert np.all(topk.nfe == 7)
    np.testing.assert_array_equal(topk.revealed_per_step[0], [5, 5, 4, 4, 4, 4, 4])
    eb0 = sample_mdm(language, 30, "eb:0", 5, rng=0)  # gamma = 0: one token per step (k >= 1)
    assert np.all(eb0.nfe == 30)
    esum_big = sample_mdm(language, 30, "esum:1000", 5, rng=0)  # total entropy below gamma: one step
    assert np.all(esum_big.nfe == 1)


def test_learning_kl_along_ar_equals_direct_computation():
    # For ar on a valid sample, token i is drawn from p_theta(.|c_i) built from P(.|c_i).
    language = build_language(3, 2, 0.3, "stationary", seed=4)
    lam, tau = 0.2, 0.6
    result = sample_mdm(language, 12, "ar", 200, rng=1, learning_error=lam, temperature=tau)
    from ngramsim.transfer import theta

    def kl(r, p):
        s = r > 0
        return float(np.sum(r[s] * np.log(r[s] / p[s])))

    mu_kl = kl(language.initial, theta(language.initial, lam, tau))
    row_kl = [kl(r, theta(r, lam, tau)) for r in language.transitions]
    for s in np.flatnonzero(~result.fallback)[:50]:
        x = result.samples[s]
        expected = mu_kl + sum(row_kl[x[i - 1]] for i in range(1, 12))
        assert abs(result.learning_kl_sum[s] - expected) < 1e-9
        assert result.learning_kl_count[s] == 12
    assert result.learning_kl_max.max() <= max(row_kl + [mu_kl]) + 1e-12


@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_monte_carlo_ser_within_interval_of_transfer_matrix(lam):
    # 99.9% Wilson intervals around Monte Carlo SER must contain the exact transfer-matrix value.
    language = build_language(4, 3, 0.4, "dirichlet", seed=6)
    L, M = 30, 20_000
    for spec, exact in (
        ("uniform:1", ser_one_step(language, L, learning_error=lam, temperature=0.8)),
        ("ar", ser_autoregressive(language, L, learning_error=lam, temperature=0.8)),
    ):
        result = sample_mdm(language, L, spec, M, rng=11, learning_error=lam, temperature=0.8)
        invalid = int((~language.is_valid(result.samples)).sum())
        low, high = wilson_interval(invalid, M, z=3.2905)
        assert low <= exact <= high, (spec, invalid / M, exact)


# ------------------------------------------------------------------ bad input
LANG = window_language(4, 2)


def _bad_oracle_shape(tokens, revealed):
    return np.ones((len(tokens), 3)) / 3


def _bad_oracle_sum(tokens, revealed):
    return np.full((len(tokens), 4), 0.3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"schedule": "zigzag:3"}, ValueError, "unknown schedule 'zigzag:3'; expected one of"),
        ({"schedule": "linear:0"}, ValueError, "N must be >= 1"),
        ({"schedule": "linear:x"}, ValueError, "N must be an integer"),
        ({"schedule": "uniform:9"}, ValueError, r"uniform:N needs N <= length=8"),
        ({"schedule": "topk:9"}, ValueError, "needs N <= length=8"),
        ({"schedule": "counts:4,3"}, ValueError, "counts must sum to length=8, got 7"),
        ({"schedule": "counts:4,0,4"}, ValueError, "each count must be >= 1"),
        ({"schedule": "order:0,1,2,3;4,5,6"}, ValueError, "position 7 is never revealed"),
        ({"schedule": "order:0,1,2,3;4,5,6,7,1"}, ValueError, "position 1 appears twice"),
        ({"schedule": "order:0,1,2,3;4,5,6,8"}, ValueError, "position 8 is out of range"),
        ({"schedule": "order:0,1;;2"}, ValueError, "positions must be integers"),
        ({"schedule": "eb:-1"}, ValueError, "gamma must be finite and >= 0"),
        ({"schedule": "esum:nan"}, ValueError, "gamma must be finite and >= 0"),
        ({"schedule": "poly:3:0"}, ValueError, "exponent p must be finite and > 0"),
        ({"schedule": 3}, TypeError, "schedule must be a string"),
        ({"learning_error": 1.0}, ValueError, r"learning_error must lie in \[0.0, 1.0\)"),
        ({"learning_error": -0.1}, ValueError, "learning_error must lie in"),
        ({"temperature": 0.0}, ValueError, r"temperature must lie in \(0.0, inf\)"),
        ({"temperature": float("inf")}, ValueError, "temperature must be finite"),
        ({"num_samples": 0}, ValueError, "num_samples must be >= 1"),
        ({"length": 0}, ValueError, "length must be >= 1"),
        ({"length": 2.5}, TypeError, "length must be an integer"),
        ({"rng": None}, TypeError, "rng must be given explicitly"),
        ({"method": "fast"}, ValueError, "method must be one of"),
        ({"oracle": 5}, TypeError, "oracle must be callable"),
        ({"oracle": _bad_oracle_shape}, ValueError, r"oracle must return an array of shape \(8, 4\)"),
        ({"oracle": _bad_oracle_sum}, ValueError, "oracle row for position .* sums to 1.2"),
    ],
)
def test_sampler_rejects_bad_input(kwargs, error, match):
    args = {"language": LANG, "length": 8, "schedule": "linear:4", "num_samples": 3, "rng": 0, **kwargs}
    with pytest.raises(error, match=match):
        sample_mdm(**args)


def _not_monotone(t):
    # Rises from 0.5 to 0.7 between t = 0.5 and t = 0.625 (both on the grid of N = 8).
    return 1.0 if t < 0.3 else 0.5 if t < 0.6 else 0.7 if t < 0.9 else 0.0


@pytest.mark.parametrize(
    "alpha, match",
    [
        (lambda t: 1.0 - t * (1 - 1e-6), r"alpha\(1\) must be 0"),
        (lambda t: 0.9 * (1.0 - t), r"alpha\(0\) must be 1"),
        (_not_monotone, "alpha must be non-increasing"),
        (lambda t: float("nan"), r"alpha must map \[0, 1\] into \[0, 1\]"),
        (lambda t: "x", "alpha must return a real number"),
    ],
)
def test_bad_alpha_is_rejected(alpha, match):
    with pytest.raises(ValueError, match=match):
        Schedule.bernoulli(alpha, 8)


def test_method_local_requires_order_two():
    with pytest.raises(ValueError, match="method='local' needs order <= 2"):
        sample_mdm(build_language(2, 3, 0.0, "dirichlet", seed=0), 6, "ar", 2, rng=0, method="local")
