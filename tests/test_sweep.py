"""The sweep engine: cell keys, seeds independent of jobs and order, resume, kills, failures, progress."""

import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import BrokenExecutor, CancelledError, Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ngramsim import __version__
from ngramsim.sweep import (
    RESERVED_FIELDS,
    Cell,
    CellError,
    SweepError,
    cell_randomness,
    load_records,
    pending_cells,
    run_sweep,
)
from tests import sweep_toys

ROOT = Path(__file__).resolve().parents[1]

# The paragraph handed over for README.md shows exactly this code.
README_EXAMPLE = '''
from ngramsim import sample_mdm, summarize_samples, window_language
from ngramsim.sweep import Cell, load_records, run_sweep

def ser_vs_steps(cell, rng, seed):
    """One cell: the sequence error rate of W(8, 2) at length 16 in `steps` parallel steps."""
    language = window_language(8, 2)
    result = sample_mdm(language, 16, f"linear:{cell.params['steps']}", 500, rng=seed)
    return [{"steps": cell.params["steps"], "ser": summarize_samples(language, result)["ser"]}]

cells = [Cell("ser_vs_steps", {"steps": steps}) for steps in (1, 2, 4, 8, 16)]
records = run_sweep(cells, ser_vs_steps, "sweep_out", seed=0)  # a rerun skips finished cells
assert records == load_records("sweep_out")  # one record per line in sweep_out/results.jsonl
print([(r["steps"], r["ser"]) for r in records])
'''


def toy_cells(n, **extra):
    return [Cell("toy", {"i": i, **extra}) for i in range(n)]


def results_bytes(out_dir):
    return (Path(out_dir) / "results.jsonl").read_bytes()


def cell_files(out_dir):
    return sorted(p for p in (Path(out_dir) / "cells").iterdir() if not p.name.startswith("."))


def lines_by_cell(out_dir):
    """results.jsonl lines grouped by cell key (order of cells ignored, order within a cell kept)."""
    groups = {}
    for line in results_bytes(out_dir).decode().splitlines():
        groups.setdefault(json.loads(line)["cell_key"], []).append(line)
    return groups


# --------------------------------------------------------------------------- keys


def test_key_is_stable_under_dict_order():
    a = Cell("exp", {"L": 8, "schedule": "linear:4", "grid": {"x": [1, 2], "y": None}})
    b = Cell("exp", {"grid": {"y": None, "x": [1, 2]}, "schedule": "linear:4", "L": 8})
    assert a == b and hash(a) == hash(b)
    assert a.key(0) == b.key(0)


def test_key_follows_its_documented_definition():
    cell = Cell("exp", {"b": [1.5, True, None], "a": "s"})
    text = json.dumps(
        {"experiment": "exp", "params": {"a": "s", "b": [1.5, True, None]}, "seed": 7},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert cell.key(7) == hashlib.sha256(text.encode()).hexdigest()


def test_key_changes_with_any_param_experiment_or_seed():
    base = {"L": 8, "lam": 0.1, "schedule": "linear:4", "flag": True, "grid": [1, 2], "opt": None}
    variants = [
        Cell("exp", base).key(0),
        Cell("exp", base).key(1),
        Cell("other", base).key(0),
        Cell("exp", {**base, "extra": 0}).key(0),
        Cell("exp", {k: v for k, v in base.items() if k != "opt"}).key(0),
        Cell("exp", {**base, "L": 9}).key(0),
        Cell("exp", {**base, "L": 8.0}).key(0),  # an int and a float are different parameters
        Cell("exp", {**base, "lam": 0.1 + 1e-16 * 2}).key(0),
        Cell("exp", {**base, "schedule": "linear:5"}).key(0),
        Cell("exp", {**base, "flag": False}).key(0),
        Cell("exp", {**base, "grid": [2, 1]}).key(0),
        Cell("exp", {**base, "opt": 0}).key(0),
    ]
    assert len(set(variants)) == len(variants)
    assert Cell("exp", {**base, "grid": (1, 2)}).key(0) == variants[0]  # a tuple is a JSON list
    assert Cell("exp", {**base, "L": np.int64(8)}).key(0) == variants[0]


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"f": object()}, TypeError, r"params\['f'\]"),
        ({"grid": [1, {1, 2}]}, TypeError, r"params\['grid'\]\[1\]"),
        ({"a": np.zeros(3)}, TypeError, r"params\['a'\]"),
        ({"d": {3: 1}}, TypeError, r"params\['d'\].*key 3"),
        ({"x": float("nan")}, ValueError, r"params\['x'\].*finite"),
        ({"x": [float("inf")]}, ValueError, r"params\['x'\]\[0\].*finite"),
    ],
)
def test_params_that_are_not_json_are_rejected_by_name(params, error, name):
    with pytest.raises(error, match=name):
        Cell("exp", params)


