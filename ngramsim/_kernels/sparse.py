"""Kernels of the sparse order-2 language ``P' = A + eps 1 nu^T``, ``A = (1 - eps) P_K`` (see ngramsim/sparse.py).

``model`` tuple used throughout (built once per language by :func:`ngramsim.sparse._model`):

0. ``idx`` int64 (V, K): the top tokens of each row;
1. ``aprob`` float64 (V, K): ``(1 - eps) P_K`` on those entries;
2. ``pred_ptr`` int64 (V + 1), 3. ``pred_row`` int64 (VK), 4. ``pred_val`` float64 (VK): the columns of ``A``
   (``A[pred_row[p], b] = pred_val[p]`` for ``p`` in ``pred_ptr[b] .. pred_ptr[b+1]``);
5. ``pos`` bool (V, K): ``P_K`` entry positive (support, never from a float product);
6. ``nu_pos`` bool (V,): ``eps nu_b > 0``;
7. ``mu_pos`` bool (V,): ``mu_b > 0``;
8. ``idx`` and 9. ``pred_row`` as uint32 (the message sweeps: unsigned indices need no wrap-around checks).

``tables = (W, Lam, cutoff, all_positive, normalise, T, rho, decay, eta)``: ``W[d]`` the rank-one
row of ``P'^d`` (``d = 0 .. L``), ``Lam[k] = mu^T P'^k``, the distance from which the ``A^d`` part is
dropped, whether every transition of every distance is possible (``eps > 0`` and ``nu > 0``: no support
checks needed, and sweeps may stop early), whether messages are rescaled at every step (``eps = 0``: a
scale-free product), ``T[j] = rho^T P_K^j`` (``j < cutoff``) for a reference law ``rho``,
``decay[d] = (1 - eps)^d`` and the relative bound ``eta`` of the early stops.

Messages: the forward message of token ``a`` at distance ``d`` is the row ``e_a^T A^d``, the backward
message of token ``b`` is the column ``A^d e_b``.  They depend on the token and the distance only,
so each revealed position computes its messages once, for exactly the distances at which masked
positions will ask for them, sweeping ``d = 1, 2, ...`` (sparse while few entries are non-zero).  The
sampler runs a few sequences in lockstep and sweeps the anchors of a step of all of them four at a
time, one pass over ``A`` per distance for all dense messages still running (:func:`_pooled_sweeps`;
the same values as one at a time).
"""

import numba
import numpy as np

from ngramsim._kernels.reverse import draw_uniform
from ngramsim._kernels.rng import draw_stream
from ngramsim._kernels.steps import assign_steps, occupied_steps

# A message switches from its list of non-zero entries to dense loops above V / _DENSE non-zeros.
_DENSE = 8

# A sweep that never stopped early.
_NEVER = 1 << 62


@numba.njit(cache=True)
def rank_one_tables(model, eps, nu, mu, length):
    """``(W, Lam)``: ``W[d] = eps sum_{j<d} nu^T A^j`` (``d = 0 .. L``), ``Lam[k] = mu^T P'^k`` (``k < L``)."""
    idx = model[0]
    aprob = model[1]
    V, K = idx.shape
    W = np.zeros((length + 1, V))
    Lam = np.zeros((max(length, 1), V))
    r = nu.copy()
    nxt = np.empty(V)
    for d in range(1, length + 1):
        for c in range(V):
            W[d, c] = W[d - 1, c] + eps * r[c]
        if d < length:
            nxt[:] = 0.0
            for c in range(V):
                x = r[c]
                if x != 0.0:
                    for k in range(K):
                        nxt[idx[c, k]] += x * aprob[c, k]
            r[:] = nxt
    Lam[0, :] = mu
    for i in range(1, length):
        total = 0.0
        for c in range(V):
            total += Lam[i - 1, c]
        for c in range(V):
            Lam[i, c] = eps * total * nu[c]
        for c in range(V):
            x = Lam[i - 1, c]
            if x != 0.0:
                for k in range(K):
                    Lam[i, idx[c, k]] += x * aprob[c, k]
    return W, Lam


