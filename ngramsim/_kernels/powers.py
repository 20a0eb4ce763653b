"""Powers of an order-2 transition matrix for local conditionals, with exact support (SPEC §2).

For order 2 every revealed token separates the chain: a masked position ``i``
with nearest revealed neighbours ``a < i < b`` has

    q(x_i = v | x_R) ∝ P^(i-a)[x_a, v] · P^(b-i)[v, x_b],

so the samplers need rows and columns of ``P^d`` for ``d <= L``.  Float64
powers underflow (a transient state with a self-loop of 0.5 has
``P^d[a, a] = 2^-d``, zero in float64 from ``d = 1075``), and a zero taken for
"impossible" would send the sampler to SPEC's uniform fallback while
``q(x_R) > 0``.  So the tables keep three things apart:

* ``reach[d, a, b] = (P^d[a, b] > 0)``, by boolean matrix products: support is
  decided exactly, never from a float;
* float tables (``powers`` rows, ``powers_t`` columns rescaled to maximum 1),
  used when every supported entry that enters them stayed above
  ``TRUST = 2^-500`` — then every product of a row entry and a column entry is a
  normal float64 and each weight is exact to rounding;
* per row and per column a flag ``inexact`` (some supported entry fell below
  ``TRUST``, or was computed from one that did); flagged rows and columns are
  read from log-space twins ``log_powers``, ``log_powers_t`` (``log P^d``,
  ``-inf`` exactly where ``reach`` is False), built only when some flag is set.

Layout (``V`` tokens, a virtual token ``V`` at positions ``-1`` and ``L``):
``powers[d, a] = P^d[a, .]``, ``powers[d, V] = mu P^(d-1)`` (the left edge);
``powers_t[d, b] ∝ P^d[., b]`` (a contiguous row), ``powers_t[d, V] = 1``
(nothing revealed on the right).  ``reach`` has the layout of ``powers``; the
support of ``powers_t[d, b]`` is ``reach[d, :, b]``.
"""

import math

import numba
import numpy as np

#: Supported entries below this are read from the log-space tables (2^-500: products of two
#: trusted entries stay >= 2^-1000, a normal float64).
TRUST = 2.0**-500


@numba.njit(cache=True)
def _fill(P, mu, powers, powers_t, reach, inexact):
    """Float tables, exact support and per-row / per-column inexact flags (module docstring)."""
    size = powers.shape[0]
    V = P.shape[0]
    bad_row = np.zeros((V + 1, V), dtype=np.bool_)  # entry flags of the previous d
    bad_col = np.zeros((V, V), dtype=np.bool_)  # bad_col[b, a]: entry (a, b) of the previous column table
    new_row = np.zeros((V + 1, V), dtype=np.bool_)
    new_col = np.zeros((V, V), dtype=np.bool_)
    small = np.zeros((V, V), dtype=np.bool_)  # P entries that are positive but untrusted
    for a in range(V):
        for b in range(V):
            small[a, b] = 0.0 < P[a, b] < TRUST
    for a in range(V):
        for b in range(V):
            powers[0, a, b] = 1.0 if a == b else 0.0
            powers_t[0, b, a] = powers[0, a, b]
            reach[0, a, b] = a == b
    powers[0, V, :] = 0.0
    reach[0, V, :] = False
    powers_t[:, V, :] = 1.0
    inexact[:, 0, :] = False
    for d in range(1, size):
        # Rows P^d[a, .] = P^(d-1)[a, .] P (and the left edge mu P^(d-1)); they sum to 1.
        for a in range(V + 1):
            for b in range(V):
                if a == V and d == 1:
                    powers[d, V, b] = mu[b]
                    reach[d, V, b] = mu[b] > 0.0
                    new_row[V, b] = 0.0 < mu[b] < TRUST
                    continue
                acc = 0.0
                hit = False
                bad = False
                for c in range(V):
                    if reach[d - 1, a, c] and P[c, b] > 0.0:
                        hit = True
                        acc += powers[d - 1, a, c] * P[c, b]
                        bad = bad or bad_row[a, c] or small[c, b]
                powers[d, a, b] = acc
                reach[d, a, b] = hit
                new_row[a, b] = bad or (hit and acc < TRUST)
        # Columns P^d[., b] = P P^(d-1)[., b], rescaled to maximum 1.
        for b in range(V):
            top = 0.0
            for a in range(V):
                acc = 0.0
                bad = False
                for c in range(V):
                    if P[a, c] > 0.0 and reach[d - 1, c, b]:
                        acc += P[a, c] * powers_t[d - 1, b, c]
                        bad = bad or bad_col[b, c] or small[a, c]
                powers_t[d, b, a] = acc
                new_col[b, a] = bad
                if acc > top:
                    top = acc
            if top > 0.0:
                scale = 1.0 / top
                for a in range(V):
                    powers_t[d, b, a] *= scale
                    if reach[d, a, b] and powers_t[d, b, a] < TRUST:
                        new_col[b, a] = True
        for a in range(V + 1):
            flag = False
            for b in range(V):
                bad_row[a, b] = new_row[a, b]
                flag = flag or new_row[a, b]
            inexact[0, d, a] = flag
        for b in range(V):
            flag = False
            for a in range(V):
                bad_col[b, a] = new_col[b, a]
                flag = flag or new_col[b, a]
            inexact[1, d, b] = flag
        inexact[1, d, V] = False


