"""SPEC §3 Monte Carlo metrics."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from ngramsim import sample_mdm, window_language
from ngramsim.metrics import summarize_samples, wilson_interval
from ngramsim.reports import sample_report


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_brackets_the_proportion(kn):
    k, n = kn
    low, high = wilson_interval(k, n)
    assert 0 <= low <= k / n <= high <= 1


def test_wilson_interval_matches_formula_and_covers():
    # Closed form at k = 0: upper bound z^2 / (n + z^2).
    z = 1.959963984540054
    assert wilson_interval(0, 50)[1] == pytest.approx(z * z / (50 + z * z), rel=1e-12)
    # Coverage of the 95% interval for p = 0.3, n = 40, computed exactly from the binomial law.
    n, p = 40, 0.3
    covered = sum(stats.binom.pmf(k, n, p) for k in range(n + 1) if wilson_interval(k, n)[0] <= p <= wilson_interval(k, n)[1])
    assert covered > 0.93
    with pytest.raises(ValueError, match="trials must be >= 1"):
        wilson_interval(0, 0)


def test_summary_of_valid_and_invalid_runs():
    language = window_language(4, 2)
    L = 20
    exact = summarize_samples(language, sample_mdm(language, L, "ar", 500, rng=0))
    # ar with the exact model reproduces q: every sample valid, -log q(x)/L = (log 4 + 19 log 2)/L exactly.
    assert exact["ser"] == 0 and exact["num_invalid"] == 0
    expected = (math.log(4) + (L - 1) * math.log(2)) / L
    assert exact["gen_log_ppl"] == pytest.approx(expected, abs=1e-12)
    assert exact["gen_log_ppl_valid"] == pytest.approx(expected, abs=1e-12)
    assert exact["nfe_mean"] == L and exact["fallback_fraction"] == 0
    assert exact["learning_kl_mean"] == 0 and exact["learning_kl_max"] == 0
    parallel = summarize_samples(language, sample_mdm(language, L, "uniform:2", 500, rng=0))
    assert parallel["ser"] > 0
    assert parallel["gen_log_ppl"] == math.inf and math.isnan(parallel["gen_log_ppl_stderr"])
    assert parallel["ser_interval"][0] <= parallel["ser"] <= parallel["ser_interval"][1]
    assert parallel["fallback_fraction"] == parallel["ser"]


def test_gen_log_ppl_standard_error_is_the_sample_standard_error():
    from ngramsim.strategies import build_language

    language = build_language(3, 2, 0.0, "stationary", seed=2)
    result = sample_mdm(language, 15, "linear:4", 400, rng=3)
    summary = summarize_samples(language, result)
    nll = -language.log_prob(result.samples) / 15
    assert summary["gen_log_ppl"] == pytest.approx(nll.mean(), rel=1e-12)
    assert summary["gen_log_ppl_stderr"] == pytest.approx(nll.std(ddof=1) / math.sqrt(400), rel=1e-12)


def test_report_has_provenance_and_ar_baseline():
    language = window_language(5, 2)
    report = sample_report(language, sample_mdm(language, 10, "cosine:3", 50, rng=7, learning_error=0.1))
    for key in ("version", "language_name", "language_sha256", "seed", "schedule", "ar_ser", "ar_nfe"):
        assert key in report
    assert report["seed"] == 7 and report["schedule"] == "cosine:3" and report["ar_nfe"] == 10
    assert report["ar_ser"] == pytest.approx(1 - (1 - 0.1 * 3 / 5) ** 9, abs=1e-12)


def test_summary_rejects_wrong_types():
    with pytest.raises(TypeError, match="result must be MDMSamples"):
        summarize_samples(window_language(3, 2), np.zeros((2, 3), dtype=int))
