r"""The experiments of ``ngramsim reproduce``: the paper's two claims, measured and checked.

Each experiment is a function ``compute(cell, rng, seed) -> list of records`` over
one *cell* (an experiment name and its parameters); :func:`profile_cells` lists
the cells of a profile (``tiny``, ``quick``, ``full``).  A record is one measured
quantity, a flat JSON-ready dict with ``experiment``, ``language`` (its name),
``language_sha256``, ``length``, ``schedule`` (canonical string), ``metric``,
``value``, ``lo`` and ``hi`` (a 95% interval, equal to ``value`` when exact),
``method`` (``"exact"`` or ``"mc"``), ``num_samples``, and the model's
``learning_error`` and ``temperature`` where they apply (the sweep adds ``seed``
and ``version``).

Metrics: ``ser`` (SPEC §3, Wilson interval), ``kl_expected_per_token``
(``E_S KL(q||p_S) / L``: B2 exactly from ``Phi`` for order 2, Monte Carlo B1
otherwise), ``kl_per_token`` (``KL(q||p)/L = model_log_ppl - H(q_L)/L``, exact engine,
tiny ``L``), ``gen_log_ppl_valid``, ``nfe``, ``a2_bound``, ``c2_bound``,
``c3_bound``, ``step_tc``/``step_learning_kl`` (B1, per step), ``steps_for_kl`` and
``steps_for_ser`` (the smallest ``N`` meeting a per-token-KL or SER target).
Experiment ``remasking`` records ``ser`` with ``family`` (``uniform``, ``lowconf``,
``remdm``), ``eta``, ``num_steps`` and ``length_per_step`` (``L / N``).
"""

from __future__ import annotations

import math


from ngramsim.bounds import a2_ter_bound, c2_ser_lower_bound, c3_ser_lower_bound
from ngramsim.decomposition import estimate_b1, expected_kl, expected_kl_from_phi
from ngramsim.exact import exact_law
from ngramsim.families import dirichlet_language, window_language
from ngramsim.io import language_sha256
from ngramsim.metrics import summarize_samples, wilson_interval
from ngramsim.sampler import sample_mdm
from ngramsim.information import phi_curve
from ngramsim.schedules import BERNOULLI, COUNTS, parse_schedule
from ngramsim.transfer import ser_autoregressive

__all__ = ["LANGUAGES", "named_language", "profile_cells", "EXPERIMENTS", "compute_cell", "PROFILES"]

#: The languages of the reproduction, by key: the paper's hard instance family and random sparse ones.
LANGUAGES = {
    "W(4,2)": lambda: window_language(4, 2),
    "W(8,2)": lambda: window_language(8, 2),
    "dirichlet2": lambda: dirichlet_language(8, 2, concentration=0.5, forbidden=0.5, rng=1),
    "dirichlet3": lambda: dirichlet_language(4, 3, concentration=0.5, forbidden=0.5, rng=2),
}

_CACHE = {}


def named_language(key):
    """The language of the reproduction called ``key`` (see :data:`LANGUAGES`), built once per process."""
    if key not in LANGUAGES:
        raise ValueError(f"unknown language key {key!r}; expected one of {sorted(LANGUAGES)}")
    if key not in _CACHE:
        _CACHE[key] = LANGUAGES[key]()
    return _CACHE[key]


def _record(language, length, schedule, metric, value, *, lo=None, hi=None, method="exact", num_samples=0, **extra):
    value = float(value)
    return {
        "language": language.name,
        "language_sha256": language_sha256(language),
        "length": int(length),
        "schedule": parse_schedule(schedule).spec if schedule else "",
        "metric": metric,
        "value": value,
        "lo": value if lo is None else float(lo),
        "hi": value if hi is None else float(hi),
        "method": method,
        "num_samples": int(num_samples),
        **extra,
    }


def _mean_interval(value, stderr):
    return value - 1.96 * stderr, value + 1.96 * stderr


def _ser_record(language, length, spec, result, **extra):
    invalid = int((~language.is_valid(result.samples)).sum())
    M = result.num_samples
    lo, hi = wilson_interval(invalid, M)
    return _record(language, length, spec, "ser", invalid / M, lo=lo, hi=hi, method="mc", num_samples=M,
                   learning_error=result.learning_error, temperature=result.temperature, **extra)


_PHI = {}


def _exact_phi(language, length):
    """``Phi(0..L)`` for an order-<=2 language, computed once per process (B2 reuses it for every schedule)."""
    key = (language_sha256(language), length)
    if key not in _PHI:
        _PHI[key] = phi_curve(language, length, method="exact")[0]
    return _PHI[key]


