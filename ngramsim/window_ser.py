r"""THEORY C2: a lower bound on the SER of position-oblivious samplers on ``W(V, m)``.

The proof is ``proofs/C2_window_ser_lower_bound.md``; this module computes
the two ingredients it names and combines them.

1. **A pair that fails with probability at least c.**  Two adjacent masked
   positions ``i, i + 1`` revealed at the same step are drawn independently from
   their conditionals.  If the nearest revealed tokens are at distance at least
   ``D`` (left of ``i``, right of ``i + 1``; a sequence end counts as infinitely
   far), the pair leaves the window with probability at least
   ``c(V, m, D)`` = :func:`pair_failure_constant`, whatever the revealed values.
   With ``l = P^da[x_a, .]`` (uniform at the left end) and
   ``r = P^db[., x_b]`` (all ones at the right end) the failure probability is

   .. math::

       f(l, r) = \frac{\sum_{(u, w)\ \mathrm{invalid}} l_u (Pr)_u\, (lP)_w\, r_w}{(l \cdot P r)^2},

   an exact finite minimum over ``D <= da, db <= C`` and a perturbation bound
   beyond ``C`` (rows and columns of ``P^d``, ``d >= C``, lie within a factor
   ``1 +- eta_C`` of uniform).
2. **Counting such pairs.**  Cut the sequence into ``J = floor(L / 2D)`` blocks
   of ``2D`` positions; block ``j`` is *good* when its two centre positions share
   a step ``t`` and its other ``2D - 2`` positions are revealed at ``t`` or later
   (so the centres' nearest revealed tokens lie outside the block, at distance
   ``>= D``).  Given the schedule, good blocks fail independently with
   probability ``>= c``, so ``P(valid | schedule) <= (1 - c)^{#good}``.  For
   Bernoulli schedules blocks are independent: ``SER >= 1 - (1 - c g)^J`` with
   ``g = sum_t w_t^2 W_t^{2D-2}``, ``W_t = sum_{t' >= t} w_t'``.  For count
   schedules (uniformly random positions with fixed sizes) the blocks are
   conditioned one after the other on the labels of the earlier ones, and each
   conditional probability is bounded below over every possible history
   (:func:`_worst_block_probabilities`): ``SER >= 1 - prod_j (1 - c g_j)``.

The bound is maximised over ``D`` (each ``D`` gives a valid bound).  It needs
``lambda = 0`` and ``tau = 1`` (the draws are the exact conditionals) and
positions that do not depend on values (count and Bernoulli schedules).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import gammaln

from ngramsim._validation import check_int, check_language
from ngramsim.schedules import BERNOULLI, COUNTS, parse_schedule

__all__ = ["window_parameters", "pair_failure_constant", "c2_bound_details", "stride_order_kl", "stride_is_error_free"]

#: Rounding margin subtracted from the float finite check (a test recomputes it exactly).
_MARGIN = 1e-12


def window_parameters(language) -> tuple[int, int]:
    """``(V, m)`` if ``language`` is the cyclic window language ``W(V, m)`` with uniform ``mu``; else ``ValueError``."""
    check_language(language)
    if language.order != 2:
        raise ValueError(f"C2 holds for window languages W(V, m) (order 2); got order {language.order}")
    P = np.asarray(language.transitions)
    V = P.shape[0]
    m = int(np.count_nonzero(P[0]))
    expected = np.zeros((V, V))
    for a in range(V):
        expected[a, (a + np.arange(m)) % V] = 1.0 / m
    if not (1 <= m < V and np.array_equal(P > 0, expected > 0) and np.allclose(P, expected, atol=1e-12, rtol=0)):
        raise ValueError("C2 holds for window languages W(V, m) (window_language); this language is not one")
    if not np.allclose(language.initial, 1.0 / V, atol=1e-12, rtol=0):
        raise ValueError("C2 assumes W(V, m) with its uniform initial law mu")
    return V, m


def _window_matrix(V, m):
    P = np.zeros((V, V))
    for a in range(V):
        P[a, (a + np.arange(m)) % V] = 1.0 / m
    return P


def pair_failure(P, left, right):
    """``f(l, r)``: probability that adjacent positions drawn independently from their conditionals leave the window.

    ``left = l`` (shape ``(V,)`` or ``(k, V)``) is the left factor of position ``i``
    (``P^da[x_a, .]``), ``right = r`` (shape ``(V,)`` or ``(V, k)``) the right factor of position
    ``i + 1`` (``P^db[., x_b]``); ``nan`` where the gap is impossible.  Broadcasts to ``(k_l, k_r)``.
    """
    invalid = (P == 0).astype(float)
    left = np.atleast_2d(left)  # (kl, V)
    right = np.asarray(right, dtype=float).reshape(P.shape[0], -1)  # (V, kr)
    r1 = P @ right  # right factor of position i
    l1 = left @ P  # left factor of position i + 1
    z = left @ r1  # (kl, kr): the normaliser, the same for both positions
    # numerator[a, b] = sum_{u, w} left[a, u] r1[u, b] invalid[u, w] l1[a, w] right[w, b]
    numerator = np.einsum("au,ub,uw,aw,wb->ab", left, r1, invalid, l1, right, optimize=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(z > 0, numerator / np.where(z > 0, z, 1.0) ** 2, np.nan)
    return out


@functools.lru_cache(maxsize=256)
def pair_failure_constant(vocab_size, window, distance, horizon=None) -> float:
    """``c(V, m, D)``: a lower bound on the failure probability of a same-step adjacent pair whose nearest
    revealed tokens are at distance ``>= D`` (0 if no positive bound exists at that ``D``).

    ``horizon = C >= D``: exact minimum over ``D <= da, db <= C`` (by symmetry ``x_a = 0``, every
    possible ``x_b``), the ends of the sequence included; beyond ``C`` the perturbation factor
    ``((1 - eta_C) / (1 + eta_C))^k`` with ``eta_C = max |V P^C - 1|`` (``k = 2`` for one far
    side, 4 for two).  Default ``C = max(D, 60)``.
    """
    V, m, D = int(vocab_size), int(window), int(distance)
    C = max(D, 60) if horizon is None else int(horizon)
    P = _window_matrix(V, m)
    powers = [np.eye(V)]
    for _ in range(C + 1):
        powers.append(powers[-1] @ P)
    uniform = np.full(V, 1.0 / V)
    ones = np.ones(V)
    lefts = np.array([powers[da][0] for da in range(D, C + 1)])  # x_a = 0 by symmetry
    rights = np.concatenate([powers[db] for db in range(D, C + 1)], axis=1)  # every x_b
    eta = float(np.max(np.abs(V * powers[C] - 1.0)))
    if eta >= 1:
        return 0.0
    rho = (1 - eta) / (1 + eta)
    values = [
        pair_failure(P, lefts, rights),
        rho**2 * pair_failure(P, uniform, rights),
        rho**2 * pair_failure(P, lefts, ones),
        rho**4 * pair_failure(P, uniform, ones),
    ]
    finite = np.concatenate([v.ravel() for v in values])
    return max(float(np.nanmin(finite)) - _MARGIN, 0.0)


def _block_probability_lower(weights, block):
    """A lower bound on ``g = P(block good)`` that depends on the schedule's shape only.

    ``weights[t]`` is the fraction of positions revealed at step ``t``; with ``W_t`` the fraction
    revealed at ``t`` or later and ``b = B - 2``, convexity of ``x^b`` gives
    ``w_t W_t^b >= (W_t^(b+1) - W_(t+1)^(b+1)) / (b + 1)``, so for Bernoulli schedules
    ``g = sum_t w_t^2 W_t^b >= sum_t w_t (W_t^(b+1) - W_(t+1)^(b+1)) / (b + 1)`` (``1 / (N (b + 1))``
    for ``linear:N``, whatever ``L``).
    """
    w = np.asarray(weights, dtype=float)
    b = block - 2
    tail = np.append(np.cumsum(w[::-1])[::-1], 0.0)
    return float(np.sum(w * (tail[:-1] ** (b + 1) - tail[1:] ** (b + 1))) / (b + 1))


def _count_block_probability_lower(sizes, block):
    """A lower bound on ``g = P(block good)`` for a count schedule that does not shrink as ``L`` grows at fixed shape.

    ``g = sum_t s_t (s_t - 1) / (L (L - 1)) * (T_t - 2)_b / (L - 2)_b`` and each factor of the
    second ratio is at least ``y_t = (T_t - b - 1) / (L - b - 1)``; then, as for Bernoulli
    schedules, ``s_t y_t^b >= (L - b - 1) (y_t^(b+1) - y_(t+1)^(b+1)) / (b + 1)`` (``y`` clipped at 0).
    """
    s = np.asarray(sizes, dtype=float)
    L = float(s.sum())
    b = block - 2
    T = np.append(np.cumsum(s[::-1])[::-1], 0.0)
    y = np.maximum((T - b - 1) / (L - b - 1), 0.0) if L > b + 1 else np.zeros_like(T)
    steps = y[:-1] ** (b + 1) - y[1:] ** (b + 1)
    return float(np.sum((s - 1) * (L - b - 1) * steps) / (L * (L - 1) * (b + 1)))


def _log_falling(x, k):
    """``log (x)_k = log x (x-1) ... (x-k+1)`` elementwise, ``-inf`` when ``x < k``."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = gammaln(x + 1) - gammaln(np.maximum(x - k + 1, 1.0))
    return np.where(x >= k, out, -np.inf)


