"""Counter-based uniforms (SplitMix64) for the MDM samplers.

Each sequence gets a 64-bit key drawn from the caller's ``numpy`` generator;
the uniform number ``counter`` of that sequence is a pure function of
``(key, counter)``.  Results therefore do not depend on thread scheduling,
and adaptive schedules can draw fresh tie-breaking randomness at every step
without pre-drawing ``O(L^2)`` numbers.

Counter layout for a sequence of length ``L`` (shared by every sampler path):

* ``[0, L)``: schedule randomness (Bernoulli step of position ``i``, Fisher-Yates swaps);
* ``[L, 2L)``: the value drawn at position ``i`` uses counter ``L + i``;
* ``2L + (t - 1) L + j``: tie-breaking at step ``t`` (adaptive schedules).
"""

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@numba.njit(cache=True, inline="always")
def uniform(key, counter):
    """The uniform on ``[0, 1)`` (53 bits) number ``counter`` of the stream ``key`` (SplitMix64 output)."""
    z = key + (np.uint64(counter) + np.uint64(1)) * _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return np.float64(z >> _S11) * _TO_UNIT


def draw_keys(gen: np.random.Generator, num_samples: int) -> np.ndarray:
    """One 64-bit stream key per sequence (sequence ``s`` gets the same key whatever ``num_samples``)."""
    return gen.integers(0, 2**64, size=num_samples, dtype=np.uint64, endpoint=False)
