"""Figures of the reproduction, drawn from records (see :mod:`ngramsim.experiments`).

matplotlib is imported lazily and used without pyplot's global state
(``Figure`` + the Agg canvas), so figures can be made in any process and
never open a window.  Colours are the Okabe–Ito palette (colour-blind safe);
intervals are drawn as bands or error bars.  :func:`save_figure` writes PNG,
SVG and a sidecar JSON with the figure's parameters and the records it draws.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ngramsim._json import dumps_strict
from ngramsim.io import write_text_atomic

__all__ = ["FIGURES", "save_figure", "fit_loglog_slope"]

#: Okabe–Ito colours (yellow dropped: too pale on white), then black and grey; colour-blind safe.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999", "#8C564B"]
_MARKERS = "osD^vP*Xh"
_LINESTYLES = ["-", "--", ":", "-."]


def _figure(ncols=1, nrows=1, width=4.6, height=3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _panels(count, width=4.2, height=3.4):
    """A grid of ``count`` panels (two columns when there are four), as a flat list of axes."""
    ncols = 2 if count == 4 else count
    nrows = math.ceil(count / ncols)
    fig, axes = _figure(ncols=ncols, nrows=nrows, width=width, height=height)
    return fig, [ax for row in axes for ax in row][:count]


def _title(fig, text, width=95):
    import textwrap

    fig.suptitle("\n".join(textwrap.wrap(text, width)), fontsize=10)


def _select(records, **conditions):
    return [r for r in records if all(r.get(k) == v for k, v in conditions.items())]


def _series(records, x_key):
    rows = sorted(records, key=lambda r: r[x_key])
    x = np.array([r[x_key] for r in rows], dtype=float)
    y = np.array([r["value"] for r in rows], dtype=float)
    lo = np.array([r["lo"] for r in rows], dtype=float)
    hi = np.array([r["hi"] for r in rows], dtype=float)
    return x, y, lo, hi


def _languages(records):
    seen = []
    for r in records:
        if r["language"] not in seen:
            seen.append(r["language"])
    return seen


def fit_loglog_slope(lengths, values):
    """Least-squares slope of ``log value`` on ``log L`` with a 95% interval ``(slope, lo, hi)`` (t quantile)."""
    from scipy.stats import t as student

    x, y = np.log(np.asarray(lengths, float)), np.log(np.asarray(values, float))
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 2:
        return math.nan, math.nan, math.nan
    A = np.vstack([x, np.ones_like(x)]).T
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    if len(x) == 2:
        return float(coef[0]), math.nan, math.nan
    resid = y - A @ coef
    s2 = float(resid @ resid) / (len(x) - 2)
    se = math.sqrt(s2 / float(((x - x.mean()) ** 2).sum()))
    q = float(student.ppf(0.975, len(x) - 2))
    return float(coef[0]), float(coef[0] - q * se), float(coef[0] + q * se)


def fig_per_token_error(records):
    """Per-token ``E_S KL`` versus ``N`` for several ``L``: the curves collapse (A1); A2's bound dashed."""
    recs = _select(records, experiment="per_token_error")
    langs = _languages(recs)
    fig, axes = _panels(len(langs))
    for ax, lang in zip(axes, langs):
        # N = L reveals one token per step: its KL is exactly 0, off a log axis.
        mine = [r for r in recs if r["language"] == lang and r["metric"] == "kl_expected_per_token" and r["value"] > 0]
        lengths = sorted({r["length"] for r in mine})
        for j, L in enumerate(lengths):
            x, y, lo, hi = _series([r for r in mine if r["length"] == L], "num_steps")
            ax.plot(x, y, marker=_MARKERS[j], color=PALETTE[j], label=f"L = {L}", lw=1.5, ms=4)
            ax.fill_between(x, lo, hi, color=PALETTE[j], alpha=0.2, lw=0)
        bound = [r for r in recs if r["language"] == lang and r["metric"] == "a2_bound"]
        if bound:
            L = max(r["length"] for r in bound)
            x, y, _, _ = _series([r for r in bound if r["length"] == L], "num_steps")
            ax.plot(x, y, ls="--", color="0.4", lw=1, label="A2 bound (reconstructed)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(lang, fontsize=9)
        ax.set_xlabel("steps N (uniform:N)")
        ax.grid(alpha=0.3, which="both", lw=0.5)
        ax.set_ylabel("E KL(q || p_S) / L  [nats / token]")
    axes[0].legend(fontsize=7)
    _title(fig, "Per-token error at a fixed number of steps N does not grow with L (THEORY A1): the curves for "
                "different L coincide (N = L gives 0, not drawn)")
    return fig


def fig_ser_vs_steps(records):
    """SER versus ``N`` for several ``L`` (Wilson 95% bands), with C2's lower bound dashed on window languages."""
    recs = _select(records, experiment="ser_vs_steps", metric="ser")
    recs = [r for r in recs if r["schedule"].startswith("uniform")]
    langs = _languages(recs)
    fig, axes = _panels(len(langs))
    bounds = _select(records, experiment="ser_vs_steps", metric="c2_bound")
    for ax, lang in zip(axes, langs):
        mine = [r for r in recs if r["language"] == lang]
        lengths = sorted({r["length"] for r in mine})
        for j, L in enumerate(lengths):
            rows = {r["num_steps"]: r for r in mine if r["length"] == L}  # one record per N
            x, y, lo, hi = _series(list(rows.values()), "num_steps")
            ax.plot(x, y, marker=_MARKERS[j], color=PALETTE[j], label=f"L = {L}", lw=1.5, ms=4)
            ax.fill_between(x, lo, hi, color=PALETTE[j], alpha=0.2, lw=0)
            b = {r["num_steps"]: r for r in bounds if r["language"] == lang and r["length"] == L
                 and r["schedule"].startswith("uniform")}
            if b:
                x, y, _, _ = _series(list(b.values()), "num_steps")
                ax.plot(x, y, ls="--", color=PALETTE[j], lw=1)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(lang, fontsize=9)
        ax.set_xlabel("steps N (uniform:N)")
        ax.grid(alpha=0.3, lw=0.5)
        ax.set_ylabel("sequence error rate (SER)")
    axes[0].legend(fontsize=7, title="solid: Monte Carlo (95% band)\ndashed: C2 lower bound", title_fontsize=7)
    _title(fig, "At a fixed number of steps N the whole-sequence error grows with L: the curves move right as L "
                "grows (THEORY A3, C2)")
    return fig


def steps_fits(records):
    """``{(language, metric): (lengths, values, lo, hi, slope, slope_lo, slope_hi)}`` for experiment 3."""
    out = {}
    recs = _select(records, experiment="steps_needed")
    for lang in _languages(recs):
        for metric in ("steps_for_kl", "steps_for_ser"):
            rows = sorted((r for r in recs if r["language"] == lang and r["metric"] == metric), key=lambda r: r["length"])
            if not rows:
                continue
            L = [r["length"] for r in rows]
            v = [r["value"] for r in rows]
            out[(lang, metric)] = (L, v, [r["lo"] for r in rows], [r["hi"] for r in rows], *fit_loglog_slope(L, v))
    return out


def fig_message(records):
    """The paper's message in one picture: steps needed for per-token KL <= eps (flat) and SER <= delta (linear)."""
    fits = steps_fits(records)
    fig, axes = _figure(width=6.4, height=4.4)
    ax = axes[0][0]
    langs = sorted({lang for lang, _ in fits})
    eps = next((r["epsilon"] for r in records if r.get("metric") == "steps_for_kl"), None)
    delta = next((r["delta"] for r in records if r.get("metric") == "steps_for_ser"), None)
    allL = []
    for j, lang in enumerate(langs):
        for metric, color, text in (("steps_for_kl", PALETTE[2], f"per-token KL <= {eps}"),
                                    ("steps_for_ser", PALETTE[1], f"SER <= {delta}")):
            if (lang, metric) not in fits:
                continue
            L, v, lo, hi, slope, s_lo, s_hi = fits[(lang, metric)]
            allL += L
            lo = np.where(np.isfinite(lo), lo, v)
            hi = np.where(np.isfinite(hi), hi, v)
            ci = f" [{s_lo:.2f}, {s_hi:.2f}]" if math.isfinite(s_lo) else ""
            ax.errorbar(L, v, yerr=[np.subtract(v, lo), np.subtract(hi, v)], color=color, marker=_MARKERS[j],
                        ls="-" if j == 0 else ":", capsize=3, ms=5,
                        label=f"{text}, {lang}: slope {slope:.2f}{ci}")
    if allL:
        grid = np.array(sorted(set(allL)), float)
        ax.plot(grid, grid, color="0.5", lw=1, ls="--", label="N = L (autoregressive: one token per step)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("steps N needed (uniform:N)")
    ax.grid(alpha=0.3, which="both", lw=0.5)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("Steps needed: flat for perplexity, linear in L for whole-sequence correctness\n"
                 "(log-log slopes with 95% intervals; THEORY A1 vs A3/C2)", fontsize=10)
    return fig


def fig_kl_decomposition(records):
    """One schedule's KL, step by step (B1): dependence (TC) and learning terms, exact and Monte Carlo."""
    recs = _select(records, experiment="kl_decomposition")
    groups = sorted({(r["method"], r["length"]) for r in recs})
    fig, axes = _figure(ncols=len(groups), width=3.8)
    for ax, (method, L) in zip(axes[0], groups):
        mine = [r for r in recs if r["method"] == method and r["length"] == L]
        tc = sorted((r for r in mine if r["metric"] == "step_tc"), key=lambda r: r["step"])
        lk = sorted((r for r in mine if r["metric"] == "step_learning_kl"), key=lambda r: r["step"])
        steps = np.array([r["step"] for r in tc])
        a = np.array([r["value"] for r in tc])
        b = np.array([r["value"] for r in lk])
        ax.bar(steps, a, color=PALETTE[0], label="E TC(X_S | X_R)  (dependence)")
        ax.bar(steps, b, bottom=a, color=PALETTE[4], label="learning KL")
        if method == "mc":
            ax.errorbar(steps, a + b, yerr=np.array([r["hi"] - r["value"] for r in tc]) + np.array([r["hi"] - r["value"] for r in lk]),
                        fmt="none", color="k", capsize=3, lw=1)
        ax.set_xlabel("step t")
        ax.set_title(f"{mine[0]['schedule']}, L = {L}, {'exact' if method == 'exact' else 'Monte Carlo'}", fontsize=9)
        ax.grid(alpha=0.3, axis="y", lw=0.5)
    axes[0][0].set_ylabel("nats")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"KL decomposed step by step (THEORY B1), {recs[0]['language'] if recs else ''}, "
                 f"learning error {recs[0].get('learning_error', 0) if recs else 0}", fontsize=10)
    return fig


def fig_b2_vs_mc(records):
    """Expected KL over random orders: B2's formula from Phi against Monte Carlo (points on the diagonal)."""
    recs = _select(records, experiment="b2_vs_mc")
    fig, axes = _figure(width=4.8, height=4.4)
    ax = axes[0][0]
    top = 0.0
    for j, lang in enumerate(_languages(recs)):
        b2 = {r["schedule"]: r for r in recs if r["language"] == lang and r["metric"] == "kl_expected_b2"}
        mc = {r["schedule"]: r for r in recs if r["language"] == lang and r["metric"] == "kl_expected"}
        keys = [k for k in b2 if k in mc]
        x = np.array([b2[k]["value"] for k in keys])
        y = np.array([mc[k]["value"] for k in keys])
        yerr = np.array([mc[k]["hi"] - mc[k]["value"] for k in keys])
        xerr = np.array([b2[k]["hi"] - b2[k]["value"] for k in keys])
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=_MARKERS[j], color=PALETTE[j], capsize=3, ms=5, label=lang)
        top = max(top, float(np.max(np.concatenate([x, y]))) if len(x) else 0.0)
    ax.plot([0, top * 1.05], [0, top * 1.05], color="0.5", ls="--", lw=1, label="equality")
    ax.set_xlabel("B2 formula from Phi  [nats]")
    ax.set_ylabel("Monte Carlo E KL(q || p_S)  [nats]")
    ax.grid(alpha=0.3, lw=0.5)
    ax.legend(fontsize=7)
    ax.set_title("Expected KL over random orders (THEORY B2):\nthe formula from Phi against Monte Carlo, 95% intervals",
                 fontsize=10)
    return fig


