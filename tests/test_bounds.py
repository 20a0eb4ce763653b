"""One test per inequality of THEORY.md, named after it, the inequality in its docstring (dit's style).

Monte Carlo comparisons use the confidence limit on the side that makes the test
conservative, never the point estimate.
"""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngramsim import dirichlet_language, estimate_b1, exact_law, sample_mdm, window_language, wilson_interval
from ngramsim.bounds import c2_ser_lower_bound
from ngramsim.window_ser import pair_failure, pair_failure_constant, stride_is_error_free, stride_order_kl
from tests import reference

# ------------------------------------------------------------------ C2
WINDOWS = [(3, 2), (4, 2), (4, 3), (5, 2), (3, 1), (4, 1)]


@st.composite
def position_oblivious_schedules(draw, length):
    """Count and Bernoulli schedule strings for ``length``."""
    kind = draw(st.sampled_from(["uniform", "counts", "linear", "cosine", "poly"]))
    if kind == "uniform":
        return f"uniform:{draw(st.integers(1, length))}"
    if kind == "counts":
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1))) if length > 1 else []
        sizes = np.diff([0, *cuts, length])
        return "counts:" + ",".join(map(str, sizes))
    N = draw(st.integers(1, 2 * length))
    if kind == "poly":
        return f"poly:{N}:{draw(st.sampled_from([0.5, 2, 3]))}"
    return f"{kind}:{N}"


@settings(max_examples=40)
@given(st.sampled_from(WINDOWS), st.data())
def test_c2_ser_lower_bound(window, data):
    """C2: ``SER(p) >= c2_ser_lower_bound`` for W(V, m), count and Bernoulli schedules, lambda = 0, tau = 1.

    Against the exact engine's SER (itself equal to brute force), tolerance 1e-12.
    """
    V, m = window
    length = data.draw(st.integers(2, 7 if V <= 4 else 6))
    spec = data.draw(position_oblivious_schedules(length))
    language = window_language(V, m)
    assert c2_ser_lower_bound(language, length, spec) <= exact_law(language, length, spec).ser + 1e-12


@pytest.mark.parametrize("window, length, spec", [((3, 2), 7, "uniform:2"), ((3, 2), 8, "linear:2"), ((4, 3), 7, "uniform:1")])
def test_c2_is_informative_on_tiny_cases(window, length, spec):
    """The exact comparison above is not vacuous: on these cases the bound is positive (and below the exact SER)."""
    language = window_language(*window)
    bound = c2_ser_lower_bound(language, length, spec)
    assert 0 < bound <= exact_law(language, length, spec).ser


@pytest.mark.parametrize("window", [(4, 2), (8, 2)])
@pytest.mark.parametrize("length", [64, 256, 1024])
@pytest.mark.parametrize("ratio", [16, 8, 4])
def test_c2_below_monte_carlo(window, length, ratio):
    """C2 at scale: the bound lies below the 99.9% Wilson upper limit of Monte Carlo SER (uniform:N and linear:N)."""
    language = window_language(*window)
    N = length // ratio
    for spec in (f"uniform:{N}", f"linear:{N}"):
        bound = c2_ser_lower_bound(language, length, spec)
        out = sample_mdm(language, length, spec, 400, rng=11)
        invalid = int((~language.is_valid(out.samples)).sum())
        _, upper = wilson_interval(invalid, 400, z=3.2905)  # 99.9% two-sided
        assert 0 < bound <= upper


def test_c2_linear_law():
    """C2's linear law on W(4, 2) and W(8, 2): at fixed L/N the bound is positive and does not decrease from
    (L, N) = (1024, 16) to (4096, 64); it tends to 1 as L/N grows at fixed N."""
    for window in ((4, 2), (8, 2)):
        language = window_language(*window)
        for kind in ("uniform", "linear", "cosine"):
            small = c2_ser_lower_bound(language, 1024, f"{kind}:16")
            large = c2_ser_lower_bound(language, 4096, f"{kind}:64")
            assert 0 < small <= large
            growth = [c2_ser_lower_bound(language, L, f"{kind}:16") for L in (256, 1024, 4096, 16384, 65536)]
            assert all(a <= b for a, b in zip(growth, growth[1:]))
        assert c2_ser_lower_bound(language, 65536, "linear:16") > 0.99
        assert c2_ser_lower_bound(language, 65536, "uniform:16") > 0.9


def test_c2_rejects_outside_its_class():
    w = window_language(4, 2)
    with pytest.raises(ValueError, match="uniformly random positions"):
        c2_ser_lower_bound(w, 16, "ar")
    with pytest.raises(ValueError, match="uniformly random positions"):
        c2_ser_lower_bound(w, 16, "topk:4")
    with pytest.raises(ValueError, match="window languages"):
        c2_ser_lower_bound(dirichlet_language(4, 2, rng=0), 16, "uniform:4")
    with pytest.raises(ValueError, match="window languages"):
        c2_ser_lower_bound(dirichlet_language(2, 3, rng=0), 16, "uniform:4")
    with pytest.raises(TypeError):
        c2_ser_lower_bound("W(4,2)", 16, "uniform:4")


def _exact_power(V, m, d):
    P = [[Fraction(1, m) if (b - a) % V < m else Fraction(0) for b in range(V)] for a in range(V)]
    out = [[Fraction(int(a == b)) for b in range(V)] for a in range(V)]
    for _ in range(d):
        out = [[sum(out[a][c] * P[c][b] for c in range(V)) for b in range(V)] for a in range(V)]
    return out


