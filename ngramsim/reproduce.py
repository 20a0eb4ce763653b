"""``ngramsim reproduce``: the paper's headline results as records, figures and a report, resumable.

:func:`reproduce` runs a profile's cells (:func:`ngramsim.experiments.profile_cells`)
with :func:`ngramsim.sweep.run_sweep` into ``out_dir``, then draws the figures
(:mod:`ngramsim.plotting`) and writes ``report.md`` (:mod:`ngramsim.report`)::

    out_dir/
        results.jsonl      one record per measured quantity (strict JSON)
        report.md          each claim, measured with its interval, the bound, whether it holds
        figures/           <name>.png, <name>.svg and <name>.json (parameters and records drawn)
        cells/             the sweep's finished cells (a rerun skips them)

The cells run in this process, on a process pool (``jobs``), or on a Dask
cluster (``scheduler``, :mod:`ngramsim.distributed`), with the same records.  If
cells still fail after their retries, ``report.md`` lists them instead, and
``results.jsonl``, the figures and the verdicts wait for a rerun that completes.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from ngramsim._version import __version__
from ngramsim.experiments import PROFILES, compute_cell, profile_cells, warm_kernels
from ngramsim.io import write_text_atomic

__all__ = ["reproduce", "DEFAULT_OUT"]

#: Where ``ngramsim reproduce`` writes when ``--out`` is not given (relative to the working directory).
DEFAULT_OUT = "ngramsim-reproduction"


def reproduce(profile="quick", out_dir=DEFAULT_OUT, *, jobs=None, seed=0, progress="auto", executor=None,
              scheduler=None, retries=2) -> dict:
    """Run a profile end to end; return ``{"records", "report", "figures", "wall_time", "out_dir"}``.

    Parameters
    ----------
    profile : {"tiny", "quick", "full"}
        ``tiny`` (seconds; for tests), ``quick`` (lengths up to 1024; minutes on two cores),
        ``full`` (lengths up to 16384, more samples).
    out_dir : path
        Created if needed; finished cells already there are reused (same profile and seed).
    jobs : int, optional
        Worker processes on this machine (default 1: this process); with ``scheduler="local"``,
        the local cluster's workers (default 2).  Records do not depend on it.
    seed : int
        Root seed; every cell derives its own randomness from it and its parameters.
    progress : "auto", bool
        Progress on stderr (a bar with ETA on a terminal, plain lines otherwise).
    executor : concurrent.futures.Executor, optional
        Run cells on this executor instead; ``jobs`` is then ignored.
    scheduler : str or distributed.Client, optional
        Run cells on a Dask cluster (:func:`ngramsim.distributed.dask_executor`): a running
        scheduler's address, ``"local"`` for a local cluster of ``jobs`` workers, or a Client.
        Needs ``ngramsim[distributed]``.  Not with ``executor``.
    retries : int
        How many more times a failed cell is run (:func:`ngramsim.sweep.run_sweep`).

    Raises
    ------
    ngramsim.sweep.SweepError
        If cells still failed after their retries; ``report.md`` then lists them
        (experiment, parameters, error) and the other cells are saved for a rerun.
    """
    from ngramsim.plotting import FIGURES, save_figure
    from ngramsim.report import failure_markdown, report_markdown
    from ngramsim.sweep import Cell, SweepError, run_sweep

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells = [Cell(name, params) for name, params in profile_cells(profile)]
    with _sweep_runner(jobs, executor, scheduler) as (run_jobs, run_executor, initializer):
        try:
            records = run_sweep(cells, compute_cell, out, seed=seed, jobs=run_jobs, executor=run_executor,
                                progress=progress, initializer=initializer, retries=retries)
        except SweepError as exc:
            failures = [{"experiment": f.cell.experiment, "params": f.cell.params, "attempts": f.attempts,
                         "error": f"{type(f.error).__name__}: {f.error}"} for f in exc.failures]
            text = failure_markdown(failures, num_cells=exc.num_cells, profile=profile, seed=seed, version=__version__,
                                    wall_time=time.perf_counter() - start)
            write_text_atomic(out / "report.md", text)
            raise
    figures = {}
    for name, (draw, caption) in FIGURES.items():
        fig = draw(records)
        save_figure(fig, out / "figures", name, params={"profile": profile, "seed": seed, "caption": caption},
                    records=[r for r in records if r["experiment"] in _FIGURE_EXPERIMENTS[name]])
        figures[name] = out / "figures" / f"{name}.png"
    wall = time.perf_counter() - start
    text = report_markdown(records, profile=profile, seed=seed, version=__version__, wall_time=wall)
    write_text_atomic(out / "report.md", text)
    return {"records": records, "report": out / "report.md", "figures": figures, "wall_time": wall, "out_dir": out}


@contextlib.contextmanager
def _sweep_runner(jobs, executor, scheduler):
    """Yield run_sweep's ``(jobs, executor, initializer)``; a Dask cluster started here is closed here."""
    if scheduler is None:
        if executor is not None:
            yield 1, executor, None
        else:
            # The kernels load (or compile) once per worker process rather than in its first cell.
            yield 1 if jobs is None else jobs, None, warm_kernels
        return
    if executor is not None:
        raise ValueError("give executor or scheduler, not both")
    if jobs is not None and not (isinstance(scheduler, str) and scheduler == "local"):
        raise ValueError(f"jobs (--jobs) sets the workers of a local cluster (scheduler 'local'); the cluster at "
                         f"{scheduler!r} has its own workers, so give no jobs (got {jobs!r})")
    from ngramsim.distributed import dask_executor

    with dask_executor(scheduler, workers=jobs, initializer=warm_kernels) as dask:
        yield 1, dask, None


# The experiments whose records each figure draws (stored in its sidecar JSON).
_FIGURE_EXPERIMENTS = {
    "message": {"steps_needed"},
    "per_token_error": {"per_token_error"},
    "ser_vs_steps": {"ser_vs_steps"},
    "cost": {"steps_needed"},
    "kl_decomposition": {"kl_decomposition"},
    "b2_vs_mc": {"b2_vs_mc"},
    "equal_nfe": {"equal_nfe"},
    "ser_vs_lambda": {"ser_vs_lambda"},
    "remasking": {"remasking"},
}
