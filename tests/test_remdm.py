"""ReMDM-style remasking (``remdm:N:eta``): exact engine and sampler against brute force, the
``eta = 0`` identity with ``uniform:N``, and bad input."""

import functools
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngramsim import ExactOracle, estimate_b1, exact_law, parse_schedule, sample_mdm, window_language
from ngramsim.cli import main
from ngramsim.strategies import build_language, languages
from tests import reference
from tests.stats import gof_pvalue

LANGUAGES = {
    "W(3,2)": (window_language(3, 2), 4),
    "order3": (build_language(2, 3, 0.3, "dirichlet", seed=5), 4),  # forbidden transitions, non-stationary mu
    "order1": (build_language(3, 1, 0.3, "point", seed=2), 4),
}
MODELS = [(0.0, 1.0), (0.15, 0.6)]
SPECS = ["remdm:2:0.5", "remdm:3:1", "remdm:4:0.3"]
EXACT_CASES = [(name, spec, lam, tau) for name in LANGUAGES for spec in SPECS for lam, tau in MODELS]
SAMPLER_CASES = [(name, spec, 0.0, 1.0) for name in LANGUAGES for spec in SPECS] + [
    ("W(3,2)", "remdm:3:1", 0.15, 0.6)]
NUM_SAMPLES = 20_000
ALPHA = 1e-3 / len(SAMPLER_CASES)  # family-wise level 1e-3 (Bonferroni)


@functools.lru_cache(maxsize=None)
def brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    return reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)


@pytest.mark.parametrize("name, spec, lam, tau", EXACT_CASES)
def test_exact_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, ser = brute_force(name, spec, lam, tau)
    result = exact_law(language, L, spec, learning_error=lam, temperature=tau)
    np.testing.assert_allclose(result.distribution, law, rtol=0, atol=1e-12)
    assert abs(result.ser - ser) < 1e-12
    assert np.all(np.isnan(result.steps_tc))  # B1 does not apply: tokens are drawn again


@pytest.mark.parametrize("name", LANGUAGES)
def test_no_remasking_is_uniform_steps(name):
    # eta = 0: sigma_t = 0 at every step, so remdm:N:0 reveals s_t fresh positions per step: uniform:N.
    language, L = LANGUAGES[name]
    for N in (2, L):
        np.testing.assert_allclose(exact_law(language, L, f"remdm:{N}:0").distribution,
                                   exact_law(language, L, f"uniform:{N}").distribution, rtol=0, atol=1e-12)


def test_remasking_changes_the_law():
    language, L = LANGUAGES["W(3,2)"]
    remask = exact_law(language, L, "remdm:3:1").distribution
    plain = exact_law(language, L, "uniform:3").distribution
    assert 0.5 * np.abs(remask - plain).sum() > 0.01


@pytest.mark.parametrize("name, spec, lam, tau", SAMPLER_CASES)
def test_sampler_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, _ = brute_force(name, spec, lam, tau)
    result = sample_mdm(language, L, spec, NUM_SAMPLES, rng=20261129, learning_error=lam, temperature=tau)
    assert gof_pvalue(result.samples, law, language.vocab_size) > ALPHA
    np.testing.assert_array_equal(result.fallback, ~language.is_valid(result.samples))
    assert result.kernel == "remdm" and np.all(result.nfe == int(spec.split(":")[1]))
    # Each step draws its s_t new positions plus the remasked ones: at least L in all.
    assert np.all(result.step_sizes.sum(axis=1) >= L)


def test_sigma_schedule():
    # uniform:4's sizes on L = 8 are 2, 2, 2, 2: r = 2, 4, 6, 8; sigma_t = min(eta, (L - r_t) / r_(t-1)).
    resolved = parse_schedule("remdm:4:0.9").resolve(8)
    np.testing.assert_allclose(resolved.remask, [0.0, min(0.9, 4 / 2), min(0.9, 2 / 4), 0.0], rtol=0, atol=0)
    assert resolved.sizes.tolist() == [2, 2, 2, 2]
    assert parse_schedule("remdm:4:0.50").spec == "remdm:4:0.5"


def test_same_seed_same_samples_and_bad_input():
    language, L = LANGUAGES["W(3,2)"]
    a = sample_mdm(language, 12, "remdm:6:0.5", 40, rng=7)
    np.testing.assert_array_equal(a.samples, sample_mdm(language, 12, "remdm:6:0.5", 40, rng=7).samples)
    for spec, message in [("remdm:4:1.5", r"eta must lie in \[0, 1\]"), ("remdm:4:-0.1", r"eta must lie in \[0, 1\]"),
                          ("remdm:4:x", "needs a real eta"), ("remdm:4", "needs a real eta"),
                          ("remdm:0:0.5", "N must be >= 1"), ("remdm:5:0.5", "needs N <= length=4")]:
        with pytest.raises(ValueError, match=message):
            sample_mdm(language, L, spec, 1, rng=0)
    with pytest.raises(ValueError, match="B1 does not apply to remdm"):
        estimate_b1(language, L, "remdm:2:0.5", 10, rng=0)


