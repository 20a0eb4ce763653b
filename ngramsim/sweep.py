"""Resumable parameter sweeps: the engine behind ``ngramsim reproduce``.

A sweep is a list of :class:`Cell` s (an experiment name and JSON-able
parameters) and a *compute function* ``compute(cell, rng, seed) -> list[dict]``
that turns one cell into records.  :func:`run_sweep` runs the cells that are
not done yet, in this process or on a process pool, writes each finished cell
atomically to ``out_dir/cells/<cell_key>.json`` and finally (re)writes
``out_dir/results.jsonl``::

    out_dir/
        cells/<cell_key>.json   one per finished cell (format "ngramsim.sweep-cell/1")
        results.jsonl           one strict-JSON record per line, cells in input order

Reproducibility: the randomness of a cell is a function of the cell and the
root seed only (:func:`cell_randomness`), so the records do not depend on the
number of jobs, on the order of the cells, or on which cells were already
done.  A killed or interrupted sweep loses no finished cell, and rerunning it
with the same cells and seed computes only the missing ones.

Failures: a cell whose job fails (its compute function raised, its worker
died, ...) is run again up to ``retries`` times; a cell that still fails does
not stop the others, and once every cell has been tried :func:`run_sweep`
raises :class:`SweepError` listing the failed cells (``results.jsonl`` is only
written when every cell is done).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import numbers
import pickle
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, CancelledError, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ngramsim._json import dumps_strict, from_jsonable, to_jsonable
from ngramsim._validation import check_int
from ngramsim._version import __version__
from ngramsim.io import write_text_atomic

__all__ = [
    "CELL_FORMAT",
    "RESERVED_FIELDS",
    "Cell",
    "CellError",
    "SweepError",
    "cell_randomness",
    "run_sweep",
    "pending_cells",
    "load_records",
]

#: ``format`` field of a cell file.
CELL_FORMAT = "ngramsim.sweep-cell/1"

#: Fields :func:`run_sweep` adds to every record; a compute function must not use them.
RESERVED_FIELDS = ("experiment", "params", "cell_key", "seed", "cell_seed", "version")

_RESULTS_NAME = "results.jsonl"
_CELLS_DIR = "cells"

# Plain progress lines (stderr not a terminal, e.g. a CI log) are written for the
# first and the last cell and otherwise at most once per this many seconds.
_LINE_INTERVAL = 10.0
# The single-line terminal bar is redrawn at most this often.
_BAR_INTERVAL = 0.1
_LABEL_WIDTH = 60


def _canonical_json(obj) -> str:
    """The one JSON spelling used for keys and comparisons: sorted keys, no spaces, ASCII."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _plain_json(value, where: str):
    """A deep copy of ``value`` made of dict/list/str/int/float/bool/None, or an error naming ``where``."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r}; parameter names must be strings")
            out[key] = _plain_json(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_plain_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not np.isfinite(value):
            # Strict JSON would spell it "inf"/"nan", the same as a string parameter,
            # and two different cells would then share a key.
            raise ValueError(f"{where} must be a finite number, got {value!r}")
        return value
    if value is None or isinstance(value, str):
        return value
    raise TypeError(
        f"{where} must be JSON-able (dict, list, str, int, float, bool or None), got {type(value).__name__}"
    )


@dataclass(frozen=True, eq=False)
class Cell:
    """One point of a sweep: an experiment name and its parameters.

    Parameters
    ----------
    experiment : str
        Non-empty name of the experiment (e.g. ``"kl_vs_steps"``).
    params : dict
        JSON-able parameters: nested dicts with string keys, lists (tuples become
        lists), str, int, finite float, bool, None; numpy scalars are converted to
        the Python ones.  Anything else raises a ``TypeError`` naming the parameter.
        The dict is copied; treat ``cell.params`` as read-only.

    Notes
    -----
    Equality and hashing follow the canonical JSON of ``(experiment, params)``:
    dict order does not matter, but ``1`` and ``1.0`` are different parameters
    (they are different JSON, and a compute function may treat them differently).
    """

    experiment: str
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.experiment, str):
            raise TypeError(f"experiment must be a str, got {type(self.experiment).__name__}")
        if not self.experiment:
            raise ValueError("experiment must be a non-empty string, got ''")
        if not isinstance(self.params, Mapping):
            raise TypeError(f"params must be a dict of JSON-able values, got {type(self.params).__name__}")
        # Frozen dataclass: the validated copy replaces the caller's mapping once, here.
        object.__setattr__(self, "params", _plain_json(self.params, "params"))

    def _identity(self) -> tuple[str, str]:
        return self.experiment, _canonical_json(self.params)

    def __eq__(self, other):
        if not isinstance(other, Cell):
            return NotImplemented
        return self._identity() == other._identity()

    def __hash__(self):
        return hash(self._identity())

    def key(self, seed) -> str:
        """The cell's key under root seed ``seed``: 64 hex digits.

        SHA-256 of the UTF-8 text ``json.dumps({"experiment": ..., "params": ...,
        "seed": seed}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``.
        """
        seed = check_int(seed, "seed", minimum=0)
        text = _canonical_json({"experiment": self.experiment, "params": self.params, "seed": seed})
        return hashlib.sha256(text.encode("ascii")).hexdigest()

    def label(self) -> str:
        """A short human-readable name, e.g. ``kl_vs_steps(L=8, schedule='linear:4')``."""
        args = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        return f"{self.experiment}({args})"


class CellError(RuntimeError):
    """A cell failed: its compute function raised, or its job could not run to the end.

    Attributes
    ----------
    cell : Cell
    cell_key : str
    error : BaseException
        The exception of the last attempt (also ``__cause__``): what the compute
        function raised, or the executor's error (e.g. Dask's ``KilledWorker``,
        ``BrokenProcessPool``, ``CancelledError``).
    attempts : int
        How many times the cell was submitted (1 + the retries it used).
    """

    def __init__(self, cell: Cell, cell_key: str, error: BaseException, attempts: int = 1):
        after = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"cell {cell.label()} [key {cell_key[:12]}] failed{after}: {type(error).__name__}: {error}")
        self.cell = cell
        self.cell_key = cell_key
        self.error = error
        self.attempts = attempts
        self.__cause__ = error


class SweepError(CellError):
    """Cells of a sweep failed (after their retries); every other cell ran and is saved.

    :func:`run_sweep` raises it once every cell has been tried, without writing
    ``results.jsonl``; rerunning the sweep computes only the failed cells.  As a
    :class:`CellError`, its ``cell``, ``cell_key``, ``error``, ``attempts`` and
    ``__cause__`` are those of the first failed cell (in input order).

    Attributes
    ----------
    failures : list of CellError
        One per failed cell, in input order.
    records : list of dict
        The records of every cell that is done (in this run or before), in
        input order, as :func:`run_sweep` returns them.
    num_cells : int
        The number of (distinct) cells in the sweep.
    """

    _SHOWN = 3  # failures spelled out in the message; all of them are in ``failures``

    def __init__(self, failures: list, records: list, num_cells: int):
        first = failures[0]
        super().__init__(first.cell, first.cell_key, first.error, first.attempts)
        more = f"; and {len(failures) - self._SHOWN} more" if len(failures) > self._SHOWN else ""
        self.args = (
            f"{len(failures)} of {num_cells} cells failed (the others are saved; a rerun retries the failed ones): "
            + "; ".join(str(failure) for failure in failures[: self._SHOWN]) + more,
        )
        self.failures = failures
        self.records = records
        self.num_cells = num_cells


def cell_randomness(cell: Cell, seed) -> tuple[np.random.Generator, int]:
    """The ``(rng, cell_seed)`` that :func:`run_sweep` passes to ``compute`` for ``cell``.

    Let ``words`` be the cell key (:meth:`Cell.key`) read as eight 32-bit
    big-endian words and ``root = SeedSequence(entropy=seed, spawn_key=words)``;
    with ``rng_seq, int_seq = root.spawn(2)``:

    - ``rng = numpy.random.default_rng(rng_seq)``;
    - ``cell_seed = int(int_seq.generate_state(1, numpy.uint64)[0] >> 1)``, an int in
      ``[0, 2**63)`` for library calls that take an int seed (``sample_mdm(..., rng=cell_seed)``),
      so that they are reproducible and the seed can be recorded.

    The two are independent streams.  Use this to rerun one cell by hand.
    """
    if not isinstance(cell, Cell):
        raise TypeError(f"cell must be a Cell, got {type(cell).__name__}")
    seed = check_int(seed, "seed", minimum=0)
    key = cell.key(seed)
    words = [int(key[i : i + 8], 16) for i in range(0, len(key), 8)]
    rng_seq, int_seq = np.random.SeedSequence(entropy=seed, spawn_key=words).spawn(2)
    cell_seed = int(int_seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
    return np.random.default_rng(rng_seq), cell_seed


def _check_records(records, where: str) -> None:
    """``records`` must be a list of dicts that leave :data:`RESERVED_FIELDS` to the engine."""
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise TypeError(f"{where} must be a list of dicts (records), got {type(records).__name__}")
    for i, record in enumerate(records):
        clash = [name for name in RESERVED_FIELDS if name in record]
        if clash:
            raise ValueError(f"{where}[{i}] uses the reserved field {clash[0]!r}; reserved fields: {list(RESERVED_FIELDS)}")


def _run_cell(compute, cell: Cell, seed: int) -> list:
    """The job sent to an executor: compute one cell and return its strict-JSON-ready records."""
    rng, cell_seed = cell_randomness(cell, seed)
    records = compute(cell, rng, cell_seed)
    _check_records(records, "the records returned by compute")
    return to_jsonable(records)


def _decode_payload(data: dict) -> dict:
    return {**data, "records": [from_jsonable(record) for record in data["records"]]}


def _decode_record(record: dict) -> dict:
    # Provenance fields are left alone: a string parameter "nan" must stay a string.
    return {name: value if name in RESERVED_FIELDS else from_jsonable(value) for name, value in record.items()}


def _read_cell(path: Path, cell: Cell, key: str, seed: int) -> dict | None:
    """The decoded payload stored for ``cell`` at ``path``, or ``None`` if there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    hint = "; delete it to recompute the cell"
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"cell file {path} is not valid JSON ({exc}){hint}") from None
    expected = {
        "format": CELL_FORMAT,
        "cell_key": key,
        "experiment": cell.experiment,
        "params": cell.params,
        "seed": seed,
        # The file must also come from the same seed derivation, or a rerun would
        # mix records drawn from two different streams.
        "cell_seed": cell_randomness(cell, seed)[1],
    }
    stored = {name: data.get(name) for name in expected} if isinstance(data, dict) else data
    if _canonical_json(stored) != _canonical_json(expected):
        raise ValueError(
            f"cell file {path} does not hold cell {cell.label()} with seed {seed}: "
            f"expected {_canonical_json(expected)}, found {_canonical_json(stored)[:300]}{hint}"
        )
    if not isinstance(data.get("version"), str):
        raise ValueError(f"cell file {path}: field 'version' must be a string, got {data.get('version')!r}{hint}")
    _check_records(data.get("records"), f"field 'records' of cell file {path}")
    return _decode_payload(data)


