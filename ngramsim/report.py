"""``report.md`` of a reproduction: each claim, the measured figure with its interval, the bound, whether it holds.

Built from the records alone (see :mod:`ngramsim.experiments`), so a report can
be regenerated from ``results.jsonl`` without rerunning anything.
"""

from __future__ import annotations

import math

from ngramsim._json import dumps_strict
from ngramsim.plotting import FIGURES, cost_table, fit_loglog_slope, steps_fits

__all__ = ["report_markdown", "failure_markdown", "claim_checks"]


def _fmt(x, digits=3):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    return f"{x:.{digits}g}"


def _interval(r, digits=3):
    if r["lo"] == r["value"] == r["hi"]:
        return f"{_fmt(r['value'], digits)} (exact)"
    return f"{_fmt(r['value'], digits)} [{_fmt(r['lo'], digits)}, {_fmt(r['hi'], digits)}]"


def _pairs(records, experiment, metric, bound_experiment, bound_metric, keys):
    """``(observed, bound)`` record pairs that agree on ``keys``."""
    bounds = {tuple(b[k] for k in keys): b for b in records
              if b["experiment"] == bound_experiment and b["metric"] == bound_metric}
    return [(r, bounds[tuple(r[k] for k in keys)]) for r in records
            if r["experiment"] == experiment and r["metric"] == metric and tuple(r[k] for k in keys) in bounds]


def _bound_verdict(claim, slacks, slack_words):
    worst = min(slacks)
    return {"claim": claim, "measured": f"{sum(s >= 0 for s in slacks)}/{len(slacks)} cells hold; smallest slack "
                                        f"{slack_words}{_fmt(worst)}",
            "expected": "every cell holds", "holds": bool(worst >= 0)}


def claim_checks(records) -> list[dict]:
    """The report's verdicts: ``{"claim", "measured", "expected", "holds"}`` per claim (also used by tests)."""
    out = []
    fits = steps_fits(records)
    for (lang, metric), (_, _, _, _, slope, lo, hi) in sorted(fits.items()):
        if metric == "steps_for_kl":
            out.append({"claim": f"A1: steps for per-token KL <= eps do not grow with L ({lang})",
                        "measured": f"log-log slope {_fmt(slope)} [{_fmt(lo)}, {_fmt(hi)}]",
                        "expected": "slope near 0 (upper 95% limit below 0.5)", "holds": bool(hi < 0.5)})
        else:
            out.append({"claim": f"A3/C2: steps for SER <= delta grow linearly with L ({lang})",
                        "measured": f"log-log slope {_fmt(slope)} [{_fmt(lo)}, {_fmt(hi)}]",
                        "expected": "slope near 1 (lower 95% limit above 0.5)", "holds": bool(lo > 0.5)})
    c2 = _pairs(records, "ser_vs_steps", "ser", "ser_vs_steps", "c2_bound", ("language", "length", "schedule"))
    if c2:
        out.append(_bound_verdict("C2: SER >= c2_ser_lower_bound (window languages, every L and N)",
                                  [r["hi"] - b["value"] for r, b in c2], "(upper 95% limit minus bound) "))
    a2 = _pairs(records, "per_token_error", "kl_expected_per_token", "per_token_error", "a2_bound",
                ("language", "length", "schedule"))
    if a2:
        out.append(_bound_verdict("A2 (reconstructed constants): per-token E KL <= eps_learning + 4 eps log V",
                                  [b["value"] - r["lo"] for r, b in a2], ""))
    stride = [r for r in records if r["experiment"] == "equal_nfe" and r["metric"] == "ser"
              and r["schedule"].startswith("stride")]
    if stride:
        worst = max(r["value"] for r in stride)
        out.append({"claim": "C2': the stride order never produces an invalid sequence",
                    "measured": f"largest observed SER {_fmt(worst)} over {len(stride)} cells",
                    "expected": "0", "holds": bool(worst == 0.0)})
    c3 = [(r, b) for r, b in _pairs(records, "ser_vs_lambda", "ser", "ser_vs_lambda", "c3_bound",
                                   ("language", "length", "learning_error")) if r["method"] == "exact"]
    if c3:
        gap = max(abs(r["value"] - b["value"]) for r, b in c3)
        out.append({"claim": "C3: SER of ar = 1 - (1 - lambda (V-m)/V)^(L-1) (exact, transfer matrices)",
                    "measured": f"largest difference exact vs closed form {_fmt(gap)} over {len(c3)} cells",
                    "expected": "below 1e-9", "holds": bool(gap < 1e-9)})
    remask = [r for r in records if r["experiment"] == "remasking" and r["metric"] == "ser"]
    if remask:
        # At a fixed L/N, escaping C2's linear law means the SER decays as L grows.  The log-log slope of
        # SER against L is about 0 when it does not; a decay like L^(-1/2) or faster would be an escape.
        groups = {}
        for r in remask:
            groups.setdefault((r["length_per_step"], r["family"], r["eta"]), []).append(r)
        slopes, parts = [], []
        for (ratio, family, eta), rows in sorted(groups.items(), key=lambda kv: (-kv[0][0], kv[0][1], kv[0][2])):
            slope, lo, hi = fit_loglog_slope([r["length"] for r in rows], [r["value"] for r in rows])
            name = f"remdm:{eta:g}" if family == "remdm" else family
            parts.append(f"{name} L/N={ratio:g}: {_fmt(slope, 2)}" + ("" if math.isnan(hi) else f" [{_fmt(lo, 2)}, {_fmt(hi, 2)}]"))
            slopes.append(hi if not math.isnan(hi) else slope)
        out.append({"claim": "C2 with correctors: at equal NFE (N = L/r) the SER of uniform, lowconf and remdm "
                             "remasking does not decay with L (no escape from the linear law)",
                    "measured": "log-log slopes of SER vs L: " + "; ".join(parts),
                    "expected": "every slope's upper 95% limit above -0.5",
                    "holds": bool(slopes) and all(not math.isnan(v) and v > -0.5 for v in slopes)})
    b2 = _pairs(records, "b2_vs_mc", "kl_expected", "b2_vs_mc", "kl_expected_b2", ("language", "length", "schedule"))
    if b2:
        inside = sum(r["lo"] <= b["value"] <= r["hi"] for r, b in b2)
        out.append({"claim": "B2: Monte Carlo E KL over random orders matches the formula from Phi",
                    "measured": f"{inside}/{len(b2)} formula values inside the Monte Carlo 95% interval",
                    "expected": "about 95% of them", "holds": bool(inside >= 0.8 * len(b2))})
    return out


