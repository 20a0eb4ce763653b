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

from ngramsim import (
    dirichlet_language,
    dual_total_correlation,
    estimate_b1,
    exact_law,
    expected_kl,
    noisy_copy_language,
    noisy_parity_language,
    parse_schedule,
    phi_curve,
    sample_mdm,
    total_correlation,
    window_language,
    wilson_interval,
)
from ngramsim.bounds import (
    a2_ter_bound,
    b4_li_cai_bound,
    b4prime_bound,
    b4prime_weights,
    b5_dtc_bound,
    b5_tc_bound,
    b6_entropy_bounded_step_bound,
    b7_one_step_lower_bound,
    c2_ser_lower_bound,
    c3_ser_lower_bound,
)
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


# ------------------------------------------------------------------ A2, B3, B4, B4', B5, B6, B7, C3
def _order2(seed, V=3, forbidden=0.3):
    return dirichlet_language(V, 2, concentration=0.7, forbidden=forbidden, rng=seed)


@st.composite
def count_schedules(draw, length):
    kind = draw(st.sampled_from(["uniform", "grow", "shrink", "counts"]))
    if kind == "counts":
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=min(length - 1, 12))))
        return "counts:" + ",".join(map(str, np.diff([0, *cuts, length])))
    return f"{kind}:{draw(st.integers(1, length))}"


@settings(max_examples=30)
@given(st.integers(0, 2**31), st.sampled_from([16, 64]), st.sampled_from([0.0, 0.05]))
def test_a2_ter_bound(seed, num_steps, lam):
    """A2 (reconstructed constants): KL(q||p)/L <= eps_learning + 4 eps log V, eps = ((n-1)/N)^(1/n),
    for L above the theorem's threshold; uniformly random positions with N steps stand in for the
    paper's schedule, and KL(q||p) <= E KL(q||p_S) (B3) is what is computed: exactly by B2 when
    lambda = 0, by Monte Carlo B1 (upper 99.9% limit) otherwise, with eps_learning = -log(1 - lambda)
    (p_theta >= (1 - lambda) q)."""
    language = _order2(seed)
    a2 = a2_ter_bound(language, num_steps, learning_kl=-math.log1p(-lam))
    L = max(int(math.ceil(a2["min_length"])) + 1, 64)
    spec = f"uniform:{num_steps}"
    if lam == 0.0:
        observed = expected_kl(language, L, spec)["kl_expected"] / L
    else:
        b1 = estimate_b1(language, L, spec, 100, rng=seed, learning_error=lam)
        observed = (b1["kl_expected"] - 3.29 * b1["kl_expected_stderr"]) / L
    assert observed <= a2["bound"] + 1e-12


@settings(max_examples=25)
@given(st.integers(0, 2**31), st.sampled_from([0.0, 0.15]), st.sampled_from([1.0, 0.7, 1.6]), st.data())
def test_b3_convexity(seed, lam, tau, data):
    """B3: for non-adaptive schedules KL(q || p) <= E_S KL(q || p_S) (exact engine, 1e-12)."""
    language = _order2(seed, V=2)
    length = data.draw(st.integers(2, 7))
    spec = data.draw(position_oblivious_schedules(length))
    r = exact_law(language, length, spec, learning_error=lam, temperature=tau)
    assert r.kl <= r.kl_expected + 1e-12


@settings(max_examples=30)
@given(st.integers(0, 2**31), st.sampled_from([8, 40, 200]), st.data())
def test_b4_li_cai_bound(seed, length, data):
    """B4 (Li & Cai 2025, Thm 1): E_S KL(q||p_S) <= (2^ceil(log2 s_max) - 1)/L (TC + DTC), ideal model (B2 exact)."""
    language = _order2(seed)
    spec = data.draw(count_schedules(length))
    observed = expected_kl(language, length, spec)["kl_expected"]
    assert observed <= b4_li_cai_bound(language, length, spec) + 1e-9


@settings(max_examples=30)
@given(st.integers(0, 2**31), st.sampled_from([8, 40, 200]), st.data())
def test_b4prime_bound(seed, length, data):
    """B4' (ours): E_S KL(q||p_S) <= (s_max - 1)/L (TC + DTC), and B4' is never weaker than B4."""
    language = _order2(seed)
    spec = data.draw(count_schedules(length))
    observed = expected_kl(language, length, spec)["kl_expected"]
    bound = b4prime_bound(language, length, spec)
    assert observed <= bound + 1e-9
    assert bound <= b4_li_cai_bound(language, length, spec) + 1e-12


@settings(max_examples=20)
@given(st.integers(0, 2**31), st.integers(5, 10), st.data())
def test_b4prime_identity_order3(seed, length, data):
    """B4' on order 3 (Phi by enumeration): E KL = sum_k D_k w_k, TC = sum_k D_k (L-1-k), DTC = sum_k D_k (k+1) (1e-9)."""
    language = dirichlet_language(2, 3, concentration=0.7, forbidden=0.3, rng=seed)
    spec = data.draw(count_schedules(length))
    phi = phi_curve(language, length)[0]
    d = -np.diff(phi, n=2)  # D_k = DeltaPhi(k) - DeltaPhi(k+1), k = 0 .. L-2
    resolved = parse_schedule(spec).resolve(length)
    w = b4prime_weights(resolved.sizes)[:-1]
    k = np.arange(length - 1)
    assert np.all(d >= -1e-12)  # Phi is concave (submodularity of entropy)
    assert expected_kl(language, length, spec)["kl_expected"] == pytest.approx(float(d @ w), abs=1e-9)
    assert total_correlation(language, length).value == pytest.approx(float(d @ (length - 1 - k)), abs=1e-9)
    assert dual_total_correlation(language, length).value == pytest.approx(float(d @ (k + 1)), abs=1e-9)


