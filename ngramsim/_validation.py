"""Shared argument checks for the public boundary.

Every public function validates its inputs here, once, and raises a
``ValueError`` or ``TypeError`` that names the argument, what was expected
and what was seen.  Kernels in :mod:`ngramsim._kernels` do no checking.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

#: Largest transition table ``V^(n-1) x V`` (entries) ngramsim will build:
#: 2**24 float64 entries = 128 MiB.  Larger context spaces are rejected with
#: a clear error instead of a ``MemoryError`` deep inside numpy.
MAX_TABLE_ENTRIES = 2**24

#: Most tokens (``num_samples x length``) one sampling call draws: 2**27, i.e. 1 GiB of
#: int64 samples (plus the per-step record and uniforms of the same order).
MAX_SAMPLE_TOKENS = 2**27

#: Default absolute tolerance on row sums of probability tables (SPEC §1).
DEFAULT_ATOL = 1e-9


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, rejecting bools, floats and strings."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_real(value, name: str, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float inside the stated (half-)open interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (
            ")" if high_open or high is None else "]"
        )
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def check_table_size(vocab_size: int, order: int) -> int:
    """Return ``V^(n-1)`` after checking the table ``V^(n-1) x V`` fits the memory limit."""
    num_contexts = vocab_size ** (order - 1)
    if num_contexts * vocab_size > MAX_TABLE_ENTRIES:
        raise ValueError(
            f"context space too large: vocab_size={vocab_size}, order={order} needs a "
            f"{num_contexts} x {vocab_size} transition table ({num_contexts * vocab_size} entries); "
            f"the limit is {MAX_TABLE_ENTRIES} entries (128 MiB). Lower vocab_size or order."
        )
    return num_contexts


def check_language(language):
    """``language`` if it is an :class:`~ngramsim.NGramLanguage`, else a ``TypeError`` naming the type."""
    from ngramsim.sources import NGramLanguage  # sources imports this module

    if not isinstance(language, NGramLanguage):
        raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
    return language


def log_base(base) -> float:
    """``log(base)``, the divisor that turns nats into units of ``base`` (1 for ``None``: nats)."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, int | float) or not base > 0 or base == 1:
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return math.log(base)


def check_sample_size(num_samples: int, length: int) -> None:
    """Refuse a sampling call that would hold more than :data:`MAX_SAMPLE_TOKENS` tokens."""
    tokens = num_samples * length
    if tokens > MAX_SAMPLE_TOKENS:
        raise ValueError(
            f"num_samples x length = {num_samples} x {length} = {tokens} tokens exceeds the limit of "
            f"2^{MAX_SAMPLE_TOKENS.bit_length() - 1} = {MAX_SAMPLE_TOKENS} tokens per call (1 GiB of int64 samples); "
            "lower num_samples or length, or draw several batches with different seeds"
        )


def check_probability_rows(array, name: str, *, shape: tuple[int, ...], atol: float) -> np.ndarray:
    """Validate a table whose last axis holds probability vectors; return it renormalised.

    Checks: numeric, exactly ``shape``, finite, non-negative, each row summing to 1
    within ``atol``.  Accepted rows are divided by their sum (SPEC §1), so that
    ``sum_x q(x) = 1`` to machine precision; validation is idempotent, so a
    file round trip is exact.
    """
    given = np.asarray(array) if not isinstance(array, np.ndarray) else array
    if given.dtype.kind not in "biuf":  # complex, strings, objects: no silent cast (numpy would warn or truncate)
        raise TypeError(f"{name} must be an array of real numbers, got dtype {given.dtype}")
    try:
        arr = np.array(given, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; entry {where} is {float(arr[where])!r}")
    if np.any(arr < 0):
        where = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"{name} must be non-negative; entry {where} is {float(arr[where])!r}")
    sums = arr.sum(axis=-1, keepdims=True)
    bad = np.abs(sums[..., 0] - 1.0) > atol
    if np.any(bad):
        where = np.argwhere(bad)[0]
        label = f"row {int(where[0])}" if len(where) else "vector"
        hint = ""
        if given.dtype.kind == "f" and given.dtype.itemsize < 8:
            hint = (f"; {name} has dtype {given.dtype}, whose rounding alone is about {np.finfo(given.dtype).eps:.1e} "
                    "per entry: pass float64 values, or a larger atol=")
        raise ValueError(
            f"{name} {label} sums to {float(sums[tuple(where)][0])!r}; rows must sum to 1 (atol={atol:g}){hint}"
        )
    # Rows already summing to 1 within rounding (2 V eps) are kept as given: dividing them
    # again would move entries by a few ulps, so a file round trip would not be exact.
    # Every other row is divided by its sum, after which it sums to 1 within that slack.
    slack = 2 * arr.shape[-1] * np.finfo(np.float64).eps
    sums = np.where(np.abs(sums - 1.0) <= slack, 1.0, sums)
    arr = arr / sums
    arr.setflags(write=False)
    return arr


def check_tokens(x, name: str, *, vocab_size: int, min_length: int) -> np.ndarray:
    """Validate an integer token array of shape ``(..., L)`` with values in ``[0, V)``."""
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of tokens, got dtype {arr.dtype}")
    if arr.ndim < 1:
        raise ValueError(f"{name} must have shape (..., length), got a scalar")
    if arr.shape[-1] < min_length:
        raise ValueError(f"{name} has length {arr.shape[-1]}; length must be >= {min_length}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        bad = arr[(arr < 0) | (arr >= vocab_size)].flat[0]
        raise ValueError(f"{name} tokens must lie in [0, {vocab_size}), found {int(bad)}")
    return arr.astype(np.int64, copy=False)


def as_generator(rng) -> np.random.Generator:
    """Normalise ``rng`` (an int seed, a ``SeedSequence`` or a ``Generator``) once."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        raise TypeError("rng must be given explicitly: an int seed or a numpy.random.Generator")
    if isinstance(rng, bool) or not isinstance(rng, (numbers.Integral, np.random.SeedSequence)):
        raise TypeError(f"rng must be an int seed or a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(rng, numbers.Integral) and rng < 0:
        raise ValueError(f"rng seed must be a non-negative integer, got {rng}")
    return np.random.default_rng(rng)
