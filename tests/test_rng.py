"""The counter-based generator: Philox4x32-10 against published vectors and a plain-Python reference."""

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numba import types
from scipy import stats

from ngramsim._kernels.rng import draw_keys, philox4x32_10, uniform, uniform_pair

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B97F4A7C15  # the old generator's SplitMix64 increment

# Random123's published known-answer vectors, "philox4x32 10" lines: (counter words, key words, output words).
# The first three are the standard vectors of tests/kat_vectors (lines 27-29) in
# https://github.com/DEShawResearch/random123 (commit 9545ff6413f258be2f04c1d319d99aaef7521150);
# the others, from tests/old_kat_vectors of the same commit, set one counter or key word at a
# time, so that a swapped word order or key schedule shows up.
KAT_VECTORS = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ((0x00000001, 0x00000000, 0x00000000, 0x00000000), (0x00000001, 0x00000000),
     (0xAC08141B, 0xDFC5CCBE, 0x79C07A47, 0xA7F66093)),
    ((0x00000000, 0x00000001, 0x00000000, 0x00000000), (0x00000001, 0x00000000),
     (0x833FF8DC, 0x225C963C, 0x232B88B3, 0x0B334B07)),
    ((0x00000000, 0x00000000, 0x00000001, 0x00000000), (0x00000001, 0x00000000),
     (0x07071C12, 0x428264B6, 0x3909104B, 0x6DA2BDA2)),
    ((0x00000000, 0x00000000, 0x00000000, 0x00000001), (0x00000001, 0x00000000),
     (0x127BEE41, 0x1E047488, 0x48842B20, 0x0A393496)),
    ((0x00000001, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000001),
     (0xCCF3076A, 0x6306F434, 0xBEA71965, 0xD96FE48A)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0x00000000, 0xFFFFFFFF),
     (0x08F7720C, 0x845EE9E0, 0x502CCD3D, 0xA9A00E27)),
    ((0xA4093822, 0x299F31D0, 0x082EFA98, 0xEC4E6C89), (0x00000000, 0x80000000),
     (0xAA74E81C, 0xC9DDB97B, 0x2C2CD881, 0x9390C78D)),
]