def _write_cell(path: Path, cell: Cell, key: str, seed: int, records: list) -> dict:
    """Write one finished cell atomically; return its payload decoded as :func:`_read_cell` would."""
    payload = {
        "format": CELL_FORMAT,
        "cell_key": key,
        "experiment": cell.experiment,
        "params": cell.params,
        "seed": seed,
        "cell_seed": cell_randomness(cell, seed)[1],
        "version": __version__,
        "records": records,
    }
    text = dumps_strict(payload) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)  # the sweep owns out_dir/cells (and out_dir)
    write_text_atomic(path, text)
    return _decode_payload(json.loads(text))


def _augmented(payload: dict) -> list[dict]:
    """The records of one cell with the provenance fields (:data:`RESERVED_FIELDS`) in front."""
    provenance = {name: payload[name] for name in RESERVED_FIELDS}
    return [{**provenance, **record} for record in payload["records"]]


def _unique_cells(cells) -> list[Cell]:
    """``cells`` as a list without repeats (first occurrence kept), each checked to be a Cell."""
    if isinstance(cells, Cell | str | Mapping):
        raise TypeError(f"cells must be an iterable of Cell, got {type(cells).__name__}")
    unique = {}
    for i, cell in enumerate(cells):
        if not isinstance(cell, Cell):
            raise TypeError(f"cells[{i}] must be a Cell, got {type(cell).__name__}")
        unique.setdefault(cell, None)
    return list(unique)


