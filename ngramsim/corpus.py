r"""n-gram languages fitted to a corpus: counts, smoothing, ``mu`` from the corpus, a vocabulary to decode.

:func:`fit_language` tokenises a text (``char``, ``bytes`` or ``whitespace``),
counts the ``n``-grams and builds SPEC §1's ``(V, n, P, mu)``:

* ``P(v | c) = (N(c, v) + k) / (N(c) + k V)`` for ``smoothing="add-k:K"``;
* ``"interp"``: Witten–Bell interpolation with the next lower order,
  ``P_n(v | c) = (N(c, v) + T(c) P_{n-1}(v | c')) / (N(c) + T(c))`` with ``T(c)`` the number
  of distinct tokens seen after ``c`` and ``c'`` the context without its oldest token,
  down to the unigram law (contexts never seen use the lower order alone);
* ``"none"``: maximum likelihood, ``N(c, v) / N(c)`` (zeros stay zeros: unseen transitions are
  forbidden); a context never seen gets the next lower order's row (down to the unigram law);

optionally sparsified for large vocabularies: keep each row's ``K`` largest entries and mix in a
teleport, ``P' = (1 - eps) P_K + eps 1 nu^T`` with ``nu`` the unigram law.  ``mu`` is the law of
the ``n - 1``-token windows of the corpus.  The vocabulary goes into ``meta["vocabulary"]`` (a
list of token strings, index = token id), so samples can be decoded back to text
(:func:`decode_tokens`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ngramsim._validation import check_int, check_real, check_table_size
from ngramsim.sources import NGramLanguage

__all__ = ["tokenize", "fit_language", "decode_tokens", "TOKENIZERS", "SHIPPED_CORPUS"]

TOKENIZERS = ("char", "bytes", "whitespace")

#: A small public-domain English text shipped with ngramsim (see ``ngramsim/data/README.md``).
SHIPPED_CORPUS = Path(__file__).resolve().parent / "data" / "public_domain.txt"


def tokenize(data, tokenizer="char") -> list[str]:
    """Split ``data`` (``str`` or ``bytes``) into token strings.

    ``char``: Unicode characters; ``bytes``: the bytes of the UTF-8 encoding, each spelled as the
    one-character string ``chr(b)`` (Latin-1); ``whitespace``: words split on runs of whitespace.
    """
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {tokenizer!r}")
    if tokenizer == "bytes":
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        return [chr(b) for b in raw]
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"corpus is not valid UTF-8 ({exc}); use tokenizer='bytes'") from None
    return data.split() if tokenizer == "whitespace" else list(data)


def decode_tokens(tokens, vocabulary, tokenizer="char") -> str:
    """The text of a token sequence: concatenated (``char``), space-joined (``whitespace``), or UTF-8 bytes.

    The inverse of the tokenisation of :func:`fit_language`, up to whitespace
    (``whitespace`` joins with single spaces).

    Parameters
    ----------
    tokens : sequence of int
        Token ids, e.g. a row of :attr:`MDMSamples.samples`.  Ids are not checked: an id
        beyond the vocabulary raises ``IndexError`` and a negative id counts from the end,
        as Python list indexing does.
    vocabulary : sequence of str
        Token strings indexed by id, as stored in ``language.meta["vocabulary"]`` by
        :func:`fit_language`.
    tokenizer : {"char", "bytes", "whitespace"}
        The tokeniser the language was fitted with.  ``bytes`` reassembles the bytes
        (each token the one-character string ``chr(b)``) and decodes them as UTF-8,
        replacing invalid sequences with U+FFFD; any value other than ``bytes`` and
        ``whitespace`` concatenates, as ``char`` does.

    Returns
    -------
    str

    Raises
    ------
    IndexError
        If an id is ``>= len(vocabulary)``.

    Examples
    --------
    >>> from ngramsim import decode_tokens, fit_language
    >>> lang = fit_language("the cat sat on the mat", 2, tokenizer="whitespace")
    >>> vocabulary = lang.meta["vocabulary"]
    >>> vocabulary
    ['cat', 'mat', 'on', 'sat', 'the']
    >>> decode_tokens([4, 0, 3], vocabulary, "whitespace")
    'the cat sat'
    >>> decode_tokens([0, 2, 1], ["h", chr(0xA9), chr(0xC3)], "bytes")  # the UTF-8 bytes 68 C3 A9
    'hé'
    """
    words = [vocabulary[int(t)] for t in tokens]
    if tokenizer == "whitespace":
        return " ".join(words)
    if tokenizer == "bytes":
        return bytes(ord(w) for w in words).decode("utf-8", errors="replace")
    return "".join(words)


def _parse_smoothing(smoothing):
    if smoothing in ("none", "interp"):
        return smoothing, 0.0
    if isinstance(smoothing, str) and smoothing.startswith("add-k:"):
        try:
            k = float(smoothing[6:])
        except ValueError:
            raise ValueError(f"smoothing add-k:K needs a number K > 0, got {smoothing!r}") from None
        if not k > 0:
            raise ValueError(f"smoothing add-k:K needs K > 0, got {smoothing!r}")
        return "add-k", k
    raise ValueError(f"smoothing must be 'add-k:K', 'interp' or 'none', got {smoothing!r}")


def _counts(ids, V, order):
    """``N[c, v]`` for contexts of ``order - 1`` tokens (C-order index), as a dense ``(V^(n-1), V)`` array."""
    m = order - 1
    K = V**m
    counts = np.zeros((K, V))
    if m == 0:
        np.add.at(counts[0], ids, 1.0)
        return counts
    ctx = np.zeros(len(ids) - m, dtype=np.int64)
    for j in range(m):
        ctx = ctx * V + ids[j : len(ids) - m + j]
    np.add.at(counts, (ctx, ids[m:]), 1.0)
    return counts


def _rows(counts, smoothing, k, lower):
    """Conditional rows from counts; ``lower[c']`` (shape ``(V^(n-2), V)``) is the next lower order's table."""
    K, V = counts.shape
    totals = counts.sum(axis=1, keepdims=True)
    if smoothing == "add-k":
        return (counts + k) / (totals + k * V)
    shorter = np.arange(K) % lower.shape[0]  # drop the oldest token of the context
    back = lower[shorter]
    if smoothing == "none":
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), back)
    distinct = (counts > 0).sum(axis=1, keepdims=True)
    return (counts + distinct * back) / np.where(totals > 0, totals + distinct, 1.0) * (totals > 0) + back * (totals == 0)


def fit_language(corpus, order, *, tokenizer="char", smoothing="add-k:0.5", top_k=None, teleport=0.0,
                 name=None) -> NGramLanguage:
    r"""Fit an order-``n`` language to ``corpus`` (see the module docstring for the estimators).

    The vocabulary ``V`` is the sorted set of distinct tokens; ``P`` is estimated
    from the counts ``N(c, v)`` of each ``n``-gram (context ``c``, next token ``v``)
    and ``N(c) = sum_v N(c, v)``:

    * ``add-k:K``: ``P(v | c) = (N(c, v) + K) / (N(c) + K V)``;
    * ``interp``: Witten-Bell, ``P_n(v | c) = (N(c, v) + T(c) P_{n-1}(v | c')) / (N(c) + T(c))``,
      ``T(c)`` the number of distinct successors of ``c``, ``c'`` the context without its
      oldest token, down to the unigram law ``nu``;
    * ``none``: ``N(c, v) / N(c)`` (unseen transitions forbidden; an unseen context gets the
      next lower order's row).

    ``mu`` is the empirical law of the ``(n - 1)``-token windows of the corpus.

    Parameters
    ----------
    corpus : str, bytes or path-like
        The text (a :class:`pathlib.Path` is read as a file).
    order : int
        ``n >= 1``; the dense table ``V^(n-1) x V`` must fit (lower ``order`` or ``top_k`` otherwise).
    tokenizer : {"char", "bytes", "whitespace"}
        Unicode characters, the bytes of the UTF-8 encoding, or words split on runs of
        whitespace.
    smoothing : {"add-k:K", "interp", "none"}
        The estimator above (default ``"add-k:0.5"``); ``K > 0``.
    top_k : int, optional
        Keep each row's ``K`` largest entries (renormalised) ...
    teleport : float
        ... and mix in ``eps`` times the unigram law: ``P' = (1 - eps) P_K + eps 1 nu^T``, ``0 <= eps < 1``.
    name : str, optional
        Default ``"corpus(n=...,V=...,<tokenizer>,<smoothing>)"``.

    Returns
    -------
    NGramLanguage or SparseLanguage
        ``meta`` holds ``family="corpus"``, ``vocabulary``, ``tokenizer``, ``smoothing``,
        ``num_tokens`` and the sparsification.  A :class:`~ngramsim.sparse.SparseLanguage`
        (``P_K`` from the top ``K`` entries, ``nu = mu`` = the unigram law, the teleport ``eps``)
        when ``order == 2``, ``top_k`` is given and the dense ``V x V`` table would exceed the
        size limit; its rows are built a block at a time, never as a ``V x V`` array.

    Raises
    ------
    TypeError
        If ``corpus`` is not text, bytes or a :class:`pathlib.Path`, or ``order`` /
        ``top_k`` is not an integer, or ``teleport`` not a real number.
    ValueError
        If ``tokenizer`` or ``smoothing`` is not recognised, ``n < 1``, ``top_k < 1``,
        ``teleport`` lies outside ``[0, 1)``, the corpus has fewer than ``max(n, 2)``
        tokens or a single distinct token, bytes are not UTF-8 (tokenizers ``char`` and
        ``whitespace``), or the table ``V^(n-1) x V`` exceeds the size limit (except order 2
        with ``top_k``: the sparse result).
    OSError
        If a :class:`pathlib.Path` cannot be read.

    Notes
    -----
    Corpus-fitted languages are the realistic sources beside the synthetic
    families: with ``smoothing="none"`` they keep forbidden transitions, so the
    SER questions of Feng et al. (2025, arXiv:2502.09622) apply to them.

    Examples
    --------
    >>> from ngramsim.corpus import fit_language
    >>> lang = fit_language("abracadabra " * 20, 2, smoothing="none")
    >>> lang.meta["vocabulary"], round(float(lang.prob(list(map(lang.meta["vocabulary"].index, "abra")))), 4) > 0
    ([' ', 'a', 'b', 'c', 'd', 'r'], True)
    """
    if isinstance(corpus, Path):
        corpus = corpus.read_bytes()
    if not isinstance(corpus, str | bytes | bytearray):
        raise TypeError(f"corpus must be text, bytes or a pathlib.Path, got {type(corpus).__name__}")
    n = check_int(order, "order", minimum=1)
    method, k = _parse_smoothing(smoothing)
    eps = check_real(teleport, "teleport", low=0.0, high=1.0, high_open=True)
    tokens = tokenize(corpus, tokenizer)
    if len(tokens) < max(n, 2):
        raise ValueError(f"corpus has {len(tokens)} tokens; an order-{n} language needs at least {max(n, 2)}")
    vocabulary = sorted(set(tokens))
    V = len(vocabulary)
    if V < 2:
        raise ValueError(f"corpus has a single distinct token {vocabulary[0]!r}; a language needs vocab_size >= 2")
    K = None if top_k is None else check_int(top_k, "top_k", minimum=1)
    sparse = False
    try:
        check_table_size(V, n)
    except ValueError as exc:
        if n != 2 or K is None:
            hint = " or pass top_k (--top-k K) for a sparse order-2 language" if n == 2 else ""
            raise ValueError(f"{exc} (the corpus has {V} distinct {tokenizer} tokens){hint}") from None
        sparse = True  # order 2 with top_k over the dense limit: never build the V x V table
    index = {t: i for i, t in enumerate(vocabulary)}
    ids = np.fromiter((index[t] for t in tokens), dtype=np.int64, count=len(tokens))
    unigram = np.bincount(ids, minlength=V) / len(ids)
    meta = {
        "family": "corpus",
        "vocabulary": vocabulary,
        "tokenizer": tokenizer,
        "smoothing": smoothing,
        "num_tokens": int(len(tokens)),
        "top_k": K,
        "teleport": eps,
    }
    name = name or f"corpus(n={n},V={V},{tokenizer},{smoothing})"
    if sparse:
        from ngramsim.sparse import SparseLanguage

        top_index, top_prob = _sparse_top_rows(ids, V, min(K, V), method, k, unigram)
        return SparseLanguage(top_index, top_prob, eps, unigram, unigram, name=name, meta=meta)
    table = unigram[None, :]
    for level in range(2, n + 1):  # build every order up to n (interp and none back off to the lower one)
        table = _rows(_counts(ids, V, level), method, k, table)
    if K is not None:
        if K < V:
            cut = np.argsort(-table, axis=1, kind="stable")[:, K:]
            table = table.copy()
            np.put_along_axis(table, cut, 0.0, axis=1)
            table /= table.sum(axis=1, keepdims=True)
    if eps > 0:
        table = (1.0 - eps) * table + eps * unigram[None, :]
    m = n - 1
    if m == 0:
        mu = np.array([1.0])
    else:
        windows = _counts(np.append(ids, 0), V, m + 1).sum(axis=1)  # counts of every (n-1)-window
        mu = windows / windows.sum()
    return NGramLanguage(table, mu, order=n, name=name, meta=meta)


#: Rows of the order-2 table materialised at once by :func:`_sparse_top_rows` (times ``V`` entries).
_ROW_BLOCK_ENTRIES = 2**22


def _sparse_top_rows(ids, V, K, method, k, unigram):
    """``(top_index, top_prob)`` of the order-2 estimator's rows, never holding more than a block of rows.

    Pair counts are gathered sparsely (``np.unique`` of ``a V + b``); each block of rows is then built
    densely, exactly as the dense path builds it (:func:`_rows`), and cut to its ``K`` largest entries
    with the dense path's tie rule (a stable sort: smaller token ids first), then renormalised.
    """
    pairs, counts = np.unique(ids[:-1] * V + ids[1:], return_counts=True)
    rows_of = pairs // V
    bounds = np.searchsorted(rows_of, np.arange(V + 1))
    block = max(1, _ROW_BLOCK_ENTRIES // V)
    top_index = np.empty((V, K), dtype=np.int64)
    top_prob = np.empty((V, K))
    lower = unigram[None, :]
    for first in range(0, V, block):
        last = min(first + block, V)
        dense = np.zeros((last - first, V))
        lo, hi = bounds[first], bounds[last]
        dense[rows_of[lo:hi] - first, pairs[lo:hi] % V] = counts[lo:hi]
        table = _rows(dense, method, k, lower)
        cut = np.argsort(-table, axis=1, kind="stable")[:, :K]
        kept = np.take_along_axis(table, cut, axis=1)
        top_index[first:last] = cut
        top_prob[first:last] = kept / kept.sum(axis=1, keepdims=True)
    return top_index, top_prob
