r"""Exact n-gram Markov sources (docs/notation.md, docs/formats.md).

A language is ``(V, n, P, mu)``: ``P`` has shape ``(V^{n-1}, V)`` and gives
``P(x_i | c_i)`` for the context ``c_i = (x_{i-n+1}, ..., x_{i-1})`` indexed in
C order (oldest token most significant), and ``mu`` is the law of the first
``n - 1`` tokens.  There is no BOS padding:

.. math::

    q(x) = \mu(x_0 \dots x_{n-2}) \prod_{i=n-1}^{L-1} P(x_i \mid c_i).

Contexts form a first-order Markov chain on ``V^{n-1}`` states: appending
``v`` to context ``c`` gives ``successor[c, v] = (c V + v) mod V^{n-1}``.
Stationary laws, entropy rates and marginals are computed on that chain (its
recurrent classes, stationary laws and absorption by :mod:`ngramsim._chain`).
"""

from __future__ import annotations

import functools
import types

import numpy as np
import scipy.sparse
from scipy.special import entr

from ngramsim._chain import limiting_law, recurrent_classes, stationary_laws
from ngramsim._kernels.ancestral import ancestral_sample, guarded_cdf
from ngramsim._kernels.chain import propagate_context_laws
from ngramsim._validation import (
    DEFAULT_ATOL,
    as_generator,
    check_int,
    check_probability_rows,
    check_sample_size,
    check_table_size,
    check_tokens,
    log_base,
)

__all__ = ["NGramLanguage"]


def _infer_order(num_contexts: int, vocab_size: int) -> int:
    order, k = 1, 1
    while k < num_contexts:
        k *= vocab_size
        order += 1
    if k != num_contexts:
        raise ValueError(
            f"transitions has {num_contexts} rows; expected V^(n-1) rows for vocab_size V={vocab_size} "
            f"(1, {vocab_size}, {vocab_size**2}, ...)"
        )
    return order


