"""Semi-autoregressive blocks (``blocks:B:<inner>:N``) and ``random:N``: exact engine and sampler
against brute force, the B1 identity inside blocks, and bad input."""

import json

import numpy as np
import pytest

from ngramsim import estimate_b1, exact_law, parse_schedule, sample_mdm, window_language
from ngramsim.cli import main
from ngramsim.strategies import build_language
from tests import reference
from tests.stats import gof_pvalue

LANGUAGES = {
    "W(3,2)": (window_language(3, 2), 5),
    "order3": (build_language(2, 3, 0.3, "dirichlet", seed=5), 5),  # forbidden transitions, non-stationary mu
    "order1": (build_language(3, 1, 0.3, "point", seed=2), 5),
}
MODELS = [(0.0, 1.0), (0.15, 0.6)]
SPECS = ["blocks:2:uniform:3", "blocks:2:random:4", "blocks:3:lowconf:2", "blocks:2:lowconf:4", "blocks:1:uniform:5"]
EXACT_CASES = [(name, spec, lam, tau) for name in LANGUAGES for spec in SPECS for lam, tau in MODELS]
SAMPLER_CASES = [(name, spec, 0.0, 1.0) for name in LANGUAGES for spec in SPECS[:4]] + [
    ("W(3,2)", "blocks:2:lowconf:4", 0.15, 0.6), ("order3", "blocks:2:uniform:3", 0.15, 0.6)]
NUM_SAMPLES = 20_000
# Family-wise level 1e-3 over the distributional cases (Bonferroni).
ALPHA = 1e-3 / len(SAMPLER_CASES)



@pytest.mark.parametrize("name, spec, lam, tau", EXACT_CASES)
def test_exact_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, ser = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)
    result = exact_law(language, L, spec, learning_error=lam, temperature=tau)
    np.testing.assert_allclose(result.distribution, law, rtol=0, atol=1e-12)
    assert abs(result.ser - ser) < 1e-12
    if "lowconf" in spec:
        assert np.all(np.isnan(result.steps_tc))
    elif lam == 0.0 and tau == 1.0:
        # B1 with positions random inside each block: KL(q || p) = sum_t E TC(X_{S_t} | X_{R_t}).
        assert abs(result.kl - result.steps_tc.sum()) < 1e-9


@pytest.mark.parametrize("name, spec, lam, tau", SAMPLER_CASES)
def test_sampler_law_equals_brute_force(name, spec, lam, tau):
    language, L = LANGUAGES[name]
    law, _ = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)
    result = sample_mdm(language, L, spec, NUM_SAMPLES, rng=20261129, learning_error=lam, temperature=tau)
    assert gof_pvalue(result.samples, law, language.vocab_size) > ALPHA
    np.testing.assert_array_equal(result.fallback, ~language.is_valid(result.samples))
    assert np.all(result.nfe == int(spec.split(":")[3]))
    assert np.all(result.step_sizes.sum(axis=1) == L)


def test_blocks_differ_from_plain_decoders_and_the_test_tells_them_apart():
    # Blocks force left-to-right structure: on W(3, 2) with one step per block of 1 the sampler is
    # autoregressive (SER 0), while uniform:5 fails often; the sampler test rejects the wrong law.
    language, L = LANGUAGES["W(3,2)"]
    assert exact_law(language, L, "blocks:1:uniform:5").ser == 0.0
    blocks, _ = reference.exact_mdm_law(language, L, "blocks:2:uniform:3")
    plain, _ = reference.exact_mdm_law(language, L, "uniform:3")
    assert 0.5 * np.abs(blocks - plain).sum() > 0.05
    result = sample_mdm(language, L, "blocks:2:uniform:3", NUM_SAMPLES, rng=3)
    assert gof_pvalue(result.samples, plain, language.vocab_size) < ALPHA


def test_random_spelling_is_random_remasking():
    # random:N draws every masked position and keeps a uniformly random s_t-subset (brute force);
    # the package runs it as uniform:N, whose law it has.
    language, L = LANGUAGES["order3"]
    remasking, _ = reference.exact_mdm_law(language, L, "random:2")
    np.testing.assert_allclose(exact_law(language, L, "random:2").distribution, remasking, rtol=0, atol=1e-12)
    a = sample_mdm(language, 12, "random:4", 30, rng=5).samples
    np.testing.assert_array_equal(a, sample_mdm(language, 12, "uniform:4", 30, rng=5).samples)


