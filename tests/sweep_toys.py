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


def _log_call(cell):
    """Leave the file ``<i>-<pid>-<random>`` in ``cell.params["log_dir"]``; return how many were there for ``i``."""
    log_dir = Path(cell.params["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    before = len(list(log_dir.glob(f"{cell.params['i']}-*")))
    (log_dir / f"{cell.params['i']}-{os.getpid()}-{uuid.uuid4().hex}").touch()
    return before


def logged(cell, rng, seed):
    """:func:`draws`, leaving one file per call in ``cell.params["log_dir"]`` to count calls."""
    _log_call(cell)
    return draws(cell, rng, seed)


def flaky(cell, rng, seed):
    """:func:`logged`, except that each cell raises on its first call."""
    if _log_call(cell) == 0:
        raise ConnectionError(f"toy transient failure at i={cell.params['i']}")
    return draws(cell, rng, seed)


def held(cell, rng, seed):
    """:func:`logged`; on its first call, the cell whose ``i`` equals ``hold`` waits for the file ``log_dir/release``.

    The wait is bounded (``cell.params["timeout"]`` seconds) so that a broken test cannot hang.
    """
    first = _log_call(cell) == 0
    if first and cell.params["i"] == cell.params["hold"]:
        release = Path(cell.params["log_dir"]) / "release"
        deadline = time.monotonic() + cell.params["timeout"]
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return draws(cell, rng, seed)


def dying(cell, rng, seed):
    """:func:`draws`, except that the process running the cell whose ``i`` equals ``die_at`` exits at once."""
    if cell.params["i"] == cell.params["die_at"]:
        os._exit(3)
    return draws(cell, rng, seed)


def sleepy(cell, rng, seed):
    """:func:`draws` after sleeping ``cell.params["sleep"]`` seconds."""
    time.sleep(cell.params["sleep"])
    return draws(cell, rng, seed)


def failing(cell, rng, seed):
    """:func:`draws`, except that the cell(s) whose ``i`` equals (or is in) ``fail_at`` raise.

    With ``log_dir`` in the parameters, each call is logged as by :func:`logged`.
    """
    if "log_dir" in cell.params:
        _log_call(cell)
    fail_at = cell.params["fail_at"]
    if cell.params["i"] in (fail_at if isinstance(fail_at, list) else [fail_at]):
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


def log_initialization(log_dir):
    """A worker initializer (bind ``log_dir`` with functools.partial): leave ``init-<pid>-<random>`` there."""
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    (Path(log_dir) / f"init-{os.getpid()}-{uuid.uuid4().hex}").touch()