_FLOOR = 1e-4


def fig_equal_nfe(records):
    """Schedules at comparable NFE: per-token ``E_S KL`` and SER against NFE, one marker per schedule family."""
    recs = _select(records, experiment="equal_nfe")
    langs = _languages(recs)
    fig, axes = _figure(ncols=len(langs), nrows=2, width=4.4, height=3.3)
    for col, lang in enumerate(langs):
        mine = [r for r in recs if r["language"] == lang]
        nfe = {r["schedule"]: r["value"] for r in mine if r["metric"] == "nfe"}
        families = []
        for r in mine:
            if r["family"] not in families:
                families.append(r["family"])
        for row, metric, label in ((0, "kl_expected_per_token", f"E KL(q || p_S) / L  [nats / token]\n(< {_FLOOR:g} drawn at {_FLOOR:g})"),
                                   (1, "ser", "SER")):
            ax = axes[row][col]
            for j, fam in enumerate(families):
                pts = sorted((r for r in mine if r["family"] == fam and r["metric"] == metric),
                             key=lambda r: nfe[r["schedule"]])
                if not pts:
                    continue
                x = np.array([nfe[r["schedule"]] for r in pts])
                y = np.array([r["value"] for r in pts])
                lo, hi = np.array([r["lo"] for r in pts]), np.array([r["hi"] for r in pts])
                if row == 0:  # log axis: draw values below the floor (ar's 0, stride's ~0) at the floor
                    y, lo, hi = (np.maximum(a, _FLOOR) for a in (y, lo, hi))
                yerr = [y - lo, hi - y]
                ax.errorbar(x, y, yerr=yerr, marker=_MARKERS[j % len(_MARKERS)], color=PALETTE[j % len(PALETTE)],
                            label=fam, capsize=2, ms=4, lw=1)
            ax.set_xscale("log", base=2)
            if row == 0:
                ax.set_yscale("log")
                ax.set_ylim(bottom=_FLOOR / 2)
                ax.set_title(f"{lang}, L = {mine[0]['length']}", fontsize=9)
            ax.set_ylabel(label)
            ax.set_xlabel("NFE (reverse-model evaluations)")
            ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[0][0].legend(fontsize=6, ncol=2)
    _title(fig, "Schedules at equal NFE: the stride order (C2') never fails, at a KL cost; small-first (grow) "
                "against big-first (shrink) sizes (B5); adaptive rules (top-k, entropy-bounded); ar needs N = L")
    return fig