@numba.njit(cache=True)
def mixing_tables(idx, prob, rows, iterations):
    """``(rho, T)``: ``rho`` a probability vector close to a stationary law of ``P_K`` (lazy power
    iteration; any probability vector is valid, a closer one lets sweeps stop sooner) and
    ``T[j] = rho^T P_K^j`` for ``j < rows``."""
    V, K = idx.shape
    rho = np.full(V, 1.0 / V)
    nxt = np.empty(V)
    for _ in range(iterations):
        nxt[:] = 0.0
        for c in range(V):
            x = rho[c]
            if x != 0.0:
                for k in range(K):
                    nxt[idx[c, k]] += x * prob[c, k]
        change = 0.0
        total = 0.0
        for c in range(V):
            v = 0.5 * (rho[c] + nxt[c])
            change += abs(v - rho[c])
            nxt[c] = v
            total += v
        for c in range(V):
            rho[c] = nxt[c] / total
        if change < 1e-17:
            break
    T = np.zeros((max(rows, 1), V))
    T[0, :] = rho
    for j in range(1, rows):
        for c in range(V):
            x = T[j - 1, c]
            if x != 0.0:
                for k in range(K):
                    T[j, idx[c, k]] += x * prob[c, k]
    return rho, T


@numba.njit(cache=True)
def _advance(cur, nxt, lst, n, newlst, mark, dense, forward, model):
    """``nxt = cur A`` (forward) or ``A cur`` (backward); returns ``(non-zeros, dense)``.

    Listed mode (``not dense``): ``cur`` is non-zero only on ``lst[:n]`` and ``nxt`` is all zero on
    entry; ``cur`` is left all zero.  Up to ``V / _DENSE`` listed entries the non-zeros of ``nxt`` are
    listed too (while at most ``V / 2``); beyond, the listed entries are scattered into a dense
    ``nxt``.  Dense mode overwrites ``nxt``.  Indices are read unsigned (no wrap-around checks).
    """
    idx = model[8]
    aprob = model[1]
    V, K = idx.shape
    if not dense:
        pred_ptr = model[2]
        pred_row = model[9]
        pred_val = model[4]
        if n * _DENSE > V:  # many listed entries: scatter into a dense result, no bookkeeping
            for t in range(V):
                nxt[t] = 0.0
            for j in range(n):
                c = lst[j]
                x = cur[c]
                if forward:
                    for k in range(K):
                        nxt[idx[c, k]] += x * aprob[c, k]
                else:
                    for p in range(pred_ptr[c], pred_ptr[c + 1]):
                        nxt[pred_row[p]] += x * pred_val[p]
            return V, True
        nn = 0
        for j in range(n):
            c = lst[j]
            x = cur[c]
            cur[c] = 0.0
            if forward:
                for k in range(K):
                    t = idx[c, k]
                    if not mark[t]:
                        mark[t] = True
                        newlst[nn] = t
                        nn += 1
                    nxt[t] += x * aprob[c, k]
            else:
                for p in range(pred_ptr[c], pred_ptr[c + 1]):
                    t = pred_row[p]
                    if not mark[t]:
                        mark[t] = True
                        newlst[nn] = t
                        nn += 1
                    nxt[t] += x * pred_val[p]
        for j in range(nn):
            mark[newlst[j]] = False
        return nn, 2 * nn > V
    if forward:
        for t in range(V):
            nxt[t] = 0.0
        for c in range(V):
            x = cur[c]
            if x != 0.0:
                for k in range(K):
                    nxt[idx[c, k]] += x * aprob[c, k]
    else:
        for c in range(V):
            acc = 0.0
            for k in range(K):
                acc += aprob[c, k] * cur[idx[c, k]]
            nxt[c] = acc
    return V, True


@numba.njit(cache=True)
def _sweep(token, anchor, forward, positions, out, scratch, model, tables, stops):
    """Messages of ``token`` (revealed at ``anchor``) at the distances ``|k - anchor|`` of ``positions``
    (increasing distances), into ``out[k]``.

    ``stops[anchor]``: the distance ``s`` at which the sweep stopped early because the message had
    mixed (every farther message is then replaced by its limit, see :func:`gap_weights`), or a value
    beyond every distance when it ran to the end.
    """
    _sweep_part(token, anchor, forward, positions, out, scratch, model, tables, stops, False,
                np.empty((1, 1)), 0, 0, 0)


