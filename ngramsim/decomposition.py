r"""The KL of parallel sampling, decomposed (THEORY B1, B2, B7) — at any length.

* **B2** (:func:`expected_kl`): for count schedules with sizes ``s_t`` (``r_t = s_1 + ... +
  s_{t-1}``), uniformly random positions and the ideal reverse model,
  ``E_S KL(q || p_S) = sum_t [ s_t (Phi(r_t + 1) - Phi(r_t)) - (Phi(r_t + s_t) - Phi(r_t)) ]``;
  for Bernoulli schedules the same expression averaged over the binomial chain of
  ``(r_t, s_t)`` (``s_t ~ Bin(L - r_t, h_t)``, ``O(N L^2)``).  Exact at any ``L`` for order 2.
* **B1** (:func:`estimate_b1`): Monte Carlo estimates, with standard errors, of each step's
  ``E_q TC(X_{S_t} | X_{R_t})`` and learning term along ``x ~ q`` and the schedule's
  randomness (adaptive rules run on ``x ~ q``); each term is a difference of log-evidences:
  ``TC(X_S | x_R) = sum_{i in S} -log q(x_i | x_R) + log q(x_{R u S}) - log q(x_R)``.
  B7: each step's ``tc`` is a lower bound on that step's KL contribution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from ngramsim._kernels.adaptive import MARGIN, TOPK, score_key, select
from ngramsim._kernels.forward_backward import chain_trusted, conditional_marginals_scaled
from ngramsim._kernels.reverse import theta_row
from ngramsim._kernels.rng import draw_keys, draw_stream
from ngramsim._kernels.steps import assign_steps
from ngramsim._validation import as_generator, check_int
from ngramsim.information import phi_curve
from ngramsim.marginals import chain_arrays
from ngramsim.sampler import _check_model_params
from ngramsim.schedules import BERNOULLI, COUNTS, parse_schedule
from ngramsim.sources import NGramLanguage

__all__ = ["expected_kl_from_phi", "expected_kl", "estimate_b1"]


def expected_kl_from_phi(phi, resolved) -> np.ndarray:
    r"""B2 per-step terms from a curve ``Phi(0..L)`` for a resolved count or Bernoulli schedule."""
    phi = np.asarray(phi, dtype=float)
    L = len(phi) - 1
    if resolved.kind == COUNTS:
        terms = np.zeros(len(resolved.sizes))
        r = 0
        for t, s in enumerate(resolved.sizes):
            terms[t] = s * (phi[r + 1] - phi[r]) - (phi[r + s] - phi[r])
            r += s
        return terms
    if resolved.kind != BERNOULLI:
        raise ValueError("B2 applies to count and Bernoulli schedules (random positions), not to explicit or adaptive ones")
    from ngramsim.exact import _hazards

    hazards = _hazards(resolved.weights)
    dist = np.zeros(L + 1)
    dist[0] = 1.0
    terms = np.zeros(len(hazards))
    for t, h in enumerate(hazards):
        nxt = np.zeros(L + 1)
        for r in np.flatnonzero(dist > 0):
            s = np.arange(L - r + 1)
            pmf = binom.pmf(s, L - r, h)
            step = s * (phi[min(r + 1, L)] - phi[r]) - (phi[r + s] - phi[r])
            terms[t] += dist[r] * float(pmf @ step)
            np.add.at(nxt, r + s, dist[r] * pmf)
        dist = nxt
    return terms


def expected_kl(language: NGramLanguage, length, schedule, **phi_kwargs) -> dict:
    r"""``E_S KL(q || p_S)`` for a count or Bernoulli schedule with the ideal model (B2).

    Returns ``{"kl_expected", "steps", "method", "phi"}``; exact whenever :func:`phi_curve`
    is (order <= 2 at any ``L``, or tiny cases), else Monte Carlo through ``Phi``.
    """
    length = language.check_length(length)
    resolved = parse_schedule(schedule).resolve(length)
    phi, _, method = phi_curve(language, length, **phi_kwargs)
    terms = expected_kl_from_phi(phi, resolved)
    return {"kl_expected": float(terms.sum()), "steps": terms, "method": method, "phi": phi}


def _state(language, x, revealed, P, succ, mu, m, out):
    tokens = np.where(revealed, x, -1).astype(np.int64)
    return conditional_marginals_scaled(tokens, P, succ, mu, m, chain_trusted(P, mu), out)


def estimate_b1(language: NGramLanguage, length, schedule, num_samples, *, rng, learning_error=0.0, temperature=1.0) -> dict:
    r"""Monte Carlo B1 terms along ``x ~ q`` and the schedule's randomness.

    Returns ``{"tc", "tc_stderr", "learning_kl", "learning_kl_stderr", "kl_expected",
    "kl_expected_stderr", "num_samples"}`` where ``tc[t]`` estimates
    ``E TC(X_{S_t} | X_{R_t})`` and ``learning_kl[t]`` the learning term of step ``t + 1``.
    Cost: one forward-backward pass per step and sample.
    """
    if not isinstance(language, NGramLanguage):
        raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
    length = language.check_length(length)
    resolved = parse_schedule(schedule).resolve(length)
    num_samples = check_int(num_samples, "num_samples", minimum=2)
    lam, tau = _check_model_params(learning_error, temperature)
    gen = as_generator(rng)
    xs = language.sample(length, num_samples, rng=gen)
    keys = draw_keys(gen, num_samples)
    P, succ, mu, m = chain_arrays(language)
    V = language.vocab_size
    steps = resolved.num_steps
    tc = np.zeros((num_samples, steps))
    lk = np.zeros((num_samples, steps))
    rows = np.empty((length, V))
    theta = np.empty(V)
    step_of = np.empty(length, dtype=np.int64)
    perm = np.empty(length, dtype=np.int64)
    schedule_u = np.empty(length)
    value_u = np.empty(length)
    for s, x in enumerate(xs):
        revealed = np.zeros(length, dtype=bool)
        log_ev = _state(language, x, revealed, P, succ, mu, m, rows)
        if not resolved.is_adaptive:
            draw_stream(keys[s], schedule_u, value_u)
            assign_steps(resolved.kind, schedule_u, resolved.alias_prob, resolved.alias_index, resolved.sizes,
                         resolved.step_of, perm, step_of)
        t = 0
        while not revealed.all():
            if resolved.is_adaptive:
                masked = np.flatnonzero(~revealed).astype(np.int64)
                scores = np.empty(len(masked))
                for j, i in enumerate(masked):
                    theta_row(rows[i], 1.0, lam, tau, theta)
                    scores[j] = score_key(resolved.kind, theta)
                size = int(resolved.sizes[t]) if resolved.kind in (TOPK, MARGIN) else 0
                out = np.empty(length, dtype=np.int64)
                k = select(resolved.kind, scores, masked, size, resolved.gamma, (keys[s], length, t + 1), out)
                chosen = out[:k]
            else:
                chosen = np.flatnonzero(step_of == t + 1)
            surprisal = 0.0
            learning = 0.0
            for i in chosen:
                surprisal -= math.log(rows[i, x[i]])
                if lam > 0 or tau != 1:
                    learning += theta_row(rows[i], 1.0, lam, tau, theta)
            revealed[chosen] = True
            new_ev = _state(language, x, revealed, P, succ, mu, m, rows)
            tc[s, t] = surprisal + new_ev - log_ev
            lk[s, t] = learning
            log_ev = new_ev
            t += 1
    totals = tc.sum(axis=1) + lk.sum(axis=1)
    root = math.sqrt(num_samples)
    return {
        "tc": tc.mean(axis=0),
        "tc_stderr": tc.std(axis=0, ddof=1) / root,
        "learning_kl": lk.mean(axis=0),
        "learning_kl_stderr": lk.std(axis=0, ddof=1) / root,
        "kl_expected": float(totals.mean()),
        "kl_expected_stderr": float(totals.std(ddof=1) / root),
        "num_samples": num_samples,
    }