def test_cli_exact_and_sample_accept_remdm(tmp_path, capsys):
    path = tmp_path / "w.json"
    assert main(["language", "window", "--vocab-size", "3", "--window", "2", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["exact", "--language", str(path), "--length", "4", "--schedule", "remdm:3:1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    _, ser = reference.exact_mdm_law(window_language(3, 2), 4, "remdm:3:1")
    assert report["schedule"] == "remdm:3:1" and abs(report["ser"] - ser) < 1e-12
    assert main(["sample", "--language", str(path), "--length", "8", "--schedule", "remdm:4:0.5", "--num-samples",
                 "20", "--seed", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kernel"] == "remdm"
    assert main(["sample", "--language", str(path), "--length", "4", "--schedule", "remdm:2:7", "--num-samples", "2",
                 "--seed", "0"]) == 2


@settings(max_examples=25, deadline=None)
@given(languages(vocab_sizes=(2, 5), orders=(1, 3), max_contexts=25), st.integers(2, 9), st.data())
def test_kernel_and_python_loop_draw_the_same_sequences(language, length, data):
    # The numba kernels of lowconf (also in blocks) and remdm against the Python loops that serve user
    # oracles: same streams, same arithmetic, so with the exact model the samples agree one by one.
    length = max(length, language.min_length)
    N = data.draw(st.integers(1, length))
    spec = data.draw(st.sampled_from([f"lowconf:{N}", f"remdm:{N}:{data.draw(st.sampled_from([0.0, 0.3, 1.0]))}",
                                      f"blocks:{data.draw(st.integers(-(-length // N), length))}:lowconf:{N}"]))
    lam, tau = data.draw(st.sampled_from(MODELS + [(0.0, 0.7)]))
    kwargs = {"rng": data.draw(st.integers(0, 2**31)), "learning_error": lam, "temperature": tau}
    kernel = sample_mdm(language, length, spec, 12, **kwargs)
    loop = sample_mdm(language, length, spec, 12, oracle=ExactOracle(language), **kwargs)
    assert kernel.kernel in ("lowconf", "remdm") and loop.kernel == "oracle"
    np.testing.assert_array_equal(kernel.samples, loop.samples)
    np.testing.assert_array_equal(kernel.fallback, loop.fallback)
    np.testing.assert_array_equal(kernel.step_sizes, loop.step_sizes)
    np.testing.assert_array_equal(kernel.learning_kl_count, loop.learning_kl_count)
    np.testing.assert_allclose(kernel.learning_kl_sum, loop.learning_kl_sum, rtol=1e-9, atol=1e-12)


def test_remasking_coins_are_bernoulli_and_the_redrawn_set_is_uniform():
    # One remdm step on L = 6 with positions 0..3 revealed and sigma = 0.4, to reach 5 revealed: each
    # revealed position is remasked independently with probability sigma, and given what was remasked
    # the drawn set is a uniformly random (5 - |R|)-subset of the masked positions.  Joint chi-square
    # over (remasked set, drawn set) at level 1e-4 with 40000 keys; a rule that favours the remasked
    # positions (e.g. one uniform used as both coin and ranking key: 0.95 instead of 2/3 for a
    # remasked position among three, two drawn) is far beyond it.
    from itertools import combinations

    from scipy import stats as sps

    from ngramsim._kernels.remasking import remdm_choice

    L, sigma, target, revealed = 6, 0.4, 5, (0, 1, 2, 3)
    counts = {}
    keys = np.random.default_rng(20261129).integers(0, 2**64, size=40_000, dtype=np.uint64)
    for key in keys:
        x = np.array([0, 1, 2, 0, -1, -1], dtype=np.int64)
        chosen = remdm_choice(key, 3, sigma, target, x)
        remasked = tuple(i for i in revealed if x[i] < 0)
        counts[(remasked, tuple(chosen))] = counts.get((remasked, tuple(chosen)), 0) + 1
    observed, expected = [], []
    for r in range(len(revealed) + 1):
        for remasked in combinations(revealed, r):
            masked = sorted(set(remasked) | {4, 5})
            subsets = list(combinations(masked, target - (L - len(masked))))
            for chosen in subsets:
                p = sigma**r * (1 - sigma) ** (len(revealed) - r) / len(subsets)
                observed.append(counts.pop((remasked, chosen), 0))
                expected.append(p * len(keys))
    assert not counts  # nothing outside the cells
    assert sps.chisquare(observed, expected).pvalue > 1e-4
