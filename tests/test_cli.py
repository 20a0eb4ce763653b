"""The command line: files it writes, JSON it prints, one-line errors with exit status 2."""

import json
import re
import math
import subprocess
import sys
import time

import numpy as np
import pytest

from ngramsim import language_sha256, read_language, window_language
from ngramsim.cli import main

INFO_KEYS = {
    "vocab_size",
    "order",
    "irreducible",
    "stationary_context",
    "stationary_token",
    "entropy_rate",
    "version",
    "language_name",
    "language_sha256",
}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_language_window_writes_spec_file(tmp_path, capsys):
    path = tmp_path / "w.json"
    code, out, _ = run(capsys, "language", "window", "--vocab-size", "8", "--window", "2", "--out", str(path))
    assert code == 0 and str(path) in out
    data = json.loads(path.read_text())
    assert data["format"] == "ngramsim.language/1"
    assert (data["vocab_size"], data["order"]) == (8, 2)
    P = np.array(data["transitions"])
    for a in range(8):
        np.testing.assert_array_equal(np.flatnonzero(P[a]), np.sort([a, (a + 1) % 8]))
    np.testing.assert_array_equal(read_language(path).transitions, window_language(8, 2).transitions)


@pytest.mark.parametrize(
    "argv, V, n",
    [
        (["dirichlet", "--vocab-size", "3", "--order", "3", "--seed", "4"], 3, 3),
        (["dirichlet", "--vocab-size", "4", "--order", "2", "--concentration", "0.3", "--forbidden", "0.5", "--seed", "1"], 4, 2),
        (["uniform", "--vocab-size", "3", "--order", "1"], 3, 1),
        (["cycle", "--vocab-size", "5"], 5, 2),
    ],
)
def test_language_families_write_valid_files(tmp_path, capsys, argv, V, n):
    path = tmp_path / "l.json"
    code, _, _ = run(capsys, "language", *argv, "--out", str(path))
    assert code == 0
    language = read_language(path)
    assert (language.vocab_size, language.order) == (V, n)


def test_dirichlet_seed_reproduces(tmp_path, capsys):
    a, b, c = (tmp_path / f"{k}.json" for k in "abc")
    args = ["language", "dirichlet", "--vocab-size", "3", "--order", "2", "--forbidden", "0.3"]
    run(capsys, *args, "--seed", "5", "--out", str(a))
    run(capsys, *args, "--seed", "5", "--out", str(b))
    run(capsys, *args, "--seed", "6", "--out", str(c))
    assert a.read_text() == b.read_text() != c.read_text()


