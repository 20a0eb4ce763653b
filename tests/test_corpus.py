"""Languages fitted to a corpus: estimators against hand counts, convergence to a known generator, decoding."""

import json
import math
from collections import Counter

import numpy as np
import pytest

from ngramsim import dirichlet_language, read_language
from ngramsim.cli import main
from ngramsim.corpus import SHIPPED_CORPUS, decode_tokens, fit_language, tokenize

TEXT = "the cat sat on the mat. the dog sat on the log."


def _hand_counts(tokens, n):
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    ctx = Counter(tuple(tokens[i : i + n - 1]) for i in range(len(tokens) - n + 1))
    return grams, ctx


def _row(language, context):
    vocab = language.meta["vocabulary"]
    V = len(vocab)
    index = 0
    for t in context:
        index = index * V + vocab.index(t)
    return np.asarray(language.transitions[index])


def test_add_k_against_hand_counts():
    k = 0.5
    lang = fit_language(TEXT, 3, smoothing=f"add-k:{k}")
    tokens = tokenize(TEXT)
    vocab = lang.meta["vocabulary"]
    V = len(vocab)
    grams, ctx = _hand_counts(tokens, 3)
    for context in [("t", "h"), (" ", "s"), ("o", "g"), ("x", "x") if "x" in vocab else ("q", "q")]:
        if not all(c in vocab for c in context):
            continue
        row = _row(lang, context)
        for v, token in enumerate(vocab):
            expected = (grams[context + (token,)] + k) / (ctx[context] + k * V)
            assert row[v] == pytest.approx(expected, abs=1e-12)


def test_interpolated_rows_follow_witten_bell():
    lang = fit_language(TEXT, 2, smoothing="interp")
    tokens = tokenize(TEXT)
    vocab = lang.meta["vocabulary"]
    unigram = Counter(tokens)
    grams, ctx = _hand_counts(tokens, 2)
    for a in vocab:
        seen = {b for (x, b) in grams if x == a}
        total = ctx[(a,)]
        row = _row(lang, (a,))
        for v, b in enumerate(vocab):
            lower = unigram[b] / len(tokens)
            expected = (grams[(a, b)] + len(seen) * lower) / (total + len(seen)) if total else lower
            assert row[v] == pytest.approx(expected, abs=1e-12)


def test_maximum_likelihood_keeps_zeros_and_backs_off_unseen_contexts():
    lang = fit_language(TEXT, 2, smoothing="none")
    tokens = tokenize(TEXT)
    vocab = lang.meta["vocabulary"]
    grams, ctx = _hand_counts(tokens, 2)
    row = _row(lang, ("t",))
    for v, b in enumerate(vocab):
        assert row[v] == pytest.approx(grams[("t", b)] / ctx[("t",)], abs=1e-12)
    # "." is the last token: never a context, so its row is the unigram law.
    last = tokens[-1]
    assert ctx[(last,)] == 0 or tokens.count(last) > 1
    # mu is the law of the (n-1)-token windows: here the unigram law.
    counts = Counter(tokens)
    np.testing.assert_allclose(lang.initial, [counts[b] / len(tokens) for b in vocab], atol=1e-12)


@pytest.mark.parametrize("order", [2, 3])
def test_fitted_chain_converges_to_its_generator(order):
    """Text sampled from a known chain: every fitted transition lies within 5 binomial standard errors
    (plus 1e-9) of the truth, for contexts seen at least 200 times; mu is within 5 standard errors too."""
    # The first seed whose chain is irreducible, so that every token and context occurs.
    truth = next(lang for lang in (dirichlet_language(4, order, concentration=1.0, forbidden=0.3, rng=s)
                                   for s in range(100)) if lang.is_irreducible)
    letters = "abcd"
    x = truth.sample(200_000, 1, rng=5)[0]
    text = "".join(letters[t] for t in x)
    fitted = fit_language(text, order, smoothing="none")
    assert fitted.meta["vocabulary"] == list(letters)
    P, Q = np.asarray(truth.transitions), np.asarray(fitted.transitions)
    tokens = np.asarray(x)
    m = order - 1
    ctx = np.zeros(len(tokens) - m, dtype=np.int64)
    for j in range(m):
        ctx = ctx * 4 + tokens[j : len(tokens) - m + j]
    seen = np.bincount(ctx, minlength=P.shape[0])
    checked = 0
    for c in range(P.shape[0]):
        if seen[c] < 200:
            continue
        se = np.sqrt(P[c] * (1 - P[c]) / seen[c])
        assert np.all(np.abs(Q[c] - P[c]) <= 5 * se + 1e-9)
        assert np.all((Q[c] > 0) <= (P[c] > 0))  # no transition the generator forbids
        checked += 1
    assert checked >= P.shape[0] // 2
    mu_true = truth.stationary_context
    se = np.sqrt(mu_true * (1 - mu_true) / len(tokens)) * 20  # windows are dependent: a generous factor
    assert np.all(np.abs(np.asarray(fitted.initial) - mu_true) <= 5 * se + 1e-3)


