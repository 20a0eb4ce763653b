"""Every bound of :mod:`ngramsim.bounds` on a grid of languages: what ``ngramsim check`` runs.

Exact figures where the simulator has them (the exact engine on tiny cases, B2
from ``Phi`` for order 2 at any length, transfer matrices), Monte Carlo with a
99.9% Wilson interval otherwise (C2 at scale).  Each result is a
:class:`~ngramsim.bounds.BoundCheck` whose ``details`` name the language (with
its SHA-256), the length, the schedule and the model parameters.
"""

from __future__ import annotations

import math

import numpy as np

from ngramsim.bounds import (
    a2_ter_bound,
    b4_li_cai_bound,
    b4prime_bound,
    b5_dtc_bound,
    b5_tc_bound,
    b6_entropy_bounded_step_bound,
    b7_one_step_lower_bound,
    c2_ser_lower_bound,
    c3_ser_lower_bound,
    check_bound,
)
from ngramsim.decomposition import expected_kl
from ngramsim.exact import exact_law
from ngramsim.families import (
    dirichlet_language,
    noisy_copy_language,
    noisy_parity_language,
    window_language,
)
from ngramsim.io import language_sha256
from ngramsim.metrics import wilson_interval
from ngramsim.sampler import sample_mdm
from ngramsim.transfer import ser_autoregressive

__all__ = ["run_checks", "check_records"]

#: Two-sided 99.9% normal quantile for Monte Carlo intervals.
_Z999 = 3.2905


def _details(language, length, schedule, **extra):
    return {
        "language_name": language.name,
        "language_sha256": language_sha256(language),
        "length": int(length),
        "schedule": schedule,
        **extra,
    }


def _random_languages(rng, count, order, vocab_size):
    seeds = np.random.default_rng(rng).integers(0, 2**31, size=count)
    return [dirichlet_language(vocab_size, order, concentration=0.7, forbidden=0.3, rng=int(s)) for s in seeds]


def _exact_checks(tiny, lam, tau):
    """B3, B6, B7 on tiny cases with the exact engine."""
    out = []
    for language in tiny:
        L = 6
        for spec in ("linear:3", "uniform:3", "cosine:4"):
            r = exact_law(language, L, spec, learning_error=lam, temperature=tau)
            out.append(check_bound("B3 KL(q||p) <= E_S KL(q||p_S)", r.kl_expected, r.kl, direction="upper",
                                   details=_details(language, L, spec, learning_error=lam, temperature=tau)))
        r = exact_law(language, L, "eb:0.5", learning_error=lam, temperature=max(tau, 1.0))
        out.append(check_bound("B6 per-step E TC along eb:gamma <= gamma", b6_entropy_bounded_step_bound(0.5, max(tau, 1.0)),
                               max(s["tc"] for s in r.steps), direction="upper",
                               details=_details(language, L, "eb:0.5", learning_error=lam, temperature=max(tau, 1.0))))
        r = exact_law(language, L, "uniform:1", learning_error=lam, temperature=tau)
        out.append(check_bound("B7 one step: KL >= TC(X)", b7_one_step_lower_bound(language, L), r.kl, direction="lower",
                               details=_details(language, L, "uniform:1", learning_error=lam, temperature=tau)))
    return out


def _kl_checks(order2, length, num_steps):
    """A2, B4, B4', B5 against B2's exact expected KL (order 2 at any length)."""
    out = []
    for language in order2:
        a2 = a2_ter_bound(language, num_steps)
        L = max(length, int(math.ceil(a2["min_length"])) + 1)
        spec = f"uniform:{num_steps}"
        ekl = expected_kl(language, L, spec)["kl_expected"]
        out.append(check_bound("A2 E KL/L <= 4 eps log V (reconstructed)", a2["bound"], ekl / L, direction="upper",
                               details=_details(language, L, spec, epsilon=a2["epsilon"])))
        for spec in (f"uniform:{num_steps}", f"grow:{num_steps}", f"shrink:{num_steps}"):
            ekl = expected_kl(language, length, spec)["kl_expected"]
            d = _details(language, length, spec)
            out.append(check_bound("B4 Li-Cai", b4_li_cai_bound(language, length, spec), ekl, direction="upper", details=d))
            out.append(check_bound("B4' (s_max-1)/L (TC+DTC)", b4prime_bound(language, length, spec), ekl,
                                   direction="upper", details=d))
            out.append(check_bound("B5 max w_k/(k+1) DTC", b5_dtc_bound(language, length, spec), ekl, direction="upper",
                                   details=d))
            out.append(check_bound("B5 max w_k/(L-1-k) TC", b5_tc_bound(language, length, spec), ekl, direction="upper",
                                   details=d))
    return out