def _stored(cells, out_dir, seed) -> list[tuple[Cell, str, Path, dict | None]]:
    """For each unique cell: ``(cell, key, path of its file, stored payload or None)``."""
    seed = check_int(seed, "seed", minimum=0)
    cells_dir = Path(out_dir) / _CELLS_DIR
    rows = []
    for cell in _unique_cells(cells):
        key = cell.key(seed)
        path = cells_dir / f"{key}.json"
        rows.append((cell, key, path, _read_cell(path, cell, key, seed)))
    return rows


def pending_cells(cells, out_dir, seed) -> list[Cell]:
    """The cells of ``cells`` that :func:`run_sweep` would compute (no file in ``out_dir/cells``).

    Repeated cells appear once, in order of first appearance.  Raises ``ValueError``
    if a cell file exists but does not hold that cell and seed.
    """
    return [cell for cell, _, _, payload in _stored(cells, out_dir, seed) if payload is None]


def load_records(out_dir) -> list[dict]:
    """The records of ``out_dir/results.jsonl``, as :func:`run_sweep` returned them.

    Strict JSON is decoded back: the strings ``"inf"``, ``"-inf"``, ``"nan"`` become
    floats everywhere except in the provenance fields (:data:`RESERVED_FIELDS`).
    """
    path = Path(out_dir) / _RESULTS_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no sweep results at {path} (run_sweep writes it when all cells are done)") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(_decode_record(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
    return records