@settings(max_examples=30)
@given(st.integers(0, 2**31), st.sampled_from([12, 60, 300]), st.data())
def test_b5_bounds(seed, length, data):
    """B5 (ours, via B4'): E KL <= max_k w_k/(k+1) DTC and E KL <= max_k w_k/(L-1-k) TC for every count schedule."""
    language = _order2(seed)
    spec = data.draw(count_schedules(length))
    observed = expected_kl(language, length, spec)["kl_expected"]
    assert observed <= b5_dtc_bound(language, length, spec) + 1e-9
    assert observed <= b5_tc_bound(language, length, spec) + 1e-9


@pytest.mark.parametrize("num_steps", [4, 6])
def test_b5_which_order_wins(num_steps):
    """B5's corrected wording (SPEC's execution order): on a TC-heavy source (a noisy copy) growing sizes
    (small blocks first) beat shrinking ones; on a DTC-heavy source (noisy parity, order 4) shrinking
    sizes (big blocks first) win.  Exact E KL from B2 (order 2 at L = 256; enumeration at L = 16)."""
    copy, parity = noisy_copy_language(2, 0.02), noisy_parity_language(4, 0.3)
    assert total_correlation(copy, 256).value > dual_total_correlation(copy, 256).value
    assert dual_total_correlation(parity, 16).value > total_correlation(parity, 16).value
    grow, shrink = f"grow:{num_steps}", f"shrink:{num_steps}"
    assert expected_kl(copy, 256, grow)["kl_expected"] < expected_kl(copy, 256, shrink)["kl_expected"]
    assert expected_kl(parity, 16, shrink)["kl_expected"] < expected_kl(parity, 16, grow)["kl_expected"]
    # ... and the bound that explains each winner is the smaller of the two for it.
    assert b5_dtc_bound(copy, 256, grow) < b5_tc_bound(copy, 256, grow)
    assert b5_tc_bound(parity, 16, shrink) < b5_dtc_bound(parity, 16, shrink)


@settings(max_examples=25)
@given(st.integers(0, 2**31), st.sampled_from([0.0, 0.2]), st.sampled_from([1.0, 1.5]), st.sampled_from([0.1, 0.5, 1.2]), st.data())
def test_b6_entropy_bounded_step_bound(seed, lam, tau, gamma, data):
    """B6: along eb:gamma every step's dependence term E TC(X_S | X_R) <= gamma (+ tie slack), tau >= 1, any lambda."""
    language = _order2(seed, V=data.draw(st.sampled_from([2, 3])))
    length = data.draw(st.integers(2, 6))
    r = exact_law(language, length, f"eb:{gamma}", learning_error=lam, temperature=tau)
    bound = b6_entropy_bounded_step_bound(gamma, tau)
    assert max(step["tc"] for step in r.steps) <= bound + 1e-12


def test_b6_refuses_sharpening():
    with pytest.raises(ValueError, match="temperature >= 1"):
        b6_entropy_bounded_step_bound(0.5, 0.7)


@settings(max_examples=25)
@given(st.integers(0, 2**31), st.sampled_from([0.0, 0.1]), st.sampled_from([1.0, 0.6, 1.8]), st.integers(2, 7))
def test_b7_one_step_lower_bound(seed, lam, tau, length):
    """B7: one parallel step has KL(q||p) >= TC(X), with equality for the ideal model (1e-9)."""
    language = _order2(seed, V=2)
    kl = exact_law(language, length, "uniform:1", learning_error=lam, temperature=tau).kl
    tc = b7_one_step_lower_bound(language, length)
    assert kl >= tc - 1e-9
    if lam == 0.0 and tau == 1.0:
        assert kl == pytest.approx(tc, abs=1e-9)


@settings(max_examples=25)
@given(st.sampled_from([(3, 2), (4, 2), (4, 3), (5, 2)]), st.sampled_from([0.05, 0.2]), st.sampled_from([0.5, 1.0, 2.0]), st.data())
def test_c3_ser_lower_bound(window, lam, tau, data):
    """C3: on W(V, m), ar has SER = 1 - (1 - lambda(V-m)/V)^(L-1) and every one-token-per-step order
    (random explicit orders, topk:L, margin:L) has SER >= 1 - (1 - lambda(V-m)/V)^floor(L/2), any tau."""
    V, m = window
    language = window_language(V, m)
    length = data.draw(st.integers(2, 6 if V <= 4 else 5))
    kind = data.draw(st.sampled_from(["ar", "order", "topk", "margin"]))
    if kind == "order":
        perm = data.draw(st.permutations(range(length)))
        spec = "order:" + ";".join(map(str, perm))
    else:
        spec = "ar" if kind == "ar" else f"{kind}:{length}"
    ser = exact_law(language, length, spec, learning_error=lam, temperature=tau).ser
    bound = c3_ser_lower_bound(language, length, spec, lam)
    if spec == "ar":
        assert ser == pytest.approx(bound, abs=1e-12)
    assert ser >= bound - 1e-12


def test_c3_rejects_other_schedules():
    with pytest.raises(ValueError, match="one token per step"):
        c3_ser_lower_bound(window_language(4, 2), 8, "uniform:4", 0.1)