@numba.njit(cache=True)
def _sweep_part(token, anchor, forward, positions, out, scratch, model, tables, stops, handoff, X, col, resume_d,
                resume_j):
    """:func:`_sweep`; with ``handoff``, once the message is dense and not finished it is copied into
    ``X[:, col]`` and ``(d, j, True)`` returned (distance reached, queries answered) for
    :func:`_batch_sweeps` to continue; otherwise ``(d, j, False)`` when finished.  ``resume_d > 0``:
    continue a dense message held in ``scratch[0]`` at distance ``resume_d`` with ``resume_j`` queries
    answered."""
    normalise = tables[4]
    early = tables[3]
    W = tables[0]
    rho = tables[6]
    decay = tables[7]
    eta = tables[8]
    cur = scratch[0]
    nxt = scratch[1]
    lst = scratch[2]
    newlst = scratch[3]
    mark = scratch[4]
    V = cur.shape[0]
    count = positions.shape[0]
    if resume_d > 0:
        n = V
        dense = True
        d = resume_d
        j = resume_j
    else:
        stops[anchor] = _NEVER
        cur[:] = 0.0
        nxt[:] = 0.0
        cur[token] = 1.0
        lst[0] = token
        n = 1
        dense = False
        d = 0
        j = 0
    while j < count:
        n, dense = _advance(cur, nxt, lst, n, newlst, mark, dense, forward, model)
        cur, nxt = nxt, cur
        lst, newlst = newlst, lst
        d += 1
        if normalise:  # eps = 0: only ratios matter; keep the largest entry at 1 (no underflow)
            top = 0.0
            for c in range(V):
                if cur[c] > top:
                    top = cur[c]
            if top > 0.0:
                inv = 1.0 / top
                for c in range(V):
                    cur[c] *= inv
        while j < count and abs(positions[j] - anchor) == d:
            out[positions[j], :] = cur
            j += 1
        if early and dense and j < count:
            # Mixed?  Forward: |alpha_d(c) - (1-eps)^d rho(c)| <= eta w_d(c) for every c; backward: half
            # the spread of beta_d <= eta w_d(token).  Both bounds then hold at every farther distance.
            if forward:
                scale = decay[d]
                mixed = True
                for c in range(V):
                    if abs(cur[c] - scale * rho[c]) > eta * W[d, c]:
                        mixed = False
                        break
                if mixed:
                    stops[anchor] = d
                    return d, j, False
            else:
                hi = cur[0]
                lo = cur[0]
                for c in range(1, V):
                    v = cur[c]
                    if v > hi:
                        hi = v
                    if v < lo:
                        lo = v
                if 0.5 * (hi - lo) <= eta * W[d, token]:
                    stops[anchor] = d
                    return d, j, False
        if handoff and dense and j < count:
            for c in range(V):
                X[c, col] = cur[c]
            return d, j, True
    return d, j, False


@numba.njit(cache=True)
def _batch_step(X, Y, width, forward, model):
    """``Y[:, s] = X[:, s] A`` (forward) or ``A X[:, s]`` (backward) for the columns ``s < width <= 4``,
    one pass over ``A`` for all; per column the same operations in the same order as the dense
    branch of :func:`_advance` (so the same bits).  The widths are written out one by one: scalar
    accumulators in registers were measured faster than a loop over columns (numba does not unroll it)."""
    idx = model[8]
    aprob = model[1]
    V, K = idx.shape
    if forward:  # gathers over the columns of A (predecessors in increasing order: the scatter's sums)
        pred_ptr = model[2]
        pred_row = model[9]
        pred_val = model[4]
        if width == 1:
            for t in range(V):
                y0 = 0.0
                for p in range(pred_ptr[t], pred_ptr[t + 1]):
                    y0 += X[pred_row[p], 0] * pred_val[p]
                Y[t, 0] = y0
        elif width == 2:
            for t in range(V):
                y0 = 0.0
                y1 = 0.0
                for p in range(pred_ptr[t], pred_ptr[t + 1]):
                    c = pred_row[p]
                    a = pred_val[p]
                    y0 += X[c, 0] * a
                    y1 += X[c, 1] * a
                Y[t, 0] = y0
                Y[t, 1] = y1
        elif width == 3:
            for t in range(V):
                y0 = 0.0
                y1 = 0.0
                y2 = 0.0
                for p in range(pred_ptr[t], pred_ptr[t + 1]):
                    c = pred_row[p]
                    a = pred_val[p]
                    y0 += X[c, 0] * a
                    y1 += X[c, 1] * a
                    y2 += X[c, 2] * a
                Y[t, 0] = y0
                Y[t, 1] = y1
                Y[t, 2] = y2
        else:
            for t in range(V):
                y0 = 0.0
                y1 = 0.0
                y2 = 0.0
                y3 = 0.0
                for p in range(pred_ptr[t], pred_ptr[t + 1]):
                    c = pred_row[p]
                    a = pred_val[p]
                    y0 += X[c, 0] * a
                    y1 += X[c, 1] * a
                    y2 += X[c, 2] * a
                    y3 += X[c, 3] * a
                Y[t, 0] = y0
                Y[t, 1] = y1
                Y[t, 2] = y2
                Y[t, 3] = y3
    elif width == 1:
        for c in range(V):
            y0 = 0.0
            for k in range(K):
                t = idx[c, k]
                a = aprob[c, k]
                y0 += a * X[t, 0]
            Y[c, 0] = y0
    elif width == 2:
        for c in range(V):
            y0 = 0.0
            y1 = 0.0
            for k in range(K):
                t = idx[c, k]
                a = aprob[c, k]
                y0 += a * X[t, 0]
                y1 += a * X[t, 1]
            Y[c, 0] = y0
            Y[c, 1] = y1
    elif width == 3:
        for c in range(V):
            y0 = 0.0
            y1 = 0.0
            y2 = 0.0
            for k in range(K):
                t = idx[c, k]
                a = aprob[c, k]
                y0 += a * X[t, 0]
                y1 += a * X[t, 1]
                y2 += a * X[t, 2]
            Y[c, 0] = y0
            Y[c, 1] = y1
            Y[c, 2] = y2
    else:
        for c in range(V):
            y0 = 0.0
            y1 = 0.0
            y2 = 0.0
            y3 = 0.0
            for k in range(K):
                t = idx[c, k]
                a = aprob[c, k]
                y0 += a * X[t, 0]
                y1 += a * X[t, 1]
                y2 += a * X[t, 2]
                y3 += a * X[t, 3]
            Y[c, 0] = y0
            Y[c, 1] = y1
            Y[c, 2] = y2
            Y[c, 3] = y3


