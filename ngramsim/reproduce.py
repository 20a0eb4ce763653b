"""``ngramsim reproduce``: the paper's headline results as records, figures and a report, resumable.

:func:`reproduce` runs a profile's cells (:func:`ngramsim.experiments.profile_cells`)
with :func:`ngramsim.sweep.run_sweep` into ``out_dir``, then draws the figures
(:mod:`ngramsim.plotting`) and writes ``report.md`` (:mod:`ngramsim.report`)::

    out_dir/
        results.jsonl      one record per measured quantity (strict JSON)
        report.md          each claim, measured with its interval, the bound, whether it holds
        figures/           <name>.png, <name>.svg and <name>.json (parameters and records drawn)
        cells/             the sweep's finished cells (a rerun skips them)
"""

from __future__ import annotations

import time
from pathlib import Path

from ngramsim._version import __version__
from ngramsim.experiments import PROFILES, compute_cell, profile_cells, warm_kernels
from ngramsim.io import write_text_atomic

__all__ = ["reproduce", "DEFAULT_OUT"]

#: Where ``ngramsim reproduce`` writes when ``--out`` is not given (relative to the working directory).
DEFAULT_OUT = "ngramsim-reproduction"


def reproduce(profile="quick", out_dir=DEFAULT_OUT, *, jobs=1, seed=0, progress="auto", executor=None) -> dict:
    """Run a profile end to end; return ``{"records", "report", "figures", "wall_time", "out_dir"}``.

    Parameters
    ----------
    profile : {"tiny", "quick", "full"}
        ``tiny`` (seconds; for tests), ``quick`` (lengths up to 1024; minutes on two cores),
        ``full`` (lengths up to 16384, more samples).
    out_dir : path
        Created if needed; finished cells already there are reused (same profile and seed).
    jobs : int
        Worker processes (1: this process).  Records do not depend on it.
    seed : int
        Root seed; every cell derives its own randomness from it and its parameters.
    progress : "auto", bool
        Progress on stderr (a bar with ETA on a terminal, plain lines otherwise).
    executor : concurrent.futures.Executor, optional
        Run cells on this executor instead (e.g. a Dask client's); ``jobs`` is then ignored.
    """
    from ngramsim.plotting import FIGURES, save_figure
    from ngramsim.report import report_markdown
    from ngramsim.sweep import Cell, run_sweep

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    cells = [Cell(name, params) for name, params in profile_cells(profile)]
    records = run_sweep(cells, compute_cell, out, seed=seed, jobs=jobs if executor is None else 1, executor=executor,
                        progress=progress, initializer=warm_kernels if executor is None else None)
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
}