def test_cell_arguments_are_checked():
    with pytest.raises(TypeError, match="experiment must be a str"):
        Cell(3, {})
    with pytest.raises(ValueError, match="experiment must be a non-empty"):
        Cell("", {})
    with pytest.raises(TypeError, match="params must be a dict"):
        Cell("exp", [1, 2])
    with pytest.raises(ValueError, match="seed must be >= 0"):
        Cell("exp", {}).key(-1)


def test_cell_copies_its_params():
    params = {"grid": [1, 2]}
    cell = Cell("exp", params)
    params["grid"].append(3)
    assert cell.params == {"grid": [1, 2]}


# --------------------------------------------------------------------------- seeds


def test_cell_randomness_depends_on_cell_and_seed_only():
    rng, seed = cell_randomness(Cell("exp", {"a": 1, "b": 2}), 5)
    rng2, seed2 = cell_randomness(Cell("exp", {"b": 2, "a": 1}), 5)
    assert seed == seed2 and 0 <= seed < 2**63
    assert rng.integers(2**62, size=4).tolist() == rng2.integers(2**62, size=4).tolist()
    others = [cell_randomness(Cell("exp", {"a": 1, "b": 3}), 5)[1], cell_randomness(Cell("exp", {"a": 1, "b": 2}), 6)[1]]
    assert seed not in others


def test_compute_receives_the_documented_rng_and_seed(tmp_path):
    cell = Cell("toy", {"i": 0})
    record = run_sweep([cell], sweep_toys.draws, tmp_path, seed=11, progress=False)[0]
    rng, seed = cell_randomness(cell, 11)
    assert record["seed_given"] == record["cell_seed"] == seed
    assert record["normal"] == rng.normal()
    assert record["seed"] == 11 and record["cell_key"] == cell.key(11)
    assert record["experiment"] == "toy" and record["params"] == {"i": 0} and record["version"] == __version__


def test_results_do_not_depend_on_jobs_or_cell_order(tmp_path):
    cells = toy_cells(8)
    run_sweep(cells, sweep_toys.draws, tmp_path / "one", seed=3, progress=False)
    run_sweep(cells, sweep_toys.draws, tmp_path / "two", seed=3, jobs=2, progress=False)
    assert results_bytes(tmp_path / "two") == results_bytes(tmp_path / "one")

    shuffled = cells[:]
    random.Random(0).shuffle(shuffled)
    assert shuffled != cells
    run_sweep(shuffled, sweep_toys.draws, tmp_path / "shuffled", seed=3, progress=False)
    assert lines_by_cell(tmp_path / "shuffled") == lines_by_cell(tmp_path / "one")
    order = [json.loads(line)["params"]["i"] for line in results_bytes(tmp_path / "shuffled").decode().splitlines()]
    assert order == [i for cell in shuffled for i in (cell.params["i"],) * 2]  # input order kept


def test_other_root_seed_gives_other_draws(tmp_path):
    a = run_sweep(toy_cells(2), sweep_toys.draws, tmp_path / "a", seed=0, progress=False)
    b = run_sweep(toy_cells(2), sweep_toys.draws, tmp_path / "b", seed=1, progress=False)
    assert a[0]["normal"] != b[0]["normal"] and a[0]["cell_seed"] != b[0]["cell_seed"]


def test_any_executor_with_submit_gives_the_same_results(tmp_path):
    cells = toy_cells(5)
    run_sweep(cells, sweep_toys.draws, tmp_path / "inline", seed=2, progress=False)
    with ThreadPoolExecutor(3) as executor:
        run_sweep(cells, sweep_toys.draws, tmp_path / "threads", seed=2, executor=executor, progress=False)
        assert executor.submit(int, "4").result() == 4  # not shut down by the sweep
    assert results_bytes(tmp_path / "threads") == results_bytes(tmp_path / "inline")