def test_cycle_follows_definition(tmp_path, capsys):
    path = tmp_path / "c.json"
    run(capsys, "language", "cycle", "--vocab-size", "4", "--out", str(path))
    data = json.loads(path.read_text())
    assert data["transitions"] == [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    assert data["initial"] == [0.25] * 4


def test_info_json_is_strict_and_complete(tmp_path, capsys):
    path = tmp_path / "w.json"
    run(capsys, "language", "window", "--vocab-size", "5", "--window", "3", "--out", str(path))
    code, out, _ = run(capsys, "info", "--language", str(path), "--json")
    assert code == 0
    info = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert INFO_KEYS <= set(info)
    assert info["irreducible"] is True
    np.testing.assert_allclose(info["stationary_context"], 0.2, atol=1e-12)
    np.testing.assert_allclose(info["stationary_token"], 0.2, atol=1e-12)
    assert abs(info["entropy_rate"] - math.log(3)) < 1e-12
    assert info["language_sha256"] == language_sha256(read_language(path))
    assert info["language_name"] == "window(V=5,m=3)"


def test_info_reports_all_stationary_laws_when_not_unique(tmp_path, capsys):
    path = tmp_path / "w.json"
    run(capsys, "language", "window", "--vocab-size", "3", "--window", "1", "--out", str(path))
    _, out, _ = run(capsys, "info", "--language", str(path), "--json")
    info = json.loads(out)
    assert info["irreducible"] is False and info["unique_stationary"] is False
    np.testing.assert_allclose(info["stationary_context"], np.eye(3), atol=1e-12)


def test_info_human_readable(tmp_path, capsys):
    path = tmp_path / "w.json"
    run(capsys, "language", "window", "--vocab-size", "4", "--window", "2", "--out", str(path))
    code, out, _ = run(capsys, "info", "--language", str(path))
    assert code == 0 and "entropy_rate" in out and "irreducible" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["info", "--language", "x.json", "--bogus"],
        ["language", "window", "--vocab-size", "8", "--window", "2"],
        ["language", "window", "--vocab-size", "eight", "--window", "2", "--out", "w.json"],
        ["language", "window", "--vocab-size", "8", "--window", "8", "--out", "w.json"],
        ["language", "dirichlet", "--vocab-size", "3", "--order", "2", "--out", "w.json"],
        ["language", "dirichlet", "--vocab-size", "3", "--order", "2", "--seed", "1", "--forbidden", "1.5", "--out", "w.json"],
        ["language", "uniform", "--vocab-size", "1000", "--order", "5", "--out", "w.json"],
        ["language", "spiral", "--out", "w.json"],
        ["info", "--language", "absent.json"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and re.match(r"ngramsim[a-z ]*: error: ", err)
    assert not (tmp_path / "w.json").exists()


def test_malformed_file_exits_2_naming_field(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "ngramsim.language/1", "vocab_size": 2, "order": 2, "transitions": [[0.5, 0.5], [0.2, 0.2]], "initial": [0.5, 0.5]}))
    code, _, err = run(capsys, "info", "--language", str(path))
    assert code == 2 and "transitions" in err and len(err.strip().splitlines()) == 1