def test_empty_steps_inside_blocks_are_sampled_and_counted():
    # More steps than positions in a block: empty steps cost an NFE and reveal nothing (law vs brute force
    # is in test_exact_law_equals_brute_force through the hypothesis strategies; here the records).
    language = window_language(3, 2)
    for spec in ("blocks:4:lowconf:5", "blocks:4:uniform:5"):
        out = sample_mdm(language, 5, spec, 50, rng=1)
        assert np.all(out.nfe == 5) and np.all(out.step_sizes.sum(axis=1) == 5)
        assert np.all(language.is_valid(out.samples) == ~out.fallback)
        law, _ = reference.exact_mdm_law(language, 5, spec)
        np.testing.assert_allclose(exact_law(language, 5, spec).distribution, law, rtol=0, atol=1e-12)


def test_resolved_steps_stay_in_their_blocks():
    resolved = parse_schedule("blocks:4:uniform:5").resolve(10)  # blocks [0,4) [4,8) [8,10); steps 2, 2, 1
    assert resolved.sizes.tolist() == [2, 2, 2, 2, 2]
    assert resolved.bounds.tolist() == [[0, 4], [0, 4], [4, 8], [4, 8], [8, 10]]
    more = parse_schedule("blocks:4:lowconf:5").resolve(5)  # blocks [0,4) [4,5) with 3 and 2 steps
    assert more.sizes.tolist() == [2, 1, 1, 1, 0]  # the last step of the short block is empty
    assert more.bounds.tolist() == [[0, 4]] * 3 + [[4, 5]] * 2
    assert parse_schedule(" blocks:2:random:4 ").spec == "blocks:2:random:4"


@pytest.mark.parametrize("spec, length, message", [
    ("blocks:0:uniform:4", 8, "the block length B must be >= 1"),
    ("blocks:9:uniform:4", 8, "B must be <= length=8"),
    ("blocks:2:uniform:3", 8, "N must be >= ceil"),
    ("blocks:2:topk:4", 8, "inner decoder uniform:N, random:N or lowconf:N"),
    ("blocks:2:uniform", 8, "inner decoder"),
    ("blocks:x:uniform:4", 8, "must be an integer"),
    ("blocks:2:lowconf:0", 8, "N must be >= 1"),
    ("blocks:2:lowconf:9", 8, "needs N <= length=8"),
    ("blocks:1:uniform:9", 8, "needs N <= length=8"),
])
def test_bad_blocks_are_refused(spec, length, message):
    with pytest.raises(ValueError, match=message):
        sample_mdm(window_language(3, 2), length, spec, 1, rng=0)


def test_cli_accepts_blocks_and_refuses_bad_ones(tmp_path, capsys):
    path = tmp_path / "w.json"
    assert main(["language", "window", "--vocab-size", "3", "--window", "2", "--out", str(path)]) == 0
    capsys.readouterr()
    assert main(["exact", "--language", str(path), "--length", "4", "--schedule", "blocks:2:lowconf:2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    _, ser = reference.exact_mdm_law(window_language(3, 2), 4, "blocks:2:lowconf:2")
    assert report["schedule"] == "blocks:2:lowconf:2" and abs(report["ser"] - ser) < 1e-12
    assert main(["sample", "--language", str(path), "--length", "16", "--schedule", "blocks:4:uniform:8",
                 "--num-samples", "20", "--seed", "0", "--json"]) == 0
    capsys.readouterr()
    for bad in ("blocks:32:uniform:8", "blocks:4:uniform:3", "blocks:0:lowconf:8"):
        assert main(["sample", "--language", str(path), "--length", "16", "--schedule", bad, "--num-samples", "2",
                     "--seed", "0"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad in err


def test_b1_monte_carlo_inside_blocks_matches_the_exact_terms():
    # estimate_b1 draws the positions with the same block-restricted permutation as the sampler; its
    # step terms are unbiased for the exact engine's (5 standard errors; a bias of ~5e-3 nats is detectable).
    language, L = LANGUAGES["order3"]
    exact = exact_law(language, L, "blocks:2:uniform:3")
    mc = estimate_b1(language, L, "blocks:2:uniform:3", 4000, rng=11)
    assert np.all(np.abs(mc["tc"] - exact.steps_tc) <= 5 * mc["tc_stderr"] + 1e-12)
    assert np.any(exact.steps_tc > 0)
