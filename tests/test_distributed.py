"""Sweeps on a real Dask cluster: the same records, worker deaths, failures reported, no Dask on import."""

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dask
import pytest

from ngramsim.cli import main
from ngramsim.distributed import dask_executor
from ngramsim.sweep import Cell, SweepError, pending_cells, run_sweep
from tests import sweep_toys

ROOT = Path(__file__).resolve().parents[1]
# Generous: a slow CI machine starts worker processes and loads numba kernels slowly.
TIMEOUT = 300.0


@pytest.fixture(scope="module")
def client():
    """The client of a local cluster of two single-threaded worker processes (``dask_executor("local")``).

    Its scheduler fails a task with KilledWorker once two workers died running it
    (the default is four), which keeps the test of a cell that kills its worker short.
    """
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), dask_executor("local", workers=2) as executor:
        executor.client.wait_for_workers(2, timeout=TIMEOUT)
        yield executor.client


def wait_for(condition, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"no {what} after {timeout} s")


def cell_files(out_dir):
    return sorted(p for p in (Path(out_dir) / "cells").iterdir() if not p.name.startswith("."))


def assert_each_cell_landed_once(cells, out_dir, seed):
    """One whole file per cell in cells/, and each cell's records once in results.jsonl, in input order."""
    keys = [cell.key(seed) for cell in cells]
    files = cell_files(out_dir)
    assert sorted(p.name for p in files) == sorted(f"{key}.json" for key in keys)
    for path in files:
        assert json.loads(path.read_text())["cell_key"] == path.stem
    lines = [json.loads(line)["cell_key"] for line in (Path(out_dir) / "results.jsonl").read_text().splitlines()]
    assert lines == [key for key in keys for _ in range(2)]  # sweep_toys.draws gives two records per cell


def test_tiny_profile_on_a_local_cluster_gives_the_default_executors_records(tiny, tmp_path, capsys):
    reference, _ = tiny
    out = tmp_path / "dask"
    assert main(["reproduce", "--profile", "tiny", "--out", str(out), "--scheduler", "local", "--jobs", "2",
                 "--quiet"]) == 0
    assert (out / "results.jsonl").read_bytes() == (reference / "results.jsonl").read_bytes()
    assert (out / "report.md").read_text().startswith("# ngramsim reproduction — profile `tiny`\n")
    assert capsys.readouterr().out.startswith(f"wrote {out / 'report.md'}")


def test_the_initializer_runs_once_per_worker_before_its_cells(client, tmp_path):
    log = tmp_path / "init"
    with dask_executor(client, initializer=functools.partial(sweep_toys.log_initialization, str(log))) as executor:
        run_sweep([Cell("toy", {"i": i}) for i in range(8)], sweep_toys.draws, tmp_path, seed=0, executor=executor,
                  progress=False)
    pids = sorted(int(p.name.split("-")[1]) for p in log.iterdir())
    assert pids == sorted(client.run(os.getpid).values())  # once in each of the two workers, not once per cell
    with dask_executor(client, initializer=sweep_toys.mark_initialized) as executor:
        records = run_sweep([Cell("toy", {"i": i}) for i in range(8)], sweep_toys.report_initialized,
                            tmp_path / "marked", seed=0, executor=executor, progress=False)
    assert [r["initialized"] for r in records] == [True] * 8


