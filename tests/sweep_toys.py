"""Toy compute functions for tests/test_sweep.py.

They live in an importable module so that process-pool workers (forkserver or
spawn) can unpickle them by name.
"""

import os
import time
import uuid
from pathlib import Path

# Set by ``mark_initialized`` in each worker (or in the test process when jobs=1).
_INITIALIZED_IN = None


def draws(cell, rng, seed):
    """Records that depend on every bit of the randomness given to the cell, plus non-finite floats."""
    return [
        {"i": cell.params["i"], "normal": rng.normal(), "uniforms": rng.random(3), "seed_given": seed},
        {"i": cell.params["i"], "inf": float("inf"), "minus_inf": -float("inf"), "nan": float("nan")},
    ]


def logged(cell, rng, seed):
    """:func:`draws`, leaving one file per call in ``cell.params["log_dir"]`` to count calls."""
    log_dir = Path(cell.params["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / f"{cell.params['i']}-{uuid.uuid4().hex}").touch()
    return draws(cell, rng, seed)


def sleepy(cell, rng, seed):
    """:func:`draws` after sleeping ``cell.params["sleep"]`` seconds."""
    time.sleep(cell.params["sleep"])
    return draws(cell, rng, seed)


def failing(cell, rng, seed):
    """:func:`draws`, except that the cell whose ``i`` equals ``fail_at`` raises."""
    if cell.params["i"] == cell.params["fail_at"]:
        raise ArithmeticError(f"toy failure at i={cell.params['i']}")
    return draws(cell, rng, seed)


def mark_initialized():
    """A worker initializer: remember the process it ran in."""
    global _INITIALIZED_IN
    _INITIALIZED_IN = os.getpid()


def report_initialized(cell, rng, seed):
    """Whether :func:`mark_initialized` ran in this process before the cell."""
    return [{"initialized": _INITIALIZED_IN == os.getpid()}]


def bad_records(cell, rng, seed):
    """Records that are not a list of dicts, or that use a reserved field."""
    if cell.params["kind"] == "not_a_list":
        return {"x": 1}
    return [{"seed": 1}]
