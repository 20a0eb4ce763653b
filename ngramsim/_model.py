"""The reverse model's parameters and a user oracle's rows: checks shared by the sampler and the exact engine."""

from __future__ import annotations

import numpy as np

from ngramsim._kernels.adaptive import score_key, select
from ngramsim._kernels.steps import MARGIN, TOPK
from ngramsim._validation import check_real

__all__ = ["check_model_params", "oracle_rows", "adaptive_choice"]


def check_model_params(learning_error, temperature):
    """``(lam, tau)`` checked: learning error ``0 <= lambda < 1``, temperature ``tau > 0``."""
    lam = check_real(learning_error, "learning_error", low=0.0, high=1.0, high_open=True)
    tau = check_real(temperature, "temperature", low=0.0, low_open=True)
    return lam, tau


def oracle_rows(oracle, x, positions, vocab_size, step):
    """Call the oracle on the state ``x`` (-1 = masked) and validate its rows at ``positions``."""
    revealed = x >= 0
    rows = np.asarray(oracle(np.where(revealed, x, 0), revealed.copy()), dtype=np.float64)
    if rows.shape != (len(x), vocab_size):
        raise ValueError(f"oracle must return an array of shape {(len(x), vocab_size)}, got {rows.shape} (step {step})")
    sub = rows[positions]
    if not np.all(np.isfinite(sub)) or np.any(sub < 0):
        raise ValueError(f"oracle returned a row with a negative or non-finite entry at step {step}")
    sums = sub.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        j = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            f"oracle row for position {int(positions[j])} sums to {float(sums[j])!r} at step {step}; "
            "rows must be probability vectors (atol=1e-06)"
        )
    return rows / np.where(rows.sum(axis=1, keepdims=True) > 0, rows.sum(axis=1, keepdims=True), 1.0)


def adaptive_choice(resolved, model_row, masked, key, step):
    """The positions an adaptive rule reveals at ``step`` (1-based), in increasing order.

    Each masked position is scored on its ``p_theta`` row ``model_row(i)``; the rule's
    selection breaks ties with the stream ``key`` at ``tie_counter(L, step, j)`` -- the
    Python twin of the kernels' incremental selection (the oracle path and the B1 estimator).
    """
    keys = np.array([score_key(resolved.kind, model_row(i)) for i in masked])
    size = int(resolved.sizes[step - 1]) if resolved.kind in (TOPK, MARGIN) else 0
    out = np.empty(resolved.length, dtype=np.int64)
    count = select(resolved.kind, keys, masked, size, resolved.gamma, (key, resolved.length, step), out)
    return out[:count]
