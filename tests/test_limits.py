"""Limits before work, empty steps skipped, batches, progress and Ctrl-C (issue: robust at the boundary)."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ngramsim.sampler as sampler_module
from ngramsim import dirichlet_language, sample_mdm, window_language
from ngramsim._kernels.steps import occupied_steps
from ngramsim._validation import MAX_SAMPLE_TOKENS
from ngramsim.schedules import MAX_BERNOULLI_STEPS, Schedule, parse_schedule
from ngramsim.strategies import build_language
from tests import reference
from tests.stats import gof_pvalue

ROOT = Path(__file__).resolve().parents[1]
# Generous bounds on subprocesses: a cold CI machine compiles kernels on first use.
TIMEOUT = 240


def _cli(*argv, **kwargs):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "ngramsim", *map(str, argv)], capture_output=True, text=True,
                          timeout=TIMEOUT, env=env, cwd=ROOT, **kwargs)


# ----------------------------------------------------------------- empty steps


def _occupied_reference(step, num_steps):
    """Ranks of the occupied steps, their 1-based ids and sizes, positions sorted by (step, position)."""
    ids = np.unique(step)
    rank = {t: k + 1 for k, t in enumerate(ids)}
    order = np.lexsort((np.arange(len(step)), step))
    return np.array([rank[t] for t in step]), ids, np.array([np.sum(step == t) for t in ids]), order


@given(st.data(), st.integers(1, 12), st.sampled_from([1, 2, 5, 30, 1000, MAX_BERNOULLI_STEPS]))
def test_occupied_steps_equals_a_plain_reference(data, length, num_steps):
    # Both branches: counting (N <= 2L) and sorting (N > 2L).
    step = np.array(data.draw(st.lists(st.integers(1, num_steps), min_size=length, max_size=length)), dtype=np.int64)
    want_rank, want_ids, want_sizes, want_order = _occupied_reference(step, num_steps)
    width = min(num_steps, length)
    counts = np.full(width, -7, dtype=np.int64)
    ids = np.full(width, -7, dtype=np.int64)
    order = np.empty(length, dtype=np.int64)
    ranked = step.copy()
    K, start = occupied_steps(ranked, num_steps, counts, ids, order)
    assert K == len(want_ids)
    np.testing.assert_array_equal(ranked, want_rank)
    np.testing.assert_array_equal(ids[:K], want_ids)
    np.testing.assert_array_equal(counts[:K], want_sizes)
    np.testing.assert_array_equal(order, want_order)
    np.testing.assert_array_equal(np.diff(start), want_sizes)


@pytest.mark.parametrize("lam, tau", [(0.0, 1.0), (0.15, 0.6)])
@pytest.mark.parametrize("name", ["order2", "order3"])
def test_many_steps_law_equals_brute_force(name, lam, tau):
    # N = 9 > 2L: the sorting branch of occupied_steps; most steps are empty and skipped.
    # Chi-square at level 1e-3 with 120000 samples; the sampler tests show this size rejects a
    # 5% contamination of the law.
    language = {"order2": build_language(3, 2, 0.3, "dirichlet", seed=3),
                "order3": build_language(2, 3, 0.3, "dirichlet", seed=5)}[name]
    L = 4
    law, _ = reference.exact_mdm_law(language, L, "linear:9", learning_error=lam, temperature=tau)
    result = sample_mdm(language, L, "linear:9", 120_000, rng=20261129, learning_error=lam, temperature=tau)
    assert gof_pvalue(result.samples, law, language.vocab_size) > 1e-3
    assert np.all(result.nfe == 9)


def test_per_step_record_is_compact_and_matches_the_dense_table():
    language = window_language(4, 2)
    L, M, N = 16, 300, 1_000_000
    result = sample_mdm(language, L, f"linear:{N}", M, rng=4)
    assert result.step_sizes.shape == result.step_indices.shape == (M, L)  # min(N, L) columns, not N
    occupied = result.step_indices > 0
    assert np.all(result.step_sizes.sum(axis=1) == L) and np.all((result.step_sizes > 0) == occupied)
    for row, ids in zip(occupied, result.step_indices):
        k = row.sum()
        assert np.all(row[:k]) and np.all(np.diff(ids[:k]) > 0) and ids[k - 1] <= N
    # Positions' steps are uniform on 1..N: the chance that two of 16 share one is <= 120/N.
    assert np.mean(occupied.sum(axis=1) < L) < 0.01
    with pytest.raises(ValueError, match="revealed_per_step would hold.*step_sizes and step_indices"):
        result.revealed_per_step
    small = sample_mdm(language, L, "linear:40", M, rng=4)
    dense = small.revealed_per_step
    assert dense.shape == (M, 40) and np.all(dense.sum(axis=1) == L)
    rows, cols = np.nonzero(small.step_indices)
    np.testing.assert_array_equal(dense[rows, small.step_indices[rows, cols] - 1], small.step_sizes[rows, cols])
    assert np.count_nonzero(dense) == rows.size


# ----------------------------------------------------------------- limits


def test_sizes_are_refused_before_allocation():
    language = window_language(4, 2)
    with pytest.raises(ValueError, match=r"num_samples x length = 1 x 1000000000 .* lower num_samples or length"):
        sample_mdm(language, 10**9, "ar", 1, rng=0)
    with pytest.raises(ValueError, match=r"num_samples x length"):
        language.sample(16, 10**9, rng=0)
    assert 2**27 == MAX_SAMPLE_TOKENS
    with pytest.raises(ValueError, match=r"at most N = 2\^20 .* got N=1000000000.*uniform:L"):
        parse_schedule("linear:1000000000")
    with pytest.raises(ValueError, match=r"at most N = 2\^20"):
        Schedule.bernoulli(lambda t: 1 - t, 10**7)
    order3 = dirichlet_language(64, 3, concentration=0.5, rng=0)  # 4096 contexts
    with pytest.raises(ValueError, match=r"too long for the windows kernel at 4096 contexts.*lower length"):
        sample_mdm(order3, 20_000, "ar", 1, rng=0)


def test_too_large_order2_language_warns_and_says_which_kernel_ran():
    language = dirichlet_language(2000, 2, concentration=0.5, rng=0)
    with pytest.warns(UserWarning, match="windows kernel runs instead"):
        result = sample_mdm(language, 4, "uniform:2", 2, rng=0)
    assert result.kernel == "windows"
    assert sample_mdm(window_language(4, 2), 8, "uniform:2", 2, rng=0).kernel == "local"
    assert sample_mdm(dirichlet_language(2, 3, rng=0), 8, "uniform:2", 2, rng=0).kernel == "windows"


def test_cli_limits_exit_2_quickly_with_one_line(tmp_path):
    path = tmp_path / "w.json"
    assert _cli("language", "window", "--vocab-size", 4, "--window", 2, "--out", path).returncode == 0
    cases = [
        ("sample", "--length", 10**9, "--schedule", "ar", "--num-samples", 1, "--seed", 0),
        ("sample", "--length", 16, "--schedule", "ar", "--num-samples", 10**9, "--seed", 0),
        ("sample", "--length", 16, "--schedule", "linear:1000000000", "--num-samples", 10, "--seed", 0),
        ("exact", "--length", 4, "--schedule", "linear:1000000000"),
        ("exact", "--length", 10000, "--schedule", "ar"),
    ]
    for argv in cases:
        done = _cli(argv[0], "--language", path, *argv[1:], "--json")
        assert done.returncode == 2 and done.stdout == "", (argv, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("ngramsim: error: "), argv
    # Many empty steps: skipped, so a million-step schedule samples like a short one.
    done = _cli("sample", "--language", path, "--length", 16, "--schedule", "linear:1000000", "--num-samples", 1000,
                "--seed", 0, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["nfe_mean"] == 1_000_000 and report["kernel"] == "local"


# ----------------------------------------------------------------- batches, progress, Ctrl-C


def test_batching_changes_no_sample(monkeypatch):
    language = build_language(2, 3, 0.3, "dirichlet", seed=5)
    for spec in ("linear:7", "topk:3", "uniform:4"):
        whole = sample_mdm(language, 12, spec, 37, rng=9, learning_error=0.1)
        monkeypatch.setattr(sampler_module, "BATCH_TOKENS", 12 * 5)  # batches of 5 sequences
        parts = sample_mdm(language, 12, spec, 37, rng=9, learning_error=0.1)
        monkeypatch.undo()
        for field in ("samples", "nfe", "step_sizes", "step_indices", "fallback", "learning_kl_sum",
                      "learning_kl_max"):
            np.testing.assert_array_equal(getattr(whole, field), getattr(parts, field))


class _Terminal:
    """The CLI run with stderr on a pseudo-terminal (sized 120 x 24), stdout on a pipe."""

    def __init__(self, argv):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               "COLUMNS": "120", "LINES": "24"}
        self.leader, follower = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "ngramsim", *map(str, argv)], stdout=subprocess.PIPE,
                                     stderr=follower, env=env, cwd=ROOT)
        os.close(follower)

    def read(self, seconds, until=None):
        """What the terminal shows within ``seconds``, until the child exits or ``until`` appears."""
        shown = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.leader], [], [], 0.05)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(self.leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            if until is not None and until.encode() in shown:
                break
        return shown.decode(errors="replace")

    def finish(self):
        """``(exit status, stdout)``."""
        out = self.proc.stdout.read().decode()
        return self.proc.wait(timeout=60), out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        os.close(self.leader)


def _run_on_terminal(argv):
    """Run the CLI to the end with stderr on a pseudo-terminal; return (exit status, what it showed)."""
    terminal = _Terminal(argv)
    try:
        shown = terminal.read(TIMEOUT)
        return terminal.finish()[0], shown
    finally:
        terminal.close()


def test_progress_is_shown_on_a_terminal_and_not_with_quiet_or_in_a_pipe(tmp_path):
    path = tmp_path / "w.json"
    assert _cli("language", "window", "--vocab-size", 4, "--window", 2, "--out", path).returncode == 0
    argv = ["sample", "--language", path, "--length", 4096, "--schedule", "uniform:64", "--num-samples", 3000,
            "--seed", 0, "--json"]
    code, shown = _run_on_terminal(argv)
    assert code == 0 and "sample" in shown and "/3000" in shown
    code, shown = _run_on_terminal(argv + ["--quiet"])
    assert code == 0 and shown == ""
    done = _cli(*argv)
    assert done.returncode == 0 and done.stderr == ""  # not a terminal: silent


def _interrupt_once_running(argv, started):
    """Run the CLI with stderr on a pseudo-terminal; once ``started`` shows there (the progress bar:
    the computation is under way, imports and compilation are over), send SIGINT.  Returns
    ``(exit status, stdout, what the terminal showed after the signal, seconds from signal to exit)``."""
    terminal = _Terminal(argv)
    try:
        before = terminal.read(TIMEOUT, until=started)
        assert started in before and terminal.proc.poll() is None, before
        sent = time.monotonic()
        terminal.proc.send_signal(signal.SIGINT)
        after = terminal.read(60)
        code, out = terminal.finish()
        return code, out, after, time.monotonic() - sent
    finally:
        terminal.close()


def test_ctrl_c_exits_130_with_one_line(tmp_path):
    path = tmp_path / "d.json"
    assert _cli("language", "dirichlet", "--vocab-size", 4, "--order", 3, "--seed", 1, "--out", path).returncode == 0
    # About a minute of sampling (windows kernel, 2^27 tokens) if it were not interrupted.
    code, out, shown, seconds = _interrupt_once_running(
        ["sample", "--language", path, "--length", 65536, "--schedule", "uniform:16384", "--num-samples", 2048,
         "--seed", 0, "--json"], started="sample")
    assert code == 130 and out == ""
    assert shown.strip().splitlines()[-1].strip() == "ngramsim: interrupted" and "Traceback" not in shown
    assert seconds < 10  # between batches of sequences, not at the end of the run


def test_info_at_a_long_length_stops_on_ctrl_c(tmp_path):
    path = tmp_path / "w.json"
    assert _cli("language", "window", "--vocab-size", 4, "--window", 2, "--out", path).returncode == 0
    # Exact Phi at L = 10^5 is O(L^2): tens of seconds if it were not interrupted.
    code, out, shown, seconds = _interrupt_once_running(
        ["info", "--language", path, "--length", 100000, "--json"], started="Phi")
    assert code == 130 and out == ""
    assert shown.strip().splitlines()[-1].strip() == "ngramsim: interrupted" and "Traceback" not in shown
    assert seconds < 10  # between chunks of the Phi kernel, not at its end


def test_an_interrupt_wrapped_by_a_library_still_exits_130(monkeypatch, capsys):
    from ngramsim import cli

    def compile_interrupted(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Failed in nopython mode pipeline") from exc  # as numba wraps it

    monkeypatch.setitem(cli._COMMANDS, "info", compile_interrupted)
    assert cli.main(["info", "--language", "x.json"]) == 130
    assert capsys.readouterr().err == "ngramsim: interrupted\n"
    monkeypatch.setitem(cli._COMMANDS, "info", lambda args: 1 / 0)  # other errors are not disguised
    with pytest.raises(ZeroDivisionError):
        cli.main(["info", "--language", "x.json"])
