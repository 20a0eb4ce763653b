r"""Exact n-gram Markov sources (SPEC §1).

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
    r"""An immutable, validated n-gram language ``(V, n, P, mu)`` (SPEC §1).

    Parameters
    ----------
    transitions : array_like, shape (V^(n-1), V)
        ``P[c, v] = P(x_i = v | c_i = c)``.  Rows must be probability vectors
        within ``atol``; they are then divided by their sums.
    initial : array_like, shape (V^(n-1),)
        ``mu``, the law of the first ``n - 1`` tokens as a context index.
        For ``n = 1`` pass ``[1.0]`` or ``[]``.
    order : int, optional
        ``n``; inferred from the number of rows when omitted, checked otherwise.
    name : str, optional
    meta : dict, optional
        Free-form provenance (JSON-serialisable).
    atol : float
        Tolerance on row sums (default 1e-9).

    Notes
    -----
    Arrays are read-only; derived quantities are computed lazily and cached.
    The transition table is limited to ``ngramsim._validation.MAX_TABLE_ENTRIES``
    entries.

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
        """``V``."""
        return self._P.shape[1]

    @property
    def order(self) -> int:
        """``n``."""
        return self._order

    @property
    def context_length(self) -> int:
        """``n - 1``, the number of tokens in a context."""
        return self._order - 1

    @property
    def num_contexts(self) -> int:
        """``V^(n-1)``."""
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
        return self._name

    @property
    def meta(self) -> types.MappingProxyType:
        """Free-form metadata (read-only view)."""
        return types.MappingProxyType(self._meta)

    @functools.cached_property
    def successor(self) -> np.ndarray:
        """``successor[c, v] = (c V + v) mod V^(n-1)``: the context after appending ``v`` to ``c``."""
        K, V = self._P.shape
        succ = (np.arange(K, dtype=np.int64)[:, None] * V + np.arange(V, dtype=np.int64)[None, :]) % K
        succ.setflags(write=False)
        return succ

    def check_length(self, length, name: str = "length") -> int:
        """Validate a sequence length: an integer ``>= max(1, n - 1)``."""
        return check_int(length, name, minimum=self.min_length)

    # ------------------------------------------------------- probabilities
    def log_prob(self, x) -> np.ndarray:
        r"""``log q(x)`` for tokens of shape ``(..., L)``; ``-inf`` for invalid sequences.

        ``log q(x) = log mu(x_0..x_{n-2}) + sum_{i=n-1}^{L-1} log P(x_i | c_i)``.
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
        """``q(x)`` for tokens of shape ``(..., L)``."""
        return np.exp(self.log_prob(x))

    def is_valid(self, x) -> np.ndarray:
        """``q(x) > 0`` for tokens of shape ``(..., L)``."""
        return self.log_prob(x) > -np.inf

    def sample(self, length, num_samples=1, *, rng) -> np.ndarray:
        """Exact ancestral samples from ``q_L``, shape ``(num_samples, length)``, dtype int64.

        Draws ``rng.random((num_samples, length))`` and maps each uniform
        through the inverse CDF of its conditional (first the context from
        ``mu``, then ``P(. | c_i)``).  The same ``rng`` gives the same samples
        whatever the number of threads.
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
        """The first-order chain on contexts, ``T[c, successor[c, v]] = P[c, v]``, as a sparse ``(K, K)`` array."""
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

        Every stationary law is a convex combination of these rows.
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
        """The unique stationary law ``pi`` of the context chain; ``ValueError`` if not unique."""
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
        """Token law under the unique stationary law; ``ValueError`` if not unique."""
        self.stationary_context  # raises when not unique
        return self.stationary_token_laws[0]

    @property
    def is_stationary(self) -> bool:
        """Whether ``mu`` is a stationary law of the context chain (to 1e-12)."""
        moved = self.context_transition_matrix().T @ self._mu
        return bool(np.allclose(moved, self._mu, rtol=0.0, atol=1e-12))

    @functools.cached_property
    def limiting_context_law(self) -> np.ndarray:
        r"""Cesàro limit of the context laws under ``mu``: ``lim_T (1/T) sum_{t<T} mu T^t``.

        ``sum_j a_j pi_j``, where ``a_j`` is the probability that the chain
        started from ``mu`` is absorbed in recurrent class ``j``.
        """
        classes, laws = self._chain
        law = limiting_law(self.context_transition_matrix(), classes, laws, self._mu)
        law.setflags(write=False)
        return law

    # ------------------------------------------------------------ marginals
    def context_laws(self, length) -> np.ndarray:
        """Law of the context ``c_i`` for ``i = n-1, ..., L``, shape ``(L - n + 2, K)``.

        ``c_{n-1} ~ mu`` and ``law(c_{i+1}) = law(c_i) T``.
        """
        length = self.check_length(length)
        out = np.empty((length - self.context_length + 1, self.num_contexts))
        return propagate_context_laws(self._mu, self._P, self.successor, out)

    def token_marginals(self, length) -> np.ndarray:
        """``q(x_i = v)`` for every position, shape ``(L, V)``."""
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
        """``h(c) = H(P(. | c))`` in nats, shape ``(K,)``."""
        h = entr(self._P).sum(axis=1)
        h.setflags(write=False)
        return h

    def entropy(self, length, *, base=None) -> float:
        r"""Exact ``H(q_L)`` by the chain rule (no enumeration).

        ``H(q_L) = H(mu) + sum_{i=n-1}^{L-1} sum_c q(c_i = c) h(c)``.
        """
        length = self.check_length(length)
        laws = self.context_laws(length)[:-1]
        value = float(entr(self._mu).sum() + (laws @ self.row_entropies).sum())
        return value / log_base(base)

    def entropy_rate(self, *, base=None) -> float:
        r"""``lim_L H(q_L) / L`` under the given ``mu``: ``sum_c bar pi(c) h(c)``.

        ``bar pi`` is :attr:`limiting_context_law`, the Cesàro limit of the
        context laws, so the limit exists for periodic and reducible chains too.
        """
        return float(self.limiting_context_law @ self.row_entropies) / log_base(base)
