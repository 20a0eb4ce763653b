"""A recorded fixture of ngramsim's outputs, to check that refactoring changes no result.

This is deliberately a snapshot (the rest of the suite asserts theorems): a
restructuring of the code must give the same samples and the same numbers for
the same seeds.  ``python -m tests.same_bits --write`` records
``tests/data/same_bits.npz`` from the current code; ``tests/test_same_bits.py``
recomputes every entry and compares it: integer arrays exactly, floats to rounding
level (see that test for the stated exceptions); ``python -m tests.same_bits``
reports which arrays are not bit for bit identical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import ngramsim
from ngramsim.strategies import build_language

PATH = Path(__file__).resolve().parent / "data" / "same_bits.npz"

SCHEDULES = ["linear:5", "cosine:3", "poly:4:2", "linear:40", "uniform:4", "counts:2,3,7", "grow:3", "shrink:3",
             "stride:3", "ar", "order:0,5;1,2,3;4,6,7,8,9,10,11", "topk:4", "margin:3", "eb:0.7", "esum:1.2"]
MODELS = [(0.0, 1.0), (0.2, 0.7)]


def _languages():
    return {
        "window42": ngramsim.window_language(4, 2),
        "dirichlet2": ngramsim.dirichlet_language(5, 2, concentration=0.5, forbidden=0.3, rng=3),
        "dirichlet3": ngramsim.dirichlet_language(3, 3, concentration=0.5, forbidden=0.2, rng=4),
        "order4": build_language(2, 4, 0.3, "sparse", seed=8),
        "order1": build_language(3, 1, 0.3, "point", seed=2),
    }


def cases():
    """Yield ``(name, array)`` for every recorded output."""
    languages = _languages()
    for lname, language in languages.items():
        yield f"ancestral/{lname}", language.sample(12, 40, rng=5)
        for spec in SCHEDULES:
            for lam, tau in MODELS:
                r = ngramsim.sample_mdm(language, 12, spec, 30, rng=11, learning_error=lam, temperature=tau)
                key = f"sample/{lname}/{spec}/{lam}/{tau}"
                yield key + "/samples", r.samples
                yield key + "/nfe", r.nfe
                yield key + "/steps", np.stack([r.step_sizes, r.step_indices])
                yield key + "/fallback", r.fallback.astype(np.int64)
                yield key + "/learning_kl", np.stack([r.learning_kl_sum, r.learning_kl_count, r.learning_kl_max])
    for lname in ("window42", "dirichlet3", "order1"):
        language = languages[lname]
        L = 4 if lname != "order1" else 5
        for spec in ("linear:3", "uniform:2", "ar", "topk:2", "eb:0.5"):
            for lam, tau in MODELS:
                r = ngramsim.exact_law(language, L, spec, learning_error=lam, temperature=tau)
                key = f"exact/{lname}/{spec}/{lam}/{tau}"
                yield key + "/law", r.distribution
                yield key + "/numbers", np.array([r.ser, r.kl, r.kl_expected, r.model_log_ppl, r.gen_log_ppl,
                                                   r.gen_log_ppl_valid, r.learning_kl_mean, r.learning_kl_max])
                yield key + "/steps", np.concatenate([r.steps_tc, r.steps_learning_kl])
    for lname in ("window42", "dirichlet2", "dirichlet3"):
        language = languages[lname]
        for L in (6, 30):
            tc = ngramsim.total_correlation(language, L)
            dtc = ngramsim.dual_total_correlation(language, L, num_samples=50, rng=1)
            phi, phi_err, _ = ngramsim.phi_curve(language, L, num_samples=20, rng=2)
            yield f"info/{lname}/{L}/tc_dtc", np.array([tc.value, dtc.value, dtc.stderr])
            yield f"info/{lname}/{L}/phi", np.concatenate([phi, phi_err])
            yield f"info/{lname}/{L}/ser", np.array([ngramsim.ser_one_step(language, L),
                                                    ngramsim.ser_autoregressive(language, L, learning_error=0.1)])
            yield f"info/{lname}/{L}/stationary", np.ravel(language.stationary_context)
        ekl = ngramsim.expected_kl(language, 10, "uniform:3")
        yield f"b2/{lname}", np.concatenate([[ekl["kl_expected"]], ekl["steps"], ekl["phi"]])


def record() -> dict:
    return dict(cases())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.same_bits", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"record the fixture into {PATH}")
    args = parser.parse_args(argv)
    arrays = record()
    if args.write:
        PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(PATH, **arrays)
        print(f"wrote {len(arrays)} arrays to {PATH}")
        return 0
    stored = np.load(PATH)
    differ = [k for k in arrays if k not in stored or not np.array_equal(arrays[k], stored[k])]
    print(f"{len(arrays)} arrays, {len(differ)} not bit-identical" + (": " + ", ".join(differ[:10]) if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
