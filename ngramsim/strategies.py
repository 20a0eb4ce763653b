r"""Hypothesis strategies for property-testing claims about MDM sampling on n-gram languages.

Every strategy *constructs* a valid object (it never draws at random and filters), so
hypothesis spends no examples on rejections and shrinks towards small cases:

* :func:`languages` -- languages ``(V, n, P, mu)`` (SPEC §1) with forbidden transitions
  (zeros of ``P``; no row is ever empty) and several kinds of ``mu``;
* :func:`window_languages` -- THEORY C1's cyclic window languages ``W(V, m)``;
* :func:`schedule_specs` -- SPEC §2 schedule strings of every kind, valid for a length;
  :func:`one_token_schedule_specs` -- orders that reveal one token per step (fixed,
  random and adaptive);
* :func:`partial_states` -- a revealed set ``R`` and tokens ``x_R`` with ``q(x_R) > 0``,
  obtained by drawing ``x ~ q`` and masking the rest;
* :func:`tiny_lengths` and :func:`languages_with_length` -- lengths with ``V^L`` small
  enough for brute force (enumeration of the whole law, or the exact engine's
  ``(V+1)^L`` partial states).

The numbers inside a language's tables come from a numpy generator seeded by a drawn
integer (:func:`build_language`), so examples are cheap, reproducible from hypothesis's
database, and shrink by shrinking the seed.

This module needs `hypothesis <https://hypothesis.readthedocs.io>`_, which ``import
ngramsim`` does not: install it with ``pip install hypothesis`` (or ``pip install
'ngramsim[test]'``).

Examples
--------
A user conjecture, property-tested (run it with pytest): with the ideal reverse model,
no non-adaptive schedule does worse than one parallel step, whose KL is ``TC(X)``.

.. code-block:: python

    from hypothesis import given, strategies as st
    import ngramsim
    from ngramsim.strategies import NON_ADAPTIVE_KINDS, languages_with_length, schedule_specs

    @given(languages_with_length(vocab_sizes=(2, 3), max_states=243), st.data())
    def test_no_schedule_is_worse_than_one_step(case, data):
        language, length = case
        spec = data.draw(schedule_specs(length, kinds=NON_ADAPTIVE_KINDS))
        kl = ngramsim.exact_law(language, length, spec).kl
        assert kl <= ngramsim.total_correlation(language, length).value + 1e-9
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as exc:  # hypothesis is a test dependency, not a dependency of ngramsim
    raise ImportError(
        "ngramsim.strategies needs hypothesis, which is not installed: "
        "pip install hypothesis (or pip install 'ngramsim[test]')"
    ) from exc

from ngramsim._validation import check_int, check_language, check_real
from ngramsim.families import window_language
from ngramsim.sources import NGramLanguage

__all__ = [
    "MU_KINDS",
    "BERNOULLI_KINDS",
    "COUNT_KINDS",
    "EXPLICIT_KINDS",
    "ADAPTIVE_KINDS",
    "NON_ADAPTIVE_KINDS",
    "BLOCK_KINDS",
    "SCHEDULE_KINDS",
    "PartialState",
    "random_rows",
    "build_language",
    "languages",
    "window_languages",
    "tiny_lengths",
    "languages_with_length",
    "schedule_specs",
    "one_token_schedule_specs",
    "partial_states",
]

#: Kinds of initial law ``mu`` (see :func:`build_language`): a stationary law of the context
#: chain, a Dirichlet(1) draw, a sparse draw (each context forbidden with probability 1/2),
#: a point mass.
MU_KINDS = ("stationary", "dirichlet", "sparse", "point")

#: Schedule kinds by SPEC §2 family (the names of the schedule grammar).
BERNOULLI_KINDS = ("linear", "cosine", "poly")
COUNT_KINDS = ("counts", "uniform", "grow", "shrink")
EXPLICIT_KINDS = ("order", "ar", "stride")
ADAPTIVE_KINDS = ("topk", "margin", "eb", "esum")
NON_ADAPTIVE_KINDS = BERNOULLI_KINDS + COUNT_KINDS + EXPLICIT_KINDS
#: Semi-autoregressive ``blocks:B:uniform:N`` (non-adaptive, but positions are not uniformly
#: random over the sequence, so not in :data:`NON_ADAPTIVE_KINDS`, which B2 relies on).
BLOCK_KINDS = ("blocks",)
SCHEDULE_KINDS = NON_ADAPTIVE_KINDS + ADAPTIVE_KINDS + BLOCK_KINDS

#: Thresholds ``gamma`` drawn for ``eb`` and ``esum`` (0 reveals one token per step with ``eb``).
GAMMAS = (0.0, 0.3, 1.0, 2.5)
#: Forbidden-transition probabilities drawn by :func:`languages` when ``forbidden`` is not given.
FORBIDDEN_LEVELS = (0.0, 0.3, 0.6)


def _check_range(bounds, name, minimum):
    """``(lo, hi)`` as ints with ``minimum <= lo <= hi``, or a ``ValueError`` naming ``name``."""
    try:
        lo, hi = bounds
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (low, high) of integers, got {bounds!r}") from None
    lo = check_int(lo, f"{name}[0]", minimum=minimum)
    hi = check_int(hi, f"{name}[1]", minimum=lo)
    return lo, hi


def random_rows(gen, shape, forbidden) -> np.ndarray:
    r"""Probability rows with random zeros, never an empty row.

    Each entry is forbidden (set to 0) independently with probability ``forbidden``; a row
    left with no allowed entry gets one allowed entry at a uniformly random place, so the
    rows are *constructed* valid.  Allowed entries are proportional to independent
    ``Exp(1)`` draws, i.e. each row is ``Dirichlet(1)`` on its allowed entries.

    Parameters
    ----------
    gen : numpy.random.Generator
    shape : tuple of int
        Shape of the table; rows run along the last axis.
    forbidden : float
        Probability in ``[0, 1]`` that an entry is forbidden.

    Returns
    -------
    ndarray of float64, shape ``shape``
        Non-negative rows summing to 1, each with at least one positive entry.
    """
    allowed = gen.random(shape) >= forbidden
    empty = ~allowed.any(axis=-1)
    allowed[empty, gen.integers(shape[-1], size=int(empty.sum()))] = True
    w = np.where(allowed, gen.exponential(size=shape), 0.0)
    return w / w.sum(axis=-1, keepdims=True)


def build_language(vocab_size, order, forbidden, mu_kind, seed) -> NGramLanguage:
    r"""A random language from explicit parameters (what :func:`languages` draws, for parametrised tests).

    ``P`` has ``V^(n-1)`` rows from :func:`random_rows` (each transition forbidden with
    probability ``forbidden``, rows never empty).  ``mu`` by ``mu_kind``: ``"stationary"``
    the first stationary law of the context chain (``NGramLanguage.stationary_laws[0]``, so
    ``mu`` is stationary even when the chain has several recurrent classes),
    ``"dirichlet"`` a ``Dirichlet(1)`` draw, ``"sparse"`` a draw with each context
    forbidden with probability 1/2, ``"point"`` a point mass on a random context.

    Parameters
    ----------
    vocab_size : int
        ``V >= 2``.
    order : int
        ``n >= 1``.
    forbidden : float
        In ``[0, 1]``.
    mu_kind : str
        One of :data:`MU_KINDS`.
    seed : int
        Seed of the numpy generator that draws the tables.

    Returns
    -------
    NGramLanguage

    Examples
    --------
    .. code-block:: python

        language = build_language(3, 2, 0.3, "stationary", seed=7)   # V = 3, order 2
    """
    V = check_int(vocab_size, "vocab_size", minimum=2)
    n = check_int(order, "order", minimum=1)
    forbidden = check_real(forbidden, "forbidden", low=0.0, high=1.0)
    if mu_kind not in MU_KINDS:
        raise ValueError(f"mu_kind must be one of {MU_KINDS}, got {mu_kind!r}")
    gen = np.random.default_rng(seed)
    K = V ** (n - 1)
    P = random_rows(gen, (K, V), forbidden)
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
    return NGramLanguage(P, mu, name=f"test(V={V},n={n},f={forbidden},mu={mu_kind},seed={seed})")


@st.composite
def languages(draw, vocab_sizes=(2, 5), orders=(1, 4), max_contexts=125, forbidden=None, mu_kinds=MU_KINDS):
    r"""Strategy: valid n-gram languages, with forbidden transitions.

    ``V`` is drawn from ``vocab_sizes``, then ``n`` from ``orders`` restricted to
    ``V^(n-1) <= max_contexts`` (the smallest order is always allowed), then the tables by
    :func:`build_language`.  Languages are constructed valid, never filtered.

    Parameters
    ----------
    vocab_sizes : (int, int)
        Inclusive range of ``V`` (``>= 2``).
    orders : (int, int)
        Inclusive range of the order ``n`` (``>= 1``).
    max_contexts : int
        Largest ``V^(n-1)`` drawn (above ``orders[0]``).
    forbidden : float, optional
        Probability that a transition is forbidden; by default drawn from
        :data:`FORBIDDEN_LEVELS` (0, 0.3, 0.6).
    mu_kinds : sequence of str
        Kinds of ``mu`` to draw from (:data:`MU_KINDS`).

    Examples
    --------
    .. code-block:: python

        @given(languages(vocab_sizes=(2, 3), orders=(2, 3), forbidden=0.5))
        def test_something(language): ...
    """
    v_lo, v_hi = _check_range(vocab_sizes, "vocab_sizes", 2)
    n_lo, n_hi = _check_range(orders, "orders", 1)
    V = draw(st.integers(v_lo, v_hi))
    max_order = n_lo
    while max_order < n_hi and V**max_order <= max_contexts:
        max_order += 1
    n = draw(st.integers(n_lo, max_order))
    f = draw(st.sampled_from(FORBIDDEN_LEVELS)) if forbidden is None else forbidden
    mu_kind = draw(st.sampled_from(mu_kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    return build_language(V, n, f, mu_kind, seed)


@st.composite
def window_languages(draw, vocab_sizes=(2, 6), min_window=1):
    r"""Strategy: cyclic window languages ``W(V, m)`` (THEORY C1), ``min_window <= m < V``.

    ``P(b | a) = 1/m`` for ``b - a mod V in {0, ..., m-1}``, ``mu`` uniform
    (:func:`ngramsim.window_language`); ``m`` is ``language.meta["window"]``.

    Parameters
    ----------
    vocab_sizes : (int, int)
        Inclusive range of ``V``; values ``V <= min_window`` are never drawn.
    min_window : int
        Smallest window ``m`` (``>= 1``; e.g. 2 for THEORY C2' strides).

    Examples
    --------
    .. code-block:: python

        @given(window_languages(vocab_sizes=(3, 8)))
        def test_window(language):
            V, m = language.vocab_size, language.meta["window"]
    """
    m_lo = check_int(min_window, "min_window", minimum=1)
    v_lo, v_hi = _check_range(vocab_sizes, "vocab_sizes", 2)
    if v_hi <= m_lo:
        raise ValueError(f"vocab_sizes must allow V > min_window={m_lo}, got {vocab_sizes!r}")
    V = draw(st.integers(max(v_lo, m_lo + 1), v_hi))
    return window_language(V, draw(st.integers(m_lo, V - 1)))


def tiny_lengths(language, max_states=729) -> list:
    r"""Lengths ``L >= max(1, n-1)`` with ``V^L <= max_states``: brute force over ``V^L`` stays cheap.

    For the exact engine, whose cost is ``(V+1)^L`` partial states, pass a correspondingly
    smaller ``max_states``.  When even ``L = max(1, n-1)`` exceeds the budget, that one
    length is returned (a language of order ``n`` has no shorter sequences).

    Parameters
    ----------
    language : NGramLanguage
    max_states : int
        Largest ``V^L``.

    Returns
    -------
    list of int
        Increasing, never empty.
    """
    check_language(language)
    max_states = check_int(max_states, "max_states", minimum=1)
    V, L = language.vocab_size, language.min_length
    lengths = [L]
    while V ** (lengths[-1] + 1) <= max_states:
        lengths.append(lengths[-1] + 1)
    return lengths


@st.composite
def languages_with_length(draw, max_states=729, **kwargs):
    r"""Strategy: ``(language, L)`` with ``L`` from :func:`tiny_lengths` (``V^L <= max_states``).

    Keyword arguments go to :func:`languages`.
    """
    language = draw(languages(**kwargs))
    return language, draw(st.sampled_from(tiny_lengths(language, max_states)))


def _partition_text(draw, length):
    """``order:`` text of a random ordered partition of ``0..L-1`` (a random permutation cut into blocks)."""
    perm = draw(st.permutations(range(length)))
    cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1))) if length > 1 else []
    bounds = [0, *cuts, length]
    return "order:" + ";".join(",".join(map(str, perm[a:b])) for a, b in zip(bounds, bounds[1:]))


def _counts_text(draw, length):
    """``counts:`` text of a random composition of ``L`` (cut points drawn as a set)."""
    cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=length - 1))) if length > 1 else []
    bounds = [0, *cuts, length]
    return "counts:" + ",".join(str(b - a) for a, b in zip(bounds, bounds[1:]))


@st.composite
def schedule_specs(draw, length, kinds=SCHEDULE_KINDS):
    r"""Strategy: SPEC §2 schedule strings valid for ``length``, of the given kinds.

    Bernoulli ``linear:N``, ``cosine:N``, ``poly:N:p`` with ``1 <= N <= L + 2`` (steps may
    reveal nothing); count schedules ``counts:s1,...`` (a random composition of ``L``),
    ``uniform:N``, ``grow:N``, ``shrink:N`` with ``N <= L``; explicit ``order:...`` (a random
    ordered partition), ``ar``, ``stride:s`` with ``s <= L + 1``; adaptive ``topk:N``,
    ``margin:N`` (``N <= L``), ``eb:gamma``, ``esum:gamma`` with ``gamma`` in
    :data:`GAMMAS`; ``blocks:B:uniform:N`` with ``1 <= B <= L`` and ``ceil(L/B) <= N <= L``.

    Parameters
    ----------
    length : int
        ``L >= 1``.
    kinds : sequence of str
        Schedule kinds to draw from; :data:`NON_ADAPTIVE_KINDS` (for B2/B3, which need
        the positions not to depend on the values), :data:`ADAPTIVE_KINDS`, ... .

    Examples
    --------
    .. code-block:: python

        @given(st.data())
        def test_schedules(data):
            spec = data.draw(schedule_specs(6, kinds=COUNT_KINDS))   # e.g. "counts:2,1,3"
    """
    length = check_int(length, "length", minimum=1)
    unknown = sorted(set(kinds) - set(SCHEDULE_KINDS))
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty subset of {SCHEDULE_KINDS}, got {kinds!r}")
    kind = draw(st.sampled_from(tuple(kinds)))
    if kind in ("linear", "cosine"):
        return f"{kind}:{draw(st.integers(1, length + 2))}"
    if kind == "poly":
        return f"poly:{draw(st.integers(1, length + 2))}:{draw(st.sampled_from([0.5, 1.0, 3.0]))}"
    if kind in ("uniform", "grow", "shrink", "topk", "margin"):
        return f"{kind}:{draw(st.integers(1, length))}"
    if kind == "stride":
        return f"stride:{draw(st.integers(1, length + 1))}"
    if kind == "counts":
        return _counts_text(draw, length)
    if kind == "order":
        return _partition_text(draw, length)
    if kind == "ar":
        return "ar"
    if kind == "blocks":
        B = draw(st.integers(1, length))
        return f"blocks:{B}:uniform:{draw(st.integers(-(-length // B), length))}"
    return f"{kind}:{draw(st.sampled_from(GAMMAS))}"


@st.composite
def one_token_schedule_specs(draw, length):
    r"""Strategy: schedules revealing exactly one token per step (``N = L`` steps).

    A fixed order (``ar``, or ``order:`` with singleton steps in a random permutation), a
    uniformly random order (``uniform:L``), or an adaptive one-token rule (``topk:L``,
    ``margin:L``), whose order depends on the revealed values.
    """
    length = check_int(length, "length", minimum=1)
    kind = draw(st.sampled_from(["ar", "order", "uniform", "topk", "margin"]))
    if kind == "ar":
        return "ar"
    if kind == "order":
        return "order:" + ";".join(map(str, draw(st.permutations(range(length)))))
    return f"{kind}:{length}"


class PartialState(NamedTuple):
    """A partial reveal state drawn by :func:`partial_states`.

    Attributes
    ----------
    tokens : ndarray of int64, shape (L,)
        ``x_i`` at revealed positions, ``-1`` at masked ones.
    revealed : ndarray of bool, shape (L,)
        The revealed set ``R``.
    sequence : ndarray of int64, shape (L,)
        The full draw ``x ~ q`` the state was cut from (a valid completion of ``x_R``).
    """

    tokens: np.ndarray
    revealed: np.ndarray
    sequence: np.ndarray


@st.composite
def partial_states(draw, language, length, min_revealed=0, max_revealed=None):
    r"""Strategy: a revealed set ``R`` and tokens ``x_R`` with ``q(x_R) > 0``.

    Constructed, not filtered: ``x ~ q`` is sampled (so ``q(x) > 0``), a set ``R`` of
    between ``min_revealed`` and ``max_revealed`` positions is drawn, and the rest is
    masked; ``q(x_R) >= q(x) > 0``.  The ideal reverse model is defined at such a state
    (SPEC §2's conditional ``q(x_i | x_R)`` exists).

    Parameters
    ----------
    language : NGramLanguage
    length : int
        ``L >= max(1, n-1)``.
    min_revealed, max_revealed : int
        Bounds on ``|R|`` (``max_revealed`` defaults to ``L``).

    Returns
    -------
    PartialState
        ``(tokens, revealed, sequence)``.

    Examples
    --------
    .. code-block:: python

        @given(st.data())
        def test_conditionals_exist(data):
            language = window_language(4, 2)
            tokens, revealed, _ = data.draw(partial_states(language, 8))
            rows, log_evidence = ngramsim.conditional_marginals(language, tokens, revealed)
            assert log_evidence > -np.inf
    """
    check_language(language)
    length = language.check_length(length)
    lo = check_int(min_revealed, "min_revealed", minimum=0)
    hi = length if max_revealed is None else check_int(max_revealed, "max_revealed", minimum=lo)
    if lo > length:
        raise ValueError(f"min_revealed must be <= length={length}, got {lo}")
    sequence = language.sample(length, 1, rng=draw(st.integers(0, 2**32 - 1)))[0]
    chosen = draw(st.sets(st.integers(0, length - 1), min_size=lo, max_size=min(hi, length)))
    revealed = np.zeros(length, dtype=bool)
    revealed[sorted(chosen)] = True
    return PartialState(np.where(revealed, sequence, -1).astype(np.int64), revealed, sequence)