# --------------------------------------------------------------------------- files, resume, duplicates


def test_records_round_trip_through_strict_json(tmp_path):
    cells = [Cell("toy", {"i": 0, "label": "nan"})]
    records = run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, progress=False)
    loaded = load_records(tmp_path)
    assert [list(r) for r in loaded] == [list(r) for r in records]
    special = loaded[1]
    assert special["inf"] == float("inf") and special["minus_inf"] == -float("inf") and np.isnan(special["nan"])
    assert special["params"]["label"] == "nan"  # a string parameter stays a string
    line = results_bytes(tmp_path).decode().splitlines()[1]
    assert '"inf": "inf"' in line and '"nan": "nan"' in line  # strict JSON: no bare NaN/Infinity
    stored = json.loads(cell_files(tmp_path)[0].read_text())
    assert {"format", "cell_key", "experiment", "params", "seed", "cell_seed", "version", "records"} <= set(stored)
    assert stored["cell_key"] == cells[0].key(0) and len(stored["records"]) == 2


def test_resume_recomputes_only_missing_cells(tmp_path):
    log = tmp_path / "log"
    cells = toy_cells(6, log_dir=str(log))
    out = tmp_path / "out"
    first = run_sweep(cells, sweep_toys.logged, out, seed=4, progress=False)
    first_bytes = results_bytes(out)
    assert len(list(log.iterdir())) == 6

    for cell in (cells[1], cells[4]):
        (out / "cells" / f"{cell.key(4)}.json").unlink()
    assert pending_cells(cells, out, 4) == [cells[1], cells[4]]
    for marker in log.iterdir():
        marker.unlink()
    again = run_sweep(cells, sweep_toys.logged, out, seed=4, progress=False)
    assert sorted(p.name.split("-")[0] for p in log.iterdir()) == ["1", "4"]
    assert results_bytes(out) == first_bytes
    assert [r["cell_key"] for r in again] == [r["cell_key"] for r in first]

    run_sweep(cells, sweep_toys.logged, out, seed=4, progress=False)
    assert len(list(log.iterdir())) == 2  # nothing left to compute
    assert pending_cells(cells, out, 4) == []


def test_duplicated_cells_run_once_and_appear_once(tmp_path):
    log = tmp_path / "log"
    a, b = Cell("toy", {"i": 0, "log_dir": str(log)}), Cell("toy", {"i": 1, "log_dir": str(log)})
    a_again = Cell("toy", {"log_dir": str(log), "i": 0})
    records = run_sweep([a, b, a_again, b], sweep_toys.logged, tmp_path / "out", seed=0, progress=False)
    assert len(list(log.iterdir())) == 2
    assert [r["params"]["i"] for r in records] == [0, 0, 1, 1]
    assert pending_cells([b, a, b], tmp_path / "elsewhere", 0) == [b, a]


def test_a_cell_file_holding_another_cell_is_an_error(tmp_path):
    cells = toy_cells(2)
    run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, progress=False)
    first, second = (tmp_path / "cells" / f"{c.key(0)}.json" for c in cells)
    first.write_bytes(second.read_bytes())
    with pytest.raises(ValueError, match="does not hold cell toy\\(i=0\\).*delete it"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, progress=False)
    first.write_text('{"format": "ngramsim.sweep-cell/1", "records": [')
    with pytest.raises(ValueError, match="not valid JSON.*delete it"):
        pending_cells(cells, tmp_path, 0)


def test_no_cells_writes_an_empty_results_file(tmp_path):
    assert run_sweep([], sweep_toys.draws, tmp_path, seed=0, progress=False) == []
    assert results_bytes(tmp_path) == b"" and load_records(tmp_path) == []


def test_load_records_without_results_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.jsonl"):
        load_records(tmp_path)


# --------------------------------------------------------------------------- kills and interrupts

SWEEP_SCRIPT = """
import sys
from ngramsim.sweep import Cell, run_sweep
from tests.sweep_toys import sleepy
cells = [Cell("sleepy", {"i": i, "sleep": float(sys.argv[2])}) for i in range(int(sys.argv[3]))]
run_sweep(cells, sleepy, sys.argv[1], seed=5, jobs=int(sys.argv[4]), progress=False)
"""