def fig_ser_vs_lambda(records):
    """SER of ``ar`` against ``lambda L`` (exact), with C3's closed form: the curves for different L collapse."""
    recs = _select(records, experiment="ser_vs_lambda")
    langs = _languages(recs)
    fig, axes = _figure(ncols=len(langs), width=4.0)
    for ax, lang in zip(axes[0], langs):
        mine = [r for r in recs if r["language"] == lang]
        lengths = sorted({r["length"] for r in mine})
        for j, L in enumerate(lengths):
            exact = [r for r in mine if r["length"] == L and r["metric"] == "ser" and r["method"] == "exact"]
            x, y, _, _ = _series(exact, "lambda_times_length")
            ax.plot(x, y, marker=_MARKERS[j], color=PALETTE[j], label=f"L = {L} (exact)", ms=9 - 2 * j, lw=1.5,
                    ls=_LINESTYLES[j % len(_LINESTYLES)], mfc="none" if j == 0 else PALETTE[j])
            mc = [r for r in mine if r["length"] == L and r["metric"] == "ser" and r["method"] == "mc"]
            if mc:
                x, y, lo, hi = _series(mc, "lambda_times_length")
                ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="x", color="k", capsize=2, ms=5,
                            label=f"L = {L} (Monte Carlo)")
        ax.set_title(lang, fontsize=9)
        ax.set_xlabel("learning error x length  (lambda L)")
        ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel("SER of ar (one token per step)")
    axes[0][0].legend(fontsize=7)
    _title(fig, "Learning error alone breaks sequences: the SER of ar depends on lambda L only, so SER <= delta "
                "needs lambda = O(delta / L) (THEORY C3)", width=80)
    return fig