@numba.njit(cache=True)
def _pooled_sweeps(pool_seq, pool_anchor, n, forward, xs, queries, out, scratch, model, tables, stops, batch):
    """The sweeps in one direction (``eps > 0``) of the anchors ``pool_anchor[:n]`` of the sequences
    ``pool_seq[:n]`` (index into the leading axis of ``xs``, ``queries``, ``out``, ``stops``): each alone while
    sparse (:func:`_sweep_part`), then four at a time, one pass over ``A`` per distance for all
    (:func:`_batch_step`).  A finished column is refilled from the pool (the anchors of several
    sequences in lockstep keep the passes four wide; a message alone costs about twice as much per
    step), else replaced by the last one; the very last runs alone again.  Every message goes through
    the same operations as in :func:`_sweep` (the same bits), whatever its neighbours in the batch."""
    X, Y, s_anchor, s_d, s_j, s_seq = batch
    fptr, fpos, bptr, bpos = queries
    ptr = fptr if forward else bptr
    pos = fpos if forward else bpos
    W = tables[0]
    early = tables[3]
    rho = tables[6]
    decay = tables[7]
    eta = tables[8]
    V = X.shape[0]
    width = X.shape[1]
    active = 0
    taken = 0
    while True:
        while active < width and taken < n:  # fill free columns (sparse start of each message alone)
            g = pool_seq[taken]
            i = pool_anchor[taken]
            taken += 1
            if ptr[g, i + 1] > ptr[g, i]:
                d, j, cont = _sweep_part(xs[g, i], i, forward, pos[g, ptr[g, i]:ptr[g, i + 1]], out[g], scratch, model,
                                         tables, stops[g], True, X, active, 0, 0)
                if cont:
                    s_seq[active] = g
                    s_anchor[active] = i
                    s_d[active] = d
                    s_j[active] = j
                    active += 1
        if active == 0:
            return
        if active == 1 and taken == n:  # the last one alone, contiguous
            g = s_seq[0]
            a = s_anchor[0]
            cur = scratch[0]
            for c in range(V):
                cur[c] = X[c, 0]
            _sweep_part(xs[g, a], a, forward, pos[g, ptr[g, a]:ptr[g, a + 1]], out[g], scratch, model, tables,
                        stops[g], False, X, 0, s_d[0], s_j[0])
            return
        _batch_step(X, Y, active, forward, model)
        X, Y = Y, X
        s = 0
        while s < active:
            g = s_seq[s]
            a = s_anchor[s]
            d = s_d[s] + 1
            s_d[s] = d
            j = s_j[s]
            lo = ptr[g, a]
            count = ptr[g, a + 1] - lo
            while j < count and abs(pos[g, lo + j] - a) == d:
                k = pos[g, lo + j]
                for c in range(V):
                    out[g, k, c] = X[c, s]
                j += 1
            s_j[s] = j
            finished = j == count
            if not finished and early:
                if forward:
                    scale = decay[d]
                    mixed = True
                    for c in range(V):
                        if abs(X[c, s] - scale * rho[c]) > eta * W[d, c]:
                            mixed = False
                            break
                else:
                    token = xs[g, a]
                    hi = X[0, s]
                    lo_ = X[0, s]
                    for c in range(1, V):
                        v = X[c, s]
                        if v > hi:
                            hi = v
                        if v < lo_:
                            lo_ = v
                    mixed = 0.5 * (hi - lo_) <= eta * W[d, token]
                if mixed:
                    stops[g, a] = d
                    finished = True
            if finished:
                last = active - 1
                if s < last:
                    for c in range(V):
                        X[c, s] = X[c, last]
                    s_seq[s] = s_seq[last]
                    s_anchor[s] = s_anchor[last]
                    s_d[s] = s_d[last]
                    s_j[s] = s_j[last]
                active -= 1
            else:
                s += 1


