r"""Adaptive rules with the windows model (any order; SPEC §2, item 4), rescoring only the windows that change.

A masked position's conditional depends only on the revealed tokens of its
window (:mod:`.mdm_windows`).  The window around a newly revealed token ``j``,
found *without* ``j`` (:func:`.mdm_windows._window`), contains every masked
position whose window (with its delimiting runs of ``n - 1`` revealed tokens)
holds ``j``; a position outside all such windows keeps its window and its
revealed tokens, hence its conditional and key.  So after each step only the
masked positions of the union of these windows are rescored, exactly, by one
forward-backward pass per window (:func:`.mdm_windows.weights_for`).  Keys sit in
:mod:`.selection`'s tournament tree.  With ``model[5] = False``
(``method="naive"``) every window is the whole sequence: full rescoring at every
step, the reference the incremental path is tested against.

There is no mixing truncation here: early on, when few runs of ``n - 1`` revealed
tokens separate the sequence, a step still rescores ``O(L)`` positions.
"""

import numba
import numpy as np

from ngramsim._kernels.adaptive import score_key
from ngramsim._kernels.steps import MARGIN, TOPK
from ngramsim._kernels.mdm_windows import _window, check_windows, weights_for
from ngramsim._kernels.reverse import draw_uniform, draw_weights, record_kl, theta_row
from ngramsim._kernels.rng import uniform_pair
from ngramsim._kernels.selection import choose, tree_fill, tree_new, work_new


@numba.njit(cache=True)
def _rescore(x, positions, model, edges, prefix, state, kparams):
    """Rows, learning KLs and keys of the masked ``positions`` (ascending); return whether ``q(x_R) > 0``."""
    rows, kls, tree, (A, B, w_rows, totals) = state
    val = tree[0]
    rule, lam, tau = kparams
    ok, _ = weights_for(x, positions, model, edges, prefix, A, B, w_rows, totals)
    if not ok:
        return False
    for j in range(positions.shape[0]):
        i = positions[j]
        kls[i] = theta_row(w_rows[j], totals[j], lam, tau, rows[i])
        val[i] = score_key(rule, rows[i])
    if positions.shape[0] > 0:
        tree_fill(tree, positions[0], positions[-1])
    return True


@numba.njit(cache=True)
def _fallback(x, state, rule):
    """SPEC's fallback from now on: every masked position gets the uniform row and its key."""
    rows, kls, tree = state[0], state[1], state[2]
    val = tree[0]
    V = rows.shape[1]
    for i in range(x.shape[0]):
        if x[i] < 0:
            rows[i, :] = 1.0 / V
            kls[i] = 0.0
            val[i] = score_key(rule, rows[i])
    tree_fill(tree, 0, x.shape[0] - 1)


@numba.njit(cache=True)
def _affected(x, new, model, edges, out):
    """The masked positions of the windows around the tokens ``new`` (ascending, each once) into ``out``; return how many."""
    k = new.shape[0]
    lo = np.empty(k, dtype=np.int64)
    hi = np.empty(k, dtype=np.int64)
    for j in range(k):
        window = _window(x, new[j], model, edges)
        lo[j] = window[0]
        hi[j] = window[1]
    order = np.argsort(lo)
    n = 0
    end = -1  # last position already listed
    for j in order:
        for i in range(max(lo[j], end + 1), hi[j] + 1):
            if x[i] < 0:
                out[n] = i
                n += 1
        end = max(end, hi[j])
    return n


@numba.njit(cache=True)
def adaptive_windows(key, rule_spec, model, params, prefix, x, per_step, stats):
    """One sequence under an adaptive rule ``rule_spec = (rule, sizes, gamma)``; returns ``(fallback used, steps)``."""
    rule, sizes, gamma = rule_spec
    lam, tau = params
    length = x.shape[0]
    K, V = model[0].shape
    x[:] = -1
    scratch = (np.empty((length + 1, K)), np.empty((length + 1, K)), np.empty((length, V)), np.empty(length))
    tree = tree_new(length)
    state = (np.empty((length, V)), np.empty(length), tree, scratch)
    rows, kls = state[0], state[1]
    kparams = (rule, lam, tau)
    work = work_new(length)
    sel = np.empty(length, dtype=np.int64)
    positions = np.arange(length)
    edges = (length, -1)  # first and last revealed positions
    failed = not _rescore(x, positions, model, edges, prefix, state, kparams)
    if failed:
        _fallback(x, state, rule)
    revealed = 0
    t = 0
    while revealed < length:
        size = sizes[t] if (rule == TOPK or rule == MARGIN) else 0
        k = choose(rule, size, gamma, (key, length, t + 1), tree, work, sel)
        t += 1
        for i in sel[:k]:
            u = uniform_pair(key, i)[1]
            if failed:
                x[i] = draw_uniform(V, u)
            else:
                x[i] = draw_weights(rows[i], rows[i].sum(), u)
                record_kl(stats, kls[i])
        per_step[t - 1] = k
        revealed += k
        edges = (min(edges[0], sel[0]), max(edges[1], sel[k - 1]))
        if failed:
            continue
        failed = not check_windows(x, sel[:k], model, edges, prefix, scratch[0])
        if not failed and revealed < length:
            n = _affected(x, sel[:k], model, edges, positions)
            failed = not _rescore(x, positions[:n], model, edges, prefix, state, kparams)
        if failed:
            _fallback(x, state, rule)
    return failed, t