def fig_remasking(records):
    """SER against ``L`` at a fixed ``L / N`` for decoders that never revise a token and for remasking."""
    recs = _select(records, experiment="remasking", metric="ser")
    ratios = sorted({r["length_per_step"] for r in recs}, reverse=True)
    fig, axes = _figure(ncols=max(len(ratios), 1), width=4.4)
    series = sorted({(r["family"], r["eta"]) for r in recs}, key=lambda k: ({"uniform": 0, "lowconf": 1}.get(k[0], 2), k[1]))
    for ax, ratio in zip(axes[0], ratios):
        for j, (family, eta) in enumerate(series):
            mine = [r for r in recs if r["length_per_step"] == ratio and r["family"] == family and r["eta"] == eta]
            x, y, lo, hi = _series(mine, "length")
            label = {"uniform": "uniform:N (never revises)", "lowconf": "lowconf:N (LLaDA)"}.get(
                family, f"remdm:N:{eta:g} (remasking)")
            ax.errorbar(x, y, yerr=[y - lo, hi - y], marker=_MARKERS[j], color=PALETTE[j], capsize=2, ms=5, lw=1.5,
                        ls=_LINESTYLES[j % len(_LINESTYLES)], label=label)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"N = L / {ratio:g} steps (equal NFE per row)", fontsize=9)
        ax.set_xlabel("sequence length L")
        ax.grid(alpha=0.3, lw=0.5)
    axes[0][0].set_ylabel("SER (Wilson 95%)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    _title(fig, "Remasking does not escape C2 at equal NFE: with N proportional to L no decoder's SER falls as L "
                "grows, and random remasking (remdm) raises it", width=85)
    return fig


