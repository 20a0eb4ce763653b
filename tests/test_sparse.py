"""SparseLanguage (top-K rows plus a rank-one teleport): conditionals against the dense forward-backward,
sampling laws and sample equality with the dense sampler, support from integers, corpus fitting, files, errors."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ngramsim._validation as validation
from ngramsim import (
    LanguageFormatError,
    conditional_marginals,
    dirichlet_language,
    fit_language,
    language_sha256,
    read_language,
    sample_mdm,
    write_language,
)
from ngramsim.cli import main
from ngramsim.sparse import TRUNCATION_ETA, SparseLanguage
from tests import reference
from tests.stats import gof_pvalue

TOL = 1e-12


def _random_sparse(V, K, eps, seed, nu_zeros=False, concentration=0.5):
    rng = np.random.default_rng(seed)
    index = np.argsort(rng.random((V, V)), axis=1)[:, :K]
    prob = rng.dirichlet(np.full(K, concentration), size=V)
    prob[prob < 0.05] = 0.0  # real zeros inside the top-K rows
    prob[np.arange(V), 0] += 1e-3
    prob /= prob.sum(axis=1, keepdims=True)
    nu = rng.dirichlet(np.ones(V))
    if nu_zeros:
        nu[: V // 2] = 0.0
        nu /= nu.sum()
    mu = rng.dirichlet(np.ones(V))
    mu[rng.random(V) < 0.3] = 0.0
    mu[0] += 0.1
    mu /= mu.sum()
    return SparseLanguage(index, prob, eps, nu, mu)


# ------------------------------------------------------------------ conditionals vs the dense path
@settings(max_examples=60, deadline=None)
@given(
    V=st.integers(3, 40),
    K=st.integers(1, 40),
    eps=st.sampled_from([0.0, 1e-3, 0.3, 0.9]),
    nu_zeros=st.booleans(),
    seed=st.integers(0, 2**31),
    L=st.integers(1, 120),
    density=st.sampled_from([0.0, 0.02, 0.1, 0.5]),
)
def test_conditionals_match_dense(V, K, eps, nu_zeros, seed, L, density):
    K = min(K, V)
    lang = _random_sparse(V, K, eps, seed, nu_zeros=nu_zeros)
    dense = lang.to_dense()
    rng = np.random.default_rng(seed + 1)
    x = dense.sample(L, 1, rng=rng)[0]
    revealed = rng.random(L) < density
    if rng.random() < 0.3:  # impossible evidence sometimes (zeros with eps = 0 or nu zeros)
        x = rng.integers(V, size=L)
    rows, possible = lang.conditional_marginals(x, revealed)
    expected, log_evidence = conditional_marginals(dense, x, revealed)
    assert possible == bool(np.isfinite(log_evidence))
    assert np.abs(rows - expected).max() <= TOL


def test_truncation_is_exercised_and_within_tolerance():
    # eps large: the cut-off D is far below L, so most conditionals use the rank-one part alone.
    for eps in (0.5, 0.9):
        lang = _random_sparse(12, 3, eps, seed=3)
        L = 300
        D = lang.cutoff(L)
        assert D < L // 4
        assert (1 - eps) ** D <= TRUNCATION_ETA * eps * lang.nu.min()
        dense = lang.to_dense()
        rng = np.random.default_rng(4)
        worst = 0.0
        for _ in range(20):
            x = dense.sample(L, 1, rng=rng)[0]
            revealed = np.zeros(L, dtype=bool)
            revealed[rng.choice(L, 3, replace=False)] = True  # long gaps, beyond D
            rows, _ = lang.conditional_marginals(x, revealed)
            expected, _ = conditional_marginals(dense, x, revealed)
            worst = max(worst, np.abs(rows - expected).max())
        assert worst <= TOL


def test_early_stops_of_mixed_messages_are_exercised_and_within_tolerance():
    # Small eps: the cut-off D is near L, but sweeps stop once a message has mixed (forward within
    # eta min w_d of (1-eps)^d rho, backward spread within eta w_d(b)); conditionals stay within TOL.
    from ngramsim._kernels import sparse as kernels

    L = 400
    for eps, K in ((0.05, 4), (0.02, 6), (0.3, 3)):
        lang = _random_sparse(24, K, eps, seed=5)
        tables = lang._tables(L)
        V = lang.vocab_size
        scratch = (np.empty(V), np.empty(V), np.empty(V, dtype=np.int64), np.empty(V, dtype=np.int64),
                   np.zeros(V, dtype=bool))
        stops = np.zeros(L, dtype=np.int64)
        out = np.zeros((L, V))
        kernels._sweep(3, 0, True, np.array([L - 1]), out, scratch, lang._model, tables, stops)
        kernels._sweep(3, L - 1, False, np.array([0]), out, scratch, lang._model, tables, stops)
        assert 0 < stops[0] < tables[2] and 0 < stops[L - 1] < tables[2]
        dense = lang.to_dense()
        rng = np.random.default_rng(1)
        worst = 0.0
        for _ in range(10):
            x = dense.sample(L, 1, rng=rng)[0]
            revealed = rng.random(L) < 0.02
            rows, _ = lang.conditional_marginals(x, revealed)
            expected, _ = conditional_marginals(dense, x, revealed)
            worst = max(worst, np.abs(rows - expected).max())
        assert worst <= TOL


def test_truncation_bound_holds_for_the_dropped_part():
    # The dropped part against the exact one at every distance from D on, for every (a, b).
    lang = _random_sparse(8, 2, 0.6, seed=11)
    D = lang.cutoff(200)
    P = lang.dense_transitions()
    A = np.zeros((8, 8))
    np.put_along_axis(A, lang.top_index, (1 - lang.teleport) * lang.top_prob, axis=1)
    for d in (D, D + 5):
        full = np.linalg.matrix_power(P, d)
        rank_one = full - np.linalg.matrix_power(A, d)  # 1 w_d^T: every row equal
        assert np.allclose(rank_one, rank_one[0][None, :], atol=1e-15)
        assert np.all(full <= rank_one * (1 + TRUNCATION_ETA) + 1e-300)


# ------------------------------------------------------------------ sampling
def test_mdm_samples_equal_dense_sampler():
    # Same streams, same step assignment, same inverse-CDF rule: the same samples.
    for eps, seed in ((0.0, 1), (0.2, 2), (0.95, 3)):
        lang = SparseLanguage.from_dense(dirichlet_language(7, 2, concentration=0.5, forbidden=0.4, rng=seed), 3, eps)
        dense = lang.to_dense()
        for spec in ("uniform:5", "linear:9", "cosine:3", "counts:2,20,3,15", "ar", "stride:4", "order:0,5;1,2,3,4;"
                     + ",".join(map(str, range(6, 40))), "blocks:16:uniform:6"):
            a = sample_mdm(lang, 40, spec, 150, rng=seed)
            b = sample_mdm(dense, 40, spec, 150, rng=seed)
            assert a.kernel == "sparse"
            np.testing.assert_array_equal(a.step_sizes, b.step_sizes)
            np.testing.assert_array_equal(a.step_indices, b.step_indices)
            np.testing.assert_array_equal(a.nfe, b.nfe)
            np.testing.assert_array_equal(a.samples, b.samples)
            np.testing.assert_array_equal(a.fallback, b.fallback)
            np.testing.assert_array_equal(a.learning_kl_count, b.learning_kl_count)


@pytest.mark.parametrize("spec", ["uniform:2", "linear:3", "order:0,3;1,2"])
def test_mdm_law_equals_exact_law(spec):
    lang = _random_sparse(3, 2, 0.0, seed=5)  # eps = 0: zeros, so parallel steps can fail
    lang = SparseLanguage(lang.top_index, lang.top_prob, 0.0, lang.nu, np.full(3, 1 / 3))
    L = 4
    law, _ = reference.exact_mdm_law(lang.to_dense(), L, spec)
    out = sample_mdm(lang, L, spec, 60_000, rng=20261129)
    assert gof_pvalue(out.samples, law, 3) > 1e-4
    assert np.array_equal(out.fallback, ~lang.is_valid(out.samples))


def test_ancestral_law_and_dense_equality():
    lang = _random_sparse(4, 2, 0.3, seed=7)
    dense = lang.to_dense()
    x = lang.sample_ancestral(4, 60_000, rng=3)
    grid = np.array(np.meshgrid(*[np.arange(4)] * 4, indexing="ij")).reshape(4, -1).T
    assert gof_pvalue(x, dense.prob(grid), 4) > 1e-4
    assert np.array_equal(x, dense.sample(4, 60_000, rng=3))
    assert lang.is_valid(x).all()


def test_validity_from_integers_with_eps_zero():
    # Probabilities of 1e-300 per transition: q(x) underflows to 0 but x is valid.
    V = 3
    index = np.array([[1, 2], [2, 0], [0, 1]])
    prob = np.array([[1 - 1e-300, 1e-300]] * V)
    lang = SparseLanguage(index, prob, 0.0, np.full(V, 1 / V), np.full(V, 1 / V))
    x = np.array([[0, 2, 1, 0, 2, 1], [0, 0, 1, 2, 0, 1], [0, 1, 2, 0, 1, 2]])
    assert lang.is_valid(x).tolist() == [True, False, True]
    assert lang.prob(x)[0] == 0.0 and lang.log_prob(x)[0] > -np.inf
    assert lang.ser(x) == pytest.approx(1 / 3)
    # A teleport law with zeros: b reachable only through the top entries.
    lang = SparseLanguage(index, [[1.0, 0.0]] * V, 0.5, [1.0, 0.0, 0.0], np.full(V, 1 / V))
    assert lang.is_valid([[1, 2, 0, 0], [1, 0, 1, 0], [1, 0, 2, 0], [0, 2, 0, 1]]).tolist() == [True, True, False, False]


def test_fallback_after_impossible_parallel_step():
    from ngramsim import window_language

    lang = SparseLanguage.from_dense(window_language(5, 2), 2, 0.0)
    out = sample_mdm(lang, 12, "uniform:6", 400, rng=0)
    assert np.array_equal(out.fallback, ~lang.is_valid(out.samples))
    assert 0 < out.fallback.mean() < 1


# ------------------------------------------------------------------ corpus, files, CLI
def _corpus(V, n, seed=0):
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.integers(1, 6, n)) % V
    walk[:V] = np.arange(V)  # every token appears
    return " ".join(f"t{j}" for j in walk), walk


@pytest.mark.parametrize("smoothing", ["add-k:0.5", "none", "interp"])
def test_fit_sparse_matches_dense_fit(monkeypatch, smoothing):
    text, _ = _corpus(120, 5000)
    dense = fit_language(text, 2, tokenizer="whitespace", smoothing=smoothing, top_k=4, teleport=0.1)
    monkeypatch.setattr(validation, "MAX_TABLE_ENTRIES", 120 * 120 - 1)
    sparse = fit_language(text, 2, tokenizer="whitespace", smoothing=smoothing, top_k=4, teleport=0.1)
    assert isinstance(sparse, SparseLanguage)
    monkeypatch.undo()
    assert np.abs(sparse.to_dense().transitions - dense.transitions).max() <= 1e-15
    assert np.array_equal(sparse.initial, dense.initial)
    assert sparse.meta["top_k"] == 4 and sparse.meta["vocabulary"] == dense.meta["vocabulary"]


def test_fit_sparse_beyond_the_real_limit_hand_counts():
    V = 4200  # V^2 > 2^24
    text, walk = _corpus(V, 60_000, seed=1)
    lang = fit_language(text, 2, tokenizer="whitespace", smoothing="none", top_k=3, teleport=0.05)
    assert isinstance(lang, SparseLanguage) and lang.vocab_size == V
    vocab = lang.meta["vocabulary"]
    ids = np.array([vocab.index(f"t{j}") for j in walk[:2000]])
    for a in np.unique(ids[:50])[:10]:  # hand counts of the successors of a few tokens
        full = {}
        all_ids = np.array([vocab.index(f"t{j}") for j in walk])
        for b in all_ids[1:][all_ids[:-1] == a]:
            full[b] = full.get(b, 0) + 1
        top = sorted(full.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        kept = sum(c for _, c in top)
        got = {int(t): p for t, p in zip(lang.top_index[a], lang.top_prob[a]) if p > 0}
        assert got == pytest.approx({int(t): c / kept for t, c in top}, abs=1e-15)
    assert lang.nu == pytest.approx(np.bincount(all_ids, minlength=V) / len(all_ids))
    with pytest.raises(ValueError, match="--top-k"):
        fit_language(text, 2, tokenizer="whitespace")


def test_file_round_trip_bit_for_bit(tmp_path):
    lang = _random_sparse(9, 4, 0.37, seed=2)
    lang = SparseLanguage(lang.top_index, lang.top_prob, lang.teleport, lang.nu, lang.initial, name="s",
                          meta={"k": [1, 2]})
    path = tmp_path / "s.json"
    write_language(lang, path)
    back = read_language(path)
    assert isinstance(back, SparseLanguage)
    for field in ("top_index", "top_prob", "nu", "initial"):
        assert np.array_equal(getattr(back, field), getattr(lang, field))
    assert back.teleport == lang.teleport and back.name == "s" and dict(back.meta) == {"k": [1, 2]}
    assert language_sha256(back) == language_sha256(lang)
    assert json.loads(path.read_text())["format"] == "ngramsim.sparse-language/1"
    data = json.loads(path.read_text())
    for field, value, match in (("teleport", 1.0, "teleport"), ("top_prob", [[1.0]] * 9, "top_prob"),
                                ("top_index", [[0, 0, 1, 2]] * 9, "top_index"), ("nu", [0.5] * 9, "nu"),
                                ("extra", 1, "extra"), ("order", 3, "order")):
        bad = dict(data, **{field: value})
        path.write_text(json.dumps(bad))
        with pytest.raises(LanguageFormatError, match=match):
            read_language(path)


def test_cli_fit_and_sample(tmp_path, monkeypatch, capsys):
    text, _ = _corpus(80, 3000)
    corpus = tmp_path / "c.txt"
    corpus.write_text(text)
    monkeypatch.setattr(validation, "MAX_TABLE_ENTRIES", 80 * 80 - 1)
    out = tmp_path / "s.json"
    assert main(["language", "fit", "--corpus", str(corpus), "--order", "2", "--tokenizer", "whitespace",
                 "--top-k", "5", "--teleport", "0.1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["format"] == "ngramsim.sparse-language/1"
    assert main(["language", "fit", "--corpus", str(corpus), "--order", "2", "--tokenizer", "whitespace",
                 "--out", str(tmp_path / "d.json")]) == 2
    assert "--top-k" in capsys.readouterr().err
    assert main(["sample", "--language", str(out), "--length", "50", "--schedule", "uniform:5", "--num-samples",
                 "20", "--seed", "0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kernel"] == "sparse" and report["ser"] == 0.0 and report["nfe_mean"] == 5
    assert main(["sample", "--language", str(out), "--length", "50", "--schedule", "topk:5", "--num-samples",
                 "2", "--seed", "0"]) == 2


# ------------------------------------------------------------------ errors
def test_bad_input():
    good = dict(top_index=[[1], [0]], top_prob=[[1.0], [1.0]], teleport=0.1, nu=[0.5, 0.5], initial=[1.0, 0.0])

    def build(**kw):
        args = dict(good, **kw)
        return SparseLanguage(args["top_index"], args["top_prob"], args["teleport"], args["nu"], args["initial"])

    for eps in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="teleport"):
            build(teleport=eps)
    with pytest.raises(ValueError, match="top_k"):
        build(top_index=np.zeros((2, 0), dtype=int), top_prob=np.zeros((2, 0)))
    with pytest.raises(ValueError, match="top_prob"):
        build(top_prob=[[1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="top_index"):
        build(top_index=[[2], [0]])
    with pytest.raises(TypeError, match="top_index"):
        build(top_index=[[1.0], [0.0]])
    with pytest.raises(ValueError, match="nu"):
        build(nu=[0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="initial"):
        build(initial=[0.2, 0.2])
    lang = build()
    with pytest.raises(ValueError, match="schedule"):
        sample_mdm(lang, 8, "topk:2", 2, rng=0)
    for spec in ("lowconf:2", "remdm:2:0.5", "blocks:4:lowconf:2"):
        with pytest.raises(ValueError, match="schedule"):
            sample_mdm(lang, 8, spec, 2, rng=0)
    with pytest.raises(ValueError, match="learning_error"):
        sample_mdm(lang, 8, "uniform:2", 2, rng=0, learning_error=0.1)
    with pytest.raises(ValueError, match="temperature"):
        sample_mdm(lang, 8, "uniform:2", 2, rng=0, temperature=0.5)
    with pytest.raises(ValueError, match="oracle"):
        sample_mdm(lang, 8, "uniform:2", 2, rng=0, oracle=lambda t, r: None)
    with pytest.raises(NotImplementedError, match="phi_curve"):
        lang.phi_curve(4)
    with pytest.raises(ValueError, match="top_k"):
        fit_language("abcabc", 2, top_k=0)
    with pytest.raises(ValueError, match="order 2"):
        SparseLanguage.from_dense(dirichlet_language(2, 3, concentration=1.0, rng=0), 1, 0.0)
    with pytest.raises(AttributeError):
        lang.teleport = 0.5