def test_a_worker_killed_mid_cell_loses_and_duplicates_nothing(client, tmp_path):
    log = tmp_path / "log"
    cells = [Cell("held", {"i": i, "hold": 3, "log_dir": str(log), "timeout": TIMEOUT}) for i in range(10)]
    outcome = {}

    def sweep():
        try:
            # Through the scheduler's address, as `ngramsim reproduce --scheduler ADDRESS` connects.
            with dask_executor(client.scheduler.address) as executor:
                outcome["records"] = run_sweep(cells, sweep_toys.held, tmp_path / "out", seed=7, executor=executor,
                                               progress=False)
        except BaseException as exc:  # reported by the assertions below
            outcome["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    try:
        # Cell 3 waits (on its first run) until its worker is killed; its log file names that worker's process.
        marker = wait_for(lambda: next(log.glob("3-*"), None), "start of cell 3")
        pid = int(marker.name.split("-")[1])
        assert pid in client.run(os.getpid).values()
        os.kill(pid, signal.SIGKILL)
    finally:
        (log / "release").touch()  # never leave cell 3 waiting, whatever happened
        thread.join(TIMEOUT)
    assert not thread.is_alive(), "the sweep did not finish"
    assert "error" not in outcome, outcome.get("error")
    runs = [int(p.name.split("-")[1]) for p in log.glob("3-*")]
    assert len(runs) == 2 and runs.count(pid) == 1  # killed once, then run again by another worker process
    assert_each_cell_landed_once(cells, tmp_path / "out", seed=7)
    reference = run_sweep(cells, sweep_toys.draws, tmp_path / "reference", seed=7, progress=False)
    assert outcome["records"] == reference
    assert (tmp_path / "out" / "results.jsonl").read_bytes() == (tmp_path / "reference" / "results.jsonl").read_bytes()
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny restarted the killed worker


def test_a_cell_that_keeps_failing_is_reported_and_the_others_land(client, tmp_path):
    log = tmp_path / "log"
    cells = [Cell("toy", {"i": i, "fail_at": 2, "log_dir": str(log)}) for i in range(6)]
    with dask_executor(client) as executor:
        with pytest.raises(SweepError, match=r"1 of 6 cells failed") as info:
            run_sweep(cells, sweep_toys.failing, tmp_path / "out", seed=0, executor=executor, progress=False,
                      retries=2)
    [failure] = info.value.failures
    assert failure.cell == cells[2] and failure.attempts == 3 and isinstance(failure.error, ArithmeticError)
    assert len(list(log.glob("2-*"))) == 3  # retried twice, each time on the cluster
    assert pending_cells(cells, tmp_path / "out", 0) == [cells[2]]
    assert not (tmp_path / "out" / "results.jsonl").exists()
    others = [cell for cell in cells if cell != cells[2]]
    assert info.value.records == run_sweep(others, sweep_toys.draws, tmp_path / "reference", seed=0, progress=False)


def test_a_cell_that_kills_its_workers_is_reported_not_dropped(client, tmp_path):
    cells = [Cell("toy", {"i": i, "die_at": 0}) for i in range(4)]
    with dask_executor(client) as executor:
        with pytest.raises(SweepError) as info:
            run_sweep(cells, sweep_toys.dying, tmp_path, seed=0, executor=executor, progress=False, retries=1)
    failed = {failure.cell: failure for failure in info.value.failures}
    dead = failed[cells[0]]
    # The scheduler gave up after two deaths (KilledWorker), then the sweep's one retry died twice too.
    assert type(dead.error).__name__ == "KilledWorker" and dead.attempts == 2
    # Every cell is on disk or reported (a cell waiting on a dying worker may be killed with it).
    landed = set(cells) - set(pending_cells(cells, tmp_path, 0))
    assert landed.isdisjoint(failed) and landed | set(failed) == set(cells)
    client.wait_for_workers(2, timeout=TIMEOUT)


def test_scheduler_argument_errors(client, monkeypatch, capsys):
    with pytest.raises(ValueError, match="workers must be None with a Client"):
        with dask_executor(client, workers=2):
            pass
    with pytest.raises(TypeError, match="scheduler must be 'local', a scheduler address or a distributed.Client"):
        with dask_executor(8786):
            pass
    with pytest.raises(TypeError, match="initializer must be a callable"):
        with dask_executor(client, initializer="warm"):
            pass
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask.distributed were not installed
    assert main(["reproduce", "--profile", "tiny", "--scheduler", "local"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scheduler" in err and "pip install 'ngramsim[distributed]'" in err


def test_importing_ngramsim_imports_no_dask():
    code = (
        "import sys, ngramsim, ngramsim.sweep, ngramsim.reproduce, ngramsim.experiments, ngramsim.cli\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