@numba.njit(cache=True, inline="always")
def _logsumexp_pair(values_a, values_b):
    """``log sum_c exp(values_a[c] + values_b[c])`` (``-inf`` when every term is)."""
    top = -np.inf
    for c in range(values_a.shape[0]):
        s = values_a[c] + values_b[c]
        if s > top:
            top = s
    if top == -np.inf:
        return -np.inf
    acc = 0.0
    for c in range(values_a.shape[0]):
        s = values_a[c] + values_b[c]
        if s > -np.inf:
            acc += math.exp(s - top)
    return top + math.log(acc)


@numba.njit(cache=True)
def _fill_log(log_P, log_mu, log_powers, log_powers_t):
    """``log_powers[d, a] = log P^d[a, .]`` (left edge ``log mu P^(d-1)``), ``log_powers_t[d, b] = log P^d[., b]``."""
    size = log_powers.shape[0]
    V = log_P.shape[0]
    log_PT = np.ascontiguousarray(log_P.T)
    for a in range(V):
        for b in range(V):
            log_powers[0, a, b] = 0.0 if a == b else -np.inf
            log_powers_t[0, b, a] = log_powers[0, a, b]
    log_powers[0, V, :] = -np.inf
    log_powers_t[:, V, :] = 0.0
    for d in range(1, size):
        for a in range(V + 1):
            for b in range(V):
                if a == V and d == 1:
                    log_powers[d, V, b] = log_mu[b]
                else:
                    log_powers[d, a, b] = _logsumexp_pair(log_powers[d - 1, a], log_PT[b])
        for b in range(V):
            for a in range(V):
                log_powers_t[d, b, a] = _logsumexp_pair(log_P[a], log_powers_t[d - 1, b])


def power_tables(transitions, initial, length):
    """``(powers, powers_t, reach, inexact, log_powers, log_powers_t)`` for ``d = 0 .. length``.

    Shapes: ``(L + 1, V + 1, V)`` for the tables, ``(2, L + 1, V + 1)`` for ``inexact``
    (``[0]`` rows, ``[1]`` columns).  The log tables have shape ``(1, 1, 1)`` unless some
    row or column is flagged (see the module docstring).
    """
    P = np.ascontiguousarray(transitions, dtype=np.float64)
    mu = np.ascontiguousarray(initial, dtype=np.float64)
    V = P.shape[0]
    shape = (length + 1, V + 1, V)
    powers = np.empty(shape)
    powers_t = np.empty(shape)
    reach = np.empty(shape, dtype=np.bool_)
    inexact = np.empty((2, length + 1, V + 1), dtype=np.bool_)
    _fill(P, mu, powers, powers_t, reach, inexact)
    if inexact.any():
        log_powers = np.empty(shape)
        log_powers_t = np.empty(shape)
        with np.errstate(divide="ignore"):
            _fill_log(np.log(P), np.log(mu), log_powers, log_powers_t)
    else:
        log_powers = np.zeros((1, 1, 1))
        log_powers_t = np.zeros((1, 1, 1))
    return powers, powers_t, reach, inexact, log_powers, log_powers_t