def _gen_ppl_records(language, length, spec, result, **extra):
    """``gen_log_ppl_valid`` of the samples (mean over valid ones, 95% interval), if at least two are valid."""
    summary = summarize_samples(language, result)
    if summary["num_valid"] < 2:
        return []
    lo, hi = _mean_interval(summary["gen_log_ppl_valid"], summary["gen_log_ppl_valid_stderr"])
    return [_record(language, length, spec, "gen_log_ppl_valid", summary["gen_log_ppl_valid"], lo=lo, hi=hi,
                    method="mc", num_samples=summary["num_valid"], learning_error=result.learning_error,
                    temperature=result.temperature, **extra)]


def _kl_expected(language, length, spec, num_samples, seed):
    """``(value, lo, hi, method, num_samples)`` of ``E_S KL(q||p_S)``: B2 exactly where ``Phi`` is exact."""
    resolved = parse_schedule(spec).resolve(length)
    if language.order <= 2 and resolved.kind in (BERNOULLI, COUNTS):
        value = float(expected_kl_from_phi(_exact_phi(language, length), resolved).sum())
        return value, value, value, "exact", 0
    b1 = estimate_b1(language, length, spec, num_samples, rng=seed)
    lo, hi = _mean_interval(b1["kl_expected"], b1["kl_expected_stderr"])
    return b1["kl_expected"], lo, hi, "mc", num_samples


# ------------------------------------------------------------------ 1. per-token error versus N
def per_token_error(cell, rng, seed):
    """Per-token error versus ``N`` at one ``L``: ``E_S KL/L``, ``gen_log_ppl_valid`` and A2's bound (THEORY A1, A2)."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for N in p["steps"]:
        spec = f"uniform:{N}"
        value, lo, hi, method, m = _kl_expected(language, L, spec, p["b1_samples"], seed + N)
        records.append(_record(language, L, spec, "kl_expected_per_token", value / L, lo=lo / L, hi=hi / L,
                               method=method, num_samples=m, num_steps=N, learning_error=0.0, temperature=1.0))
        out = sample_mdm(language, L, spec, p["num_samples"], rng=seed + N)
        records += _gen_ppl_records(language, L, spec, out, num_steps=N, entropy_per_token=language.entropy(L) / L)
        a2 = a2_ter_bound(language, N)
        if L > a2["min_length"]:
            records.append(_record(language, L, spec, "a2_bound", a2["bound"], num_steps=N))
    if p.get("exact_length"):
        # The exact engine's DP runs over (V+1)^L partial states: keep them near 2^20.
        Le = min(p["exact_length"], int(20 * math.log(2) / math.log(language.vocab_size + 1)))
        for N in (n for n in p["steps"] if n <= Le):
            r = exact_law(language, Le, f"uniform:{N}")
            records.append(_record(language, Le, f"uniform:{N}", "kl_per_token", r.kl / Le, num_steps=N,
                                   learning_error=0.0, temperature=1.0))
            records.append(_record(language, Le, f"uniform:{N}", "kl_expected_per_token", r.kl_expected / Le,
                                   num_steps=N, learning_error=0.0, temperature=1.0))
    return records


# ------------------------------------------------------------------ 2. SER versus N
def ser_vs_steps(cell, rng, seed):
    """SER versus ``N`` at one ``L`` (Monte Carlo, Wilson 95%), with C2's lower bound on window languages (A3, C2)."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for kind in p["kinds"]:
        for N in p["steps"]:
            spec = f"{kind}:{N}"
            out = sample_mdm(language, L, spec, p["num_samples"], rng=seed + N)
            records.append(_ser_record(language, L, spec, out, num_steps=N))
            if p["language"].startswith("W("):
                records.append(_record(language, L, spec, "c2_bound", c2_ser_lower_bound(language, L, spec), num_steps=N))
    return records


# ------------------------------------------------------------------ 3. steps needed (and 8. cost)
def _crossing(grid, values, target):
    """The first grid point (log-interpolated) where ``values`` falls to ``target`` (``inf`` if never)."""
    for j, v in enumerate(values):
        if v <= target:
            if j == 0:
                return float(grid[0])
            a, b = math.log(grid[j - 1]), math.log(grid[j])
            va, vb = values[j - 1], values[j]
            frac = (va - target) / (va - vb) if va != vb else 1.0
            return float(math.exp(a + frac * (b - a)))
    return math.inf


