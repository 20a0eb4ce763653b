"""Counter-based uniforms (Philox4x32-10) for the MDM samplers.

Each sequence gets a 64-bit key drawn from the caller's ``numpy`` generator;
the uniform number ``counter`` of that sequence is a pure function of
``(key, counter)``.  Results therefore do not depend on thread scheduling,
and adaptive schedules can draw fresh tie-breaking randomness at every step
without pre-drawing ``O(L^2)`` numbers.

The function is Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel
random numbers: as easy as 1, 2, 3", SC'11; the Random123 library): a keyed
family of bijections of 128-bit counters, designed (and tested with TestU01's
BigCrush in the paper) to behave as a pseudorandom function of
``(key, counter)``, though it is not cryptographic.  The sequence key is the
Philox key, so the streams of two sequences are outputs of two different
keyed functions, not two windows of one sequence.  The generator this
replaces evaluated SplitMix64 at ``key + (counter + 1) * GOLDEN``, which made
every stream a window of one single SplitMix64 sequence: keys differing by
``j * GOLDEN`` gave the same uniforms shifted by ``j`` counters.

Layout of one Philox call: counter words ``(counter mod 2**32,
counter div 2**32, 0, 0)`` (counters may exceed ``2**32``: adaptive schedules
use ``O(L^2)`` of them), key words ``(key mod 2**32, key div 2**32)``.  Its
four 32-bit output words give two uniforms with 53 random bits each, see
``uniform_pair``.  Philox is checked against Random123's published
known-answer vectors in ``tests/test_rng.py``.

Block layout for a sequence of length ``L`` (shared by every sampler path):

* block ``i < L``: first uniform = schedule randomness number ``i`` (the Bernoulli
  step of position ``i``, or Fisher-Yates swap ``i``), second uniform = the value
  drawn at position ``i`` (:func:`draw_stream` fills both, in a loop the compiler
  vectorises);
* block ``t L + j`` (``t >= 1``): first uniform = tie-breaking draw ``j`` of step
  ``t`` (adaptive schedules; :func:`tie_counter`).
"""

import numba
import numpy as np

# Every constant is a uint64: numba turns arithmetic mixing uint64 and int64
# into float64, so all the 32-bit words below live in uint64 values (a
# product of two 32-bit words fits in 64 bits exactly).
_M0 = np.uint64(0xD2511F53)  # Philox4x32 round multipliers
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)  # Weyl increments of the key schedule
_W1 = np.uint64(0xBB67AE85)
_MASK32 = np.uint64(0xFFFFFFFF)
_S11 = np.uint64(11)
_S32 = np.uint64(32)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@numba.njit(cache=True, inline="always")
def _round(c0, c1, c2, c3, k0, k1):
    """One Philox4x32 round (the S-box of Random123's ``_philox4x32round``)."""
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (p1 >> _S32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK32


@numba.njit(cache=True, inline="always")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 of the counter ``(c0, c1, c2, c3)`` under the key ``(k0, k1)``.

    Parameters
    ----------
    c0, c1, c2, c3, k0, k1 : uint64
        32-bit words (values below ``2**32``) held in uint64.

    Returns
    -------
    tuple of four uint64
        The output words, each below ``2**32``, in Random123's order.
    """
    # Ten rounds with the key bumped between consecutive rounds (nine bumps),
    # written out so that numba hands LLVM straight-line uint64 code.
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    c0, c1, c2, c3 = _round(c0, c1, c2, c3, k0, k1)
    k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
    return _round(c0, c1, c2, c3, k0, k1)


@numba.njit(cache=True, inline="always")
def _block(key, counter):
    """The four output words of the Philox block number ``counter`` of the stream ``key``."""
    # Casting first keeps every later operation uint64 (a Python int key or an
    # int64 counter would otherwise type the arithmetic as float64).
    k = np.uint64(key)
    c = np.uint64(counter)
    return philox4x32_10(c & _MASK32, c >> _S32, np.uint64(0), np.uint64(0), k & _MASK32, k >> _S32)


@numba.njit(cache=True, inline="always")
def _to_unit(hi, lo):
    """The uniform ``floor((hi * 2**32 + lo) / 2**11) * 2**-53`` on ``[0, 1)``.

    The top 53 bits of the 64-bit integer with high word ``hi`` and low word
    ``lo``: uniform 53-bit integers scaled exactly (no rounding) into ``[0, 1)``.
    """
    return np.float64(((hi << _S32) | lo) >> _S11) * _TO_UNIT


@numba.njit(cache=True, inline="always")
def uniform(key, counter):
    """The uniform on ``[0, 1)`` (53 bits) number ``counter`` of the stream ``key``.

    Parameters
    ----------
    key : uint64
        The sequence's stream key (``draw_keys``).
    counter : int
        Non-negative, below ``2**64``.

    Returns
    -------
    float64
        ``floor(w / 2**11) * 2**-53`` where ``w = w0 * 2**32 + w1`` and
        ``w0, w1`` are the first two words of the Philox4x32-10 block.
    """
    w0, w1, _, _ = _block(key, counter)
    return _to_unit(w0, w1)


@numba.njit(cache=True, inline="always")
def uniform_pair(key, counter):
    """Two uniforms on ``[0, 1)`` (53 bits each) from one Philox block.

    The first is ``uniform(key, counter)`` (words 0 and 1); the second is built
    the same way from words 2 and 3, so the two are as independent as distinct
    blocks are, for the cost of one block.
    """
    w0, w1, w2, w3 = _block(key, counter)
    return _to_unit(w0, w1), _to_unit(w2, w3)


@numba.njit(cache=True)
def draw_stream(key, schedule_u, value_u):
    """``schedule_u[i], value_u[i] = uniform_pair(key, i)`` for ``i < len(schedule_u)``: blocks ``0 .. L-1``."""
    for i in range(schedule_u.shape[0]):
        schedule_u[i], value_u[i] = uniform_pair(key, i)


@numba.njit(cache=True, inline="always")
def tie_counter(length, step, j):
    """The block of tie-breaking draw ``j`` at step ``step >= 1`` of a sequence of length ``length``."""
    return step * length + j


@numba.njit(cache=True, inline="always")
def redraw_counter(length, step, i):
    """The block of position ``i``'s draw at step ``step >= 1`` of a sampler that redraws masked
    positions (``lowconf``): after every tie-breaking block (steps ``<= length``), never shared."""
    return tie_counter(length, length + 1 + step, i)


def draw_keys(gen: np.random.Generator, num_samples: int) -> np.ndarray:
    """One 64-bit stream key per sequence (sequence ``s`` gets the same key whatever ``num_samples``)."""
    return gen.integers(0, 2**64, size=num_samples, dtype=np.uint64, endpoint=False)