def _exact_failure(V, m, left, right):
    P = _exact_power(V, m, 1)
    r1 = [sum(P[u][w] * right[w] for w in range(V)) for u in range(V)]
    l1 = [sum(left[u] * P[u][w] for u in range(V)) for w in range(V)]
    z = sum(left[u] * r1[u] for u in range(V))
    if z == 0:
        return None
    num = sum(left[u] * r1[u] * l1[w] * right[w] for u in range(V) for w in range(V) if P[u][w] == 0)
    return num / z**2


@pytest.mark.parametrize("V, m, D, C", [(4, 2, 2, 8), (4, 2, 3, 9), (3, 2, 1, 7), (8, 2, 4, 10), (5, 3, 2, 7)])
def test_c2_pair_constant_exact(V, m, D, C):
    """Lemma 2's finite check in exact rational arithmetic: the float constant equals it to 1e-10 (and lies below)."""
    powers = [_exact_power(V, m, d) for d in range(C + 1)]
    uniform = [Fraction(1, V)] * V
    ones = [Fraction(1)] * V
    lefts = [powers[d][0] for d in range(D, C + 1)]
    rights = [[powers[d][u][xb] for u in range(V)] for d in range(D, C + 1) for xb in range(V)]
    eta = max(abs(V * x - 1) for row in powers[C] for x in row)
    rho = (1 - eta) / (1 + eta)
    values = [_exact_failure(V, m, l, r) for l in lefts for r in rights]
    values += [rho**2 * _exact_failure(V, m, uniform, r) for r in rights]
    values += [rho**2 * _exact_failure(V, m, l, ones) for l in lefts]
    values += [rho**4 * _exact_failure(V, m, uniform, ones)]
    exact = float(min(v for v in values if v is not None))
    got = pair_failure_constant(V, m, D, C)
    assert got <= exact
    assert got == pytest.approx(max(exact, 0.0), abs=1e-10)


@settings(max_examples=30)
@given(st.sampled_from(WINDOWS), st.integers(1, 6), st.integers(1, 6), st.data())
def test_c2_pair_failure_formula(window, da, db, data):
    """Lemma 1: f(l, r) equals the brute-force probability that the two exact conditionals, drawn
    independently, give an invalid adjacent pair (tolerance 1e-12)."""
    V, m = window
    language = window_language(V, m)
    xa, xb = data.draw(st.integers(0, V - 1)), data.draw(st.integers(0, V - 1))
    b = da + 1 + db  # the pair is (da, da + 1): distances da to the left, db to the right
    x = np.zeros(b + 1, dtype=np.int64)
    x[0], x[b] = xa, xb
    revealed = np.zeros(b + 1, dtype=bool)
    revealed[[0, b]] = True
    rows, log_ev = reference.log_conditionals(language, x, revealed)
    P = np.asarray(language.transitions)
    left = np.linalg.matrix_power(P, da)[xa]
    right = np.linalg.matrix_power(P, db)[:, xb]
    got = pair_failure(P, left, right)[0, 0]
    if log_ev == -np.inf:
        assert math.isnan(got)
        return
    qi = np.exp(rows[da] - log_ev)
    qj = np.exp(rows[da + 1] - log_ev)
    brute = sum(qi[u] * qj[w] for u in range(V) for w in range(V) if P[u, w] == 0)
    assert got == pytest.approx(brute, abs=1e-12)


# ------------------------------------------------------------------ C2'
@settings(max_examples=30)
@given(st.sampled_from([(3, 2), (4, 2), (4, 3), (5, 3), (5, 2)]), st.data())
def test_c2prime_stride_order(window, data):
    """C2': on W(V, m), m >= 2, the stride order with s >= ceil((V-1)/(m-1)) has SER = 0 and
    KL(q||p) = (ceil(L/s) - 1)(log V - H(P^s[a, .])) (exact engine, 1e-9)."""
    V, m = window
    length = data.draw(st.integers(2, 7 if V <= 4 else 6))
    smallest = math.ceil((V - 1) / (m - 1))
    s = data.draw(st.integers(smallest, smallest + 3))
    language = window_language(V, m)
    result = exact_law(language, length, f"stride:{s}")
    assert stride_is_error_free(V, m, s)
    assert result.ser == 0.0
    assert result.kl == pytest.approx(stride_order_kl(language, length, s), abs=1e-9)
    assert result.kl_expected == pytest.approx(result.kl, abs=1e-9)  # an explicit order: B1's sum is the KL


@pytest.mark.parametrize("window, stride", [((4, 2), 3), ((4, 2), 5), ((8, 2), 7)])
def test_c2prime_at_scale(window, stride):
    """C2' at L = 1024: no invalid sample among 300 (SER = 0 exactly), and Monte Carlo B1 (x ~ q) within
    5 standard errors of the closed-form KL (linear in L)."""
    language = window_language(*window)
    out = sample_mdm(language, 1024, f"stride:{stride}", 300, rng=3)
    assert language.is_valid(out.samples).all()
    b1 = estimate_b1(language, 1024, f"stride:{stride}", 200, rng=4)
    exact = stride_order_kl(language, 1024, stride)
    assert abs(b1["kl_expected"] - exact) <= 5 * b1["kl_expected_stderr"] + 1e-9
    assert exact > 0  # error-free, but not free: the first step pays the total correlation of its tokens


def test_c2prime_needs_a_long_enough_stride():
    """Below ceil((V-1)/(m-1)) the first step's tokens constrain each other and the stride order can fail."""
    language = window_language(8, 2)  # needs s >= 7
    assert not stride_is_error_free(8, 2, 3)
    out = sample_mdm(language, 256, "stride:3", 200, rng=1)
    assert not language.is_valid(out.samples).all()