# --------------------------------------------------------------------------- progress


def _format_duration(seconds) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _short_label(cell: Cell) -> str:
    label = cell.label()
    return label if len(label) <= _LABEL_WIDTH else label[: _LABEL_WIDTH - 3] + "..."


class _Progress:
    """Silent progress report; the subclasses write to ``stream`` (stderr)."""

    def __init__(self, stream, total: int, skipped: int):
        self.stream = stream
        self.total = total
        self.skipped = skipped
        self.done = 0
        self.start = time.monotonic()

    def eta(self) -> float | None:
        """Seconds left, from the mean time of the cells computed in this run."""
        if not self.done:
            return None
        return (time.monotonic() - self.start) / self.done * (self.total - self.done)

    def update(self, cell: Cell) -> None:
        """One more cell finished (done or failed for good)."""
        self.done += 1
        self._show(cell)

    def _show(self, cell: Cell) -> None:
        pass

    def note(self, line: str) -> None:
        """Tell about a failed attempt (one line); the silent reporter ignores it."""

    def close(self) -> None:
        pass


class _Lines(_Progress):
    """Plain lines for logs: ``cell 3/40 done (kl_vs_steps(...)), eta 12 s``."""

    def __init__(self, stream, total, skipped):
        super().__init__(stream, total, skipped)
        self.last = -float("inf")
        self._write(f"sweep: {total + skipped} cells, {skipped} already done, {total} to run")

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, line):
        self._write(line)

    def _show(self, cell):
        now = time.monotonic()
        if self.done in (1, self.total) or now - self.last >= _LINE_INTERVAL:
            self.last = now
            self._write(f"cell {self.done}/{self.total} done ({_short_label(cell)}), eta {_format_duration(self.eta())}")


class _Bar(_Progress):
    """A single redrawn line for terminals without tqdm."""

    WIDTH = 20

    def __init__(self, stream, total, skipped):
        super().__init__(stream, total, skipped)
        self.last = -float("inf")
        self.shown = 0  # length of the line on screen, to blank a longer previous one
        self._draw(force=True)

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and now - self.last < _BAR_INTERVAL:
            return
        self.last = now
        filled = self.WIDTH * self.done // self.total if self.total else self.WIDTH
        before = f" (+{self.skipped} done before)" if self.skipped else ""
        text = (
            f"sweep [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} cells{before},"
            f" {_format_duration(now - self.start)} elapsed, eta {_format_duration(self.eta())}"
        )
        # A line longer than the terminal wraps, and "\r" would then redraw only its tail.
        text = text[: shutil.get_terminal_size().columns - 1]
        self.stream.write("\r" + text.ljust(self.shown))
        self.stream.flush()
        self.shown = len(text)

    def _show(self, cell):
        self._draw(force=self.done == self.total)

    def note(self, line):
        # Above the bar: blank the bar's line, write the note, redraw the bar below it.
        self.stream.write("\r" + line.ljust(self.shown) + "\n")
        self.shown = 0
        self._draw(force=True)

    def close(self):
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()


