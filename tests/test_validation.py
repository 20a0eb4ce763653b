"""Bad input is rejected at the public boundary with a message naming the argument."""

import math

import numpy as np
import pytest

from ngramsim import NGramLanguage, cycle_language, dirichlet_language, uniform_language, window_language
from ngramsim._validation import MAX_TABLE_ENTRIES, check_table_size

P2 = [[0.5, 0.5], [0.1, 0.9]]
MU2 = [0.5, 0.5]


@pytest.mark.parametrize(
    "transitions, initial, kwargs, error, match",
    [
        ([[0.5, math.nan], [0.1, 0.9]], MU2, {}, ValueError, r"transitions must be finite; entry \(0, 1\)"),
        ([[0.5, math.inf], [0.1, 0.9]], MU2, {}, ValueError, "transitions must be finite"),
        ([[1.5, -0.5], [0.1, 0.9]], MU2, {}, ValueError, r"transitions must be non-negative; entry \(0, 1\) is -0.5"),
        ([[0.5, 0.4], [0.1, 0.9]], MU2, {}, ValueError, r"transitions row 0 sums to 0.9; rows must sum to 1 \(atol=1e-09\)"),
        ([[0.5, 0.5 + 1e-8], [0.1, 0.9]], MU2, {}, ValueError, "row 0 sums to"),
        (P2, [0.5, 0.6], {}, ValueError, "initial vector sums to 1.1"),
        (P2, [1.0], {}, ValueError, r"initial must have shape \(2,\), got \(1,\)"),
        (P2, None, {}, ValueError, "initial .* must be given"),
        ([0.5, 0.5], MU2, {}, ValueError, "transitions must be a 2-D array"),
        ([[1.0], [1.0]], MU2, {}, ValueError, "vocab_size must be >= 2"),
        ([[0.5, 0.5]] * 3, [1 / 3] * 3, {}, ValueError, "transitions has 3 rows; expected V\\^\\(n-1\\)"),
        (P2, MU2, {"order": 3}, ValueError, "V\\^\\(n-1\\) = 4 rows for order=3"),
        (P2, MU2, {"order": 0}, ValueError, "order must be >= 1, got 0"),
        (P2, MU2, {"order": 2.0}, TypeError, "order must be an integer"),
        ([["a", "b"], [0.1, 0.9]], MU2, {}, TypeError, "transitions must be an array of real numbers"),
        (P2, MU2, {"name": 5}, TypeError, "name must be a str"),
        (P2, MU2, {"meta": [1]}, TypeError, "meta must be a dict"),
        (P2, MU2, {"atol": -1.0}, ValueError, "atol must be a non-negative number"),
    ],
)
def test_language_rejects_bad_arrays(transitions, initial, kwargs, error, match):
    with pytest.raises(error, match=match):
        NGramLanguage(transitions, initial, **kwargs)


def test_atol_is_explicit():
    rows = [[0.5, 0.5 + 1e-7], [0.1, 0.9]]
    with pytest.raises(ValueError, match="atol=1e-09"):
        NGramLanguage(rows, MU2)
    language = NGramLanguage(rows, MU2, atol=1e-6)
    assert language.transitions[0].sum() == pytest.approx(1.0, abs=1e-15)


def test_context_space_limit_is_a_clear_error():
    with pytest.raises(ValueError, match="context space too large.*limit is"):
        uniform_language(1000, 4)
    with pytest.raises(ValueError, match="context space too large"):
        dirichlet_language(2, 40, rng=0)
    with pytest.raises(ValueError, match="context space too large"):
        NGramLanguage(P2, MU2, order=30)