def philox_reference(counter, key):
    """Philox4x32-10 in plain Python integers, following the SC'11 paper's description."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for r in range(10):
        if r > 0:  # the key schedule bumps the key before every round but the first
            k0 = (k0 + 0x9E3779B9) & MASK32
            k1 = (k1 + 0xBB67AE85) & MASK32
        p0 = 0xD2511F53 * c0
        p1 = 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & MASK32
    return c0, c1, c2, c3


def block_reference(key, counter):
    """The words behind ``uniform(key, counter)``: counter and key split into low and high 32-bit words."""
    return philox_reference((counter & MASK32, counter >> 32, 0, 0), (key & MASK32, key >> 32))


def unit_reference(hi, lo):
    """Top 53 bits of ``hi * 2**32 + lo`` over ``2**53`` (exact in binary floating point)."""
    return (((hi << 32) | lo) >> 11) / 2.0**53


def _kernel_words(counter, key):
    return philox4x32_10(*(np.uint64(w) for w in counter), *(np.uint64(w) for w in key))


words = st.integers(0, MASK32)
keys = st.integers(0, 2**64 - 1)
counters = st.integers(0, 2**40)


@pytest.mark.parametrize("counter, key, expected", KAT_VECTORS)
def test_kernel_known_answers(counter, key, expected):
    out = _kernel_words(counter, key)
    assert all(type(w) is int for w in out)  # exact integers: no float64 crept into the uint64 arithmetic
    assert tuple(out) == expected


@pytest.mark.parametrize("counter, key, expected", KAT_VECTORS)
def test_reference_known_answers(counter, key, expected):
    assert philox_reference(counter, key) == expected


def test_kernel_is_typed_uint64():
    _kernel_words((1, 2, 3, 4), (5, 6))
    for sig in philox4x32_10.nopython_signatures:
        assert sig.return_type == types.UniTuple(types.uint64, 4)
    uniform(np.uint64(1), 2)
    uniform(1, 2)  # a Python int key types as int64; the kernel must cast it, not go through float64
    assert {sig.return_type for sig in uniform.nopython_signatures} == {types.float64}
    assert uniform(np.uint64(1), 2) == uniform(1, 2)


@given(st.tuples(words, words, words, words), st.tuples(words, words))
def test_kernel_matches_reference_words(counter, key):
    assert tuple(_kernel_words(counter, key)) == philox_reference(counter, key)


@given(keys, counters)
def test_uniforms_match_reference(key, counter):
    w0, w1, w2, w3 = block_reference(key, counter)
    first, second = unit_reference(w0, w1), unit_reference(w2, w3)
    assert uniform(np.uint64(key), counter) == first
    assert uniform_pair(np.uint64(key), counter) == (first, second)
    # Callers pass int64 counters (``length + i``); the value must not depend on the integer type.
    assert uniform(np.uint64(key), np.int64(counter)) == first


@given(keys, counters)
def test_pair_first_is_uniform(key, counter):
    a, b = uniform_pair(np.uint64(key), counter)
    assert a == uniform(np.uint64(key), counter)
    assert 0.0 <= a < 1.0 and 0.0 <= b < 1.0


def test_unit_interval_ends():
    # The extreme words map to 0 and to the largest double below 1 (53 bits, no rounding up to 1).
    assert unit_reference(0, 0) == 0.0
    assert unit_reference(MASK32, MASK32) == 1.0 - 2.0**-53


def test_counter_high_word_is_used():
    key = np.uint64(0x0123456789ABCDEF)
    assert uniform(key, 5) != uniform(key, 5 + 2**32)
    assert uniform(key, 2**32) == unit_reference(*block_reference(int(key), 2**32)[:2])


@numba.njit
def _stream(key, start, n):
    out = np.empty((n, 2))
    for c in range(n):
        out[c, 0], out[c, 1] = uniform_pair(key, start + c)
    return out


def test_uniformity_chi_square():
    # Pearson chi-square of 2**10 equal bins for 10**6 uniforms, for each of 4 keys (two
    # drawn, 0 and 2**64 - 1), each pair component, and counters from 0 and from above
    # 2**32: 16 tests, each at level 1e-3 / 16 (Bonferroni, family level 1e-3).  Fixed seed.
    gen = np.random.default_rng(20240611)
    test_keys = [np.uint64(0), np.uint64(2**64 - 1), *draw_keys(gen, 2)]
    pvalues = []
    for key in test_keys:
        for start in (0, 2**32 - 500_000):  # the second range crosses into the counter's high word
            u = _stream(key, start, 10**6)
            for component in (0, 1):
                counts = np.bincount((u[:, component] * 1024).astype(np.int64), minlength=1024)
                assert len(counts) == 1024
                pvalues.append(stats.chisquare(counts).pvalue)
    assert min(pvalues) > 1e-3 / len(pvalues), pvalues


def test_pair_and_successive_counters_independence_chi_square():
    # 32 x 32 contingency chi-square (961 dof) of (first, second) of a block and of the first
    # uniforms at successive counters, 10**6 blocks, 2 keys: 4 tests at level 1e-3 / 4 each.
    gen = np.random.default_rng(7)
    pvalues = []
    for key in draw_keys(gen, 2):
        u = _stream(key, 0, 10**6 + 1)
        cells = (u * 32).astype(np.int64)
        for a, b in ((cells[:-1, 0], cells[:-1, 1]), (cells[:-1, 0], cells[1:, 0])):
            table = np.bincount(a * 32 + b, minlength=1024).reshape(32, 32)
            pvalues.append(stats.chi2_contingency(table, correction=False).pvalue)
    assert min(pvalues) > 1e-3 / len(pvalues), pvalues


@pytest.mark.parametrize("j", [1, 2, 17, 100])
def test_golden_offset_keys_are_not_shifted_copies(j):
    # The old generator gave key k + j * GOLDEN the stream of key k shifted by j counters.
    # Here no value of the first 1000 of one stream appears among the first 1101 of the
    # other, in either direction: no shift in 0..100 makes them agree even at one position.
    gen = np.random.default_rng(j)
    for key in draw_keys(gen, 3):
        other = np.uint64((int(key) + j * GOLDEN) % 2**64)
        a = _stream(key, 0, 1101)[:, 0]
        b = _stream(other, 0, 1101)[:, 0]
        assert not set(a[:1000]) & set(b), (key, j)
        assert not set(b[:1000]) & set(a), (key, j)
