"""The public hypothesis strategies: what each constructs, the optional dependency, the README example."""

import importlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ngramsim
from ngramsim import parse_schedule, sample_mdm
from ngramsim.strategies import (
    ADAPTIVE_KINDS,
    NON_ADAPTIVE_KINDS,
    SCHEDULE_KINDS,
    languages,
    languages_with_length,
    one_token_schedule_specs,
    partial_states,
    random_rows,
    schedule_specs,
    tiny_lengths,
    window_languages,
)
from tests import reference


def test_import_ngramsim_does_not_import_hypothesis():
    # hypothesis is a test dependency: the package must import without it.
    code = "import sys, ngramsim; sys.exit('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_strategies_without_hypothesis_say_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # "import hypothesis" now raises ImportError
    monkeypatch.delitem(sys.modules, "ngramsim.strategies")
    with pytest.raises(ImportError, match=r"pip install hypothesis .or pip install 'ngramsim\[test\]'"):
        importlib.import_module("ngramsim.strategies")


@given(languages(vocab_sizes=(2, 4), orders=(2, 4), max_contexts=16))
def test_languages_are_constructed_valid_within_the_ranges(language):
    V, n = language.vocab_size, language.order
    assert 2 <= V <= 4 and 2 <= n <= 4
    assert n == 2 or V ** (n - 1) <= 16
    P = language.transitions
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=0, atol=1e-12)
    assert np.all((P > 0).any(axis=1))  # no empty row: every context can be continued
    assert abs(language.initial.sum() - 1) < 1e-12


@given(st.integers(0, 2**32 - 1), st.integers(2, 6))
def test_random_rows_forbid_entries_but_never_a_whole_row(seed, V):
    gen = np.random.default_rng(seed)
    all_forbidden = random_rows(gen, (20, V), 1.0)
    assert np.all((all_forbidden > 0).sum(axis=1) == 1)  # the one entry put back
    none_forbidden = random_rows(gen, (20, V), 0.0)
    assert np.all(none_forbidden > 0)
    np.testing.assert_allclose(all_forbidden.sum(axis=1), 1, rtol=0, atol=1e-12)


@given(window_languages(vocab_sizes=(2, 7), min_window=2) | window_languages())
def test_window_languages_are_w_v_m(language):
    V, m = language.vocab_size, language.meta["window"]
    assert 1 <= m < V
    for a in range(V):
        allowed = [(b - a) % V < m for b in range(V)]
        np.testing.assert_allclose(language.transitions[a], np.where(allowed, 1 / m, 0.0), rtol=0, atol=1e-15)


@given(window_languages(vocab_sizes=(2, 7), min_window=3))
def test_window_languages_respect_min_window(language):
    assert language.meta["window"] >= 3 and language.vocab_size >= 4


@given(languages_with_length(max_states=243), st.data())
def test_partial_states_have_positive_evidence(case, data):
    language, length = case
    tokens, revealed, sequence = data.draw(partial_states(language, length, min_revealed=1))
    assert revealed.sum() >= 1
    np.testing.assert_array_equal(tokens[revealed], sequence[revealed])
    assert np.all(tokens[~revealed] == -1)
    # q(x_R) by brute force: the sum of q over the completions of x_R.
    xs, q = reference.enumerate_q(language, length)
    assert q[np.all(xs[:, revealed] == tokens[revealed], axis=1)].sum() > 0
    assert reference.sequence_prob(language, sequence) > 0


@given(languages_with_length(), st.data())
def test_partial_state_sizes(case, data):
    language, length = case
    low = data.draw(st.integers(0, length))
    high = data.draw(st.integers(low, length))
    _, revealed, _ = data.draw(partial_states(language, length, min_revealed=low, max_revealed=high))
    assert low <= revealed.sum() <= high


@given(st.integers(1, 9), st.sets(st.sampled_from(SCHEDULE_KINDS), min_size=1), st.data())
def test_schedule_specs_resolve_and_respect_kinds(length, kinds, data):
    spec = data.draw(schedule_specs(length, kinds=tuple(kinds)))
    assert spec.split(":")[0] in kinds
    resolved = parse_schedule(spec).resolve(length)
    assert resolved.is_adaptive == (spec.split(":")[0] in ADAPTIVE_KINDS)


@given(window_languages(vocab_sizes=(2, 4)), st.integers(1, 7), st.data())
def test_one_token_schedule_specs_reveal_one_token_per_step(language, length, data):
    spec = data.draw(one_token_schedule_specs(length))
    result = sample_mdm(language, length, spec, 4, rng=0, learning_error=0.3)
    assert np.all(result.nfe == length)
    assert np.all(result.revealed_per_step[:, :length] == 1)


@given(languages(), st.integers(1, 5000))
def test_tiny_lengths_are_the_lengths_within_budget(language, max_states):
    lengths = tiny_lengths(language, max_states)
    V = language.vocab_size
    assert lengths == list(range(language.min_length, lengths[-1] + 1))  # consecutive from the shortest
    assert V ** lengths[-1] <= max_states or lengths == [language.min_length]
    assert V ** (lengths[-1] + 1) > max_states  # and as long as the budget allows


@pytest.mark.parametrize(
    "strategy, error, match",
    [
        (languages(vocab_sizes=(1, 3)), ValueError, r"vocab_sizes\[0\] must be >= 2"),
        (languages(orders=(3, 2)), ValueError, r"orders\[1\] must be >= 3"),
        (languages(vocab_sizes=3), TypeError, "vocab_sizes must be a pair"),
        (window_languages(vocab_sizes=(2, 3), min_window=3), ValueError, "vocab_sizes must allow V > min_window=3"),
        (schedule_specs(4, kinds=("linear", "fast")), ValueError, "kinds must be a non-empty subset"),
        (schedule_specs(0), ValueError, "length must be >= 1"),
        (partial_states("W", 4), TypeError, "language must be an NGramLanguage"),
        (partial_states(ngramsim.window_language(3, 2), 4, min_revealed=5), ValueError, "min_revealed must be <= length=4"),
    ],
)
def test_bad_arguments_name_the_argument(strategy, error, match):
    @given(st.data())
    def draw(data):
        data.draw(strategy)

    with pytest.raises(error, match=match):
        draw()


# The README's example: a user's conjecture about MDM sampling, property-tested with these
# strategies.  It is true (THEORY B7 with the ideal model: an ordered partition refines the
# one-block partition, and each split lowers the KL; a random schedule's law mixes such
# partitions and KL is convex, B3), so it must pass.
@given(languages_with_length(vocab_sizes=(2, 3), max_states=243), st.data())
def test_no_schedule_is_worse_than_one_step(case, data):
    language, length = case
    spec = data.draw(schedule_specs(length, kinds=NON_ADAPTIVE_KINDS))
    kl = ngramsim.exact_law(language, length, spec).kl
    assert kl <= ngramsim.total_correlation(language, length).value + 1e-9
