"""Adaptive rules: the incremental selection, the truncated order-2 keys, and the law they give."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import NGramLanguage, cycle_language, dirichlet_language, sample_mdm
from ngramsim._kernels.adaptive import KEY_TOLERANCE, TIE, select, truncation_eta
from ngramsim._kernels.steps import EB, ESUM, MARGIN, TOPK
from ngramsim._kernels.selection import bits_add, bits_new, bits_pred, bits_succ, choose, tree_fill, tree_new, work_new
from ngramsim.sampler import _adaptive_debug, truncation_distances
from ngramsim.schedules import parse_schedule
from ngramsim.strategies import languages, random_rows
from tests import reference
from tests.stats import gof_pvalue

RULES = {"topk": TOPK, "margin": MARGIN, "eb": EB, "esum": ESUM}


def mixing_language(vocab_size, e, seed, forbidden=0.0):
    """``P = (1 - e) 1 pi^T + e Q``: the chain forgets its state by a factor ``e`` per step (fast mixing)."""
    gen = np.random.default_rng(seed)
    pi = random_rows(gen, (vocab_size,), forbidden)
    Q = random_rows(gen, (vocab_size, vocab_size), 0.5)
    P = (1 - e) * np.outer(np.ones(vocab_size), pi) + e * Q
    return NGramLanguage(P, random_rows(gen, (vocab_size,), 0.0), name=f"mixing(V={vocab_size},e={e},seed={seed})")


def sticky_language(vocab_size, stay):
    """``P = stay I + (1 - stay) / V``: mixes so slowly that nothing is truncated at the lengths used here."""
    P = stay * np.eye(vocab_size) + (1 - stay) / vocab_size
    return NGramLanguage(P, np.full(vocab_size, 1.0 / vocab_size), name=f"sticky(V={vocab_size},stay={stay})")


def _kind(spec):
    return parse_schedule(spec).kind


# ------------------------------------------------------------------ the incremental selection equals select()
@numba.njit
def _choose_on(keys, rule, size, gamma, key, step):
    tree = tree_new(keys.shape[0])
    tree[0][:] = keys
    tree_fill(tree, 0, keys.shape[0] - 1)
    out = np.empty(keys.shape[0], dtype=np.int64)
    k = choose(rule, size, gamma, (key, keys.shape[0], step), tree, work_new(keys.shape[0]), out)
    # What is left in the tree: every key but the chosen ones.
    left_over = tree[0].copy()
    return out[:k], left_over


@st.composite
def key_arrays(draw):
    """Keys with exact ties, near ties (around TIE) and infinities-free spread, as the samplers produce."""
    n = draw(st.integers(1, 70))
    base = draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.3]), min_size=n, max_size=n))
    jitter = draw(st.lists(st.sampled_from([0.0, 0.0, 0.3 * TIE, 0.9 * TIE, 1.1 * TIE, 2.5 * TIE, 1e-6]),
                           min_size=n, max_size=n))
    return np.array(base) + np.array(jitter)


@given(key_arrays(), st.sampled_from(list(RULES.values())), st.integers(1, 8), st.sampled_from([0.0, 0.4, 1.0, 3.0]),
       st.integers(0, 2**63 - 1), st.integers(1, 50))
def test_choose_equals_select(keys, rule, size, gamma, key, step):
    size = min(size, keys.shape[0])
    key = np.uint64(key)
    out = np.empty(keys.shape[0], dtype=np.int64)
    k = select(rule, keys, np.arange(keys.shape[0]), size, gamma, (key, keys.shape[0], step), out)
    chosen, left_over = _choose_on(keys, rule, size, gamma, key, step)
    np.testing.assert_array_equal(chosen, out[:k])
    expected = keys.copy()
    expected[chosen] = np.inf
    np.testing.assert_array_equal(left_over, expected)  # the keys taken but not chosen were put back


@numba.njit
def _neighbours(members, size):
    words, offsets = bits_new(size)
    for i in members:
        bits_add(words, offsets, i)
    pred = np.empty(size, dtype=np.int64)
    succ = np.empty(size, dtype=np.int64)
    for i in range(size):
        pred[i] = bits_pred(words, offsets, i)
        succ[i] = bits_succ(words, offsets, i, size)
    return pred, succ


@given(st.integers(1, 3000).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(0, n - 1)))))
def test_bitset_nearest_members(case):
    size, members = case
    pred, succ = _neighbours(np.array(sorted(members), dtype=np.int64), size)
    flags = np.zeros(size, dtype=bool)
    flags[list(members)] = True
    for i in range(size):
        below = np.flatnonzero(flags[:i])
        above = np.flatnonzero(flags[i + 1:])
        assert pred[i] == (below[-1] if below.size else -1)
        assert succ[i] == (i + 1 + above[0] if above.size else size)


# ------------------------------------------------------------------ truncation distances
def test_truncation_distances_are_finite_for_fast_mixing_chains():
    for V in (4, 8, 16):  # the benchmark languages: D is about 30 to 60
        language = dirichlet_language(V, 2, concentration=0.5, rng=0)
        dl, dr, eta = truncation_distances(language, 1024, EB, 1.0)
        assert 10 < dl < 100 and 10 < dr < 100
        assert 0 < eta < KEY_TOLERANCE
    dl, dr, _ = truncation_distances(mixing_language(3, 1e-8, 1, 0.4), 6, TOPK, 1.0)
    assert dl < 6 and dr < 6


def test_chains_that_do_not_mix_are_never_truncated():
    L = 300
    for language in (cycle_language(4), sticky_language(3, 0.999), window_language_reducible()):
        for rule in RULES.values():
            assert truncation_distances(language, L, rule, 1.0)[:2] == (L + 1, L + 1)


def window_language_reducible():
    """Two closed classes {0, 1} and {2}: rows from different classes never converge to one row."""
    P = np.array([[0.5, 0.5, 0.0], [0.3, 0.7, 0.0], [0.0, 0.0, 1.0]])
    return NGramLanguage(P, np.array([0.4, 0.4, 0.2]), name="reducible")


def test_eta_shrinks_with_temperature_and_entropy():
    assert truncation_eta(EB, 4, 0.6) < truncation_eta(EB, 4, 1.0) < truncation_eta(TOPK, 4, 1.0)
    assert truncation_eta(EB, 16, 1.0) < truncation_eta(EB, 4, 1.0)


# ------------------------------------------------------------------ maintained keys against a full recomputation
FAST = [(4, 1e-3), (3, 0.05), (5, 0.2), (2, 0.01)]


@st.composite
def debug_cases(draw):
    kind = draw(st.sampled_from(["fast", "random", "sticky", "cycle"]))
    if kind == "fast":
        V, e = draw(st.sampled_from(FAST))
        language = mixing_language(V, e, draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from([0.0, 0.4])))
    elif kind == "random":
        language = draw(languages(vocab_sizes=(2, 5), orders=(2, 2)))
    elif kind == "sticky":
        language = sticky_language(draw(st.integers(2, 4)), 0.99)
    else:
        language = cycle_language(draw(st.integers(2, 4)))
    length = draw(st.integers(2, 200))
    rule = draw(st.sampled_from(list(RULES)))
    if rule in ("topk", "margin"):
        spec = f"{rule}:{draw(st.integers(1, length))}"
    else:
        spec = f"{rule}:{draw(st.sampled_from([0.0, 0.5, 2.0]))}"
    lam, tau = draw(st.sampled_from([(0.0, 1.0), (0.15, 0.6), (0.05, 1.7)]))
    return language, length, spec, lam, tau, draw(st.integers(0, 2**63 - 1))


@given(debug_cases())
def test_maintained_keys_stay_within_tolerance_of_exact_keys(case):
    # At every step the kernel's keys are compared with keys recomputed from scratch, and its
    # choice with select() applied to its keys.
    language, length, spec, lam, tau, key = case
    _, debug = _adaptive_debug(language, length, spec, key, learning_error=lam, temperature=tau)
    max_difference, _, mismatches, steps = debug
    assert steps >= 1
    assert max_difference <= KEY_TOLERANCE
    assert mismatches == 0


@pytest.mark.parametrize("V, e", FAST)
@pytest.mark.parametrize("spec", ["topk:50", "margin:20", "eb:0.5", "esum:1.5"])
def test_truncation_happens_and_stays_within_tolerance(V, e, spec):
    language = mixing_language(V, e, 7, 0.4)
    assert max(truncation_distances(language, 200, _kind(spec), 0.6)[:2]) < 200
    _, debug = _adaptive_debug(language, 200, spec, 11, learning_error=0.15, temperature=0.6)
    assert debug[1] > 0  # keys were computed with a truncated factor
    assert debug[0] <= KEY_TOLERANCE and debug[2] == 0


def test_computed_truncated_keys_equal_tabulated_ones(monkeypatch):
    # Above TABLE_LIMIT the truncated keys are computed position by position: same keys, same samples.
    from ngramsim import sampler
    from ngramsim._kernels import adaptive_local2

    language = mixing_language(4, 0.2, 3)
    assert max(truncation_distances(language, 150, EB, 1.0)[:2]) < 150
    tabulated = {spec: sample_mdm(language, 150, spec, 4, rng=8, learning_error=0.1, method="local")
                 for spec in ("topk:40", "eb:0.7")}
    monkeypatch.setattr(adaptive_local2, "TABLE_LIMIT", 0)
    sampler._cached_truncation.cache_clear()
    try:
        for spec, expected in tabulated.items():
            assert _adaptive_debug(language, 150, spec, 5, learning_error=0.1)[1][1] > 0  # truncation acts
            _same(expected, sample_mdm(language, 150, spec, 4, rng=8, learning_error=0.1, method="local"))
    finally:
        sampler._cached_truncation.cache_clear()


# ------------------------------------------------------------------ the law where truncation acts at tiny lengths
LAW_LANGUAGE = mixing_language(3, 1e-8, 1, 0.4)  # D = (4, 3) at L = 6; one forbidden transition
LAW_LENGTH = 6
LAW_CASES = [(spec, lam, tau) for spec in ("topk:2", "margin:3", "eb:0.6", "esum:0.9") for lam, tau in ((0.0, 1.0), (0.15, 0.6))]
NUM_SAMPLES = 120_000
ALPHA = 1e-3 / len(LAW_CASES)  # family-wise level 1e-3 (Bonferroni)


@pytest.mark.parametrize("spec, lam, tau", LAW_CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in LAW_CASES])
def test_truncated_sampler_law_equals_exact_law(spec, lam, tau):
    language, L = LAW_LANGUAGE, LAW_LENGTH
    dl, dr, _ = truncation_distances(language, L, _kind(spec), tau)
    assert dl < L and dr < L  # truncation acts
    law, _ = reference.exact_mdm_law(language, L, spec, learning_error=lam, temperature=tau)
    result = sample_mdm(language, L, spec, NUM_SAMPLES, rng=20261129, learning_error=lam, temperature=tau,
                        method="local")
    assert gof_pvalue(result.samples, law, language.vocab_size) > ALPHA
    np.testing.assert_array_equal(result.fallback, ~language.is_valid(result.samples))


# ------------------------------------------------------------------ long sequences: incremental = full rescoring
def _same(a, b):
    np.testing.assert_array_equal(a.samples, b.samples)
    np.testing.assert_array_equal(a.nfe, b.nfe)
    np.testing.assert_array_equal(a.revealed_per_step, b.revealed_per_step)
    np.testing.assert_array_equal(a.fallback, b.fallback)
    np.testing.assert_allclose(a.learning_kl_sum, b.learning_kl_sum, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("spec", ["topk:60", "margin:40", "eb:1.0", "esum:2.0"])
def test_order2_without_mixing_equals_full_rescoring(spec):
    # D = infinity: every gap a token splits is rescored in full; the naive path rescores the
    # whole sequence with a forward-backward pass at every step.
    language, L = sticky_language(3, 0.999), 300
    assert truncation_distances(language, L, _kind(spec), 1.0)[:2] == (L + 1, L + 1)
    kwargs = {"rng": 4, "learning_error": 0.02, "temperature": 0.8}
    _same(sample_mdm(language, L, spec, 3, method="local", **kwargs),
          sample_mdm(language, L, spec, 3, method="naive", **kwargs))


@pytest.mark.parametrize("spec", ["topk:30", "eb:0.8"])
def test_order3_windows_equal_full_rescoring(spec):
    language = dirichlet_language(3, 3, concentration=0.5, forbidden=0.2, rng=3)
    kwargs = {"rng": 5, "learning_error": 0.02}
    _same(sample_mdm(language, 120, spec, 4, method="windows", **kwargs),
          sample_mdm(language, 120, spec, 4, method="naive", **kwargs))
