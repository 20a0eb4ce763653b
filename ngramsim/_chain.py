r"""Structure of a finite Markov chain: recurrent classes, stationary laws, absorption.

Private helpers of :class:`ngramsim.sources.NGramLanguage`, which applies them
to its context chain; they take the transition matrix ``T`` as a sparse
``(K, K)`` array with rows summing to 1.

* The recurrent classes are the closed strongly connected components of the
  transition graph (:func:`recurrent_classes`).
* Each class carries exactly one stationary law, supported on the whole class
  (:func:`stationary_laws`).  Classes of at most :data:`_GTH_LIMIT` states are
  solved by GTH state reduction (:mod:`ngramsim._kernels.gth`): subtraction-free,
  so every entry has a small relative error and none is negative.  Larger
  classes, where the ``O(k^3)`` dense reduction is too slow, are solved by lazy
  power iteration, falling back to a sparse LU solve *with a warning* when the
  iteration does not converge.
* Started from ``mu``, the chain is eventually absorbed in class ``j`` with
  probability ``a_j`` (:func:`absorption_weights`), and the Cesàro limit of its
  laws is ``sum_j a_j pi_j`` (:func:`limiting_law`).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.csgraph
import scipy.sparse.linalg

from ngramsim._kernels.gth import gth_back_substitute, gth_reduce

# GTH on a dense copy up to this many states per class.  Its cost is O(k^3) in the worst case
# (a dense class: about 2 s at 2048 states); context chains have at most V successors per state
# and fill in far less (a binary order-12 chain, 2048 states: under 0.1 s).
_GTH_LIMIT = 2048

# Budget of matrix-vector products for the iterative methods on larger systems (a sparse LU of
# a de Bruijn-like context graph fills in badly: minutes and gigabytes at 32768 contexts, while
# these chains usually mix fast).
_ITERATION_LIMIT = 200_000

# Power iteration checks its residual max|pi T - pi| every this many steps (a check costs a product).
_CHECK_EVERY = 16
_RESIDUAL_TOLERANCE = 1e-16

# The Neumann series for expected visits stops when the mass still in transient states is below this.
_REMAINING_TOLERANCE = 1e-17

# Linear systems (absorption, and the fallback) up to this size are solved densely (LAPACK).
_DENSE_SOLVE_LIMIT = 1024


# ------------------------------------------------------------------ structure
def recurrent_classes(T) -> list[np.ndarray]:
    """The closed communicating classes of ``T``, each a sorted index array, ordered by their smallest state.

    A strongly connected component is closed (recurrent) when no edge leaves
    it; every other state is transient.
    """
    _, labels = scipy.sparse.csgraph.connected_components(T, directed=True, connection="strong")
    coo = T.tocoo()
    leaving = labels[coo.row] != labels[coo.col]
    open_labels = set(labels[coo.row[leaving]].tolist())
    classes = []
    seen = set()
    for state in range(T.shape[0]):
        lab = labels[state]
        if lab in seen:
            continue
        seen.add(lab)
        if lab not in open_labels:
            classes.append(np.flatnonzero(labels == lab))
    return classes


# ---------------------------------------------------------- stationary laws
def stationary_laws(T, classes) -> np.ndarray:
    """One stationary law per recurrent class, as rows of shape ``(len(classes), K)``.

    Row ``j`` is zero off ``classes[j]``; every stationary law of ``T`` is a
    convex combination of the rows.
    """
    laws = np.zeros((len(classes), T.shape[0]))
    for j, states in enumerate(classes):
        if len(states) == 1:
            laws[j, states[0]] = 1.0
        else:
            laws[j, states] = stationary_law(T[states][:, states])
    return laws


def stationary_law(sub) -> np.ndarray:
    """Stationary law of an irreducible sparse stochastic matrix ``sub``: GTH when small, iteration when large."""
    if sub.shape[0] <= _GTH_LIMIT:
        return gth_stationary(sub.toarray())
    return _iterative_stationary(sub)


def gth_stationary(matrix) -> np.ndarray:
    r"""Stationary law of an irreducible dense ``(k, k)`` matrix by GTH state reduction.

    Only the off-diagonal entries are read: the result solves ``pi Q = 0`` for
    the generator ``Q`` whose off-diagonal entries are those of ``matrix`` and
    whose rows sum to zero, which for a stochastic matrix is ``pi T = pi``
    (rows that sum to 1 only up to rounding do not matter).  See
    :mod:`ngramsim._kernels.gth` for the method and why it is accurate: every
    entry is positive and has a small relative error, without any clipping.

    Raises ``ValueError`` when the reduction meets a state with no transition
    to lower-numbered states (the matrix is then not irreducible).  Other
    reducible matrices are not detected: pass one recurrent class.
    """
    work = np.array(matrix, dtype=np.float64, order="C")  # reduced in place
    if work.ndim != 2 or work.shape[0] != work.shape[1] or work.shape[0] == 0:
        raise ValueError(f"expected a non-empty square matrix, got shape {work.shape}")
    stuck = gth_reduce(work)
    if stuck >= 0:
        raise ValueError(f"the chain is not irreducible: state {stuck} cannot reach states 0..{stuck - 1} "
                         f"without passing through states > {stuck}")
    return gth_back_substitute(work, np.empty(work.shape[0]))


def _iterative_stationary(sub) -> np.ndarray:
    """Stationary law of a large irreducible class: lazy power iteration, else a sparse solve with a warning."""
    pi, residual = _lazy_power_iteration(sub.T.tocsr(), _ITERATION_LIMIT)
    if residual <= _RESIDUAL_TOLERANCE:
        return pi
    warnings.warn(
        f"power iteration for the stationary law of a recurrent class of {sub.shape[0]} states did not "
        f"converge in {_ITERATION_LIMIT} steps (residual max|pi T - pi| = {residual:.3g}); "
        "solving the balance equations by sparse LU instead",
        RuntimeWarning,
        stacklevel=2,
    )
    return _pinned_solve(sub)


def _lazy_power_iteration(moved, budget):
    """Iterate ``pi <- (pi + pi T) / 2`` from the uniform law; ``moved = T^T``.  Returns ``(pi, residual)``.

    The lazy chain ``(I + T) / 2`` is aperiodic with the same stationary law, so
    this converges for periodic classes too.  The residual is
    ``max|pi T - pi|``, checked every :data:`_CHECK_EVERY` steps.
    """
    k = moved.shape[0]
    pi = np.full(k, 1.0 / k)
    for it in range(budget):
        pi = 0.5 * (pi + moved @ pi)
        if it % _CHECK_EVERY == _CHECK_EVERY - 1 and _residual(moved, pi) <= _RESIDUAL_TOLERANCE:
            break
    return pi / pi.sum(), _residual(moved, pi)


def _residual(moved, pi) -> float:
    """``max|pi T - pi|`` with ``moved = T^T``."""
    return float(np.abs(moved @ pi - pi).max())


def _pinned_solve(sub) -> np.ndarray:
    r"""Stationary law of an irreducible sparse matrix by one sparse LU solve (the fallback for large classes).

    Fixing ``pi_last = 1``, the other entries solve the balance equations
    ``x_j e_j = sum_{i != j, i < last} x_i T[i, j] + T[last, j]``, where
    ``e_j = sum_{l != j} T[j, l]`` is the escape probability ``1 - T[j, j]``
    computed as a sum (as in GTH: a difference would lose the small escape
    probabilities of nearly decomposable chains).  The matrix is a nonsingular
    M-matrix (the class is irreducible, so every state leaks towards the last
    one) and the exact solution is positive.
    """
    k = sub.shape[0]
    coo = sub.tocoo()
    off = coo.row != coo.col
    rows, cols, probs = coo.row[off], coo.col[off], coo.data[off]
    escape = np.bincount(rows, weights=probs, minlength=k)
    inner = (rows < k - 1) & (cols < k - 1)
    diag = np.arange(k - 1)
    # Row j of the system is the balance of state j: entries (j, i) = -T[i, j] and (j, j) = e_j.
    entries = np.concatenate([escape[: k - 1], -probs[inner]])
    where = (np.concatenate([diag, cols[inner]]), np.concatenate([diag, rows[inner]]))
    system = scipy.sparse.csr_array((entries, where), shape=(k - 1, k - 1))
    from_last = np.zeros(k - 1)
    from_last[cols[rows == k - 1]] = probs[rows == k - 1]
    x = _solve(system, from_last)
    # LU pivots are still differences and can round to tiny negative entries where the law is tiny.
    pi = np.append(np.maximum(x, 0.0), 1.0)
    return pi / pi.sum()


# ---------------------------------------------------------------- absorption
def absorption_weights(T, classes, mu) -> np.ndarray:
    """``a_j``: the probability that the chain started from ``mu`` is eventually in ``classes[j]``, shape ``(r,)``.

    Mass of ``mu`` on a class stays there; mass on transient states ``S``
    makes ``y = mu_S (I - T_SS)^{-1}`` expected visits to ``S`` and then leaves
    for the classes with ``y T_{S, .}``.
    """
    closed = np.zeros(T.shape[0], dtype=bool)
    for states in classes:
        closed[states] = True
    mass = np.where(closed, mu, 0.0)
    transient = np.flatnonzero(~closed)
    if len(transient) and mu[transient].sum() > 0:
        visits = expected_visits(T[transient][:, transient], mu[transient])
        mass = mass + T[transient].T @ visits * closed
    return np.array([mass[states].sum() for states in classes])


def limiting_law(T, classes, laws, mu) -> np.ndarray:
    r"""Cesàro limit of the laws of the chain started from ``mu``: ``sum_j a_j pi_j``.

    Renormalised, so that rounding in the weights cannot leave a total off 1.
    """
    law = absorption_weights(T, classes, mu) @ laws
    return law / law.sum()


def expected_visits(Q, start) -> np.ndarray:
    """``y = start (I - Q)^{-1}``: expected visits to transient states, ``Q`` being ``T`` restricted to them.

    Large systems sum the Neumann series ``start sum_t Q^t`` (the mass still
    in transient states decays geometrically); if it has not decayed within
    the budget, a warning is emitted and the system is solved by sparse LU.
    """
    k = Q.shape[0]
    if k > _DENSE_SOLVE_LIMIT:
        total, remaining = _neumann_series(Q.T.tocsr(), start, _ITERATION_LIMIT)
        if remaining <= _REMAINING_TOLERANCE:
            return total
        warnings.warn(
            f"the Neumann series for the expected visits to {k} transient states did not converge in "
            f"{_ITERATION_LIMIT} steps (mass still transient: {remaining:.3g}); solving by sparse LU instead",
            RuntimeWarning,
            stacklevel=2,
        )
    return _solve(scipy.sparse.identity(k, format="csr") - Q.T, start)


def _neumann_series(moved, start, budget):
    """``start + start Q + start Q^2 + ...`` with ``moved = Q^T``, until the remaining mass is negligible.

    Returns ``(total, remaining)``, ``remaining`` being the mass of the last term.
    """
    total = start.copy()
    term = start.copy()
    remaining = float(term.sum())
    for _ in range(budget):
        term = moved @ term
        total += term
        remaining = float(term.sum())
        if remaining <= _REMAINING_TOLERANCE:
            break
    return total, remaining


def _solve(matrix, rhs):
    """Solve ``matrix @ x = rhs`` for a sparse square ``matrix`` (dense LAPACK when small, sparse LU otherwise)."""
    if matrix.shape[0] <= _DENSE_SOLVE_LIMIT:
        return scipy.linalg.solve(matrix.toarray(), rhs)
    return scipy.sparse.linalg.spsolve(matrix.tocsc(), rhs)