def steps_needed(cell, rng, seed):
    """The smallest ``N`` for per-token KL <= eps (B2, exact) and for SER <= delta (Monte Carlo) at one ``L``.

    ``N`` runs over a geometric grid (ratio ``2^(1/4)``) of ``uniform:N``; the crossing is
    log-interpolated between grid points.  The SER crossing's interval comes from the Wilson
    limits: the first ``N`` whose lower limit is below ``delta`` and the first whose upper one is.
    """
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    grid = sorted({max(1, min(L, int(round(2 ** (k / 4))))) for k in range(0, 4 * int(math.log2(L)) + 1)})
    kl = [_kl_expected(language, L, f"uniform:{N}", 0, seed)[0] / L for N in grid]
    n_kl = _crossing(grid, kl, p["epsilon"])
    records = [_record(language, L, "", "steps_for_kl", n_kl, epsilon=p["epsilon"])]
    ser, lows, highs = [], [], []
    for N in grid:
        out = sample_mdm(language, L, f"uniform:{N}", p["num_samples"], rng=seed + N)
        k = int((~language.is_valid(out.samples)).sum())
        lo, hi = wilson_interval(k, p["num_samples"])
        ser.append(k / p["num_samples"])
        lows.append(lo)
        highs.append(hi)
    n_ser = _crossing(grid, ser, p["delta"])
    records.append(_record(language, L, "", "steps_for_ser", n_ser, lo=_crossing(grid, lows, p["delta"]),
                           hi=_crossing(grid, highs, p["delta"]), method="mc", num_samples=p["num_samples"],
                           delta=p["delta"]))
    return records


# ------------------------------------------------------------------ 4. KL decomposed step by step
def kl_decomposition(cell, rng, seed):
    """B1's terms of one schedule, step by step: exact at a tiny ``L``, Monte Carlo at a larger one."""
    p = cell.params
    language, spec, lam = named_language(p["language"]), p["schedule"], p["learning_error"]
    records = []
    r = exact_law(language, p["exact_length"], spec, learning_error=lam)
    for t, step in enumerate(r.steps, start=1):
        for metric in ("tc", "learning_kl"):
            records.append(_record(language, p["exact_length"], spec, f"step_{metric}", step[metric], step=t,
                                   learning_error=lam, temperature=1.0))
    L = p["length"]
    b1 = estimate_b1(language, L, spec, p["num_samples"], rng=seed, learning_error=lam)
    for t in range(len(b1["tc"])):
        for metric in ("tc", "learning_kl"):
            v, se = b1[metric][t], b1[f"{metric}_stderr"][t]
            lo, hi = _mean_interval(v, se)
            records.append(_record(language, L, spec, f"step_{metric}", v, lo=lo, hi=hi, method="mc",
                                   num_samples=p["num_samples"], step=t + 1, learning_error=lam, temperature=1.0))
    return records


# ------------------------------------------------------------------ 5. B2 against Monte Carlo
def b2_vs_mc(cell, rng, seed):
    """``E_S KL(q||p_S)``: B2's formula from ``Phi`` against Monte Carlo B1 over random orders (THEORY B2)."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for spec in p["schedules"]:
        b2 = expected_kl(language, L, spec, num_samples=p["phi_samples"], rng=seed)
        method = "exact" if b2["method"] == "exact" else "mc"
        se = b2.get("kl_expected_stderr", 0.0)
        lo, hi = _mean_interval(b2["kl_expected"], se)
        records.append(_record(language, L, spec, "kl_expected_b2", b2["kl_expected"], lo=lo, hi=hi, method=method,
                               num_samples=0 if method == "exact" else p["phi_samples"]))
        b1 = estimate_b1(language, L, spec, p["num_samples"], rng=seed + 1)
        lo, hi = _mean_interval(b1["kl_expected"], b1["kl_expected_stderr"])
        records.append(_record(language, L, spec, "kl_expected", b1["kl_expected"], lo=lo, hi=hi, method="mc",
                               num_samples=p["num_samples"]))
    return records


# ------------------------------------------------------------------ 6. schedules at equal NFE
def equal_nfe(cell, rng, seed):
    """Every schedule family at comparable NFE: SER, per-token ``E_S KL``, ``gen_log_ppl_valid`` and NFE."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for spec in p["schedules"]:
        out = sample_mdm(language, L, spec, p["num_samples"], rng=seed)
        family = spec.split(":")[0]
        records.append(_ser_record(language, L, spec, out, family=family))
        nfe = out.nfe.astype(float)
        lo, hi = _mean_interval(nfe.mean(), nfe.std(ddof=1) / math.sqrt(len(nfe)) if len(nfe) > 1 else 0.0)
        records.append(_record(language, L, spec, "nfe", nfe.mean(), lo=lo, hi=hi, method="mc",
                               num_samples=len(nfe), family=family))
        value, lo, hi, method, m = _kl_expected(language, L, spec, p["b1_samples"], seed + 1)
        records.append(_record(language, L, spec, "kl_expected_per_token", value / L, lo=lo / L, hi=hi / L,
                               method=method, num_samples=m, family=family))
        records += _gen_ppl_records(language, L, spec, out, family=family)
    return records