def test_table_limit_is_the_boundary_the_message_states():
    # Binary tables of every order up to the limit are accepted, the first beyond it refused, and
    # the error's "(... MiB)" is the limit's float64 size (the message hard-codes that figure).
    order = MAX_TABLE_ENTRIES.bit_length() - 1  # largest n with 2^(n-1) x 2 = 2^n entries <= limit
    assert check_table_size(2, order) == 2 ** (order - 1)
    with pytest.raises(ValueError, match=rf"the limit is {MAX_TABLE_ENTRIES} entries \({MAX_TABLE_ENTRIES * 8 // 2**20} MiB\)"):
        check_table_size(2, order + 1)


LANG = NGramLanguage([[0.2, 0.3, 0.5]] * 9, [1 / 9] * 9)  # order 3, V = 3


@pytest.mark.parametrize(
    "x, error, match",
    [
        ([[0.0, 1.0, 2.0]], TypeError, "x must be an integer array of tokens, got dtype float64"),
        ([[True, False, True]], TypeError, "dtype bool"),
        ([[0, 1, 3]], ValueError, r"x tokens must lie in \[0, 3\), found 3"),
        ([[0, -1, 2]], ValueError, "found -1"),
        ([[0]], ValueError, "x has length 1; length must be >= 2"),
        (2, ValueError, "scalar"),
    ],
)
def test_log_prob_rejects_bad_tokens(x, error, match):
    with pytest.raises(error, match=match):
        LANG.log_prob(x)
    with pytest.raises(error, match=match):
        LANG.is_valid(x)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: LANG.sample(1, 3, rng=0), ValueError, "length must be >= 2, got 1"),
        (lambda: LANG.sample(4.0, 3, rng=0), TypeError, "length must be an integer"),
        (lambda: LANG.sample(4, -1, rng=0), ValueError, "num_samples must be >= 0"),
        (lambda: LANG.sample(4, 3, rng=None), TypeError, "rng must be given explicitly"),
        (lambda: LANG.sample(4, 3, rng=1.5), TypeError, "rng must be an int seed"),
        (lambda: LANG.sample(4, 3, rng=-3), ValueError, "rng seed must be a non-negative integer"),
        (lambda: LANG.entropy(1), ValueError, "length must be >= 2"),
        (lambda: LANG.entropy(4, base=1), ValueError, "base must be a positive number other than 1"),
        (lambda: LANG.entropy_rate(base=-2), ValueError, "base must be"),
        (lambda: LANG.token_marginals(0), ValueError, "length must be >= 2"),
        (lambda: LANG.context_laws(True), TypeError, "length must be an integer"),
        (lambda: window_language(1, 1), ValueError, "vocab_size must be >= 2, got 1"),
        (lambda: window_language(4, 4), ValueError, "window must satisfy 1 <= window < vocab_size=4, got 4"),
        (lambda: window_language(4, 0), ValueError, "window must be >= 1"),
        (lambda: window_language("4", 2), TypeError, "vocab_size must be an integer"),
        (lambda: cycle_language(1), ValueError, "vocab_size must be >= 2"),
        (lambda: uniform_language(3, 0), ValueError, "order must be >= 1"),
        (lambda: dirichlet_language(3, 2, concentration=0.0, rng=0), ValueError, r"concentration must lie in \(0.0, inf\)"),
        (lambda: dirichlet_language(3, 2, concentration=math.nan, rng=0), ValueError, "concentration must be finite"),
        (lambda: dirichlet_language(3, 2, forbidden=1.0, rng=0), ValueError, r"forbidden must lie in \[0.0, 1.0\)"),
        (lambda: dirichlet_language(3, 2, forbidden=-0.1, rng=0), ValueError, "forbidden must lie in"),
        (lambda: dirichlet_language(3, 2, rng="seed"), TypeError, "rng must be an int seed"),
    ],
)
def test_public_functions_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_order_one_language():
    language = NGramLanguage([[0.25, 0.75]], [])
    assert language.order == 1 and language.min_length == 1
    assert language.log_prob(np.array([1, 1])) == pytest.approx(2 * math.log(0.75))
    with pytest.raises(ValueError, match="length must be >= 1, got 0"):
        language.sample(0, rng=0)