def test_top_k_and_teleport():
    base = fit_language(SHIPPED_CORPUS, 2, smoothing="add-k:0.1")
    lang = fit_language(SHIPPED_CORPUS, 2, smoothing="add-k:0.1", top_k=3, teleport=0.05)
    P, B = np.asarray(lang.transitions), np.asarray(base.transitions)
    unigram = np.bincount([base.meta["vocabulary"].index(t) for t in tokenize(SHIPPED_CORPUS.read_text())],
                          minlength=base.vocab_size)
    unigram = unigram / unigram.sum()
    for c in range(P.shape[0]):
        top = np.argsort(-B[c], kind="stable")[:3]
        kept = np.zeros_like(B[c])
        kept[top] = B[c, top] / B[c, top].sum()
        np.testing.assert_allclose(P[c], 0.95 * kept + 0.05 * unigram, atol=1e-12)


def test_tokenizers_and_decoding():
    text = "naïve café — déjà vu"
    for tokenizer in ("char", "bytes", "whitespace"):
        lang = fit_language(text * 3, 2, tokenizer=tokenizer)
        vocab = lang.meta["vocabulary"]
        ids = [vocab.index(t) for t in tokenize(text, tokenizer)]
        decoded = decode_tokens(ids, vocab, tokenizer)
        assert decoded == (" ".join(text.split()) if tokenizer == "whitespace" else text)


@pytest.mark.parametrize(
    "corpus, kwargs, error, match",
    [
        ("", {}, ValueError, "0 tokens"),
        ("aaaa", {}, ValueError, "single distinct token"),
        ("ab", {"order": 3}, ValueError, "needs at least 3"),
        (b"\xff\xfe\xfa", {}, ValueError, "not valid UTF-8"),
        ("abcabc", {"teleport": 1.0}, ValueError, "teleport"),
        ("abcabc", {"smoothing": "add-k:-1"}, ValueError, "K > 0"),
        ("abcabc", {"smoothing": "kneser"}, ValueError, "smoothing must be"),
        ("abcabc", {"tokenizer": "bpe"}, ValueError, "tokenizer must be"),
        (3, {}, TypeError, "corpus must be"),
    ],
)
def test_bad_corpora(corpus, kwargs, error, match):
    kwargs = {"order": 2, **kwargs}
    with pytest.raises(error, match=match):
        fit_language(corpus, **kwargs)


def test_vocabulary_over_the_dense_limit_is_refused():
    words = " ".join(f"w{i}" for i in range(5000))
    with pytest.raises(ValueError, match="context space too large.*distinct whitespace tokens"):
        fit_language(words, 3, tokenizer="whitespace")


def test_cli_fit_and_decode(tmp_path, capsys):
    out = tmp_path / "t.json"
    assert main(["language", "fit", "--corpus", str(SHIPPED_CORPUS), "--order", "3", "--smoothing", "interp",
                 "--out", str(out)]) == 0
    lang = read_language(out)
    assert lang.meta["family"] == "corpus" and len(lang.meta["vocabulary"]) == lang.vocab_size
    capsys.readouterr()
    assert main(["sample", "--language", str(out), "--length", "80", "--schedule", "ar", "--num-samples", "3",
                 "--seed", "1", "--decode"]) == 0
    lines = capsys.readouterr().out
    assert len(lines) >= 3 * 80 // 2
    assert main(["sample", "--language", str(out), "--length", "40", "--schedule", "uniform:4", "--num-samples", "2",
                 "--seed", "1", "--decode", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["decoded"]) == 2 and all(len(t) == 40 for t in report["decoded"])
    window = tmp_path / "w.json"
    main(["language", "window", "--vocab-size", "4", "--window", "2", "--out", str(window)])
    assert main(["sample", "--language", str(window), "--length", "8", "--schedule", "ar", "--num-samples", "1",
                 "--seed", "0", "--decode"]) == 2
    assert main(["language", "fit", "--corpus", str(tmp_path / "missing.txt"), "--order", "2",
                 "--out", str(tmp_path / "x.json")]) == 2
    assert math.isfinite(lang.entropy_rate())
