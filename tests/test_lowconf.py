"""LLaDA's low-confidence remasking (``lowconf:N``): exact engine and sampler against brute force."""

import json

import numpy as np
import pytest

from ngramsim import estimate_b1, exact_law, sample_mdm, window_language
from ngramsim.cli import main
from ngramsim.strategies import build_language
from tests import reference
from tests.stats import gof_pvalue

LANGUAGES = {
    "W(3,2)": (window_language(3, 2), 4),
    "order3": (build_language(2, 3, 0.3, "dirichlet", seed=5), 5),  # forbidden transitions, non-stationary mu
    "order1": (build_language(3, 1, 0.3, "point", seed=2), 3),
}
MODELS = [(0.0, 1.0), (0.15, 0.6)]
CASES = [(name, spec, lam, tau) for name in LANGUAGES for spec in ("lowconf:1", "lowconf:2") for lam, tau in MODELS]
NUM_SAMPLES = 20_000
# Family-wise level 1e-3 over the distributional cases (Bonferroni).
ALPHA = 1e-3 / len(CASES)


@pytest.mark.parametrize("name, spec, lam, tau", CASES + [("W(3,2)", "lowconf:4", 0.15, 0.6)])
def test_exact_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, ser = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)
    result = exact_law(language, L, spec, learning_error=lam, temperature=tau)
    np.testing.assert_allclose(result.distribution, law, rtol=0, atol=1e-12)
    assert abs(result.ser - ser) < 1e-12
    assert np.all(np.isnan(result.steps_tc))  # B1 does not apply: kept tokens are chosen after the draw


@pytest.mark.parametrize("name, spec, lam, tau", CASES)
def test_sampler_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, _ = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)
    result = sample_mdm(language, L, spec, NUM_SAMPLES, rng=20261129, learning_error=lam, temperature=tau)
    assert gof_pvalue(result.samples, law, language.vocab_size) > ALPHA
    np.testing.assert_array_equal(result.fallback, ~language.is_valid(result.samples))
    assert result.kernel == "lowconf" and np.all(result.nfe == int(spec.split(":")[1]))
    assert np.all(result.step_sizes.sum(axis=1) == L)


def test_lowconf_is_not_topk_and_the_test_tells_them_apart():
    # topk ranks positions by their largest probability, lowconf by the probability of the token
    # actually drawn; on this language their laws differ, and the sampler test rejects the wrong one.
    language, L = LANGUAGES["order3"]
    lowconf, _ = reference.exact_mdm_law(language, L, "lowconf:2")
    topk, _ = reference.exact_mdm_law(language, L, "topk:2")
    assert 0.5 * np.abs(lowconf - topk).sum() > 0.05
    result = sample_mdm(language, L, "lowconf:2", NUM_SAMPLES, rng=1)
    assert gof_pvalue(result.samples, topk, language.vocab_size) < ALPHA


def test_same_seed_same_samples_and_bad_input():
    language, L = LANGUAGES["W(3,2)"]
    a = sample_mdm(language, L, "lowconf:2", 50, rng=7)
    b = sample_mdm(language, L, "lowconf:2", 50, rng=7)
    np.testing.assert_array_equal(a.samples, b.samples)
    with pytest.raises(ValueError, match="needs N <= length=4"):
        sample_mdm(language, L, "lowconf:5", 1, rng=0)
    with pytest.raises(ValueError, match="B1 does not apply to lowconf"):
        estimate_b1(language, L, "lowconf:2", 10, rng=0)


def test_cli_exact_and_sample_accept_lowconf(tmp_path, capsys):
    path = tmp_path / "w.json"
    assert main(["language", "window", "--vocab-size", "3", "--window", "2", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["exact", "--language", str(path), "--length", "4", "--schedule", "lowconf:2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    law, ser = reference.exact_mdm_law(window_language(3, 2), 4, "lowconf:2")
    assert report["schedule"] == "lowconf:2" and abs(report["ser"] - ser) < 1e-12
    assert main(["sample", "--language", str(path), "--length", "8", "--schedule", "lowconf:4", "--num-samples", "20",
                 "--seed", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kernel"] == "lowconf"
    assert main(["sample", "--language", str(path), "--length", "4", "--schedule", "lowconf:9", "--num-samples", "2",
                 "--seed", "0"]) == 2


@pytest.mark.parametrize("name, lam, tau", [(name, *model) for name in LANGUAGES for model in MODELS])
def test_random_remasking_has_the_law_of_uniform_steps(name, lam, tau):
    # LLaDA's random remasking draws every masked position and keeps a uniformly random s_t-subset.
    # Given x_R the draws are independent of each other and of the subset, so the kept tokens are
    # draws from q(.|x_R) at a uniformly random subset: exactly uniform:N (no new schedule needed).
    language, L = LANGUAGES[name]
    for N in (1, 2):  # (N = L is as well defined, but its brute force is slow)
        remasking, _ = reference.exact_mdm_law(language, L, f"random:{N}", learning_error=lam, temperature=tau)
        uniform = exact_law(language, L, f"uniform:{N}", learning_error=lam, temperature=tau).distribution
        np.testing.assert_allclose(uniform, remasking, rtol=0, atol=1e-12)