@numba.njit(cache=True)
def reachable(source, d, target, model, eps_positive, cur, nxt):
    """Whether ``P'^d[source, target] > 0`` (``source = -1``: from the support of ``mu``), from booleans only."""
    idx = model[0]
    pos = model[5]
    nu_pos = model[6]
    V, K = idx.shape
    if d >= 1 and eps_positive and nu_pos[target]:
        return True
    if source < 0:
        cur[:] = model[7]
    else:
        cur[:] = False
        cur[source] = True
    for _ in range(d):
        nxt[:] = False
        seen = False
        for c in range(V):
            if cur[c]:
                seen = True
                for k in range(K):
                    if pos[c, k]:
                        nxt[idx[c, k]] = True
        if not seen:
            return False
        if eps_positive:
            for t in range(V):
                if nu_pos[t]:
                    nxt[t] = True
        cur, nxt = nxt, cur
    return cur[target]


@numba.njit(cache=True)
def strict_neighbours(order, start, num, left, right, prv, nxt):
    """``left[i]``/``right[i]``: nearest positions left/right of ``i`` revealed at an earlier step (-1: none).

    Deletion from the linked list ``0 .. L-1`` by decreasing step; within a step increasing positions
    for ``left`` (a deleted position's predecessor is then of an earlier step) and decreasing for
    ``right``.  ``prv``/``nxt`` are int64 scratch of length ``L + 2`` (sentinels at 0 and ``L + 1``).
    """
    length = order.shape[0]
    for sweep in range(2):
        for p in range(length + 2):
            prv[p] = p - 1
            nxt[p] = p + 1
        for t in range(num - 1, -1, -1):
            for j in range(start[t + 1] - start[t]):
                k = start[t] + j if sweep == 0 else start[t + 1] - 1 - j
                i = order[k] + 1
                before = prv[i]
                after = nxt[i]
                if sweep == 0:
                    left[i - 1] = before - 1
                else:
                    right[i - 1] = after - 1 if after <= length else -1
                nxt[before] = after
                prv[after] = before


@numba.njit(cache=True)
def build_queries(left, right, cutoff, fptr, fpos, bptr, bpos):
    """Group the positions by the anchor whose message they need: ``fpos[fptr[a]:fptr[a+1]]`` are the
    ``k`` with ``left[k] = a`` and ``k - a < cutoff`` (increasing ``k``), ``bpos[bptr[b]:...]`` the ``k``
    with ``right[k] = b`` and ``b - k < cutoff`` (decreasing ``k``)."""
    length = left.shape[0]
    fptr[:] = 0
    bptr[:] = 0
    for k in range(length):
        a = left[k]
        if a >= 0 and k - a < cutoff:
            fptr[a + 1] += 1
        b = right[k]
        if b >= 0 and b - k < cutoff:
            bptr[b + 1] += 1
    for a in range(length):
        fptr[a + 1] += fptr[a]
        bptr[a + 1] += bptr[a]
    ffill = fptr[:-1].copy()
    bfill = bptr[:-1].copy()
    for k in range(length):
        a = left[k]
        if a >= 0 and k - a < cutoff:
            fpos[ffill[a]] = k
            ffill[a] += 1
    for k in range(length - 1, -1, -1):
        b = right[k]
        if b >= 0 and b - k < cutoff:
            bpos[bfill[b]] = k
            bfill[b] += 1


@numba.njit(cache=True)
def anchor_messages(a, token, queries, F, B, scratch, model, tables, stops):
    """Both messages of the token revealed at ``a``, for every position that will ask for them;
    ``stops = (forward stops, backward stops)`` as in :func:`_sweep`."""
    fptr, fpos, bptr, bpos = queries
    if fptr[a + 1] > fptr[a]:
        _sweep(token, a, True, fpos[fptr[a]:fptr[a + 1]], F, scratch, model, tables, stops[0])
    if bptr[a + 1] > bptr[a]:
        _sweep(token, a, False, bpos[bptr[a]:bptr[a + 1]], B, scratch, model, tables, stops[1])