class NGramLanguage:
    r"""An immutable, validated n-gram language ``(V, n, P, mu)`` (see docs/formats.md).

    The law of a sequence ``x = (x_0, ..., x_{L-1})`` is

    .. math::

        q(x) = \mu(x_0 \dots x_{n-2}) \prod_{i=n-1}^{L-1} P(x_i \mid c_i),
        \qquad c_i = (x_{i-n+1}, \dots, x_{i-1}),

    with contexts indexed in C order (oldest token most significant,
    ``idx(c) = sum_j c_j V^(n-2-j)``) and no BOS padding (docs/notation.md §1).
    Zero entries are allowed; ``x`` is valid iff ``q(x) > 0``, and
    ``SER(p) = P_{x~p}[q(x) = 0]`` is measured against this law.  This is the source of every claim ngramsim
    checks: the n-gram languages on which Feng et al. (2025, arXiv:2502.09622)
    compare token and sequence error rates of masked diffusion models.

    Parameters
    ----------
    transitions : array_like, shape (V^(n-1), V)
        ``P[c, v] = P(x_i = v | c_i = c)``.  Rows must be probability vectors
        within ``atol``; they are then divided by their sums.
    initial : array_like, shape (V^(n-1),)
        ``mu``, the law of the first ``n - 1`` tokens as a context index.
        For ``n = 1`` pass ``[1.0]`` or ``[]``.  Required (no default: the
        constructors of :mod:`ngramsim.families` document their choice).
    order : int, optional
        ``n``; inferred from the number of rows when omitted, checked otherwise.
    name : str, optional
        A label carried into file output and provenance (not hashed).
    meta : dict, optional
        Free-form provenance (JSON-serialisable); copied.
    atol : float
        Tolerance on row sums (default 1e-9).

    Attributes
    ----------
    vocab_size, order, context_length, num_contexts, min_length : int
        ``V``, ``n``, ``n - 1``, ``K = V^(n-1)`` and ``max(1, n - 1)``.
    transitions, initial : ndarray
        ``P`` and ``mu`` (read-only).
    name : str
    meta : mapping
        Read-only view of ``meta``.
    successor : ndarray (K, V)
        ``successor[c, v] = (c V + v) mod K``.
    row_entropies : ndarray (K,)
        ``h(c) = H(P(. | c))`` in nats.
    stationary_laws, stationary_context, stationary_token_laws, stationary_token, limiting_context_law
        Stationary structure of the context chain (see each property).
    is_irreducible, has_unique_stationary, is_stationary : bool

    Raises
    ------
    TypeError
        If ``transitions`` or ``initial`` is not real-valued, ``order`` not an
        integer, ``name`` not a string or ``meta`` not a dict.
    ValueError
        If ``transitions`` is not 2-D, has fewer than 2 columns, no rows, a number
        of rows that is not a power ``V^(n-1)`` (or disagrees with ``order``), or
        more than ``MAX_TABLE_ENTRIES`` entries; if ``order < 1``; if ``initial`` is
        missing (``None``) or of the wrong length; if an entry is negative or not
        finite; if a row of ``transitions`` or ``initial`` does not sum to 1 within
        ``atol``; or if ``atol`` is negative or not a number.

    Notes
    -----
    Arrays are read-only; derived quantities are computed lazily and cached.
    The transition table is limited to ``ngramsim._validation.MAX_TABLE_ENTRIES``
    entries.  Contexts form a first-order Markov chain on ``V^(n-1)`` states
    (append ``v`` to ``c``: ``successor[c, v]``); stationary laws, entropy rates and
    marginals are computed on that chain (recurrent classes, stationary laws and
    absorption by :mod:`ngramsim._chain`), with no enumeration of ``V^L``.

    Examples
    --------
    >>> import numpy as np
    >>> lang = NGramLanguage([[0.9, 0.1], [0.5, 0.5]], [5 / 6, 1 / 6], name="sticky")
    >>> lang.order, lang.vocab_size
    (2, 2)
    >>> round(float(lang.prob([0, 0, 1])), 12)  # 5/6 * 0.9 * 0.1
    0.075
    >>> round(lang.entropy_rate(), 6)  # stationary: 5/6 h(0.9) + 1/6 h(0.5)
    0.386427
    >>> lang.sample(8, 2, rng=0).shape
    (2, 8)
    >>> try:
    ...     NGramLanguage([[0.9, 0.2], [0.5, 0.5]], [0.5, 0.5])
    ... except ValueError as err:
    ...     print(err)
    transitions row 0 sums to 1.1; rows must sum to 1 (atol=1e-09)
    """

    def __init__(self, transitions, initial, *, order=None, name: str = "", meta=None, atol: float = DEFAULT_ATOL):
        try:
            shape = np.shape(transitions)
        except (TypeError, ValueError):
            shape = None
        if shape is None or len(shape) != 2:
            raise ValueError(f"transitions must be a 2-D array of shape (V^(n-1), V), got shape {shape}")
        num_contexts, vocab_size = shape
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2, got {vocab_size} (transitions has {vocab_size} columns)")
        inferred = _infer_order(num_contexts, vocab_size) if num_contexts >= 1 else 0
        if order is not None:
            order = check_int(order, "order", minimum=1)
            check_table_size(vocab_size, order)
            if vocab_size ** (order - 1) != num_contexts:
                raise ValueError(
                    f"transitions must have V^(n-1) = {vocab_size ** (order - 1)} rows for order={order}, "
                    f"vocab_size={vocab_size}; got {num_contexts}"
                )
        else:
            if inferred < 1:
                raise ValueError("transitions must have at least one row")
            order = inferred
            check_table_size(vocab_size, order)
        if not isinstance(atol, float | int) or not atol >= 0:
            raise ValueError(f"atol must be a non-negative number, got {atol!r}")
        P = check_probability_rows(transitions, "transitions", shape=(num_contexts, vocab_size), atol=atol)
        if order == 1 and initial is not None and np.size(initial) == 0:
            initial = [1.0]
        if initial is None:
            raise ValueError("initial (mu, the law of the first n-1 tokens) must be given")
        mu = check_probability_rows(initial, "initial", shape=(num_contexts,), atol=atol)
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
        set_ = object.__setattr__
        set_(self, "_P", P)
        set_(self, "_mu", mu)
        set_(self, "_order", order)
        set_(self, "_name", name)
        set_(self, "_meta", dict(meta or {}))

    def __setattr__(self, key, value):
        raise AttributeError(f"NGramLanguage is immutable (cannot set {key!r})")

    def __delattr__(self, key):
        raise AttributeError(f"NGramLanguage is immutable (cannot delete {key!r})")

    def __repr__(self):
        name = f" {self._name!r}" if self._name else ""
        return f"<NGramLanguage{name} vocab_size={self.vocab_size} order={self.order}>"

    # ------------------------------------------------------------------ basics
    @property
    def vocab_size(self) -> int:
        """``V``, the number of tokens."""
        return self._P.shape[1]

    @property
    def order(self) -> int:
        """``n``: each token depends on the ``n - 1`` before it."""
        return self._order

    @property
    def context_length(self) -> int:
        """``n - 1``, the number of tokens in a context."""
        return self._order - 1

    @property
    def num_contexts(self) -> int:
        """``K = V^(n-1)``, the number of rows of ``P``."""
        return self._P.shape[0]

    @property
    def min_length(self) -> int:
        """Smallest admissible sequence length, ``max(1, n - 1)``."""
        return max(1, self._order - 1)

    @property
    def transitions(self) -> np.ndarray:
        """``P``, shape ``(V^(n-1), V)``, read-only."""
        return self._P

    @property
    def initial(self) -> np.ndarray:
        """``mu``, shape ``(V^(n-1),)``, read-only."""
        return self._mu

    @property
    def name(self) -> str:
        """The label given at construction (``""`` by default); not part of :func:`~ngramsim.io.language_sha256`."""
        return self._name

    @property
    def meta(self) -> types.MappingProxyType:
        """Free-form metadata (read-only view); not part of :func:`~ngramsim.io.language_sha256`."""
        return types.MappingProxyType(self._meta)

    @functools.cached_property
    def successor(self) -> np.ndarray:
        """``successor[c, v] = (c V + v) mod V^(n-1)``: the context after appending ``v`` to ``c``.

        int64, shape ``(K, V)``, read-only.  For ``n = 1`` every entry is 0.

        Examples
        --------
        >>> NGramLanguage([[0.5, 0.5]] * 4, [0.25] * 4, order=3).successor.tolist()
        [[0, 1], [2, 3], [0, 1], [2, 3]]
        """
        K, V = self._P.shape
        succ = (np.arange(K, dtype=np.int64)[:, None] * V + np.arange(V, dtype=np.int64)[None, :]) % K
        succ.setflags(write=False)
        return succ

    def check_length(self, length, name: str = "length") -> int:
        """Validate a sequence length: an integer ``>= max(1, n - 1)``.

        Parameters
        ----------
        length : int
        name : str
            Argument name used in error messages.

        Returns
        -------
        int
            ``length`` as a Python int.

        Raises
        ------
        TypeError
            If ``length`` is not an integer (bools and floats included).
        ValueError
            If ``length < max(1, n - 1)``.
        """
        return check_int(length, name, minimum=self.min_length)

    # ------------------------------------------------------- probabilities
    def log_prob(self, x) -> np.ndarray:
        r"""``log q(x)`` for tokens of shape ``(..., L)``; ``-inf`` for invalid sequences.

        ``log q(x) = log mu(x_0..x_{n-2}) + sum_{i=n-1}^{L-1} log P(x_i | c_i)``.

        Parameters
        ----------
        x : array_like of int, shape (..., L)
            Tokens in ``[0, V)``, ``L >= max(1, n - 1)``; leading axes are batch axes.

        Returns
        -------
        ndarray, shape (...)
            Natural logarithms; ``-inf`` where ``q(x) = 0``.

        Raises
        ------
        TypeError
            If ``x`` is not an integer array.
        ValueError
            If ``x`` is a scalar, shorter than ``max(1, n - 1)``, or has a token outside ``[0, V)``.

        Examples
        --------
        >>> import numpy as np
        >>> lang = NGramLanguage([[0.9, 0.1], [0.5, 0.5]], [5 / 6, 1 / 6])
        >>> lang.log_prob(np.array([[0, 0, 1], [1, 1, 1]])).round(6).tolist()  # log(5/6 .9 .1), log(1/6 .5 .5)
        [-2.590267, -3.178054]
        """
        x = check_tokens(x, "x", vocab_size=self.vocab_size, min_length=self.min_length)
        m = self.context_length
        with np.errstate(divide="ignore"):
            log_P = np.log(self._P)
            log_mu = np.log(self._mu)
        if m == 0:
            return log_P[0, x].sum(axis=-1)
        weights = self.vocab_size ** np.arange(m - 1, -1, -1, dtype=np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(x, m, axis=-1)  # (..., L-m+1, m)
        ctx = windows @ weights  # ctx[..., j] = idx(x_j .. x_{j+m-1}) = idx(c_{j+m})
        return log_mu[ctx[..., 0]] + log_P[ctx[..., :-1], x[..., m:]].sum(axis=-1)

    def prob(self, x) -> np.ndarray:
        """``q(x)`` for tokens of shape ``(..., L)``.

        Parameters
        ----------
        x : array_like of int, shape (..., L)
            As in :meth:`log_prob`.

        Returns
        -------
        ndarray, shape (...)
            ``exp(log_prob(x))`` (may underflow to 0 for long valid sequences; use
            :meth:`log_prob` or :meth:`is_valid` then).

        Raises
        ------
        TypeError, ValueError
            As :meth:`log_prob`.
        """
        return np.exp(self.log_prob(x))

    def is_valid(self, x) -> np.ndarray:
        """``q(x) > 0`` for tokens of shape ``(..., L)``.

        Decided in log space, so a long valid sequence whose probability underflows is
        still valid.

        Parameters
        ----------
        x : array_like of int, shape (..., L)
            As in :meth:`log_prob`.

        Returns
        -------
        ndarray of bool, shape (...)

        Raises
        ------
        TypeError, ValueError
            As :meth:`log_prob`.

        Examples
        --------
        >>> import numpy as np
        >>> from ngramsim import window_language
        >>> window_language(4, 2).is_valid(np.array([[0, 1, 1, 2], [0, 2, 3, 0]])).tolist()
        [True, False]
        """
        return self.log_prob(x) > -np.inf

    def sample(self, length, num_samples=1, *, rng) -> np.ndarray:
        """Exact ancestral samples from ``q_L``, shape ``(num_samples, length)``, dtype int64.

        Draws ``rng.random((num_samples, length))`` and maps each uniform
        through the inverse CDF of its conditional (first the context from
        ``mu``, then ``P(. | c_i)``).  The same ``rng`` gives the same samples
        whatever the number of threads.

        Parameters
        ----------
        length : int
            ``L >= max(1, n - 1)``.
        num_samples : int, optional
            ``M >= 0`` (default 1), with ``M L <= 2^27`` tokens.
        rng : int, numpy.random.SeedSequence or numpy.random.Generator
            Required, keyword-only.

        Returns
        -------
        ndarray of int64, shape (num_samples, length)
            Independent draws ``x ~ q_L`` (always valid).

        Raises
        ------
        TypeError
            If ``length`` or ``num_samples`` is not an integer, or ``rng`` is missing or
            of the wrong type.
        ValueError
            If ``length < max(1, n - 1)``, ``num_samples < 0``, the call exceeds
            ``MAX_SAMPLE_TOKENS``, or a seed is negative.

        Examples
        --------
        >>> from ngramsim import window_language
        >>> lang = window_language(4, 2)
        >>> xs = lang.sample(6, 3, rng=0)
        >>> xs.shape, bool(lang.is_valid(xs).all())
        ((3, 6), True)
        """
        length = self.check_length(length)
        num_samples = check_int(num_samples, "num_samples", minimum=0)
        check_sample_size(num_samples, length)
        gen = as_generator(rng)
        uniforms = gen.random((num_samples, length))
        out = np.empty((num_samples, length), dtype=np.int64)
        ancestral_sample(self._initial_cdf, self._transition_cdf, self.successor, self.context_length, uniforms, out)
        return out

    @functools.cached_property
    def _initial_cdf(self):
        return guarded_cdf(self._mu)

    @functools.cached_property
    def _transition_cdf(self):
        return guarded_cdf(self._P)

    # ------------------------------------------------------- context chain
    def context_transition_matrix(self) -> scipy.sparse.csr_array:
        """The first-order chain on contexts, ``T[c, successor[c, v]] = P[c, v]``, as a sparse ``(K, K)`` array.

        Zero transitions are not stored.

        Returns
        -------
        scipy.sparse.csr_array, shape (K, K)
            Row-stochastic.

        Examples
        --------
        >>> lang = NGramLanguage([[0.9, 0.1], [0.5, 0.5]], [5 / 6, 1 / 6])
        >>> lang.context_transition_matrix().toarray().tolist()
        [[0.9, 0.1], [0.5, 0.5]]
        """
        K, V = self._P.shape
        rows = np.repeat(np.arange(K), V)
        cols = self.successor.ravel()
        data = self._P.ravel()
        keep = data > 0
        return scipy.sparse.csr_array((data[keep], (rows[keep], cols[keep])), shape=(K, K))

    @functools.cached_property
    def _chain(self):
        """``(recurrent classes as index arrays, their stationary laws (r, K))``; see :mod:`ngramsim._chain`."""
        T = self.context_transition_matrix()
        classes = recurrent_classes(T)
        laws = stationary_laws(T, classes)
        laws.setflags(write=False)
        return classes, laws

    @property
    def stationary_laws(self) -> np.ndarray:
        """Stationary laws of the context chain, one per recurrent (closed) class, shape ``(r, K)``.

        Every stationary law is a convex combination of these rows.  Classes are
        found as strongly connected components of ``T`` with no edge leaving them,
        ordered by their smallest context; each law is supported on its class.
        Computed once and cached (read-only) by :mod:`ngramsim._chain`: GTH state
        elimination (subtraction-free, so no entry is negative) for classes of up to
        2048 contexts, lazy power iteration for larger ones.

        Examples
        --------
        >>> NGramLanguage([[1.0, 0.0], [0.0, 1.0]], [0.5, 0.5]).stationary_laws.tolist()  # two absorbing tokens
        [[1.0, 0.0], [0.0, 1.0]]
        """
        return self._chain[1]

    @property
    def is_irreducible(self) -> bool:
        """Whether the context chain is irreducible (one class containing every context)."""
        classes = self._chain[0]
        return len(classes) == 1 and len(classes[0]) == self.num_contexts

    @property
    def has_unique_stationary(self) -> bool:
        """Whether the context chain has exactly one stationary law (one recurrent class)."""
        return len(self._chain[0]) == 1

    @property
    def stationary_context(self) -> np.ndarray:
        """The unique stationary law ``pi`` of the context chain, shape ``(K,)``.

        Raises
        ------
        ValueError
            If the chain has more than one recurrent class (use :attr:`stationary_laws`).
        """
        if not self.has_unique_stationary:
            raise ValueError(
                f"the context chain has {len(self._chain[0])} recurrent classes, so no unique stationary law; "
                "use stationary_laws"
            )
        return self.stationary_laws[0]

    @property
    def stationary_token_laws(self) -> np.ndarray:
        """Token law under each stationary law, shape ``(r, V)``.

        For ``n = 1`` this is ``P[0]``; otherwise the marginal of the last
        context token (all positions share it under stationarity).
        """
        if self.order == 1:
            return self._P.copy()
        return self.stationary_laws.reshape(-1, self.num_contexts // self.vocab_size, self.vocab_size).sum(axis=1)

    @property
    def stationary_token(self) -> np.ndarray:
        """Token law under the unique stationary law, shape ``(V,)``.

        Raises
        ------
        ValueError
            If the stationary law is not unique.
        """
        self.stationary_context  # raises when not unique
        return self.stationary_token_laws[0]

    @property
    def is_stationary(self) -> bool:
        """Whether ``mu`` is a stationary law of the context chain (``mu T = mu`` to 1e-12).

        Then every position has the same token law and ``H(q_L)`` grows exactly
        linearly after the first ``n - 1`` tokens.
        """
        moved = self.context_transition_matrix().T @ self._mu
        return bool(np.allclose(moved, self._mu, rtol=0.0, atol=1e-12))

    @functools.cached_property
    def limiting_context_law(self) -> np.ndarray:
        r"""Cesàro limit of the context laws under ``mu``: ``lim_T (1/T) sum_{t<T} mu T^t``.

        ``sum_j a_j pi_j``, where ``a_j`` is the probability that the chain
        started from ``mu`` is absorbed in recurrent class ``j``.  Defined for
        periodic and reducible chains; shape ``(K,)``, read-only.

        Examples
        --------
        >>> from ngramsim import cycle_language
        >>> cycle_language(3).limiting_context_law.round(6).tolist()  # periodic chain
        [0.333333, 0.333333, 0.333333]
        """
        classes, laws = self._chain
        law = limiting_law(self.context_transition_matrix(), classes, laws, self._mu)
        law.setflags(write=False)
        return law

    # ------------------------------------------------------------ marginals
    def context_laws(self, length) -> np.ndarray:
        """Law of the context ``c_i`` for ``i = n-1, ..., L``, shape ``(L - n + 2, K)``.

        ``c_{n-1} ~ mu`` and ``law(c_{i+1}) = law(c_i) T``.

        Parameters
        ----------
        length : int
            ``L >= max(1, n - 1)``.

        Returns
        -------
        ndarray, shape (L - n + 2, K)
            Row ``j`` is the law of ``c_{n-1+j}``; the last row is the context after the
            final token.

        Raises
        ------
        TypeError, ValueError
            As :meth:`check_length`.
        """
        length = self.check_length(length)
        out = np.empty((length - self.context_length + 1, self.num_contexts))
        return propagate_context_laws(self._mu, self._P, self.successor, out)

    def token_marginals(self, length) -> np.ndarray:
        """``q(x_i = v)`` for every position, shape ``(L, V)``.

        The first ``n - 1`` rows are marginals of ``mu``; row ``i >= n - 1`` is
        ``law(c_i) @ P``.

        Parameters
        ----------
        length : int
            ``L >= max(1, n - 1)``.

        Returns
        -------
        ndarray, shape (L, V)

        Raises
        ------
        TypeError, ValueError
            As :meth:`check_length`.

        Examples
        --------
        >>> lang = NGramLanguage([[0.9, 0.1], [0.5, 0.5]], [5 / 6, 1 / 6])
        >>> lang.token_marginals(3).round(6).tolist()  # mu is stationary
        [[0.833333, 0.166667], [0.833333, 0.166667], [0.833333, 0.166667]]
        """
        length = self.check_length(length)
        m, V = self.context_length, self.vocab_size
        out = np.empty((length, V))
        if m > 0:
            mu = self._mu.reshape((V,) * m)
            for i in range(m):
                out[i] = mu.sum(axis=tuple(a for a in range(m) if a != i))
        if length > m:
            out[m:] = self.context_laws(length)[:-1] @ self._P
        return out

    # --------------------------------------------------------------- entropy
    @functools.cached_property
    def row_entropies(self) -> np.ndarray:
        """``h(c) = H(P(. | c))`` in nats, shape ``(K,)``, read-only."""
        h = entr(self._P).sum(axis=1)
        h.setflags(write=False)
        return h

    def entropy(self, length, *, base=None) -> float:
        r"""Exact ``H(q_L)`` by the chain rule (no enumeration).

        ``H(q_L) = H(mu) + sum_{i=n-1}^{L-1} sum_c q(c_i = c) h(c)``.

        Parameters
        ----------
        length : int
            ``L >= max(1, n - 1)``.
        base : float, optional
            Logarithm base (default ``e``: nats).

        Returns
        -------
        float

        Raises
        ------
        TypeError
            If ``length`` is not an integer.
        ValueError
            If ``length < max(1, n - 1)`` or ``base`` is not a positive number other than 1.

        Examples
        --------
        >>> lang = NGramLanguage([[0.9, 0.1], [0.5, 0.5]], [5 / 6, 1 / 6])
        >>> round(lang.entropy(3), 6)  # h(5/6) + 2 (5/6 h(0.9) + 1/6 log 2)
        1.223415
        """
        length = self.check_length(length)
        laws = self.context_laws(length)[:-1]
        value = float(entr(self._mu).sum() + (laws @ self.row_entropies).sum())
        return value / log_base(base)

    def entropy_rate(self, *, base=None) -> float:
        r"""``lim_L H(q_L) / L`` under the given ``mu``: ``sum_c bar pi(c) h(c)``.

        ``bar pi`` is :attr:`limiting_context_law`, the Cesàro limit of the
        context laws, so the limit exists for periodic and reducible chains too.

        Parameters
        ----------
        base : float, optional
            Logarithm base (default ``e``: nats).

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If ``base`` is not a positive number other than 1.

        Examples
        --------
        >>> from ngramsim import window_language
        >>> round(window_language(4, 2).entropy_rate(base=2), 12)  # log2 m
        1.0
        """
        return float(self.limiting_context_law @ self.row_entropies) / log_base(base)