def _c2_checks(lengths, num_samples, rng):
    out = []
    seeds = np.random.default_rng(rng).integers(0, 2**31, size=64)
    k = 0
    for V, m in ((4, 2), (8, 2)):
        language = window_language(V, m)
        for L in lengths:
            for ratio in (16, 8, 4):
                for kind in ("uniform", "linear"):
                    spec = f"{kind}:{L // ratio}"
                    seed = int(seeds[k % len(seeds)])
                    k += 1
                    samples = sample_mdm(language, L, spec, num_samples, rng=seed).samples
                    invalid = int((~language.is_valid(samples)).sum())
                    interval = wilson_interval(invalid, num_samples, z=_Z999)
                    out.append(check_bound("C2 SER >= c2_ser_lower_bound", c2_ser_lower_bound(language, L, spec),
                                           invalid / num_samples, direction="lower", interval=interval,
                                           details=_details(language, L, spec, num_samples=num_samples, seed=seed)))
    return out


def _c3_checks():
    out = []
    for V, m in ((4, 2), (8, 2), (5, 3)):
        language = window_language(V, m)
        for lam in (0.01, 0.1):
            L = 256
            out.append(check_bound("C3 ar: SER = 1 - (1 - lambda(V-m)/V)^(L-1)", c3_ser_lower_bound(language, L, "ar", lam),
                                   ser_autoregressive(language, L, learning_error=lam), direction="lower",
                                   details=_details(language, L, "ar", learning_error=lam)))
            L = 6
            for spec in ("order:3;0;5;1;4;2", f"topk:{L}"):
                ser = exact_law(language, L, spec, learning_error=lam, temperature=0.7).ser
                out.append(check_bound("C3 one token per step", c3_ser_lower_bound(language, L, spec, lam), ser,
                                       direction="lower",
                                       details=_details(language, L, spec, learning_error=lam, temperature=0.7)))
    return out


def run_checks(*, quick=False, rng=0) -> list:
    """Hold every bound against the simulator on the grid; return the :class:`~ngramsim.bounds.BoundCheck` records.

    ``quick``: fewer random languages and Monte Carlo up to ``L = 256`` (under two minutes on
    two cores); otherwise up to ``L = 1024`` with more samples.  ``rng`` seeds the random
    languages and the Monte Carlo streams.
    """
    count = 2 if quick else 6
    tiny = _random_languages(rng, count, 2, 2) + [window_language(3, 2), noisy_copy_language(2, 0.1)]
    order2 = _random_languages(rng, count, 2, 4) + [window_language(4, 2), window_language(8, 2),
                                                      noisy_copy_language(2, 0.02)]
    records = []
    for lam, tau in ((0.0, 1.0), (0.1, 1.5), (0.05, 0.7)):
        records += _exact_checks(tiny, lam, tau)
    records += _kl_checks(order2, 128 if quick else 512, 16)
    parity = noisy_parity_language(4, 0.3)
    for spec in ("grow:4", "shrink:4", "uniform:4"):
        ekl = expected_kl(parity, 12, spec)["kl_expected"]
        d = _details(parity, 12, spec)
        records.append(check_bound("B4' (s_max-1)/L (TC+DTC)", b4prime_bound(parity, 12, spec), ekl, direction="upper", details=d))
        records.append(check_bound("B5 max w_k/(L-1-k) TC", b5_tc_bound(parity, 12, spec), ekl, direction="upper", details=d))
    records += _c2_checks((64, 256) if quick else (64, 256, 1024), 200 if quick else 800, rng)
    records += _c3_checks()
    return records


def check_records(records) -> list[dict]:
    """JSON-ready dicts: ``name``, ``bound``, ``observed``, ``observed_interval``, ``direction``, ``slack``,
    ``holds``, ``method`` and the details (``language_name``, ``language_sha256``, ``length``, ``schedule``, ...)."""
    out = []
    for r in records:
        out.append({
            "name": r.name,
            "bound": r.bound,
            "observed": r.observed,
            "observed_interval": list(r.observed_interval),
            "direction": r.direction,
            "slack": r.slack,
            "holds": r.holds,
            "method": r.method,
            **r.details,
        })
    return out