def start_sweep(out_dir, *, sleep, count, jobs):
    """The sweep of SWEEP_SCRIPT in a new process group (so it can be signalled like a terminal would)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-c", SWEEP_SCRIPT, str(out_dir), str(sleep), str(count), str(jobs)]
    return subprocess.Popen(args, cwd=ROOT, env=env, stderr=subprocess.PIPE, start_new_session=True)


def wait_for_cell_files(proc, out_dir, count, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cells_dir = Path(out_dir) / "cells"
        if cells_dir.is_dir() and len(cell_files(out_dir)) >= count:
            return
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.kill()
    pytest.fail(f"no {count} cell files after {timeout} s")


def assert_cell_files_complete(out_dir):
    """Every file in cells/ is a whole cell file; only hidden temporary files may be partial."""
    for path in (Path(out_dir) / "cells").iterdir():
        if path.name.startswith("."):
            assert path.name.endswith(".tmp")
            continue
        data = json.loads(path.read_text())
        assert path.name == f"{data['cell_key']}.json" and len(data["records"]) == 2


def sleepy_cells(count, sleep):
    return [Cell("sleepy", {"i": i, "sleep": sleep}) for i in range(count)]


def test_sigkill_midway_loses_no_finished_cell(tmp_path):
    out = tmp_path / "killed"
    proc = start_sweep(out, sleep=0.2, count=16, jobs=1)
    wait_for_cell_files(proc, out, 2)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()
    assert not (out / "results.jsonl").exists()
    assert_cell_files_complete(out)
    done_before = len(cell_files(out))
    assert 2 <= done_before < 16

    cells = sleepy_cells(16, 0.2)
    assert len(pending_cells(cells, out, 5)) == 16 - done_before
    run_sweep(cells, sweep_toys.sleepy, out, seed=5, jobs=2, progress=False)
    # The same cells computed without sleeping, in one go: same records.
    run_sweep(cells, sweep_toys.draws, tmp_path / "reference", seed=5, progress=False)
    assert results_bytes(out) == results_bytes(tmp_path / "reference")


def test_ctrl_c_stops_a_pool_sweep_promptly_and_keeps_finished_cells(tmp_path):
    out = tmp_path / "interrupted"
    proc = start_sweep(out, sleep=0.5, count=40, jobs=2)
    wait_for_cell_files(proc, out, 1)
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - start < 5.0
    assert proc.returncode == -signal.SIGINT  # an uncaught KeyboardInterrupt
    assert stderr.decode().rstrip().endswith("KeyboardInterrupt")
    assert not (out / "results.jsonl").exists()
    assert_cell_files_complete(out)
    assert 1 <= len(cell_files(out)) < 40


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_cell_is_reported_after_the_others_ran(tmp_path, jobs):
    cells = toy_cells(6, fail_at=3)
    with pytest.raises(SweepError, match=r"1 of 6 cells failed.*cell toy\(i=3, fail_at=3\) .*ArithmeticError: toy failure at i=3") as info:
        run_sweep(cells, sweep_toys.failing, tmp_path, seed=0, jobs=jobs, progress=False)
    error = info.value
    # Still a CellError naming the (first) failed cell, caused by the original exception.
    assert isinstance(error, CellError) and error.cell == cells[3] and error.cell_key == cells[3].key(0)
    assert isinstance(error.__cause__, ArithmeticError) and error.error is error.__cause__
    assert [(f.cell, f.attempts, type(f.error)) for f in error.failures] == [(cells[3], 1, ArithmeticError)]
    assert error.num_cells == 6
    assert not (tmp_path / "results.jsonl").exists()
    assert_cell_files_complete(tmp_path)
    assert pending_cells(cells, tmp_path, 0) == [cells[3]]  # every other cell ran and is saved
    others = [c for c in cells if c != cells[3]]
    assert error.records == run_sweep(others, sweep_toys.draws, tmp_path / "others", seed=0, progress=False)


def test_failed_cells_are_retried_a_bounded_number_of_times(tmp_path):
    log = tmp_path / "log"
    cells = toy_cells(5, fail_at=[1, 3], log_dir=str(log))
    with pytest.raises(SweepError, match=r"^2 of 5 cells failed .*i=1.* after 3 attempts: ArithmeticError.*i=3") as info:
        run_sweep(cells, sweep_toys.failing, tmp_path / "out", seed=0, progress=False, retries=2)
    assert [(f.cell, f.attempts) for f in info.value.failures] == [(cells[1], 3), (cells[3], 3)]
    calls = sorted(p.name.split("-")[0] for p in log.iterdir())
    assert calls == ["0", "1", "1", "1", "2", "3", "3", "3", "4"]
    assert [r["params"]["i"] for r in info.value.records] == [0, 0, 2, 2, 4, 4]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_retry_that_succeeds_gives_the_same_records(tmp_path, jobs):
    cells = toy_cells(4, log_dir=str(tmp_path / "log"))
    run_sweep(cells, sweep_toys.flaky, tmp_path / "flaky", seed=1, jobs=jobs, progress=False, retries=1)
    run_sweep(cells, sweep_toys.draws, tmp_path / "reference", seed=1, progress=False)
    assert results_bytes(tmp_path / "flaky") == results_bytes(tmp_path / "reference")
    assert len(list((tmp_path / "log").iterdir())) == 8  # each cell failed once, then succeeded


def test_retries_and_failures_are_told_on_stderr(tmp_path, capsys):
    cells = toy_cells(3, fail_at=1)
    with pytest.raises(SweepError):
        run_sweep(cells, sweep_toys.failing, tmp_path, seed=0, retries=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "cell toy(i=1, fail_at=1) failed (ArithmeticError: toy failure at i=1); retrying (1 of 2 attempts made)" in err
    assert "cell toy(i=1, fail_at=1) [key " in err and "failed after 2 attempts: ArithmeticError" in err
    assert "cell 3/3 done" in err


class CancelFirst:
    """An executor whose first job for each cell comes back cancelled (as after a Dask client.restart())."""

    def __init__(self):
        self.seen = set()

    def submit(self, fn, *args):
        future = Future()
        key = args[1].key(args[2])
        if key in self.seen:
            future.set_result(fn(*args))
        else:
            self.seen.add(key)
            future.cancel()
            future.set_running_or_notify_cancel()  # as an executor does, so that wait() sees it
        return future


def test_a_job_cancelled_by_someone_else_is_retried_or_reported(tmp_path):
    cells = toy_cells(3)
    run_sweep(cells, sweep_toys.draws, tmp_path / "retried", seed=0, executor=CancelFirst(), progress=False, retries=1)
    run_sweep(cells, sweep_toys.draws, tmp_path / "reference", seed=0, progress=False)
    assert results_bytes(tmp_path / "retried") == results_bytes(tmp_path / "reference")
    with pytest.raises(SweepError, match="3 of 3 cells failed") as info:
        run_sweep(cells, sweep_toys.draws, tmp_path / "cancelled", seed=0, executor=CancelFirst(), progress=False)
    assert all(isinstance(f.error, CancelledError) for f in info.value.failures)


def test_a_dead_pool_worker_fails_the_cells_left_and_drops_none(tmp_path):
    cells = toy_cells(8, die_at=2)
    with pytest.raises(SweepError) as info:
        run_sweep(cells, sweep_toys.dying, tmp_path, seed=0, jobs=2, progress=False, retries=2)
    failures = info.value.failures
    assert cells[2] in [f.cell for f in failures]
    # A broken pool takes no more jobs: no retries, every cell not done is reported.
    assert all(isinstance(f.error, BrokenExecutor) and f.attempts == 1 for f in failures)
    assert sorted(f.cell.params["i"] for f in failures) == sorted(c.params["i"] for c in pending_cells(cells, tmp_path, 0))
    assert_cell_files_complete(tmp_path)


@pytest.mark.parametrize(
    "kind, cause, message", [("not_a_list", TypeError, "list of dicts"), ("reserved", ValueError, "reserved field 'seed'")]
)
def test_records_are_checked(tmp_path, kind, cause, message):
    with pytest.raises(CellError, match=message) as info:
        run_sweep([Cell("bad", {"kind": kind})], sweep_toys.bad_records, tmp_path, seed=0, progress=False)
    assert isinstance(info.value.__cause__, cause)
    assert set(RESERVED_FIELDS) == {"experiment", "params", "cell_key", "seed", "cell_seed", "version"}


def test_run_sweep_arguments_are_checked(tmp_path):
    cells = toy_cells(1)
    with pytest.raises(TypeError, match=r"cells\[1\] must be a Cell"):
        run_sweep([cells[0], {"i": 1}], sweep_toys.draws, tmp_path, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=1.5)
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, jobs=0)
    with pytest.raises(ValueError, match="progress must be"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, progress="yes")
    with pytest.raises(ValueError, match="retries must be >= 0"):
        run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, retries=-1)
    with pytest.raises(TypeError, match="compute must be a callable"):
        run_sweep(cells, None, tmp_path, seed=0)
    with pytest.raises(TypeError, match="compute must be picklable"):
        run_sweep(cells, lambda cell, rng, seed: [], tmp_path, seed=0, jobs=2)
    with ThreadPoolExecutor(1) as executor:
        with pytest.raises(ValueError, match="jobs must be 1 when an executor is given"):
            run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, jobs=2, executor=executor)
        with pytest.raises(ValueError, match="initializer must be None when an executor is given"):
            run_sweep(cells, sweep_toys.draws, tmp_path, seed=0, executor=executor, initializer=sweep_toys.mark_initialized)
    assert not (tmp_path / "cells").exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_initializer_runs_in_every_worker_before_its_cells(tmp_path, jobs):
    records = run_sweep(
        toy_cells(4), sweep_toys.report_initialized, tmp_path, seed=0, jobs=jobs, progress=False,
        initializer=sweep_toys.mark_initialized,
    )
    assert [r["initialized"] for r in records] == [True] * 4


# --------------------------------------------------------------------------- progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_lines_go_to_stderr_only(tmp_path, capsys):
    run_sweep(toy_cells(3), sweep_toys.draws, tmp_path, seed=0)
    out, err = capsys.readouterr()
    assert out == ""
    assert "sweep: 3 cells, 0 already done, 3 to run" in err
    assert "cell 1/3 done (toy(i=0)), eta" in err and "cell 3/3 done (toy(i=2)), eta 0 s" in err
    assert "\r" not in err  # plain lines when stderr is not a terminal

    run_sweep(toy_cells(3), sweep_toys.draws, tmp_path, seed=0)
    assert capsys.readouterr() == ("", "sweep: 3 cells, 3 already done, 0 to run\n")


def test_progress_false_is_silent(tmp_path, capsys):
    run_sweep(toy_cells(3), sweep_toys.draws, tmp_path, seed=0, jobs=2, progress=False)
    assert capsys.readouterr() == ("", "")


def test_builtin_bar_on_a_terminal_without_tqdm(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm raises ImportError
    monkeypatch.setenv("COLUMNS", "100")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_sweep(toy_cells(3), sweep_toys.draws, tmp_path, seed=0)
    text = terminal.getvalue()
    assert text.startswith("\rsweep [") and text.endswith("\n")
    assert "] 3/3 cells, " in text and "eta 0 s" in text

    monkeypatch.setenv("COLUMNS", "30")  # a narrow terminal: the line is cut, never wrapped
    terminal.seek(0)
    terminal.truncate()
    run_sweep(toy_cells(4), sweep_toys.draws, tmp_path, seed=0)
    assert all(len(line) <= 29 for line in terminal.getvalue().rstrip("\n").split("\r"))
    assert "\rsweep [" in terminal.getvalue()
    assert capsys.readouterr().out == ""


def test_tqdm_bar_on_a_terminal_when_installed(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_sweep(toy_cells(3), sweep_toys.draws, tmp_path, seed=0)
    assert "3/3" in terminal.getvalue() and "cell" in terminal.getvalue()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- packaging and the README paragraph


def test_importing_ngramsim_loads_no_pool_progress_or_plotting_module():
    code = (
        "import sys, ngramsim, ngramsim.sweep\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('tqdm', 'multiprocessing', 'matplotlib')\n"
        "       or m == 'concurrent.futures.process'])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_readme_sweep_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the second run finds every cell on disk
        exec(compile(README_EXAMPLE, "README sweep example", "exec"), {"__name__": "readme_sweep_example"})
    first, second = capsys.readouterr().out.splitlines()
    assert first == second and first.startswith("[(1, 1.0), (2, ")
    assert len(load_records(tmp_path / "sweep_out")) == 5