def _count_moments(sizes, block):
    """Mean and variance of the number of good blocks under a count schedule, exactly.

    A block's ``B`` labels are a uniform draw without replacement from the sizes, so
    ``g = P(good) = sum_t (s_t)_2 (T_t - 2)_b / (L)_B`` (``T_t = s_t + ... + s_N``, ``b = B - 2``);
    two blocks are both good with probability ``sum_t (s_t)_4 (T_t - 4)_2b / (L)_2B +
    2 sum_{t < t'} (s_t)_2 (T_t - B - 2)_b (s_t')_2 (T_t' - 2)_b / (L)_2B`` (the later block's
    labels come from the pool ``>= t'`` first).
    """
    s = np.asarray(sizes, dtype=float)
    L = float(s.sum())
    b = block - 2
    J = int(L // block)
    T = np.cumsum(s[::-1])[::-1]
    g = float(np.exp(_log_falling(s, 2) + _log_falling(T - 2, b) - _log_falling(L, block)).sum())
    mean = J * g
    if J < 2:
        return mean, mean - mean * mean
    half = 0.5 * float(_log_falling(L, 2 * block))
    same = float(np.exp(_log_falling(s, 4) + _log_falling(T - 4, 2 * b) - 2 * half).sum())
    early = np.exp(_log_falling(s, 2) + _log_falling(T - block - 2, b) - half)
    late = np.exp(_log_falling(s, 2) + _log_falling(T - 2, b) - half)
    later_sum = np.append(np.cumsum(late[::-1])[::-1][1:], 0.0)  # sum over t' > t
    both = same + 2.0 * float(np.sum(early * later_sum))
    return mean, mean + J * (J - 1) * both - mean * mean


def _cantelli_valid_bound(c, num_blocks, mean_lower, variance):
    """An upper bound on ``E (1 - c)^Z`` for ``Z`` in ``0..J`` with ``E Z >= mean_lower`` and ``Var Z <= variance``.

    ``E phi(Z) = phi(J) + sum_k P(Z <= k) (phi(k) - phi(k + 1))`` for decreasing ``phi``, and
    Cantelli's inequality ``P(Z <= k) <= v / (v + (mu - k)^2)`` for ``k < mu``.
    """
    total = (1 - c) ** num_blocks
    for k in range(num_blocks):
        step = (1 - c) ** k - (1 - c) ** (k + 1)
        if k >= mean_lower:
            return total + (1 - c) ** k - (1 - c) ** num_blocks
        total += step * min(1.0, variance / (variance + (mean_lower - k) ** 2))
    return total


def c2_bound_details(language, length, schedule, max_distance=40) -> dict:
    """The C2 bound with its ingredients: ``{"bound", "distance", "pair_failure", "num_blocks", "block_probability"}``.

    See the module docstring; ``block_probability`` is ``g`` (Bernoulli) or the mean of the ``g_j``
    (counts).  Raises ``ValueError`` outside C2's class.
    """
    V, m = window_parameters(language)
    L = language.check_length(length)
    resolved = parse_schedule(schedule).resolve(L)
    if resolved.kind not in (BERNOULLI, COUNTS):
        raise ValueError(
            "C2 bounds schedules that reveal uniformly random positions (count and Bernoulli schedules); "
            f"{parse_schedule(schedule).spec!r} chooses positions by an explicit order or by the values"
        )
    best = {"bound": 0.0, "distance": None, "pair_failure": 0.0, "num_blocks": 0, "good_blocks_lower": 0.0}
    for D in range(1, max_distance + 1):
        block = 2 * D
        J = L // block
        if J == 0:
            break
        c = pair_failure_constant(V, m, D)
        if c <= 0:
            continue
        if resolved.kind == BERNOULLI:
            mean_lower = J * _block_probability_lower(resolved.weights, block)
            bound = -math.expm1(-c * mean_lower)  # blocks independent: 1 - prod (1 - c g) >= 1 - exp(-c J g)
        else:
            mean, variance = _count_moments(resolved.sizes, block)
            mean_lower = J * _count_block_probability_lower(resolved.sizes, block)
            bound = 1.0 - _cantelli_valid_bound(c, J, mean_lower, max(variance, mean))
        if bound > best["bound"]:
            best = {"bound": bound, "distance": D, "pair_failure": c, "num_blocks": J, "good_blocks_lower": mean_lower}
    return best


def stride_order_kl(language, length, stride) -> float:
    r"""THEORY C2' (ours): ``KL(q || p)`` of the stride order ``stride:s`` on ``W(V, m)``, exactly.

    .. math::

        \mathrm{KL} = (\lceil L/s \rceil - 1)\,(\log V - H(P^s[a, \cdot])),

    the same for every row ``a`` (``P^s`` is circulant).  The first step draws
    ``x_0, x_s, x_{2s}, ...`` independently from their uniform marginals; every later step reveals
    one token per segment between revealed tokens, which order 2 makes conditionally
    independent, so only the first step contributes (B1).  With ``m >= 2`` and
    ``s >= ceil((V - 1) / (m - 1))`` every entry of ``P^s`` is positive and ``SER = 0``
    (``lambda = 0``): see ``proofs/C2prime_stride_order.md``.
    """
    V, m = window_parameters(language)
    L = language.check_length(length)
    s = check_int(stride, "stride", minimum=1)
    row = np.linalg.matrix_power(_window_matrix(V, m), s)[0]
    positive = row[row > 0]
    entropy = float(-np.sum(positive * np.log(positive)))
    return (math.ceil(L / s) - 1) * (math.log(V) - entropy)


def stride_is_error_free(vocab_size, window, stride) -> bool:
    """Whether ``stride:s`` has ``SER = 0`` on ``W(V, m)`` by C2': ``m >= 2`` and every entry of ``P^s`` positive."""
    return window >= 2 and stride >= math.ceil((vocab_size - 1) / (window - 1))
