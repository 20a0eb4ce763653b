"""ngramsim._chain: recurrent classes, stationary laws by GTH, absorption, against theorems and slow references.

Random chains are built with known structure: a spine cycle through every state
makes a chain irreducible, grouping the spine's states modulo ``d`` and only
allowing edges from a group to the next makes it periodic, and a few transient
states that can always step towards the classes make it reducible.
"""

import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given
from hypothesis import strategies as st

from ngramsim import _chain
from ngramsim._chain import (
    absorption_weights,
    expected_visits,
    gth_stationary,
    limiting_law,
    recurrent_classes,
    stationary_law,
    stationary_laws,
)

EPS = np.finfo(float).eps

ORDINARY = st.floats(1e-2, 1.0)
# Transition weights down to 1e-15 next to weights of order 1: nearly decomposable chains.
TINY = st.sampled_from([1e-15, 1e-12, 3e-10, 1e-6])
MIXED = st.one_of(ORDINARY, TINY)


def _normalised(weights):
    return weights / weights.sum(axis=1, keepdims=True)


@st.composite
def irreducible_matrices(draw, max_states=8, weights=MIXED):
    """A dense irreducible stochastic matrix; with period ``d`` drawn from 1..3."""
    d = draw(st.integers(1, 3))
    k = d * draw(st.integers(1, max(1, max_states // d)))
    spine = np.array(draw(st.permutations(range(k))))
    group = np.empty(k, dtype=np.int64)
    group[spine] = np.arange(k) % d
    allowed = group[None, :] == (group[:, None] + 1) % d  # edges only to the next group
    allowed &= np.array(draw(st.lists(st.booleans(), min_size=k * k, max_size=k * k))).reshape(k, k)
    allowed[spine, np.roll(spine, -1)] = True
    w = np.array(draw(st.lists(weights, min_size=k * k, max_size=k * k))).reshape(k, k)
    return _normalised(np.where(allowed, w, 0.0))


@st.composite
def nearly_decomposable_matrices(draw):
    """Dense blocks of ordinary weights, coupled in a cycle by transitions of probability ~1e-12 or less."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=3))
    k = sum(sizes)
    starts = np.cumsum([0] + sizes)
    w = np.zeros((k, k))
    for b, size in enumerate(sizes):
        block = slice(starts[b], starts[b + 1])
        w[block, block] = np.array(draw(st.lists(ORDINARY, min_size=size**2, max_size=size**2))).reshape(size, size)
        coupling = draw(st.sampled_from([1e-16, 1e-14, 1e-12]))
        w[starts[b + 1] - 1, starts[(b + 1) % len(sizes)]] += coupling
    return _normalised(w)


@st.composite
def reducible_matrices(draw, weights=MIXED):
    """``(T, classes)``: irreducible blocks plus transient states, relabelled at random.

    Transient state ``i`` always has an edge to a block or to an earlier
    transient state, so every transient state leads to a block.
    """
    blocks = draw(st.lists(irreducible_matrices(max_states=4, weights=weights), min_size=1, max_size=3))
    num_transient = draw(st.integers(0, 4))
    r = sum(len(b) for b in blocks)
    k = r + num_transient
    T = np.zeros((k, k))
    classes, start = [], 0
    for block in blocks:
        T[start : start + len(block), start : start + len(block)] = block
        classes.append(np.arange(start, start + len(block)))
        start += len(block)
    for i in range(r, k):
        allowed = np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)))
        allowed[draw(st.integers(0, i - 1))] = True
        T[i] = np.where(allowed, draw(st.lists(weights, min_size=k, max_size=k)), 0.0)
    T[r:] = _normalised(T[r:])
    label = np.array(draw(st.permutations(range(k))))  # state s is called label[s]
    relabelled = np.empty_like(T)
    relabelled[np.ix_(label, label)] = T
    return relabelled, sorted((np.sort(label[c]) for c in classes), key=lambda c: c[0])


@st.composite
def birth_death_matrices(draw, max_states=20):
    """A birth-death chain (steps of -1, 0, +1), with zero holding probabilities allowed (period 2)."""
    k = draw(st.integers(2, max_states))
    up = np.array(draw(st.lists(MIXED, min_size=k - 1, max_size=k - 1)))
    down = np.array(draw(st.lists(MIXED, min_size=k - 1, max_size=k - 1)))
    stay = np.array(draw(st.lists(st.one_of(st.just(0.0), MIXED), min_size=k, max_size=k)))
    w = np.diag(stay) + np.diag(up, 1) + np.diag(down, -1)
    return _normalised(w)


def assert_stationary(pi, T, rtol):
    """``pi`` is a law, positive, and ``pi T = pi`` entry by entry to relative accuracy ``rtol``."""
    assert np.all(pi > 0)
    assert abs(pi.sum() - 1.0) <= 4 * len(pi) * EPS
    np.testing.assert_array_less(np.abs(pi @ T - pi), rtol * pi)


def exact_stationary(T):
    """The stationary law in exact rational arithmetic, for the generator built from the off-diagonal entries.

    Gauss-Jordan elimination on ``pi Q = 0`` with one equation replaced by
    ``sum pi = 1``; ``Q`` has the off-diagonal entries of ``T`` (exactly, as
    fractions) and rows summing to zero, so rows of ``T`` that miss 1 by
    rounding do not matter.
    """
    k = len(T)
    Q = [[Fraction(float(T[i][j])) if i != j else Fraction(0) for j in range(k)] for i in range(k)]
    for i in range(k):
        Q[i][i] = -sum(Q[i])
    system = [[Q[i][j] for i in range(k)] + [Fraction(0)] for j in range(k)]  # rows: balance of j
    system[-1] = [Fraction(1)] * k + [Fraction(1)]
    for col in range(k):
        pivot = next(row for row in range(col, k) if system[row][col] != 0)
        system[col], system[pivot] = system[pivot], system[col]
        for row in range(k):
            if row != col and system[row][col] != 0:
                factor = system[row][col] / system[col][col]
                system[row] = [a - factor * b for a, b in zip(system[row], system[col])]
    return np.array([float(system[i][k] / system[i][i]) for i in range(k)])


def null_space(matrix, tol=1e-9):
    """Orthonormal basis (rows) of the null space of ``matrix``, by SVD."""
    _, s, vh = np.linalg.svd(matrix)
    return vh[s <= tol * max(1.0, s.max())]


# ------------------------------------------------------------------- GTH
@given(irreducible_matrices(weights=ORDINARY))
def test_gth_equals_the_null_space_of_the_balance_equations(T):
    # Slow and obvious: the kernel of T^T - I is one-dimensional for an irreducible chain.
    basis = null_space(T.T - np.eye(len(T)))
    assert len(basis) == 1
    reference = basis[0] / basis[0].sum()
    np.testing.assert_allclose(gth_stationary(T), reference, rtol=1e-9, atol=0)


@given(st.one_of(irreducible_matrices(), nearly_decomposable_matrices(), birth_death_matrices()))
def test_gth_law_is_positive_and_balances_entry_by_entry(T):
    # No clipping anywhere: positivity and relative balance hold even for probabilities of 1e-200.
    assert_stationary(gth_stationary(T), T, rtol=1e-14)


@given(st.one_of(irreducible_matrices(max_states=6), nearly_decomposable_matrices()))
def test_gth_has_small_relative_error_in_every_entry(T):
    exact = exact_stationary(T)
    np.testing.assert_allclose(gth_stationary(T), exact, rtol=1e-13, atol=0)


@given(birth_death_matrices())
def test_gth_matches_detailed_balance_of_birth_death_chains(T):
    # pi_{j+1} / pi_j = T[j, j+1] / T[j+1, j]: the law spans hundreds of orders of magnitude.
    ratios = np.diag(T, 1) / np.diag(T, -1)
    detailed = np.concatenate([[1.0], np.cumprod(ratios)])
    np.testing.assert_allclose(gth_stationary(T), detailed / detailed.sum(), rtol=1e-13, atol=0)


def test_gth_reads_no_diagonal_and_rejects_a_state_that_cannot_go_down():
    T = np.array([[0.2, 0.8, 0.0], [0.1, 0.0, 0.9], [0.5, 0.5, 0.0]])
    pi = gth_stationary(T)
    garbage_diagonal = T + np.diag([7.0, -3.0, np.nan])
    np.testing.assert_array_equal(gth_stationary(garbage_diagonal), pi)
    np.testing.assert_array_equal(gth_stationary([[1.0]]), [1.0])
    with pytest.raises(ValueError, match="not irreducible"):
        gth_stationary([[0.5, 0.5], [0.0, 1.0]])


# --------------------------------------------------------- reducible chains
@given(reducible_matrices())
def test_recurrent_classes_and_their_laws(case):
    T, classes = case
    found = recurrent_classes(scipy.sparse.csr_array(T))
    assert [c.tolist() for c in found] == [c.tolist() for c in classes]  # ordered by smallest state
    laws = stationary_laws(scipy.sparse.csr_array(T), found)
    for law, states in zip(laws, found):
        support = np.zeros(len(T), dtype=bool)
        support[states] = True
        np.testing.assert_array_equal(law > 0, support)
        assert_stationary(law[states], T[np.ix_(states, states)], rtol=1e-14)
        np.testing.assert_allclose(law @ T, law, rtol=0, atol=1e-15)


@given(reducible_matrices(weights=ORDINARY))
def test_stationary_laws_span_the_null_space(case):
    # Every stationary law is a combination of the class laws: as many as the kernel's dimension.
    T, classes = case
    laws = stationary_laws(scipy.sparse.csr_array(T), classes)
    basis = null_space(T.T - np.eye(len(T)))
    assert len(basis) == len(classes)
    projected = laws @ basis.T @ basis
    np.testing.assert_allclose(projected, laws, rtol=0, atol=1e-10)


@given(reducible_matrices(weights=ORDINARY))
def test_absorption_weights_are_harmonic(case):
    # (Ordinary weights: the linear solve for expected visits computes 1 - T[c, c] by a subtraction.)
    # First-step analysis: a(c) = sum_d T[c, d] a(d) off the classes, a(c) = e_j on class j.
    T, classes = case
    sparse = scipy.sparse.csr_array(T)
    K, r = len(T), len(classes)
    a = np.array([absorption_weights(sparse, classes, np.eye(K)[c]) for c in range(K)])
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    closed = np.zeros(K, dtype=bool)
    for j, states in enumerate(classes):
        closed[states] = True
        np.testing.assert_array_equal(a[states], np.broadcast_to(np.eye(r)[j], (len(states), r)))
    np.testing.assert_allclose(a[~closed], (T @ a)[~closed], rtol=0, atol=1e-12)
    mu = np.full(K, 1.0 / K)
    law = limiting_law(sparse, classes, stationary_laws(sparse, classes), mu)
    np.testing.assert_allclose(law @ T, law, rtol=0, atol=1e-14)
    np.testing.assert_allclose([law[states].sum() for states in classes], mu @ a, rtol=0, atol=1e-12)


# ------------------------------------------------- large classes: iteration
def _dense_chain(k, seed):
    return _normalised(np.random.default_rng(seed).random((k, k)))


@pytest.mark.parametrize("T", [_dense_chain(6, 0), np.roll(np.eye(3), 1, axis=1)], ids=["mixing", "periodic"])
def test_power_iteration_agrees_with_gth_without_warning(monkeypatch, T):
    monkeypatch.setattr(_chain, "_GTH_LIMIT", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pi = stationary_law(scipy.sparse.csr_array(T))
    np.testing.assert_allclose(pi, gth_stationary(T), rtol=1e-12, atol=0)


def test_power_iteration_that_does_not_converge_warns_with_its_residual(monkeypatch):
    monkeypatch.setattr(_chain, "_GTH_LIMIT", 1)
    monkeypatch.setattr(_chain, "_ITERATION_LIMIT", 16)
    T = np.array([[1 - 1e-9, 1e-9, 0.0], [0.0, 0.5, 0.5], [0.3, 0.0, 0.7]])
    with pytest.warns(RuntimeWarning, match=r"did not converge in 16 steps \(residual max\|pi T - pi\| = \d"):
        pi = stationary_law(scipy.sparse.csr_array(T))
    # The fallback (a sparse solve) still gives the law.
    np.testing.assert_allclose(pi, gth_stationary(T), rtol=1e-9, atol=0)


@pytest.mark.parametrize("budget", [200_000, 3])
def test_expected_visits_by_neumann_series_warns_when_it_does_not_converge(monkeypatch, budget):
    monkeypatch.setattr(_chain, "_DENSE_SOLVE_LIMIT", 1)
    monkeypatch.setattr(_chain, "_ITERATION_LIMIT", budget)
    Q = np.array([[0.5, 0.4], [0.0, 0.9]])
    start = np.array([0.25, 0.75])
    exact = start @ np.linalg.inv(np.eye(2) - Q)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        visits = expected_visits(scipy.sparse.csr_array(Q), start)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == (budget == 3)
    assert all("did not converge in 3 steps (mass still transient: " in m for m in messages)
    np.testing.assert_allclose(visits, exact, rtol=1e-12)