@numba.njit(cache=True, forceinline=True)
def gap_weights(da, xa, db, xb, tables, w):
    """Weights ``w[v] ∝ P^da[xa, v] · P^db[v, xb]`` (virtual token ``V`` at the edges); return their sum.

    Float tables when both factors are trusted, else ``exp(log w - max log w)``; the
    positive entries are exactly the support whenever the gap is possible.
    """
    powers, powers_t, reach, inexact, log_powers, log_powers_t = tables
    V = w.shape[0]
    total = 0.0
    if inexact[0, da, xa] or inexact[1, db, xb]:
        top = -np.inf
        for c in range(V):
            s = log_powers[da, xa, c] + log_powers_t[db, xb, c]
            w[c] = s
            if s > top:
                top = s
        for c in range(V):
            if w[c] > -np.inf:
                w[c] = math.exp(w[c] - top)
                total += w[c]
            else:
                w[c] = 0.0
        return total
    for c in range(V):
        w[c] = powers[da, xa, c] * powers_t[db, xb, c]
        total += w[c]
    return total


@numba.njit(cache=True)
def mixing_profile(tables):
    """How far each distance's factors are from their limits: ``(left, right)``, float64 ``(L + 1,)`` each.

    ``left[d] = max_{a <= V, v} |log(P^d[a, v] / rho[v])|`` over the support, against the
    reference row ``rho = P^L[0, .]`` (rows ``a`` include the left edge ``mu P^(d-1)``), and
    ``+inf`` if some row's zero pattern differs from ``rho``'s or a row is flagged inexact
    (or ``rho`` is).  ``right[d] = max_b log(max_a P^d[a, b] / min_a P^d[a, b])`` over the
    normalised columns, ``+inf`` if a column has a zero or is flagged inexact.  Entry 0 is
    ``+inf`` (distance 0 never occurs).  The truncation distances of
    :mod:`.adaptive_local2` follow: ``D_L`` is one more than the last ``d`` with
    ``left[d] > log(1 + eta)`` (likewise ``D_R``).
    """
    powers, powers_t, reach, inexact = tables[0], tables[1], tables[2], tables[3]
    size = powers.shape[0]
    V = powers.shape[2]
    last = size - 1
    left = np.full(size, np.inf)
    right = np.full(size, np.inf)
    for d in range(1, size):
        worst = 0.0
        ok = not inexact[0, last, 0]
        for a in range(V + 1):
            ok = ok and not inexact[0, d, a]
            for v in range(V):
                if not ok:
                    break
                if reach[d, a, v] != reach[last, 0, v]:
                    ok = False
                elif reach[d, a, v]:
                    worst = max(worst, abs(math.log(powers[d, a, v] / powers[last, 0, v])))
        if ok:
            left[d] = worst
        worst = 0.0
        ok = True
        for b in range(V):
            ok = ok and not inexact[1, d, b]
            top = 0.0
            low = np.inf
            for a in range(V):
                if not reach[d, a, b]:
                    ok = False
                top = max(top, powers_t[d, b, a])
                low = min(low, powers_t[d, b, a])
            if ok:
                worst = max(worst, math.log(top / low))
        if ok:
            right[d] = worst
    return left, right


def truncation_distance(profile, eta):
    """``D``: one more than the last distance whose deviation exceeds ``log(1 + eta)`` (1 if none; ``L + 1``: never mixed)."""
    bad = np.flatnonzero(profile[1:] > math.log1p(eta))
    return int(bad[-1]) + 2 if bad.size else 1