def cost_table(records, costs=(1, 2, 4)):
    """Speed-up over ``ar`` at equal quality: ``L / (c N*)`` for each per-step cost ratio ``c`` and target."""
    fits = steps_fits(records)
    rows = []
    for (lang, metric), (L, v, *_rest) in sorted(fits.items()):
        for length, n in zip(L, v):
            for c in costs:
                rows.append({"language": lang, "target": metric, "length": length, "cost_ratio": c,
                             "speedup": length / (c * n) if n > 0 else math.nan})
    return rows


def fig_cost(records, costs=(1, 2, 4)):
    """A5: if an MDM step costs ``c`` ar steps, the speed-up over ``ar`` at equal quality, versus ``L``."""
    rows = cost_table(records, costs)
    langs = sorted({r["language"] for r in rows})
    fig, axes = _figure(ncols=len(langs), width=4.4)
    for ax, lang in zip(axes[0], langs):
        for j, c in enumerate(costs):
            for metric, ls, text in (("steps_for_kl", "-", "perplexity target"), ("steps_for_ser", "--", "SER target")):
                pts = sorted((r for r in rows if r["language"] == lang and r["target"] == metric and r["cost_ratio"] == c),
                             key=lambda r: r["length"])
                ax.plot([r["length"] for r in pts], [r["speedup"] for r in pts], ls=ls, marker=_MARKERS[j],
                        color=PALETTE[j], ms=4, label=f"{text}, c = {c}")
        ax.axhline(1.0, color="0.4", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("sequence length L")
        ax.set_title(lang, fontsize=9)
        ax.grid(alpha=0.3, which="both", lw=0.5)
    axes[0][0].set_ylabel("speed-up over autoregressive decoding")
    axes[0][0].legend(fontsize=6)
    _title(fig, "Cost of parallel decoding (THEORY A5), if one MDM step costs c autoregressive steps: the speed-up "
                "grows with L for a perplexity target (solid) and stays flat, near or below 1, for an SER target "
                "(dashed)")
    return fig


#: ``name -> (function, caption)``: the figures ``reproduce`` draws.
FIGURES = {
    "message": (fig_message, "Steps needed for a per-token KL target (flat) and an SER target (linear in L)."),
    "per_token_error": (fig_per_token_error, "Per-token expected KL versus N for several L (A1), A2's bound dashed."),
    "ser_vs_steps": (fig_ser_vs_steps, "SER versus N for several L (A3), C2's lower bound dashed."),
    "cost": (fig_cost, "Speed-up over ar at equal quality for per-step cost ratios c = 1, 2, 4 (A5)."),
    "kl_decomposition": (fig_kl_decomposition, "One schedule's KL decomposed step by step (B1)."),
    "b2_vs_mc": (fig_b2_vs_mc, "B2's formula against Monte Carlo over random orders."),
    "equal_nfe": (fig_equal_nfe, "Schedules at equal NFE (B5, C2', adaptive rules)."),
    "ser_vs_lambda": (fig_ser_vs_lambda, "SER of ar versus lambda L (C3)."),
    "remasking": (fig_remasking, "SER versus L at fixed L/N: uniform, LLaDA's lowconf and ReMDM-style remasking."),
}


def save_figure(fig, directory, name, *, params=None, records=()):
    """Write ``name.png`` (150 dpi), ``name.svg`` and ``name.json`` (parameters and the records drawn) into ``directory``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    for ext, kwargs in (("png", {"dpi": 150}), ("svg", {})):
        tmp = directory / f".{name}.{ext}.tmp"
        fig.savefig(tmp, format=ext, **kwargs)
        tmp.replace(directory / f"{name}.{ext}")
    write_text_atomic(directory / f"{name}.json", dumps_strict({"figure": name, "params": params or {},
                                                               "records": list(records)}, indent=1))