def test_module_and_console_script_entry_points(tmp_path):
    path = tmp_path / "w.json"
    done = subprocess.run(
        [sys.executable, "-m", "ngramsim", "language", "window", "--vocab-size", "3", "--window", "2", "--out", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-m", "ngramsim", "info", "--language", str(path), "--json"], capture_output=True, text=True)
    assert json.loads(done.stdout)["vocab_size"] == 3
    done = subprocess.run([sys.executable, "-m", "ngramsim", "--nope"], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


SAMPLE_KEYS = {
    "ser",
    "ser_interval",
    "gen_log_ppl",
    "gen_log_ppl_valid",
    "nfe_mean",
    "fallback_fraction",
    "learning_kl_mean",
    "version",
    "language_name",
    "language_sha256",
    "seed",
    "schedule",
}


def _window_file(tmp_path, capsys, V=4, m=2):
    path = tmp_path / "w.json"
    run(capsys, "language", "window", "--vocab-size", str(V), "--window", str(m), "--out", str(path))
    return path


def test_sample_json_and_npy(tmp_path, capsys):
    from ngramsim.transfer import ser_one_step

    path = _window_file(tmp_path, capsys)
    out = tmp_path / "samples.npy"
    args = ["sample", "--language", str(path), "--length", "12", "--schedule", "uniform:1", "--num-samples", "4000", "--seed", "3"]
    code, stdout, _ = run(capsys, *args, "--json", "--out", str(out))
    assert code == 0
    report = json.loads(stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert SAMPLE_KEYS <= set(report)
    assert report["seed"] == 3 and report["schedule"] == "uniform:1" and report["nfe_mean"] == 1
    samples = np.load(out)
    assert samples.dtype == np.int64 and samples.shape == (4000, 12)
    language = read_language(path)
    assert report["ser"] == pytest.approx(1 - language.is_valid(samples).mean(), abs=1e-15)
    from ngramsim.metrics import wilson_interval

    assert report["ser_interval"] == list(wilson_interval(report["num_invalid"], 4000))
    low, high = wilson_interval(report["num_invalid"], 4000, z=3.2905)  # 99.9%
    assert low <= ser_one_step(language, 12) <= high
    # The same seed reproduces the file; the Python API gives the same samples.
    code, _, _ = run(capsys, *args, "--out", str(tmp_path / "again.npy"))
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), samples)
    from ngramsim import sample_mdm

    np.testing.assert_array_equal(sample_mdm(language, 12, "uniform:1", 4000, rng=3).samples, samples)


def test_sample_reports_infinite_perplexity_as_string(tmp_path, capsys):
    path = _window_file(tmp_path, capsys)
    code, stdout, _ = run(
        capsys, "sample", "--language", str(path), "--length", "30", "--schedule", "ar",
        "--num-samples", "200", "--seed", "1", "--learning-error", "0.1", "--temperature", "0.7", "--json",
    )
    report = json.loads(stdout)
    # ar on W(8, 2) with lambda = 0.1: each sequence is valid with probability (1 - 0.075)^29 < 0.11
    # (THEORY C3), so all 200 valid has probability < 1e-190; every draw after the first has a
    # two-point conditional, so the learning KL is positive for every sequence.
    assert report["ser"] > 0 and report["gen_log_ppl"] == "inf"
    assert report["learning_kl_mean"] > 0


def test_sample_human_summary(tmp_path, capsys):
    path = _window_file(tmp_path, capsys)
    code, stdout, _ = run(capsys, "sample", "--language", str(path), "--length", "10", "--schedule", "ar", "--num-samples", "10", "--seed", "0")
    assert code == 0 and "SER" in stdout and "NFE" in stdout


@pytest.mark.parametrize(
    "override, extra",
    [
        ({"--schedule": "zigzag:2"}, []),
        ({"--schedule": "uniform:40"}, []),
        ({"--schedule": "counts:3,3"}, []),
        ({"--schedule": "eb:-2"}, []),
        ({"--num-samples": "0"}, []),
        ({"--length": "0"}, []),
        ({"--seed": "x"}, []),
        ({}, ["--learning-error", "1.5"]),
        ({}, ["--temperature", "0"]),
        ({}, ["--bogus"]),
    ],
)
def test_sample_usage_errors_exit_2(tmp_path, capsys, override, extra):
    path = _window_file(tmp_path, capsys)
    options = {"--language": str(path), "--length": "8", "--schedule": "linear:4", "--num-samples": "5", "--seed": "1"}
    options.update(override)
    code, out, err = run(capsys, "sample", *[a for kv in options.items() for a in kv], *extra)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and re.match(r"ngramsim[a-z ]*: error: ", err)


EXACT_KEYS = {
    "ser",
    "kl",
    "kl_expected",
    "model_log_ppl",
    "gen_log_ppl",
    "gen_log_ppl_valid",
    "learning_kl_mean",
    "learning_kl_max",
    "steps",
    "version",
    "language_name",
    "language_sha256",
    "schedule",
}


def test_exact_json_and_distribution(tmp_path, capsys):
    from tests import reference

    path = _window_file(tmp_path, capsys, V=3, m=2)
    args = ["exact", "--language", str(path), "--length", "4", "--schedule", "cosine:2", "--learning-error", "0.1", "--json"]
    code, stdout, _ = run(capsys, *args, "--distribution")
    assert code == 0
    report = json.loads(stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert EXACT_KEYS <= set(report) and report["schedule"] == "cosine:2"
    assert len(report["steps"]) == 2 and set(report["steps"][0]) == {"tc", "learning_kl"}
    language = read_language(path)
    law, ser = reference.exact_mdm_law(language, 4, "cosine:2", learning_error=0.1)
    np.testing.assert_allclose(report["distribution"], law, atol=1e-12)
    assert abs(report["ser"] - ser) < 1e-12
    assert report["gen_log_ppl"] == "inf" and report["kl"] <= report["kl_expected"] + 1e-12
    code, stdout, _ = run(capsys, *args)
    assert "distribution" not in json.loads(stdout)
    code, stdout, _ = run(capsys, *args[:-1])
    assert code == 0 and "step" in stdout and "kl_expected" in stdout


def test_exact_refuses_large_cases_with_one_line(tmp_path, capsys):
    path = _window_file(tmp_path, capsys)
    code, out, err = run(capsys, "exact", "--language", str(path), "--length", "40", "--schedule", "ar", "--json")
    assert code == 2 and out == "" and "Monte Carlo" in err and len(err.strip().splitlines()) == 1


def test_info_with_length_adds_information_measures(tmp_path, capsys):
    import math

    path = _window_file(tmp_path, capsys, V=6, m=2)
    code, stdout, _ = run(capsys, "info", "--language", str(path), "--length", "20", "--json")
    info = json.loads(stdout)
    assert {"tc", "dtc", "sum_mi", "phi", "tc_method", "dtc_method", "phi_method"} <= set(info)
    assert info["tc_method"] == info["dtc_method"] == info["phi_method"] == "exact"
    assert abs(info["tc"] - 19 * math.log(3)) < 1e-9 and abs(info["sum_mi"] - info["tc"] - info["dtc"]) < 1e-12
    assert len(info["phi"]) == 21 and info["phi"][0] == 0
    assert abs(info["phi"][20] - (math.log(6) + 19 * math.log(2))) < 1e-9  # Phi(L) = H(X)


def test_info_monte_carlo_phi_says_so(tmp_path, capsys):
    path = tmp_path / "d.json"
    run(capsys, "language", "dirichlet", "--vocab-size", "3", "--order", "3", "--seed", "2", "--out", str(path))
    code, stdout, _ = run(capsys, "info", "--language", str(path), "--length", "16", "--num-samples", "20", "--seed", "4", "--json")
    info = json.loads(stdout)
    assert info["phi_method"] == "monte_carlo" and info["seed"] == 4
    # Phi(0) = 0 is exact; every other point is an average of random draws of -log q(x_A), with spread.
    assert len(info["phi_stderr"]) == 17 and info["phi_stderr"][0] == 0 and all(e > 0 for e in info["phi_stderr"][1:])


def test_check_quick_json(capsys):
    code, stdout, _ = run(capsys, "check", "--quick", "--json")
    report = json.loads(stdout)
    assert code == 0 and report["num_failed"] == 0 and report["num_checks"] == len(report["bounds"])
    names = {r["name"].split(" ")[0] for r in report["bounds"]}
    assert {"A2", "B3", "B4", "B4'", "B5", "B6", "B7", "C2", "C3"} <= names
    for r in report["bounds"]:
        assert {"name", "bound", "observed", "observed_interval", "holds", "slack", "direction",
                "language_name", "language_sha256", "length", "schedule"} <= set(r)
        lo, hi = r["observed_interval"]
        assert lo <= r["observed"] <= hi
    assert report["version"] and report["seed"] == 0


def test_check_exits_1_when_a_bound_fails(capsys, monkeypatch):
    from ngramsim import checks
    from ngramsim.bounds import check_bound

    failing = check_bound("X made up", bound=0.1, observed=0.5, direction="upper",
                          details={"language_name": "w", "language_sha256": "0", "length": 4, "schedule": "ar"})
    monkeypatch.setattr(checks, "run_checks", lambda quick, rng: [failing])
    code, stdout, _ = run(capsys, "check", "--quick")
    assert code == 1 and "NO" in stdout


def test_unwritable_out_is_reported_before_any_work(tmp_path, capsys):
    missing = tmp_path / "nope" / "w.json"
    code, _, err = run(capsys, "language", "window", "--vocab-size", "4", "--window", "2", "--out", str(missing))
    assert code == 2 and "does not exist" in err and not missing.parent.exists()
    path = _window_file(tmp_path, capsys)
    start = time.perf_counter()
    code, _, err = run(capsys, "sample", "--language", str(path), "--length", "100000", "--schedule", "uniform:10",
                       "--num-samples", "2000", "--seed", "0", "--out", str(missing))
    assert code == 2 and "does not exist" in err and time.perf_counter() - start < 5  # refused before sampling
    code, _, err = run(capsys, "reproduce", "--profile", "tiny", "--out", str(tmp_path / "a" / "b"))
    assert code == 2 and "does not exist" in err
