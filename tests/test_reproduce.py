"""``ngramsim reproduce``: the tiny profile end to end, the records' consistency with the theory, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ngramsim.cli import main
from ngramsim.experiments import compute_cell, profile_cells
from ngramsim.report import claim_checks
from ngramsim.reproduce import reproduce
from ngramsim.sweep import Cell, load_records, pending_cells

REQUIRED = {"experiment", "language", "language_sha256", "length", "schedule", "metric", "value", "lo", "hi",
            "method", "num_samples", "seed", "version"}


def test_tiny_profile_writes_everything(tiny):
    out, result = tiny
    assert (out / "report.md").read_text().startswith("# ngramsim reproduction")
    records = load_records(out)
    assert records == result["records"] and len(records) > 100
    for r in records:
        assert REQUIRED <= set(r), REQUIRED - set(r)
        assert r["method"] in ("exact", "mc")
        assert r["lo"] <= r["value"] <= r["hi"] or not all(map(math.isfinite, (r["lo"], r["value"], r["hi"])))
        if r["method"] == "exact":
            assert r["lo"] == r["value"] == r["hi"]
    with open(out / "results.jsonl") as handle:
        for line in handle:
            json.loads(line, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    for name in result["figures"]:
        png = out / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert (out / "figures" / f"{name}.svg").stat().st_size > 1000
        sidecar = json.loads((out / "figures" / f"{name}.json").read_text())
        assert sidecar["figure"] == name and sidecar["records"]


def test_records_agree_with_the_theory(tiny):
    """Consistency: SER 0 at N = L (ideal model), the stride order never fails, per-token KL at a fixed
    N barely moves with L, the steps needed for an SER target grow with L, C2 and C3 hold."""
    _, result = tiny
    records = result["records"]
    ser = [r for r in records if r["metric"] == "ser" and r["experiment"] == "ser_vs_steps"]
    one_per_step = [r for r in ser if r["num_steps"] == r["length"] and r["schedule"].startswith("uniform")]
    assert one_per_step and all(r["value"] == 0.0 for r in one_per_step)
    stride = [r for r in records if r["metric"] == "ser" and r["schedule"].startswith("stride")]
    assert stride and all(r["value"] == 0.0 for r in stride)
    kl = {}
    for r in records:
        if r["experiment"] == "per_token_error" and r["metric"] == "kl_expected_per_token" and r["length"] >= 16:
            kl.setdefault((r["language"], r["num_steps"]), []).append(r)
    checked = 0
    for (_, N), rows in kl.items():
        if N > 2 or len(rows) < 2:
            continue
        lo, hi = max(r["lo"] for r in rows), min(r["hi"] for r in rows)
        values = [r["value"] for r in rows]
        # Exact values: within 25% of each other (finite-size effects at L = 16); Monte Carlo: intervals overlap
        # after widening by the same 25%.
        assert max(values) <= 1.25 * min(values) or lo <= 1.25 * hi
        checked += 1
    assert checked >= 4
    verdicts = {c["claim"].split(":")[0]: c for c in claim_checks(records)}
    assert verdicts["C2"]["holds"] and verdicts["C3"]["holds"] and verdicts["C2'"]["holds"]
    slopes = [c for c in claim_checks(records) if c["claim"].startswith("A3/C2")]
    assert slopes and all(float(c["measured"].split()[2]) > 0 for c in slopes)


def test_jobs_do_not_change_records(tiny, tmp_path):
    out, _ = tiny
    reproduce("tiny", tmp_path, jobs=2, seed=0, progress=False)
    assert (tmp_path / "results.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()


def test_rerun_skips_finished_cells_and_is_identical(tiny, capsys):
    out, _ = tiny
    before = (out / "results.jsonl").read_bytes()
    assert main(["reproduce", "--profile", "tiny", "--out", str(out), "--quiet"]) == 0
    assert (out / "results.jsonl").read_bytes() == before
    assert "wrote" in capsys.readouterr().out


def test_kill_midway_then_resume(tiny, tmp_path):
    out, _ = tiny
    target = tmp_path / "killed"
    command = [sys.executable, "-m", "ngramsim", "reproduce", "--profile", "tiny", "--out", str(target), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 120
    cells = target / "cells"
    while time.time() < deadline and proc.poll() is None:
        if cells.exists() and len([p for p in cells.iterdir() if p.suffix == ".json"]) >= 3:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = [p for p in cells.iterdir() if p.suffix == ".json"]
    for path in finished:
        json.loads(path.read_text())  # every file on disk is complete
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert (target / "results.jsonl").read_bytes() == (out / "results.jsonl").read_bytes()


def test_reproduce_rejects_bad_arguments(capsys):
    assert main(["reproduce", "--profile", "huge"]) == 2
    assert main(["reproduce", "--jobs", "0"]) == 2
    assert main(["reproduce", "--retries", "-1"]) == 2
    with pytest.raises(ValueError, match="profile must be one of"):
        reproduce("huge", "x")
    with pytest.raises(ValueError, match="executor or scheduler, not both"):
        reproduce("tiny", "x", executor=object(), scheduler="local")
    # A remote cluster has its own workers; rejected before connecting to anything.
    assert main(["reproduce", "--scheduler", "tcp://127.0.0.1:1", "--jobs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 4 and "--jobs" in err.splitlines()[-1] and "own workers" in err


def test_a_cell_that_keeps_failing_is_in_the_report_and_the_exit_status(tmp_path, monkeypatch, capsys):
    import ngramsim.reproduce as module

    cells = [cell for cell in profile_cells("tiny") if cell[0] == "ser_vs_lambda"]
    assert len(cells) == 4
    calls = []

    def compute(cell, rng, seed):
        calls.append(cell.params["length"])
        if cell.params == cells[1][1]:
            raise ArithmeticError("toy failure in the second cell")
        return compute_cell(cell, rng, seed)

    monkeypatch.setattr(module, "profile_cells", lambda profile: cells)
    monkeypatch.setattr(module, "compute_cell", compute)
    out = tmp_path / "out"
    assert main(["reproduce", "--profile", "tiny", "--out", str(out), "--quiet", "--retries", "1"]) == 1
    assert sorted(calls) == sorted([c[1]["length"] for c in cells] + [cells[1][1]["length"]])  # one retry
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.splitlines()
    assert err[0].startswith("ngramsim reproduce: 1 of 4 cells failed (listed in ") and "rerunning" in err[0]
    assert err[1].startswith("  cell ser_vs_lambda(language='W(4,2)', length=32") and err[1].endswith(
        "failed after 2 attempts: ArithmeticError: toy failure in the second cell")
    report = (out / "report.md").read_text()
    assert "(incomplete)" in report and "1 of 4 cells failed" in report
    row = next(line for line in report.splitlines() if line.startswith("| `ser_vs_lambda`"))
    assert json.loads(row.split("`")[3]) == cells[1][1]  # the parameters, whole
    assert "ArithmeticError: toy failure in the second cell" in row and row.rstrip(" |").endswith("2")
    # The others are saved; nothing else is written until every cell is done.
    assert not (out / "results.jsonl").exists() and not (out / "figures").exists()
    assert pending_cells([Cell(*c) for c in cells], out, 0) == [Cell(*cells[1])]


def test_report_names_every_claim(tiny):
    out, _ = tiny
    text = (out / "report.md").read_text()
    for needle in ("A1", "A3", "C2", "C3", "A5", "B1", "B2", "message.png", "speed-up", "C2 with correctors",
                   "remasking.png"):
        assert needle in text
    assert Path(out / "figures" / "message.png").exists()
    assert Path(out / "figures" / "remasking.png").exists()