class _Tqdm(_Progress):
    """tqdm's bar (rate, elapsed time and ETA), when tqdm is installed."""

    def __init__(self, stream, total, skipped, tqdm):
        super().__init__(stream, total, skipped)
        self.bar = tqdm(total=total, file=stream, unit="cell", desc=f"sweep ({skipped} already done)")

    def _show(self, cell):
        self.bar.set_postfix_str(_short_label(cell), refresh=False)
        self.bar.update(1)

    def note(self, line):
        self.bar.write(line, file=self.stream)

    def close(self):
        self.bar.close()


def _progress(progress, total: int, skipped: int) -> _Progress:
    """The reporter for ``progress`` ("auto"/True: bar on a terminal, lines otherwise; False: silent)."""
    stream = sys.stderr  # looked up now, not at import, so redirections apply
    if progress is False:
        return _Progress(stream, total, skipped)
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return _Lines(stream, total, skipped)
    try:
        from tqdm import tqdm
    except ImportError:
        return _Bar(stream, total, skipped)
    return _Tqdm(stream, total, skipped, tqdm)


# --------------------------------------------------------------------------- executors


class _InlineExecutor:
    """Runs each job when it is submitted, in this process (``jobs=1``): no pool, no pickling."""

    def submit(self, fn, /, *args):
        future = Future()
        try:
            result = fn(*args)
        except Exception as exc:  # a KeyboardInterrupt is not caught: it stops the sweep
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


def _init_worker(jobs: int, initializer) -> None:
    """Set up one pool worker, then call the user's ``initializer``."""
    # Ctrl-C reaches the whole foreground process group.  The parent alone handles
    # it (it cancels the sweep and terminates the workers); workers ignore it rather
    # than each dying with a traceback mid-cell.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Forking is unsafe once numba's threads run here, so anything this worker
    # starts should spawn.  It also keeps numba from guarding its threading-layer
    # start-up with a named semaphore (it does so under any "fork*" method), which
    # a worker terminated on Ctrl-C would leak, making the resource tracker warn.
    import multiprocessing

    multiprocessing.set_start_method("spawn", force=True)
    import numba

    numba.set_num_threads(_numba_threads(jobs))
    if initializer is not None:
        initializer()