@numba.njit(cache=True)
def gap_weights(i, a, xa, b, xb, F, B, tables, w, stops):
    """Unnormalised ``q(x_i = c | x_R) ∝ P'^(i-a)[x_a, c] P'^(b-i)[c, x_b]`` into ``w``; returns the sum.

    ``a < 0``: left factor ``Lam[i]``; ``b < 0``: right factor 1.  A message part at a distance
    ``>= cutoff`` is dropped (the rank-one part alone); beyond the distance ``s`` at which its sweep
    stopped (``stops``), a forward message is replaced by ``(1 - eps)^d rho P_K^(d - s)`` and a
    backward one by a constant (which cancels).  Error bounds in ngramsim/sparse.py.
    """
    W = tables[0]
    Lam = tables[1]
    cutoff = tables[2]
    T = tables[5]
    decay = tables[7]
    fstop = stops[0]
    bstop = stops[1]
    V = w.shape[0]
    if a < 0:
        for c in range(V):
            w[c] = Lam[i, c]
    elif i - a < cutoff:
        d = i - a
        s = fstop[a]
        if d <= s:
            for c in range(V):
                w[c] = W[d, c] + F[i, c]
        else:
            scale = decay[d]
            for c in range(V):
                w[c] = W[d, c] + scale * T[d - s, c]
    else:
        d = i - a
        for c in range(V):
            w[c] = W[d, c]
    if b >= 0:
        d = b - i
        s = W[d, xb]
        if d < cutoff and d <= bstop[b]:
            for c in range(V):
                w[c] *= B[i, c] + s
        # else: the right factor is (within the bound) the constant s, which cancels
    total = 0.0
    for c in range(V):
        total += w[c]
    return total


@numba.njit(cache=True)
def draw_inverse(w, total, u):
    """The dense sampler's rule: ``v = #{c : w_0 + ... + w_c <= u total}``, capped at the last positive ``c``."""
    target = u * total
    acc = 0.0
    below = 0
    last = -1
    for c in range(w.shape[0]):
        f = w[c]
        acc += f
        below += acc <= target
        if f > 0.0:
            last = c
    return min(below, last)


@numba.njit(cache=True)
def conditional_rows(tokens, model, tables, out):
    """``out[i] = q(x_i | x_R)`` (masked ``i``: ``tokens[i] < 0``), one-hot at revealed ones; returns
    whether ``q(x_R) > 0`` (if not, masked rows are uniform)."""
    length = tokens.shape[0]
    V = model[0].shape[0]
    cutoff = tables[2]
    eps_positive = model[6].any()
    left = np.full(length, -1, dtype=np.int64)
    right = np.full(length, -1, dtype=np.int64)
    last = -1
    for i in range(length):
        left[i] = last
        if tokens[i] >= 0:
            last = i
    last = -1
    for i in range(length - 1, -1, -1):
        right[i] = last
        if tokens[i] >= 0:
            last = i
    for i in range(length):  # revealed positions ask for nothing
        if tokens[i] >= 0:
            left[i] = -1
            right[i] = -1
    boolean = (np.empty(V, dtype=np.bool_), np.empty(V, dtype=np.bool_))
    possible = True
    first = -1
    for i in range(length):
        if tokens[i] >= 0:
            if first < 0:
                possible = reachable(-1, i, tokens[i], model, eps_positive, boolean[0], boolean[1])
            elif not reachable(tokens[first], i - first, tokens[i], model, eps_positive, boolean[0], boolean[1]):
                possible = False
            first = i
            if not possible:
                break
    if not possible:
        for i in range(length):
            for c in range(V):
                out[i, c] = 1.0 / V if tokens[i] < 0 else (1.0 if c == tokens[i] else 0.0)
        return False
    queries = (np.empty(length + 1, dtype=np.int64), np.empty(length, dtype=np.int64),
               np.empty(length + 1, dtype=np.int64), np.empty(length, dtype=np.int64))
    build_queries(left, right, cutoff, queries[0], queries[1], queries[2], queries[3])
    F = np.zeros((length, V))
    B = np.zeros((length, V))
    scratch = (np.empty(V), np.empty(V), np.empty(V, dtype=np.int64), np.empty(V, dtype=np.int64),
               np.zeros(V, dtype=np.bool_))
    stops = (np.full(length, _NEVER, dtype=np.int64), np.full(length, _NEVER, dtype=np.int64))
    for i in range(length):
        if tokens[i] >= 0:
            anchor_messages(i, tokens[i], queries, F, B, scratch, model, tables, stops)
    w = np.empty(V)
    for i in range(length):
        if tokens[i] >= 0:
            for c in range(V):
                out[i, c] = 1.0 if c == tokens[i] else 0.0
            continue
        a = left[i]
        b = right[i]
        total = gap_weights(i, a, tokens[a] if a >= 0 else -1, b, tokens[b] if b >= 0 else -1, F, B, tables, w,
                            stops)
        for c in range(V):
            out[i, c] = w[c] / total
    return True