# ------------------------------------------------------------------ 7. SER versus lambda L
def ser_vs_lambda(cell, rng, seed):
    """SER of ``ar`` with learning error ``lambda`` (exact, transfer matrices) and C3's closed form, by ``lambda L``."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for lam_L in p["lambda_times_length"]:
        lam = lam_L / L
        ser = ser_autoregressive(language, L, learning_error=lam)
        records.append(_record(language, L, "ar", "ser", ser, learning_error=lam, temperature=1.0,
                               lambda_times_length=lam_L))
        records.append(_record(language, L, "ar", "c3_bound", c3_ser_lower_bound(language, L, "ar", lam),
                               learning_error=lam, temperature=1.0, lambda_times_length=lam_L))
        if p.get("num_samples"):
            out = sample_mdm(language, L, "ar", p["num_samples"], rng=seed, learning_error=lam)
            records.append(_ser_record(language, L, "ar", out, lambda_times_length=lam_L))
    return records


# ------------------------------------------------------------------ 9. remasking at equal NFE
def remasking(cell, rng, seed):
    """SER at equal NFE of decoders that never revise a token (``uniform``, LLaDA's ``lowconf``) and of
    ReMDM-style remasking ``remdm:N:eta``, at one ``L`` and ``N = L / ratio`` (C2 with correctors)."""
    p = cell.params
    language, L = named_language(p["language"]), p["length"]
    records = []
    for ratio in p["ratios"]:
        N = L // ratio
        decoders = [("uniform", f"uniform:{N}", 0.0), ("lowconf", f"lowconf:{N}", 0.0)]
        decoders += [("remdm", f"remdm:{N}:{eta:g}", eta) for eta in p["etas"]]
        for family, spec, eta in decoders:
            out = sample_mdm(language, L, spec, p["num_samples"], rng=seed + N)
            records.append(_ser_record(language, L, spec, out, num_steps=N, length_per_step=ratio, family=family,
                                       eta=eta))
    return records


EXPERIMENTS = {
    "per_token_error": per_token_error,
    "ser_vs_steps": ser_vs_steps,
    "steps_needed": steps_needed,
    "kl_decomposition": kl_decomposition,
    "b2_vs_mc": b2_vs_mc,
    "equal_nfe": equal_nfe,
    "ser_vs_lambda": ser_vs_lambda,
    "remasking": remasking,
}


def compute_cell(cell, rng, seed):
    """Run the experiment a cell names (the function the sweep engine calls in its workers).

    The sweep adds ``experiment``, ``seed``, ``cell_seed``, ``cell_key`` and ``version`` to
    every record.  Library calls inside take integer seeds derived from ``seed``.
    """
    if cell.experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {cell.experiment!r}; expected one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[cell.experiment](cell, rng, int(seed) % (2**31))


def warm_kernels():
    """Load (or compile) the kernels the experiments use, once per worker process, on tiny cases."""
    w, d3 = named_language("W(4,2)"), named_language("dirichlet3")
    for spec in ("uniform:2", "linear:2", "topk:2", "eb:1.0", "stride:2", "ar"):
        sample_mdm(w, 8, spec, 2, rng=0)
        sample_mdm(d3, 8, spec, 2, rng=0)
    sample_mdm(w, 8, "ar", 2, rng=0, learning_error=0.1)
    sample_mdm(w, 8, "lowconf:2", 2, rng=0)
    sample_mdm(w, 8, "remdm:2:0.5", 2, rng=0)
    estimate_b1(w, 8, "uniform:2", 2, rng=0)
    expected_kl(w, 8, "uniform:2")
    exact_law(w, 4, "uniform:2")


#: Sizes of each profile: lengths, Monte Carlo samples, and the KL / SER targets of experiments 3 and 8.
PROFILES = {
    "tiny": {"lengths": [16, 32], "num_samples": 100, "b1_samples": 20, "steps_lengths": [16, 32, 64],
             "eps": 0.05, "delta": 0.5, "exact_length": 6, "remask_lengths": [16, 32], "remask_samples": 50},
    "quick": {"lengths": [64, 256, 1024], "num_samples": 800, "b1_samples": 100,
              "steps_lengths": [64, 128, 256, 512, 1024], "eps": 0.05, "delta": 0.5, "exact_length": 8,
              "remask_lengths": [32, 64, 128, 256, 512], "remask_samples": 300},
    "full": {"lengths": [64, 256, 1024, 4096, 16384], "num_samples": 2000, "b1_samples": 200,
             "steps_lengths": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384], "eps": 0.05, "delta": 0.5,
             "exact_length": 8, "remask_lengths": [32, 64, 128, 256, 512, 1024, 2048], "remask_samples": 1000},
}


def _powers_of_two(limit):
    return [2**k for k in range(int(math.log2(limit)) + 1)]


def profile_cells(profile):
    """The cells ``(experiment, params)`` of a profile, as ``(name, params)`` pairs in a stable order."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
    P = PROFILES[profile]
    M, lengths = P["num_samples"], P["lengths"]
    cells = []
    for key in ("W(4,2)", "W(8,2)", "dirichlet2", "dirichlet3"):
        for L in lengths:
            steps = [N for N in _powers_of_two(L) if N <= L]
            m = M
            if key == "dirichlet3":  # order 3: Monte Carlo B1 and the windows kernel, so fewer N and samples
                steps = [N for N in steps if N in (1, 4, 16, 64)]
                m = max(M // 4, 50)
            params = {"language": key, "length": L, "steps": steps, "num_samples": m, "b1_samples": P["b1_samples"]}
            if L == lengths[0] and key != "dirichlet3":
                params["exact_length"] = P["exact_length"]
            cells.append(("per_token_error", params))
            cells.append(("ser_vs_steps", {"language": key, "length": L, "steps": steps, "num_samples": m,
                                           "kinds": ["uniform", "linear"] if key.startswith("W(") else ["uniform"]}))
    if profile != "tiny":
        cells.append(("ser_vs_steps", {"language": "W(4,2)", "length": 64, "steps": [8, 16, 32, 64],
                                       "num_samples": M, "kinds": ["uniform"]}))
    for L in P["steps_lengths"]:
        for key in ("W(4,2)", "dirichlet2"):
            cells.append(("steps_needed", {"language": key, "length": L, "epsilon": P["eps"], "delta": P["delta"],
                                           "num_samples": M}))
    cells.append(("kl_decomposition", {"language": "dirichlet2", "schedule": "cosine:4", "learning_error": 0.05,
                                       "exact_length": 6, "length": lengths[-1], "num_samples": P["b1_samples"]}))
    for key in ("dirichlet2", "dirichlet3", "W(4,2)"):
        # Order 3: a length where Phi is exact by enumeration (4^10 sequences), so B2 is exact for all three.
        L = 10 if key == "dirichlet3" else min(lengths[-1], 256)
        cells.append(("b2_vs_mc", {"language": key, "length": L, "num_samples": 4 * P["b1_samples"],
                                   "phi_samples": P["b1_samples"],
                                   "schedules": ["uniform:4", "linear:8"] + (["uniform:8", "grow:4", "shrink:4"] if key ==
                                   "dirichlet3" else ["uniform:16", "linear:16", "grow:8", "shrink:8"])}))
    L = min(lengths[-1], 256)
    for key in ("W(4,2)", "dirichlet2"):
        schedules = [f"{kind}:{N}" for N in (8, 16, 32) for kind in ("linear", "cosine", "uniform", "grow", "shrink",
                                                                       "topk", "stride")]
        schedules += [f"eb:{g}" for g in (0.5, 2.0, 8.0)] + ["ar"]
        cells.append(("equal_nfe", {"language": key, "length": L, "schedules": schedules, "num_samples": M,
                                    "b1_samples": P["b1_samples"]}))
    for key in ("W(4,2)", "W(8,2)"):
        for L in lengths:
            cells.append(("ser_vs_lambda", {"language": key, "length": L, "num_samples": M if L == lengths[0] else 0,
                                            "lambda_times_length": [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]}))
    for L in P["remask_lengths"]:
        # lowconf and remdm run a full forward-backward pass per step (O(N L) per sequence): shorter lengths.
        cells.append(("remasking", {"language": "W(4,2)", "length": L, "ratios": [4, 2], "etas": [0.02, 0.1, 0.5],
                                    "num_samples": P["remask_samples"]}))
    return cells
