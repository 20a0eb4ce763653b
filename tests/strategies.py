"""Hypothesis strategies that *construct* valid n-gram languages (never filter).

Parameters (vocab size, order, sparsity, kind of ``mu``) are drawn by
hypothesis; the numbers inside the tables come from a numpy generator seeded
by a drawn integer, so examples stay cheap and reproducible.
"""

import numpy as np
from hypothesis import strategies as st

from ngramsim import NGramLanguage

MU_KINDS = ("stationary", "dirichlet", "sparse", "point")


def random_rows(gen, shape, forbidden):
    """Rows of Dirichlet(1) draws with each entry zeroed with prob. ``forbidden``, never an empty row."""
    allowed = gen.random(shape) >= forbidden
    empty = ~allowed.any(axis=-1)
    allowed[empty, gen.integers(shape[-1], size=int(empty.sum()))] = True
    w = np.where(allowed, gen.exponential(size=shape), 0.0)
    return w / w.sum(axis=-1, keepdims=True)


def build_language(vocab_size, order, forbidden, mu_kind, seed):
    """A language from explicit parameters (shared by strategies and parametrised tests)."""
    gen = np.random.default_rng(seed)
    K = vocab_size ** (order - 1)
    P = random_rows(gen, (K, vocab_size), forbidden)
    if mu_kind == "dirichlet":
        mu = random_rows(gen, (K,), 0.0)
    elif mu_kind == "sparse":
        mu = random_rows(gen, (K,), 0.5)
    elif mu_kind == "point":
        mu = np.zeros(K)
        mu[gen.integers(K)] = 1.0
    else:
        probe = NGramLanguage(P, np.full(K, 1.0 / K))
        mu = probe.stationary_laws[0]
    return NGramLanguage(P, mu, name=f"test(V={vocab_size},n={order},f={forbidden},mu={mu_kind},seed={seed})")


@st.composite
def languages(draw, vocab_sizes=(2, 5), orders=(1, 4), max_contexts=125, forbidden=None, mu_kinds=MU_KINDS):
    """Valid languages with V and n in the given inclusive ranges and V^(n-1) <= max_contexts."""
    V = draw(st.integers(*vocab_sizes))
    max_order = orders[0]
    while max_order < orders[1] and V**max_order <= max_contexts:
        max_order += 1
    n = draw(st.integers(orders[0], max_order))
    f = draw(st.sampled_from((0.0, 0.3, 0.6))) if forbidden is None else forbidden
    mu_kind = draw(st.sampled_from(mu_kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_language(V, n, f, mu_kind, seed)


def tiny_length(language, max_states=729):
    """The lengths ``L >= max(1, n-1)`` with ``V^L <= max_states`` (brute force stays cheap)."""
    V = language.vocab_size
    lengths = [L for L in range(language.min_length, 12) if V**L <= max_states]
    return lengths or [language.min_length]


@st.composite
def languages_with_length(draw, **kwargs):
    """A language and a length small enough for enumeration of ``V^L``."""
    language = draw(languages(**kwargs))
    return language, draw(st.sampled_from(tiny_length(language)))


@st.composite
def schedule_specs(draw, length):
    """Valid SPEC §2 schedule strings for ``length`` (every kind)."""
    kind = draw(st.sampled_from(["linear", "cosine", "poly", "counts", "uniform", "grow", "shrink", "order", "ar",
                                 "stride", "topk", "margin", "eb", "esum"]))
    if kind in ("linear", "cosine"):
        return f"{kind}:{draw(st.integers(1, length + 2))}"
    if kind == "poly":
        return f"poly:{draw(st.integers(1, length + 2))}:{draw(st.sampled_from([0.5, 1.0, 3.0]))}"
    if kind in ("uniform", "grow", "shrink", "topk", "margin"):
        return f"{kind}:{draw(st.integers(1, length))}"
    if kind == "stride":
        return f"stride:{draw(st.integers(1, length + 1))}"
    if kind == "counts":
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1))) if length > 1 else []
        bounds = [0, *cuts, length]
        return "counts:" + ",".join(str(b - a) for a, b in zip(bounds, bounds[1:]))
    if kind == "order":
        perm = draw(st.permutations(range(length)))
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1))) if length > 1 else []
        bounds = [0, *cuts, length]
        return "order:" + ";".join(",".join(map(str, perm[a:b])) for a, b in zip(bounds, bounds[1:]))
    if kind == "ar":
        return "ar"
    return f"{kind}:{draw(st.sampled_from([0.0, 0.3, 1.0, 2.5]))}"