# Sequences run in lockstep (step t of each, then the sweeps of all their anchors of step t pooled), so
# that the passes over A stay four wide (alone, the longest sweep of a step runs its tail one message
# per pass at about twice the cost per message); each holds two (L, V) message tables, hence the bound
# on G L V (see lockstep_width).
_LOCKSTEP = 4
_LOCKSTEP_ENTRIES = 1 << 24


def lockstep_width(length, V):
    """How many sequences run in lockstep: up to four, while their (L, V) message tables hold at most
    2**24 entries each."""
    return max(1, min(_LOCKSTEP, _LOCKSTEP_ENTRIES // (length * V)))


@numba.njit(cache=True)
def sparse_group(keys, schedule, model, tables, xs, per_step, results, scratch):
    """The sequences of ``keys`` (one Philox stream each) under a non-adaptive schedule, in lockstep:
    ``xs[g]`` the tokens, ``results[g] = (fallback, steps drawn from q, status)``.

    ``status`` is 0, or 1 when a conditional summed to 0 in floating point although the state is
    possible (underflow; the caller raises; that sequence stops there).  Each sequence's arithmetic is
    that of a sequence alone (its own stream, messages and draws), so the samples do not depend on which
    sequences share a group.
    """
    kind, alias_prob, alias_index, sizes, step_of, num_steps, block = schedule
    cutoff = tables[2]
    all_positive = tables[3]
    normalise = tables[4]
    V = model[0].shape[0]
    eps_positive = model[6].any()
    count = keys.shape[0]
    (schedule_u, value_u, step, perm, order, left, right, prv, nxt, F, B, w, msg, boolean, queries, stops, batch,
     start, occupied, pool_seq, pool_anchor) = scratch
    fptr, fpos, bptr, bpos = queries
    for g in range(count):
        draw_stream(keys[g], schedule_u[g], value_u[g])
        assign_steps(kind, schedule_u[g], alias_prob, alias_index, sizes, step_of, block, perm[g], step[g])
        occ, st = occupied_steps(step[g], num_steps, per_step[g, 0], per_step[g, 1], order[g])
        occupied[g] = occ
        start[g, :occ + 1] = st[:occ + 1]
        strict_neighbours(order[g], st, occ, left[g], right[g], prv, nxt)
        build_queries(left[g], right[g], cutoff, fptr[g], fpos[g], bptr[g], bpos[g])
        results[g, 0] = 0
        results[g, 1] = occ
        results[g, 2] = 0
    for t in range(occupied[:count].max()):
        pooled = 0
        for g in range(count):
            if t >= occupied[g] or results[g, 2] != 0:
                continue
            x = xs[g]
            lo = start[g, t]
            hi = start[g, t + 1]
            if results[g, 0]:
                for j in range(lo, hi):
                    i = order[g, j]
                    x[i] = draw_uniform(V, value_u[g, i])
                continue
            own_stops = (stops[0][g], stops[1][g])
            for j in range(lo, hi):
                i = order[g, j]
                a = left[g, i]
                b = right[g, i]
                total = gap_weights(i, a, x[a] if a >= 0 else -1, b, x[b] if b >= 0 else -1, F[g], B[g], tables, w,
                                    own_stops)
                if not total > 0.0:
                    results[g, 0] = 1
                    results[g, 1] = t
                    results[g, 2] = 1
                    break
                x[i] = draw_inverse(w, total, value_u[g, i])
            if results[g, 2] != 0:
                continue
            # The draw makes every pair (old neighbour, new token) possible; pairs of new tokens in one gap
            # (consecutive in the step, same earlier neighbours) are checked from the support graph.
            if not all_positive:
                for j in range(lo, hi - 1):
                    p = order[g, j]
                    q = order[g, j + 1]
                    if right[g, p] == right[g, q] and not reachable(x[p], q - p, x[q], model, eps_positive, boolean[0],
                                                                    boolean[1]):
                        results[g, 0] = 1
                        results[g, 1] = t + 1
                        break
            if not results[g, 0] and t + 1 < occupied[g]:
                if normalise:
                    own_queries = (fptr[g], fpos[g], bptr[g], bpos[g])
                    for j in range(lo, hi):
                        i = order[g, j]
                        anchor_messages(i, x[i], own_queries, F[g], B[g], msg, model, tables, own_stops)
                else:
                    for j in range(lo, hi):
                        pool_seq[pooled] = g
                        pool_anchor[pooled] = order[g, j]
                        pooled += 1
        if pooled > 0:  # the step's anchors of every sequence together, four at a time
            _pooled_sweeps(pool_seq, pool_anchor, pooled, True, xs, queries, F, msg, model, tables, stops[0], batch)
            _pooled_sweeps(pool_seq, pool_anchor, pooled, False, xs, queries, B, msg, model, tables, stops[1], batch)


@numba.njit(cache=True, parallel=True)
def sample_sparse(keys, schedule, model, tables, outputs, messages):
    """Every sequence of ``keys`` (one Philox stream each); ``outputs`` as for the dense drivers
    (:mod:`.mdm`) plus ``status`` int64[M]; ``messages = (F, B)``, each ``(chunks, G, L, V)``: ``chunks``
    groups of ``G`` sequences run at once, each chunk with its own scratch, its sequences in lockstep
    (:func:`sparse_group`).  The caller allocates the message tables once for all its calls: a fresh
    page costs a page fault on first touch, a sizeable share of a call when hundreds of MiB are new."""
    out = outputs[0]
    nfe = outputs[1]
    per_step = outputs[2]
    fallback = outputs[3]
    stats = outputs[4]
    status = outputs[5]
    num_steps = schedule[5]
    num_samples, length = out.shape
    V = model[0].shape[0]
    F_all, B_all = messages
    chunks = max(1, min(num_samples, F_all.shape[0]))
    G = F_all.shape[1]
    for ch in numba.prange(chunks):
        scratch = (np.empty((G, length)), np.empty((G, length)), np.empty((G, length), dtype=np.int64),
                   np.empty((G, length), dtype=np.int64), np.empty((G, length), dtype=np.int64),
                   np.empty((G, length), dtype=np.int64), np.empty((G, length), dtype=np.int64),
                   np.empty(length + 2, dtype=np.int64), np.empty(length + 2, dtype=np.int64),
                   F_all[ch], B_all[ch], np.empty(V),
                   (np.empty(V), np.empty(V), np.empty(V, dtype=np.int64), np.empty(V, dtype=np.int64),
                    np.zeros(V, dtype=np.bool_)),
                   (np.empty(V, dtype=np.bool_), np.empty(V, dtype=np.bool_)),
                   (np.empty((G, length + 1), dtype=np.int64), np.empty((G, length), dtype=np.int64),
                    np.empty((G, length + 1), dtype=np.int64), np.empty((G, length), dtype=np.int64)),
                   (np.empty((G, length), dtype=np.int64), np.empty((G, length), dtype=np.int64)),
                   (np.empty((V, 4)), np.empty((V, 4)), np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64),
                    np.empty(4, dtype=np.int64), np.empty(4, dtype=np.int64)),
                   np.empty((G, length + 1), dtype=np.int64), np.empty(G, dtype=np.int64),
                   np.empty(G * length, dtype=np.int64), np.empty(G * length, dtype=np.int64))
        group_keys = np.empty(G, dtype=keys.dtype)
        xs = np.empty((G, length), dtype=np.int64)
        group_steps = np.zeros((G, 2, per_step.shape[2]), dtype=np.int64)
        results = np.empty((G, 3), dtype=np.int64)
        mine = (num_samples - ch + chunks - 1) // chunks  # sequences ch, ch + chunks, ...
        for first in range(0, mine, G):
            count = min(G, mine - first)
            for g in range(count):
                group_keys[g] = keys[ch + (first + g) * chunks]
            group_steps[:] = 0
            sparse_group(group_keys[:count], schedule, model, tables, xs[:count], group_steps[:count], results[:count],
                         scratch)
            for g in range(count):
                s = ch + (first + g) * chunks
                out[s, :] = xs[g]
                per_step[s, :, :] = group_steps[g]
                stats[s, :] = 0.0
                fallback[s] = results[g, 0] != 0
                status[s] = results[g, 2]
                nfe[s] = num_steps
                stats[s, 1] = per_step[s, 0, :results[g, 1]].sum()


@numba.njit(cache=True, parallel=True)
def ancestral(model, eps, nu, mu_cdf, uniforms, out):
    """Left-to-right draws by inverse CDF over token ids (the dense ``guarded_cdf`` rule: the last
    positive token absorbs rounding)."""
    idx = model[0]
    aprob = model[1]
    pos = model[5]
    nu_pos = model[6]
    V, K = idx.shape
    num_samples, length = out.shape
    for s in numba.prange(num_samples):
        row = np.empty(V)
        u = uniforms[s, 0]
        v = 0
        while v < V - 1 and u >= mu_cdf[v]:
            v += 1
        out[s, 0] = v
        for i in range(1, length):
            a = out[s, i - 1]
            last = -1
            for c in range(V):
                row[c] = eps * nu[c]
                if nu_pos[c]:
                    last = c
            for k in range(K):
                row[idx[a, k]] += aprob[a, k]
                if pos[a, k] and idx[a, k] > last:
                    last = idx[a, k]
            u = uniforms[s, i]
            acc = 0.0
            v = last
            for c in range(last):
                acc += row[c]
                if u < acc:
                    v = c
                    break
            out[s, i] = v
    return out
