"""Peer metrics (transition KL/TV along valid samples, unigram L1, distinct-k) against plain loops,
and as statistical tests: samples of the source pass, a wrong sampler is detected."""

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ngramsim import sample_mdm, window_language
from ngramsim.peer_metrics import peer_metrics
from ngramsim.strategies import build_language, languages


def reference_metrics(language, x, max_k):
    """The definitions of the module docstring, with dictionaries and loops."""
    V, m = language.vocab_size, language.context_length
    P = language.transitions
    trans = Counter()
    for row in x:
        if language.prob(row) > 0:
            for i in range(m, len(row)):
                c = 0
                for tok in row[i - m : i]:
                    c = c * V + int(tok)
                trans[(c, int(row[i]))] += 1
    total = sum(trans.values())
    from_c = Counter()
    for (c, _), n in trans.items():
        from_c[c] += n
    kl = sum(n * math.log((n / from_c[c]) / P[c, v]) for (c, v), n in trans.items()) / total if total else math.nan
    tv = (sum(0.5 * sum(abs(trans[(c, v)] / from_c[c] - P[c, v]) for v in range(V)) * n_c for c, n_c in from_c.items())
          / total if total else math.nan)
    L = x.shape[1]
    marg = np.zeros(V)
    for i in range(L):
        marg += language.token_marginals(L)[i] / L
    freq = Counter(int(t) for t in x.ravel())
    l1 = sum(abs(freq[v] / x.size - marg[v]) for v in range(V))
    distinct = {}
    for k in range(1, min(max_k, L) + 1):
        grams = [tuple(row[i : i + k]) for row in x.tolist() for i in range(L - k + 1)]
        distinct[k] = len(set(grams)) / len(grams)
    return kl, tv, l1, distinct


@st.composite
def cases(draw):
    language = draw(languages(vocab_sizes=(2, 4), orders=(1, 3), max_contexts=16))
    L = draw(st.integers(language.min_length, 8))
    M = draw(st.integers(1, 12))
    if draw(st.booleans()):
        x = language.sample(L, M, rng=draw(st.integers(0, 2**31)))
    else:  # arbitrary sequences: many invalid
        x = np.array(draw(st.lists(st.lists(st.integers(0, language.vocab_size - 1), min_size=L, max_size=L),
                                   min_size=M, max_size=M)), dtype=np.int64)
    return language, x, draw(st.integers(1, 5))


@settings(max_examples=60, deadline=None)
@given(cases())
def test_metrics_equal_their_definitions(case):
    language, x, max_k = case
    got = peer_metrics(language, x, max_k=max_k)
    kl, tv, l1, distinct = reference_metrics(language, x, max_k)
    if math.isnan(kl):
        assert math.isnan(got["transition_kl"]) and math.isnan(got["transition_tv"])
    else:
        assert abs(got["transition_kl"] - kl) < 1e-12 and abs(got["transition_tv"] - tv) < 1e-12
    assert abs(got["unigram_l1"] - l1) < 1e-12
    assert got["distinct"] == pytest.approx(distinct, abs=1e-15)
    assert got["num_valid"] == int(language.is_valid(x).sum())


def _g_test(language, x):
    """The G statistic 2 T KL of the transitions and its degrees of freedom (free cells of the rows seen)."""
    got = peer_metrics(language, x)
    V, m = language.vocab_size, language.context_length
    contexts = {int(np.dot(row[i - m : i], V ** np.arange(m - 1, -1, -1))) for row in x for i in range(m, x.shape[1])}
    df = sum(int((language.transitions[c] > 0).sum()) - 1 for c in contexts)
    return 2 * got["num_transitions"] * got["transition_kl"], df


def test_transition_kl_is_a_g_test_that_source_samples_pass_and_a_parallel_sampler_fails():
    # Under q, 2 T KL_hat is the likelihood-ratio (G) statistic of the transition counts, chi-square with df
    # degrees of freedom as T grows.  Level 1e-4.  With T ~ 1e5 transitions a KL rate above about
    # chi2.ppf(1 - 1e-4, df) / (2 T) ~ 2e-4 nats is detected: one-step parallel decoding (uniform:1, the
    # product of the marginals) is far above it.
    language = build_language(3, 2, 0.0, "stationary", seed=11)
    source = language.sample(50, 2000, rng=1)
    g, df = _g_test(language, source)
    assert g < stats.chi2.ppf(1 - 1e-4, df)
    parallel = sample_mdm(language, 50, "uniform:1", 2000, rng=1).samples
    g, df = _g_test(language, parallel)
    assert g > stats.chi2.ppf(1 - 1e-4, df)


def test_unigram_l1_of_source_samples_is_within_hoeffding_and_temperature_is_detected():
    # Per sequence, the frequency of v lies in [0, 1] and has mean f(v), so with probability 1 - 1e-6 every
    # |f_hat(v) - f(v)| <= sqrt(log(2 V / 1e-6) / (2 M)) (Hoeffding and a union bound).
    language = build_language(3, 2, 0.0, "stationary", seed=11)
    M, V = 2000, 3
    bound = V * math.sqrt(math.log(2 * V / 1e-6) / (2 * M))
    assert peer_metrics(language, language.sample(40, M, rng=2))["unigram_l1"] <= bound
    cold = sample_mdm(language, 40, "ar", M, rng=2, temperature=0.3).samples  # sharpened rows move the unigram law
    assert peer_metrics(language, cold)["unigram_l1"] > bound


def test_invalid_samples_are_left_out_of_the_transition_rates():
    language = window_language(4, 2)
    good = np.array([[0, 1, 2, 3, 0]])
    bad = np.array([[0, 3, 2, 1, 0]])  # 0 -> 3 is forbidden in W(4, 2)
    both = peer_metrics(language, np.vstack([good, bad]))
    alone = peer_metrics(language, good)
    assert both["num_valid"] == 1 and both["transition_kl"] == alone["transition_kl"]
    assert both["num_transitions"] == 4
    none = peer_metrics(language, bad)
    assert none["num_valid"] == 0 and math.isnan(none["transition_kl"]) and math.isnan(none["transition_tv"])


@pytest.mark.parametrize("samples, kwargs, error, message", [
    (np.array([0, 1, 2]), {}, ValueError, "2-d array"),
    (np.zeros((0, 4), dtype=int), {}, ValueError, "at least one row"),
    (np.zeros((2, 4)), {}, TypeError, "integer token ids"),
    (np.array([[0, 1, 4]]), {}, ValueError, r"token ids in 0\.\.3"),
    (np.array([[0, -1, 2]]), {}, ValueError, r"token ids in 0\.\.3"),
    (np.array([[0, 1]]), {"max_k": 0}, ValueError, "max_k must be >= 1"),
])
def test_bad_input(samples, kwargs, error, message):
    with pytest.raises(error, match=message):
        peer_metrics(window_language(4, 2), samples, **kwargs)
    with pytest.raises(TypeError):
        peer_metrics("W(4,2)", np.zeros((1, 3), dtype=int))