def _section_table(rows, header):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _title(profile, version, seed, counted, wall_time, incomplete=False) -> list[str]:
    """The report's first lines: title, then version, seed, ``counted`` (e.g. "549 records") and wall time."""
    return [
        f"# ngramsim reproduction — profile `{profile}`" + (" (incomplete)" if incomplete else ""),
        "",
        f"ngramsim {version}, seed {seed}, {counted}" + (f", {wall_time:.0f} s wall time" if wall_time is not None else "")
        + ".",
    ]


def _cell_text(text, width=None) -> str:
    """``text`` as one table cell: one line, ``|`` escaped, at most ``width`` characters (if given)."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def failure_markdown(failures, *, num_cells, profile, seed, version, wall_time=None) -> str:
    """The text of ``report.md`` when cells failed: which ones, with what error, and how to finish.

    ``failures`` holds one dict per failed cell with ``experiment``, ``params`` (a dict),
    ``error`` (text) and ``attempts``; ``num_cells`` is the number of cells of the profile.
    """
    rows = [(f"`{f['experiment']}`", f"`{_cell_text(dumps_strict(f['params']))}`", _cell_text(f["error"], 300),
             f["attempts"]) for f in failures]
    lines = _title(profile, version, seed, f"{len(failures)} of {num_cells} cells failed", wall_time, incomplete=True)
    lines += [
        "",
        "## Cells that failed",
        "",
        _section_table(rows, ["experiment", "params", "error", "attempts"]),
        "",
        f"The other {num_cells - len(failures)} cells are saved in `cells/`. Run the same command again to retry the "
        "failed cells (the saved ones are not recomputed); `results.jsonl`, the figures and the verdicts are written "
        "once every cell is done.",
    ]
    return "\n".join(lines) + "\n"


def report_markdown(records, *, profile, seed, version, wall_time=None, figure_dir="figures") -> str:
    """The text of ``report.md`` for ``records`` (see the module docstring)."""
    checks = claim_checks(records)
    lines = _title(profile, version, seed, f"{len(records)} records", wall_time) + [
        "Every number below is in `results.jsonl` (one record per measured quantity; 95% intervals, exact values "
        "where the simulator has them). Feng et al. (2025, arXiv 2502.09622) prove that masked diffusion models "
        "reach near-optimal *perplexity* on n-gram languages with a number of steps that does not grow with the "
        "length `L`, while keeping the *sequence error rate* low needs steps linear in `L`.",
        "",
        "## Verdicts",
        "",
        _section_table([(c["claim"], c["measured"], c["expected"], "yes" if c["holds"] else "**no**") for c in checks],
                       ["claim", "measured", "expected", "holds"]),
        "",
        "## The paper's message in one picture",
        "",
        f"![steps needed]({figure_dir}/message.png)",
        "",
    ]
    fits = steps_fits(records)
    rows = []
    for (lang, metric), (L, v, lo, hi, slope, s_lo, s_hi) in sorted(fits.items()):
        target = "per-token KL <= eps" if metric == "steps_for_kl" else "SER <= delta"
        rows.append((lang, target, ", ".join(f"{n:.0f}" for n in v), f"{_fmt(slope)} [{_fmt(s_lo)}, {_fmt(s_hi)}]"))
    if rows:
        lengths = sorted({r["length"] for r in records if r["experiment"] == "steps_needed"})
        lines += [f"Smallest `N` of `uniform:N` meeting each target, at `L` = {', '.join(map(str, lengths))} "
                  "(interpolated on a grid of ratio 2^(1/4); the SER crossing's interval comes from the Wilson "
                  "limits), and the log-log slope of `N` against `L` with its 95% interval:", "",
                  _section_table(rows, ["language", "target", "steps needed", "slope"]), ""]
    captions = {name: caption for name, (_, caption) in FIGURES.items()}
    sections = [
        ("A1 — per-token error at a fixed number of steps", "per_token_error",
         "Per-token expected KL `E_S KL(q || p_S) / L` (B2, exact from `Phi` for order 2; Monte Carlo B1 for order 3) "
         "against `N` for several `L`. At a fixed `N` the curves for different `L` coincide: the number of steps "
         "needed for a per-token error level does not depend on `L`. `KL(q || p) <= E_S KL` (B3), so these are upper "
         "bounds on the excess model log-perplexity."),
        ("A3 and C2 — the whole sequence", "ser_vs_steps",
         "Monte Carlo SER (Wilson 95% bands) against `N`; at a fixed `N` it rises with `L`, and the curves shift "
         "right in proportion to `L`. C2's proven lower bound (dashed, window languages) lies below every curve."),
        ("A5 — what it costs", "cost",
         "If one MDM step costs `c` autoregressive steps (a bidirectional model re-reads the whole sequence at every "
         "step, while an autoregressive one with a key-value cache adds one token's worth of work: `c` depends on the "
         "architecture and hardware), the speed-up over `ar` at equal quality is `L / (c N*)`."),
        ("B1 — one schedule's KL, step by step", "kl_decomposition", captions["kl_decomposition"]),
        ("B2 — expected KL over random orders", "b2_vs_mc", captions["b2_vs_mc"]),
        ("Schedules at equal NFE (B5, C2′, adaptive rules)", "equal_nfe", captions["equal_nfe"]),
        ("C3 — learning error", "ser_vs_lambda", captions["ser_vs_lambda"]),
        ("Remasking at equal NFE (open question)", "remasking",
         "Does a sampler that may remask revealed tokens escape C2's linear-steps law? On `W(4,2)`, at `N = L/4` "
         "and `N = L/2` steps: `uniform:N` and LLaDA's `lowconf:N` never revise a token; `remdm:N:eta` remasks each "
         "revealed token with probability `min(eta, (L - r_t)/r_(t-1))` before each step and redraws it with the "
         "new positions. If remasking escaped the law, the SER at a fixed `L/N` would fall as `L` grows. The "
         "verdict is one-sided: it would flag such a decay (a log-log slope below -0.5) in these decoders; it "
         "does not show that no corrector can escape."),
    ]
    for title, name, text in sections:
        lines += [f"## {title}", "", text, "", f"![{name}]({figure_dir}/{name}.png)", ""]
        if name == "cost":
            table = cost_table(records)
            if table:
                top = max(r["length"] for r in table)
                rows = [(r["language"], "perplexity" if r["target"] == "steps_for_kl" else "SER", r["cost_ratio"],
                         _fmt(r["speedup"])) for r in table if r["length"] == top]
                lines += [f"Speed-up over `ar` at `L = {top}`:", "",
                          _section_table(rows, ["language", "target", "c", "speed-up"]), ""]
        if name == "per_token_error":
            rows = []
            for lang in sorted({r["language"] for r in records if r["experiment"] == name}):
                for N in (4, 16):
                    pts = sorted((r for r in records if r["experiment"] == name and r["language"] == lang
                                  and r["metric"] == "kl_expected_per_token" and r.get("num_steps") == N
                                  and r["length"] >= 64), key=lambda r: r["length"])
                    if pts:
                        rows.append((lang, N, "; ".join(f"L={r['length']}: {_interval(r)}" for r in pts)))
            if rows:
                lines += [_section_table(rows, ["language", "N", "per-token E KL (nats)"]), ""]
    return "\n".join(lines) + "\n"