def _numba_threads(workers: int) -> int:
    """Numba threads per worker when ``workers`` worker processes share this machine's cores.

    Each numba parallel kernel would otherwise start one thread per core in every
    worker (workers x cores threads).  The samplers' output does not depend on the
    number of threads, so sharing the cores changes speed only.
    """
    import numba

    return max(1, numba.config.NUMBA_NUM_THREADS // workers)


def _start_context():
    """The multiprocessing context for pools: forkserver (spawn where there is none).

    Plain fork is unsafe here: once numba's OpenMP threading layer has run in the
    parent, a forked child aborts ("fork() called from a process already using GNU
    OpenMP").  The forkserver is a fresh single-threaded process that imports
    ngramsim once; workers fork from it with ngramsim already imported, so a pool
    starts in about 0.02 s after the first (about 1 s, the server's import),
    against about 2 s for every spawn pool.
    """
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Only takes effect if this process's forkserver is not running yet.
        context.set_forkserver_preload(["ngramsim"])
        return context
    return multiprocessing.get_context("spawn")


def _abandon_pool(pool) -> None:
    """Stop ``pool`` now: cancel queued jobs and terminate the workers (their cells are lost)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def _check_picklable(obj, name: str, jobs: int) -> None:
    try:
        pickle.dumps(obj)
    except Exception as exc:
        raise TypeError(
            f"{name} must be picklable (a module-level function) to run on a process pool (jobs={jobs}): {exc}"
        ) from None


@contextlib.contextmanager
def _executor_scope(jobs: int, executor, initializer):
    """Yield ``(executor, jobs in flight or None for all)``; a pool made here is also stopped here."""
    if executor is not None:
        # Someone else's executor: theirs to shut down.  Submit everything (it
        # schedules); Ctrl-C cancels what has not finished.
        yield executor, None
        return
    if jobs == 1:
        if initializer is not None:
            initializer()
        yield _InlineExecutor(), 1
        return
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=_start_context(), initializer=_init_worker, initargs=(jobs, initializer)
    )
    try:
        # Two jobs per worker keep the workers busy while leaving most cells
        # unsubmitted, so stopping on Ctrl-C is quick.
        yield pool, 2 * jobs
    except BaseException:
        _abandon_pool(pool)
        raise
    pool.shutdown(wait=True)


def _should_retry(error: BaseException, attempts: int, retries: int) -> bool:
    """Whether a cell whose job failed with ``error`` after ``attempts`` submissions is submitted again.

    Any failure is retried while ``attempts <= retries``: a dead worker, a lost
    connection or an exhausted resource may not recur, and a compute function
    that fails deterministically costs ``retries`` more runs of one cell.  A
    broken executor (``BrokenProcessPool``: a worker of the pool died) is not:
    it accepts no more jobs.
    """
    return attempts <= retries and not isinstance(error, BrokenExecutor)


def _job_error(future) -> BaseException | None:
    """The exception of a finished job, ``None`` if it succeeded."""
    if future.cancelled():
        # The sweep cancels jobs only on its way out, so someone else did (e.g. a
        # Dask client.restart()): the cell did not run to the end.
        return CancelledError("the job was cancelled before it finished")
    return future.exception()


def _one_line(text: str, width: int = 300) -> str:
    """``text`` on one line, cut to ``width`` characters (error messages can span pages)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _execute(todo, compute, seed: int, executor, window, retries: int, on_done, reporter) -> list[CellError]:
    """Run ``todo`` (``(cell, key)`` pairs) on ``executor``; return the cells that failed for good.

    ``on_done(cell, key, records)`` is called for each cell that succeeds.  A
    failed job is resubmitted while :func:`_should_retry` allows it; a cell
    that still fails is reported to ``reporter`` and returned as a
    :class:`CellError`, and the other cells go on.  A broken executor fails
    every cell submitted to it.  On any exception (Ctrl-C) the unfinished
    futures are cancelled and the exception propagates.
    """
    queue = collections.deque(todo)
    running = {}
    attempts = collections.Counter()
    failures = []

    def failed(cell, key, error):
        if _should_retry(error, attempts[key], retries):
            reporter.note(_one_line(f"cell {cell.label()} failed ({type(error).__name__}: {error}); "
                                    f"retrying ({attempts[key]} of {retries + 1} attempts made)"))
            queue.appendleft((cell, key))
            return
        failures.append(CellError(cell, key, error, attempts[key]))
        reporter.note(_one_line(str(failures[-1])))
        reporter.update(cell)

    try:
        while queue or running:
            while queue and (window is None or len(running) < window):
                cell, key = queue.popleft()
                attempts[key] += 1
                try:
                    running[executor.submit(_run_cell, compute, cell, seed)] = (cell, key)
                except BrokenExecutor as error:
                    failed(cell, key, error)
            if not running:
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                cell, key = running.pop(future)
                error = _job_error(future)
                if error is None:
                    on_done(cell, key, future.result())
                else:
                    failed(cell, key, error)
    except BaseException:
        for future in running:
            future.cancel()
        raise
    return failures


def run_sweep(
    cells, compute, out_dir, *, seed, jobs=1, executor=None, progress="auto", initializer=None, retries=0
) -> list[dict]:
    """Compute every cell not already on disk, then write and return all records.

    Parameters
    ----------
    cells : iterable of Cell
        Repeated cells (equal as data) are computed once and appear once, at
        their first position.
    compute : callable
        ``compute(cell, rng, seed) -> list[dict]``, called once per cell with the
        :class:`Cell`, a ``numpy.random.Generator`` and an int ``seed`` in
        ``[0, 2**63)``, both from :func:`cell_randomness` (use ``rng`` for numpy
        draws and ``seed`` for library calls taking an int seed).  Records must be
        strict-JSON-able (numpy scalars and arrays, non-finite floats allowed)
        and must not use the names in :data:`RESERVED_FIELDS`.  With a process
        pool it must be picklable: a function defined at module level in an
        importable module.
    out_dir : str or os.PathLike
        Created if needed.  Holds ``cells/<cell_key>.json`` and ``results.jsonl``.
    seed : int
        Root seed, ``>= 0``.
    jobs : int
        ``1`` runs the cells in this process; ``K > 1`` on a process pool of
        ``K`` workers (forkserver start method, numba threads shared among them).
        Workers import the main module, so a script needs the usual
        ``if __name__ == "__main__":`` guard.
    executor : concurrent.futures.Executor-like, optional
        Anything with ``submit(fn, *args) -> concurrent.futures.Future`` (e.g. a
        ``ProcessPoolExecutor``, or a Dask cluster's from
        :func:`ngramsim.distributed.dask_executor`).  It receives
        ``submit(job, compute, cell, seed)``, all picklable (``job`` is a
        module-level function of this module), and is not shut down here.  A
        retried cell is submitted again with the same arguments, so the executor
        must not cache results by their arguments (Dask: ``pure=False``).
        Then ``jobs`` must be 1 and ``initializer`` None.
    progress : {"auto", True, False}
        Progress on stderr (never stdout): on a terminal a bar with ETA (tqdm if
        installed), otherwise plain lines at a modest rate; ``False`` is silent.
    initializer : callable, optional
        Called once per worker before its first cell (once in this process when
        ``jobs=1``), e.g. to load numba kernels; picklable when ``jobs > 1``.
    retries : int
        How many more times a cell whose job failed is submitted (``>= 0``): its
        compute function raised, its worker died (Dask's ``KilledWorker``), its
        job was cancelled.  Not after ``BrokenProcessPool``: a pool that lost a
        worker accepts no more jobs, so the cells left fail with it.

    Returns
    -------
    list of dict
        The records, cells in input order, each preceded by the fields
        ``experiment``, ``params``, ``cell_key``, ``seed`` (the root seed),
        ``cell_seed`` (the int seed passed to ``compute``) and ``version`` (of the
        ngramsim that computed the cell).  Equal to ``load_records(out_dir)``.

    Raises
    ------
    SweepError
        If cells failed after their retries, once every cell has been tried.  It
        lists the failed cells (each a :class:`CellError` naming the cell, whose
        cause is the original exception) and holds the records of the others,
        which are saved in ``out_dir/cells``; ``results.jsonl`` is not written.
        A subclass of :class:`CellError` (the first failed cell's).
    KeyboardInterrupt
        Re-raised after cancelling queued cells and stopping the pool.
    ValueError
        If a cell file exists but holds another cell (delete it to recompute).

    Notes
    -----
    Each finished cell is written atomically (temporary file, then rename) as
    soon as it is done, so a kill loses only running cells; a rerun with the
    same cells and seed skips the cells on disk and returns identical records.
    ``results.jsonl`` is rewritten atomically at the end: one strict-JSON record
    per line (non-finite floats as ``"inf"``, ``"-inf"``, ``"nan"``).
    """
    if not callable(compute):
        raise TypeError(f"compute must be a callable compute(cell, rng, seed) -> list[dict], got {type(compute).__name__}")
    seed = check_int(seed, "seed", minimum=0)
    jobs = check_int(jobs, "jobs", minimum=1)
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be a callable or None, got {type(initializer).__name__}")
    if not (progress is True or progress is False or progress == "auto"):
        raise ValueError(f"progress must be 'auto', True or False, got {progress!r}")
    retries = check_int(retries, "retries", minimum=0)
    if executor is not None:
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(f"executor must have a submit(fn, *args) method, got {type(executor).__name__}")
        if jobs != 1:
            raise ValueError(f"jobs must be 1 when an executor is given (the executor sets the parallelism), got {jobs}")
        if initializer is not None:
            raise ValueError("initializer must be None when an executor is given; give it to the executor")
    if jobs > 1:
        _check_picklable(compute, "compute", jobs)
        _check_picklable(initializer, "initializer", jobs)

    rows = _stored(cells, out_dir, seed)
    payloads = {key: payload for _, key, _, payload in rows}
    todo = [(cell, key) for cell, key, _, payload in rows if payload is None]
    paths = {key: path for _, key, path, _ in rows}
    reporter = _progress(progress, total=len(todo), skipped=len(rows) - len(todo))

    def on_done(cell, key, records):
        payloads[key] = _write_cell(paths[key], cell, key, seed, records)
        reporter.update(cell)

    failures = []
    try:
        if todo:
            with _executor_scope(jobs, executor, initializer) as (runner, window):
                failures = _execute(todo, compute, seed, runner, window, retries, on_done, reporter)
    finally:
        reporter.close()
    records = [record for _, key, _, _ in rows if payloads[key] is not None for record in _augmented(payloads[key])]
    if failures:
        order = {key: i for i, (_, key, _, _) in enumerate(rows)}
        raise SweepError(sorted(failures, key=lambda failure: order[failure.cell_key]), records, len(rows))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(out_dir) / _RESULTS_NAME, "".join(dumps_strict(record) + "\n" for record in records))
    return records
