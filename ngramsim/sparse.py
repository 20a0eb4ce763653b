r"""Sparse order-2 languages for large vocabularies: top-``K`` rows plus a rank-one teleport.

A :class:`SparseLanguage` is the order-2 chain

.. math::

    P' = (1 - \varepsilon) P_K + \varepsilon\, \mathbf 1 \nu^\top,

where each row of ``P_K`` has at most ``K`` non-zero entries (``top_index``, ``top_prob``),
``nu`` is a law on the ``V`` tokens (the *teleport* law) and ``0 <= eps < 1``.  It stores
``O(VK)`` numbers instead of ``V^2``, so ``V`` in the thousands fits where the dense
:class:`~ngramsim.NGramLanguage` (``V^2 <= 2^24``) does not.

**Powers keep the rank-one part rank one.**  Write ``A = (1 - eps) P_K``: its rows sum to
``1 - eps``, so ``A^d 1 = (1 - eps)^d 1``.  Then, for ``d >= 0``,

.. math::

    P'^d = A^d + \mathbf 1 w_d^\top, \qquad w_0 = 0, \quad
    w_d = w_{d-1} + \varepsilon\, (A^{d-1})^\top \nu
        = \varepsilon (1-\varepsilon)^{d-1}\nu + P'^\top w_{d-1},

(multiply ``P'^{d-1} = A^{d-1} + 1 w_{d-1}^T`` by ``P'`` on the left or on the right).  So one
table ``W[d] = w_d`` (``V x (L+1)``) carries every far-reaching effect, and ``w_d >= eps nu`` for
``d >= 1``.  The law of ``x_k`` is ``Lam[k] = mu^T P'^k``, also tabulated.

**Conditionals.**  With order 2 every revealed token cuts the chain.  For a masked ``k`` between
revealed ``x_i = a`` and ``x_j = b`` (``d1 = k - i``, ``d2 = j - k``)

.. math::

    q(x_k = c \mid x_R) \propto P'^{d_1}[a, c]\, P'^{d_2}[c, b]
    = \bigl(\alpha(c) + w_{d_1}(c)\bigr)\bigl(\beta(c) + w_{d_2}(b)\bigr),

``alpha = e_a^T A^{d1}`` (the forward message of ``a``), ``beta = A^{d2} e_b`` (the backward
message of ``b``).  Nothing revealed on the left: the left factor is ``Lam[k]``; nothing on the
right: the right factor is 1.  The messages depend on the token and the distance only.

**Cut-off and tolerance.**  When ``eps > 0`` and ``nu_min = min_c nu_c > 0``, the message parts are
dropped at distances ``d >= D``, the smallest ``d`` with ``(1 - eps)^d <= eta eps nu_min``,
``eta = 1e-13``.  Why this is safe: ``0 <= alpha(c) <= ||alpha||_1 = (1 - eps)^d`` and
``w_d(c) >= eps nu_c >= eps nu_min``, so the left factor lies between ``w_d(c)`` and
``w_d(c) (1 + eta)``; likewise ``0 <= beta(c) <= ||A^d||_inf = (1 - eps)^d`` and
``w_{d2}(b) >= eps nu_min``, so the right factor lies between ``w_{d2}(b)`` and ``(1 + eta)`` times
it.  The truncated weights ``f~`` thus satisfy ``f~ <= f <= (1 + eta)^2 f~`` entrywise, and after
normalising ``|p_c - p~_c| <= ((1 + eta)^2 - 1) p~_c``, so every conditional entry (and their sum,
the total variation) moves by at most ``2.1 eta = 2.1e-13``; with floating-point rounding (relative
``~1e-15``) each conditional is exact to **1e-12 absolute**.  Far gaps (both distances ``>= D``)
reduce to the rank-one part: ``q(x_k = c | ...) ∝ w_{d1}(c)``.  Otherwise (``eps = 0``, or ``nu``
with zeros) nothing is dropped; with ``eps = 0`` messages are rescaled at every step (only ratios
matter), so they do not underflow.

**Early stops of mixed messages.**  Most messages reach their limit long before ``D``.  Let
``rho`` be a probability vector (close to a stationary law of ``P_K``; tabulated with
``T[j] = rho^T P_K^j``, ``j < D``).  A forward sweep of ``a`` stops at the first distance ``s`` with
``|alpha_s(c) - (1 - eps)^s rho(c)| <= eta w_s(c)`` for every ``c``; beyond it ``alpha_d`` is replaced
by ``(1 - eps)^d T[d - s]``.  The error at ``d = s + j`` is ``(1 - eps)^j e_s P_K^j`` with ``e_s`` the
error at ``s``, so entrywise at most ``eta (1 - eps)^j w_s^T P_K^j <= eta w_d``: expanding
``P'^(s+j) = P'^s P'^j`` gives ``w_(s+j)^T = (1-eps)^s w_j^T + w_s^T A^j + (w_s^T 1) w_j^T >= w_s^T A^j``.
So the left factor is the replacement times ``1 + e``, ``|e| <= eta``.  A
backward sweep of ``b`` stops at the first ``s`` with ``(max beta_s - min beta_s) / 2 <= eta w_s(b)``;
the entries of ``P_K^j z`` are averages of those of ``z``, so every farther ``beta_d`` lies within
``(1 - eps)^(d - s)`` times that half-spread of the constant ``(1 - eps)^(d - s) (max + min) / 2``,
and the right factor is a constant (which cancels) times ``1 + e``, ``|e| <= eta``.  With both
factors within ``1 +- eta``, ``|p_c - p~_c| <= ((1 + eta)^2 / (1 - eta)^2 - 1) p~_c``: at most
``4.1 eta = 4.1e-13`` per entry, still within **1e-12 absolute** with rounding.  The quality of
``rho`` only decides how soon sweeps stop (on the benchmark language after about 20 to 30 steps
instead of ``D`` = 69 to 464).

**Support.**  ``P'^d[a, b] > 0`` is decided from integers and booleans only: a transition
``a -> b`` is allowed iff ``eps nu_b > 0`` or ``b`` is one of ``a``'s top entries with positive
probability; longer distances by boolean reachability over that graph.

**Sampling** (:func:`sample_mdm_sparse`, reached through :func:`ngramsim.sample_mdm`) follows the
dense sampler exactly (docs/sampler.md): the same Philox streams, the same step assignment, the
same inverse-CDF rule over token ids, so on a language that fits both ways it draws the same
samples up to floating-point ties.  Each revealed position computes its messages once, sweeping
the distance up to the farthest masked position that will need them (at most ``D``, or until the
message has mixed), sparse while few entries are non-zero; a draw then costs ``O(V)``.

Not implemented: ``Phi`` (the ``phi_curve`` of dense languages), adaptive schedules, learning
error and temperature (:meth:`SparseLanguage.phi_curve` and :func:`sample_mdm_sparse` refuse them).
"""

from __future__ import annotations

import functools
import math
import time
import types

import numba
import numpy as np

from ngramsim._kernels import sparse as _k
from ngramsim._kernels.ancestral import guarded_cdf
from ngramsim._kernels.rng import draw_keys
from ngramsim._kernels.steps import BERNOULLI, BLOCKS, COUNTS, ORDER
from ngramsim._validation import (
    DEFAULT_ATOL,
    MAX_SAMPLE_TOKENS,
    as_generator,
    check_int,
    check_probability_rows,
    check_real,
    check_sample_size,
    check_tokens,
)

__all__ = ["SparseLanguage", "sample_mdm_sparse", "sparse_sample_report", "TRUNCATION_ETA", "SPARSE_TABLE_LIMIT"]

#: Relative size of a dropped message part against the rank-one part (see the module docstring):
#: conditionals move by at most ``2.1 * TRUNCATION_ETA`` from the cut-off alone and ``4.1 * TRUNCATION_ETA``
#: with the early stops of mixed messages, in absolute value.
TRUNCATION_ETA = 1e-13

#: Most entries of each ``(L + 1) x V`` table (the rank-one rows, the laws ``mu^T P'^k`` and the
#: per-thread message slots): 2**25 float64 = 256 MiB.
SPARSE_TABLE_LIMIT = 2**25


class SparseLanguage:
    r"""An immutable, validated sparse order-2 language ``P' = (1 - eps) P_K + eps 1 nu^T``.

    See the module docstring of :mod:`ngramsim.sparse` for the mathematics (powers, conditionals,
    the cut-off distance and the 1e-12 tolerance).  ``q(x) = mu(x_0) prod_i P'(x_i | x_{i-1})``.

    Parameters
    ----------
    top_index : array_like of int, shape (V, K)
        Token ids of each row's kept entries, distinct within a row, in ``[0, V)``.
    top_prob : array_like, shape (V, K)
        ``P_K`` on those entries; each row sums to 1 within ``atol`` (zeros allowed, so a row may
        have fewer than ``K`` real entries) and is then divided by its sum.
    teleport : float
        ``eps`` in ``[0, 1)``.
    nu : array_like, shape (V,)
        The teleport law (sums to 1).
    initial : array_like, shape (V,)
        ``mu``, the law of ``x_0`` (sums to 1).
    name : str, optional
    meta : dict, optional
        Free-form provenance (copied; read-only view).
    atol : float
        Tolerance on the sums (default 1e-9).

    Attributes
    ----------
    vocab_size, order, top_k : int
        ``V``, 2 and ``K``.
    top_index, top_prob, nu, initial : ndarray
        Read-only arrays.
    teleport : float
    name : str
    meta : mapping

    Raises
    ------
    TypeError
        If an array has the wrong kind (``top_index`` not integers), ``teleport`` is not a real
        number, ``name`` not a string or ``meta`` not a dict.
    ValueError
        If a shape is wrong (``top_index`` not 2-D, ``K < 1``, ``V < 2``), an index lies outside
        ``[0, V)`` or repeats within a row, ``teleport`` lies outside ``[0, 1)``, or an entry is
        negative, not finite, or a row does not sum to 1.

    Examples
    --------
    >>> from ngramsim.sparse import SparseLanguage
    >>> lang = SparseLanguage([[1], [2], [0]], [[1.0], [1.0], [1.0]], 0.25, [0.5, 0.25, 0.25], [1, 0, 0])
    >>> lang.vocab_size, lang.top_k, lang.teleport
    (3, 1, 0.25)
    >>> lang.to_dense().transitions[0].tolist()  # 0.75 e_1 + 0.25 nu
    [0.125, 0.8125, 0.0625]
    """

    def __init__(self, top_index, top_prob, teleport, nu, initial, *, name: str = "", meta=None,
                 atol: float = DEFAULT_ATOL):
        index = np.asarray(top_index)
        if index.dtype == bool or not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"top_index must be an integer array, got dtype {index.dtype}")
        if index.ndim != 2:
            raise ValueError(f"top_index must have shape (vocab_size, top_k), got {index.shape}")
        V, K = index.shape
        if V < 2:
            raise ValueError(f"top_index must have vocab_size >= 2 rows, got {V}")
        if K < 1:
            raise ValueError(f"top_k must be >= 1, got top_index with {K} columns")
        if K > V:
            raise ValueError(f"top_k must be <= vocab_size={V}, got {K}")
        if index.min() < 0 or index.max() >= V:
            bad = index[(index < 0) | (index >= V)].flat[0]
            raise ValueError(f"top_index entries must lie in [0, {V}), found {int(bad)}")
        ordered = np.sort(index, axis=1)
        if K > 1 and np.any(ordered[:, 1:] == ordered[:, :-1]):
            row = int(np.argwhere(ordered[:, 1:] == ordered[:, :-1])[0, 0])
            raise ValueError(f"top_index row {row} repeats a token id; the ids of a row must be distinct")
        prob = check_probability_rows(top_prob, "top_prob", shape=(V, K), atol=atol)
        eps = check_real(teleport, "teleport", low=0.0, high=1.0, high_open=True)
        nu = check_probability_rows(nu, "nu", shape=(V,), atol=atol)
        mu = check_probability_rows(initial, "initial", shape=(V,), atol=atol)
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(f"meta must be a dict, got {type(meta).__name__}")
        index = np.array(index, dtype=np.int64)
        index.setflags(write=False)
        d = self.__dict__
        d["_index"], d["_prob"], d["_eps"], d["_nu"], d["_mu"] = index, prob, eps, nu, mu
        d["_name"], d["_meta"] = name, dict(meta or {})

    def __setattr__(self, key, value):
        raise AttributeError("SparseLanguage is immutable")

    def __delattr__(self, key):
        raise AttributeError("SparseLanguage is immutable")

    def __repr__(self):
        return (f"SparseLanguage(vocab_size={self.vocab_size}, top_k={self.top_k}, teleport={self.teleport!r}, "
                f"name={self.name!r})")

    @property
    def vocab_size(self) -> int:
        """``V``."""
        return self._index.shape[0]

    @property
    def order(self) -> int:
        """Always 2."""
        return 2

    @property
    def min_length(self) -> int:
        """1: any length ``L >= 1``."""
        return 1

    @property
    def top_k(self) -> int:
        """``K``, the entries kept per row."""
        return self._index.shape[1]

    @property
    def top_index(self) -> np.ndarray:
        """int64 (V, K): token ids of each row's kept entries (read-only)."""
        return self._index

    @property
    def top_prob(self) -> np.ndarray:
        """float64 (V, K): ``P_K`` on those entries, rows summing to 1 (read-only)."""
        return self._prob

    @property
    def teleport(self) -> float:
        """``eps``."""
        return self._eps

    @property
    def nu(self) -> np.ndarray:
        """float64 (V,): the teleport law (read-only)."""
        return self._nu

    @property
    def initial(self) -> np.ndarray:
        """float64 (V,): ``mu``, the law of ``x_0`` (read-only)."""
        return self._mu

    @property
    def name(self) -> str:
        """The label given at construction."""
        return self._name

    @property
    def meta(self) -> types.MappingProxyType:
        """Read-only view of the provenance dict."""
        return types.MappingProxyType(self._meta)

    # ------------------------------------------------------------------ dense
    @classmethod
    def from_dense(cls, language, top_k, teleport, nu=None, *, name=None):
        """Keep each row's ``K`` largest entries of an order-2 language and add a teleport.

        Parameters
        ----------
        language : NGramLanguage
            Order 2.
        top_k : int
            ``1 <= K <= V``; ties are broken towards smaller token ids (a stable sort).
        teleport : float
            ``eps`` in ``[0, 1)``.
        nu : array_like, optional
            The teleport law; default uniform.
        name : str, optional
            Default: the language's name with ``"+top{K},eps={eps}"``.

        Returns
        -------
        SparseLanguage
            ``P' = (1 - eps) P_K + eps 1 nu^T`` with ``P_K`` the renormalised top entries and the
            language's ``mu``.

        Raises
        ------
        TypeError
            If ``language`` is not an :class:`~ngramsim.NGramLanguage`.
        ValueError
            If its order is not 2, or ``top_k`` / ``teleport`` / ``nu`` are invalid.

        Examples
        --------
        >>> from ngramsim import window_language
        >>> from ngramsim.sparse import SparseLanguage
        >>> sparse = SparseLanguage.from_dense(window_language(4, 2), 2, 0.0)
        >>> bool((sparse.to_dense().transitions == window_language(4, 2).transitions).all())
        True
        """
        from ngramsim.sources import NGramLanguage

        if not isinstance(language, NGramLanguage):
            raise TypeError(f"language must be an NGramLanguage, got {type(language).__name__}")
        if language.order != 2:
            raise ValueError(f"language must have order 2, got order {language.order}")
        V = language.vocab_size
        K = check_int(top_k, "top_k", minimum=1)
        if K > V:
            raise ValueError(f"top_k must be <= vocab_size={V}, got {K}")
        P = language.transitions
        index = np.argsort(-P, axis=1, kind="stable")[:, :K]
        prob = np.take_along_axis(P, index, axis=1)
        prob = prob / prob.sum(axis=1, keepdims=True)
        nu = np.full(V, 1.0 / V) if nu is None else nu
        eps = check_real(teleport, "teleport", low=0.0, high=1.0, high_open=True)
        return cls(index, prob, eps, nu, language.initial,
                   name=name if name is not None else f"{language.name}+top{K},eps={eps:g}", meta=dict(language.meta))

    def dense_transitions(self) -> np.ndarray:
        """float64 (V, V): ``P' = (1 - eps) P_K + eps 1 nu^T`` as a dense array (needs ``V^2 <= 2^24``).

        Returns
        -------
        ndarray

        Raises
        ------
        ValueError
            If ``V^2`` exceeds the dense table limit.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.5, [1.0, 0.0], [1, 0]).dense_transitions().tolist()
        [[0.5, 0.5], [1.0, 0.0]]
        """
        from ngramsim._validation import check_table_size

        V = self.vocab_size
        check_table_size(V, 2)
        dense = np.zeros((V, V))
        np.put_along_axis(dense, self._index, (1.0 - self._eps) * self._prob, axis=1)
        if self._eps > 0:
            dense += self._eps * self._nu[None, :]
        return dense

    def to_dense(self):
        """The same chain as an :class:`~ngramsim.NGramLanguage` (when ``V^2`` fits the dense limit).

        Returns
        -------
        NGramLanguage
            Order 2, ``P = P'``, the same ``mu``, ``name`` and ``meta``.

        Raises
        ------
        ValueError
            If ``V^2`` exceeds the dense table limit.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> dense = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0]).to_dense()
        >>> dense.order, dense.transitions.tolist()
        (2, [[0.0, 1.0], [1.0, 0.0]])
        """
        from ngramsim.sources import NGramLanguage

        return NGramLanguage(self.dense_transitions(), self._mu, order=2, name=self._name, meta=self._meta)

    # --------------------------------------------------------------- law of x
    def _transition_probs(self, a, b):
        """``P'[a, b]`` and whether it is allowed (booleans), elementwise."""
        rows = self._index[a]  # (..., K)
        hit = rows == b[..., None]
        pk = np.where(hit, self._prob[a], 0.0).sum(axis=-1)
        allowed = (hit & (self._prob[a] > 0)).any(axis=-1) | ((self._eps > 0) & (self._nu[b] > 0))
        return (1.0 - self._eps) * pk + self._eps * self._nu[b], allowed

    def _pairs(self, x, name="x"):
        x = check_tokens(x, name, vocab_size=self.vocab_size, min_length=1)
        return x, x[..., :-1], x[..., 1:]

    def log_prob(self, x) -> np.ndarray:
        """``log q(x)`` of sequences (last axis); ``-inf`` where invalid (decided from the support, not floats).

        Parameters
        ----------
        x : array_like of int, shape (..., L)

        Returns
        -------
        ndarray of float64, shape (...)

        Raises
        ------
        TypeError
            If ``x`` is not an integer array.
        ValueError
            If ``L < 1`` or a token lies outside ``[0, V)``.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
        >>> lang.log_prob([[0, 1, 0], [0, 0, 1]]).tolist()
        [0.0, -inf]
        """
        x, a, b = self._pairs(x)
        p, allowed = self._transition_probs(a, b)
        ok = allowed.all(axis=-1) & (self._mu[x[..., 0]] > 0)
        with np.errstate(divide="ignore"):
            logs = np.log(self._mu[x[..., 0]]) + np.log(np.where(allowed, p, 1.0)).sum(axis=-1)
        return np.where(ok, logs, -np.inf)

    def prob(self, x) -> np.ndarray:
        """``q(x) = exp(log_prob(x))`` (may underflow to 0 for long valid sequences; use :meth:`is_valid`).

        Parameters
        ----------
        x : array_like of int, shape (..., L)

        Returns
        -------
        ndarray of float64, shape (...)

        Raises
        ------
        TypeError, ValueError
            As :meth:`log_prob`.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.5, [0.5, 0.5], [1, 0])
        >>> float(lang.prob([0, 1]))  # mu(0) (0.5 + 0.25)
        0.75
        """
        return np.exp(self.log_prob(x))

    def is_valid(self, x) -> np.ndarray:
        """``q(x) > 0``, from integers and booleans only (``x_0`` in the support of ``mu``, every
        transition allowed).

        Parameters
        ----------
        x : array_like of int, shape (..., L)

        Returns
        -------
        ndarray of bool, shape (...)

        Raises
        ------
        TypeError, ValueError
            As :meth:`log_prob`.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
        >>> lang.is_valid([[0, 1, 0], [1, 0, 1], [0, 0, 1]]).tolist()
        [True, False, False]
        """
        x, a, b = self._pairs(x)
        _, allowed = self._transition_probs(a, b)
        return allowed.all(axis=-1) & (self._mu[x[..., 0]] > 0)

    def ser(self, samples) -> float:
        """Sequence error rate of ``samples``: the fraction with ``q(x) = 0``.

        Parameters
        ----------
        samples : array_like of int, shape (M, L)

        Returns
        -------
        float

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
        >>> lang.ser([[0, 1], [0, 0]])
        0.5
        """
        valid = self.is_valid(samples)
        return float(1.0 - valid.mean()) if valid.size else float("nan")

    def sample_ancestral(self, length, num_samples=1, *, rng) -> np.ndarray:
        """Exact ancestral samples ``x ~ q_L``, shape ``(num_samples, length)``.

        Uses ``rng.random((num_samples, length))`` through the inverse CDF over token ids, as
        :meth:`NGramLanguage.sample` does (so the same seed gives the dense path's samples up to
        floating-point ties).

        Parameters
        ----------
        length : int
            ``L >= 1``.
        num_samples : int
            ``M >= 0``, ``M L <= 2^27``.
        rng : int or numpy.random.Generator

        Returns
        -------
        ndarray of int64, shape (num_samples, length)

        Raises
        ------
        TypeError
            If an argument has the wrong type.
        ValueError
            If ``length < 1``, ``num_samples < 0`` or the call is too large.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
        >>> lang.sample_ancestral(5, 2, rng=0).tolist()
        [[0, 1, 0, 1, 0], [0, 1, 0, 1, 0]]
        """
        length = check_int(length, "length", minimum=1)
        num_samples = check_int(num_samples, "num_samples", minimum=0)
        check_sample_size(num_samples, length)
        uniforms = as_generator(rng).random((num_samples, length))
        out = np.empty((num_samples, length), dtype=np.int64)
        mu_cdf = guarded_cdf(self._mu)[0]
        _k.ancestral(self._model, self._eps, np.array(self._nu), mu_cdf, uniforms, out)
        return out

    sample = sample_ancestral

    # ------------------------------------------------------------ conditionals
    @functools.cached_property
    def _model(self):
        V, K = self._index.shape
        idx = np.array(self._index)
        aprob = (1.0 - self._eps) * np.array(self._prob)
        flat = idx.ravel()
        order = np.argsort(flat, kind="stable")
        pred_row = (order // K).astype(np.int64)
        pred_val = aprob.ravel()[order].copy()
        pred_ptr = np.zeros(V + 1, dtype=np.int64)
        np.cumsum(np.bincount(flat, minlength=V), out=pred_ptr[1:])
        nu_pos = (self._eps * self._nu) > 0
        return (idx, aprob, pred_ptr, pred_row, pred_val, np.array(self._prob > 0), nu_pos, np.array(self._mu > 0),
                idx.astype(np.uint32), pred_row.astype(np.uint32))

    def cutoff(self, length) -> int:
        """The distance ``D`` from which message parts are dropped (``length + 1``: never).

        ``D`` is the smallest ``d`` with ``(1 - eps)^d <= TRUNCATION_ETA * eps * min(nu)`` when
        ``eps > 0`` and ``nu > 0`` everywhere (see the module docstring), otherwise nothing is dropped.

        Parameters
        ----------
        length : int
            ``L``; the result is capped at ``L + 1``.

        Returns
        -------
        int

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.5, [0.5, 0.5], [1, 0])
        >>> lang.cutoff(1000), 0.5 ** lang.cutoff(1000) <= 1e-13 * 0.5 * 0.5 < 0.5 ** (lang.cutoff(1000) - 1)
        (46, True)
        >>> SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0]).cutoff(1000)
        1001
        """
        length = check_int(length, "length", minimum=1)
        nu_min = float(self._nu.min())
        if self._eps == 0.0 or nu_min == 0.0:
            return length + 1
        bound = TRUNCATION_ETA * self._eps * nu_min
        d = max(0, int(math.floor(math.log(bound) / math.log1p(-self._eps))) - 2)
        while (1.0 - self._eps) ** d > bound:  # exact search from just below the estimate
            d += 1
        return min(d, length + 1)

    def _tables(self, length):
        return _cached_tables(self, length)

    def conditional_marginals(self, tokens, revealed):
        """Exact ``q(x_i | x_R)`` at every position (within 1e-12 absolute), and whether ``q(x_R) > 0``.

        Parameters
        ----------
        tokens : int array (L,)
            Values at revealed positions (others ignored).
        revealed : bool array (L,)
            The revealed set ``R``.

        Returns
        -------
        marginals : float64 (L, V)
            One-hot at revealed positions; uniform at masked ones when ``q(x_R) = 0``.
        possible : bool
            ``q(x_R) > 0``, decided from the support graph (booleans).

        Raises
        ------
        TypeError
            If ``tokens`` is not an integer array or ``revealed`` not boolean.
        ValueError
            If shapes disagree or a revealed token lies outside ``[0, V)``, or the tables of
            length ``L`` exceed :data:`SPARSE_TABLE_LIMIT`.

        Examples
        --------
        >>> import numpy as np
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
        >>> rows, possible = lang.conditional_marginals(np.array([0, 0, 0]), np.array([True, False, False]))
        >>> rows[1:].tolist(), possible
        ([[0.0, 1.0], [1.0, 0.0]], True)
        """
        tokens = np.asarray(tokens)
        revealed = np.asarray(revealed)
        if tokens.dtype == bool or not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(f"tokens must be an integer array, got dtype {tokens.dtype}")
        if revealed.dtype != bool:
            raise TypeError(f"revealed must be a boolean mask, got dtype {revealed.dtype}")
        if tokens.ndim != 1 or tokens.shape != revealed.shape or len(tokens) < 1:
            raise ValueError(f"tokens and revealed must have the same shape (length,), got {tokens.shape} and "
                             f"{revealed.shape}")
        shown = tokens[revealed]
        if shown.size and (shown.min() < 0 or shown.max() >= self.vocab_size):
            raise ValueError(f"revealed tokens must lie in [0, {self.vocab_size})")
        L = len(tokens)
        _check_table_limit(self.vocab_size, L)
        x = np.where(revealed, tokens, -1).astype(np.int64)
        out = np.empty((L, self.vocab_size))
        possible = _k.conditional_rows(x, self._model, self._tables(L), out)
        return out, bool(possible)

    def phi_curve(self, length):
        """Not implemented for sparse languages.

        Parameters
        ----------
        length : int

        Returns
        -------
        None

        Raises
        ------
        NotImplementedError
            Always: ``Phi(k) = E_{|A|=k} H(X_A)`` needs an ``O(L^2)`` pass whose sparse form (with the
            rank-one reduction of far pairs) has not been written; use ``to_dense()`` when ``V^2`` fits.

        Examples
        --------
        >>> from ngramsim.sparse import SparseLanguage
        >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.5, [0.5, 0.5], [1, 0])
        >>> try:
        ...     lang.phi_curve(8)
        ... except NotImplementedError as err:
        ...     print(str(err).split(";")[0])
        phi_curve is not implemented for SparseLanguage
        """
        raise NotImplementedError(
            "phi_curve is not implemented for SparseLanguage; convert with to_dense() when vocab_size^2 fits "
            "the dense limit, or estimate Phi by Monte Carlo from sample_ancestral"
        )


def _check_table_limit(V, length):
    if (length + 1) * V > SPARSE_TABLE_LIMIT:
        raise ValueError(
            f"length={length} is too long for a sparse language with vocab_size={V}: its tables need "
            f"(L + 1) V = {(length + 1) * V} float64 entries each, limit {SPARSE_TABLE_LIMIT}; lower length"
        )


@functools.lru_cache(maxsize=4)
def _cached_tables(language, length):
    """``(W, Lam, cutoff, all_positive, normalise)`` for the kernels, once per (language, length)."""
    eps = language.teleport
    nu_min = float(language.nu.min())
    if eps > 0 and nu_min == 0.0 and length * math.log1p(-eps) < -600:
        raise ValueError(
            f"length={length} is too long for teleport={eps} with a teleport law nu that has zeros: the "
            "untruncated messages (1 - eps)^L would underflow; give nu positive entries or lower length"
        )
    W, Lam = _k.rank_one_tables(language._model, eps, np.array(language.nu), np.array(language.initial), length)
    all_positive = eps > 0 and nu_min > 0
    cutoff = language.cutoff(length)
    if all_positive:  # early stops of mixed messages (module docstring)
        rho, T = _k.mixing_tables(np.array(language.top_index), np.array(language.top_prob), cutoff,
                                  _MIXING_ITERATIONS)
    else:
        rho, T = np.zeros(language.vocab_size), np.zeros((1, language.vocab_size))
    decay = (1.0 - eps) ** np.arange(length + 1, dtype=np.float64)
    return (W, Lam, cutoff, all_positive, eps == 0.0, T, rho, decay, TRUNCATION_ETA)


# Lazy power iterations for the reference law rho of the early stops (its quality only decides how
# soon sweeps stop, not the tolerance).
_MIXING_ITERATIONS = 2000


_SPARSE_KINDS = {BERNOULLI: "Bernoulli", COUNTS: "count", ORDER: "explicit order", BLOCKS: "blocks"}


def sample_mdm_sparse(language, length, schedule, num_samples, *, rng, learning_error=0.0, temperature=1.0,
                      oracle=None, method="auto", progress=False):
    """The idealised MDM on a :class:`SparseLanguage` (reached through :func:`ngramsim.sample_mdm`).

    Same semantics, random streams and outputs as the dense sampler (docs/sampler.md) for
    non-adaptive schedules with the exact model: every position revealed at a step is drawn
    independently from its exact conditional given the tokens revealed before the step.

    Parameters
    ----------
    language : SparseLanguage
    length : int
        ``L >= 1`` with ``(L + 1) V <= SPARSE_TABLE_LIMIT``.
    schedule : str or Schedule
        Bernoulli (``linear:N``, ...), count (``uniform:N``, ``counts:...``) or explicit
        (``order:...``, ``ar``, ``stride:s``).
    num_samples : int
    rng : int or numpy.random.Generator
    learning_error : float
        Must be 0.
    temperature : float
        Must be 1.
    oracle : None
        Must be None.
    method : {"auto", "sparse"}
    progress : bool
        Accepted for symmetry; no bar is shown.

    Returns
    -------
    MDMSamples
        With ``kernel == "sparse"``.

    Raises
    ------
    TypeError
        As :func:`ngramsim.sample_mdm`.
    ValueError
        For an adaptive or remasking schedule, ``learning_error != 0``, ``temperature != 1``, an
        oracle, another ``method``, or tables beyond :data:`SPARSE_TABLE_LIMIT`.

    Examples
    --------
    >>> from ngramsim import sample_mdm, window_language
    >>> from ngramsim.sparse import SparseLanguage
    >>> lang = SparseLanguage.from_dense(window_language(6, 2), 2, 0.1)
    >>> out = sample_mdm(lang, 32, "uniform:4", 3, rng=0)
    >>> out.samples.shape, out.kernel, out.nfe.tolist()
    ((3, 32), 'sparse', [4, 4, 4])
    """
    from ngramsim._model import check_model_params
    from ngramsim.sampler import MDMSamples
    from ngramsim.schedules import parse_schedule

    length = check_int(length, "length", minimum=1)
    parsed = parse_schedule(schedule)
    resolved = parsed.resolve(length)
    num_samples = check_int(num_samples, "num_samples", minimum=1)
    check_sample_size(num_samples, length)
    lam, tau = check_model_params(learning_error, temperature)
    if resolved.kind not in _SPARSE_KINDS:
        raise ValueError(f"schedule {parsed.spec!r} is not supported for a SparseLanguage: only non-adaptive "
                         "schedules (Bernoulli, counts, explicit orders, blocks:B:uniform:N) are; adaptive "
                         "rules, lowconf and remdm need a dense NGramLanguage")
    if lam != 0.0:
        raise ValueError(f"learning_error must be 0 for a SparseLanguage (the exact model only), got {lam!r}")
    if tau != 1.0:
        raise ValueError(f"temperature must be 1 for a SparseLanguage (the exact model only), got {tau!r}")
    if oracle is not None:
        raise ValueError("oracle is not supported for a SparseLanguage (the exact model only)")
    if method not in ("auto", "sparse"):
        raise ValueError(f"method must be 'auto' or 'sparse' for a SparseLanguage, got {method!r}")
    V = language.vocab_size
    _check_table_limit(V, length)
    seed = rng if isinstance(rng, int) and not isinstance(rng, bool) else None
    keys = draw_keys(as_generator(rng), num_samples)
    tables = language._tables(length)
    width = max(min(resolved.num_steps, length), 1)
    out = np.empty((num_samples, length), dtype=np.int64)
    nfe = np.zeros(num_samples, dtype=np.int64)
    per_step = np.zeros((num_samples, 2, width), dtype=np.int64)
    fallback = np.zeros(num_samples, dtype=bool)
    stats = np.zeros((num_samples, 3))
    status = np.zeros(num_samples, dtype=np.int64)
    spec = resolved.kernel_schedule
    # Batches of about one second so that Ctrl-C is acted on; each sequence has its own stream.  The
    # message tables (the largest scratch) are allocated once for all batches.
    threads = numba.get_num_threads()
    group = _k.lockstep_width(length, V)
    chunks = max(1, min(threads, -(-num_samples // group)))
    messages = (np.zeros((chunks, group, length, V)), np.zeros((chunks, group, length, V)))
    size = max(1, min(num_samples, chunks * group))
    first = 0
    while first < num_samples:
        part = slice(first, min(first + size, num_samples))
        began = time.perf_counter()
        _k.sample_sparse(keys[part], spec, language._model, tables,
                         (out[part], nfe[part], per_step[part], fallback[part], stats[part], status[part]),
                         messages)
        first = part.stop
        if time.perf_counter() - began < 0.5:
            size = min(2 * size, MAX_SAMPLE_TOKENS)
    if status.any():
        raise FloatingPointError(
            "a conditional of the sparse language summed to 0 in floating point although the state is possible "
            "(extreme probabilities with teleport=0); use a positive teleport"
        )
    return MDMSamples(samples=out, nfe=nfe, step_sizes=per_step[:, 0], step_indices=per_step[:, 1],
                      fallback=fallback, learning_kl_sum=stats[:, 0], learning_kl_count=stats[:, 1],
                      learning_kl_max=stats[:, 2], schedule=parsed.spec, length=length, learning_error=lam,
                      temperature=tau, seed=seed, kernel="sparse")


def sparse_sample_report(language, result) -> dict:
    """The keys of :func:`ngramsim.sample_report` for samples of a :class:`SparseLanguage`.

    SER with its Wilson interval, ``gen_log_ppl`` (valid and all), NFEs, fallback fraction, the
    (zero) learning KL, ``ar_nfe = L`` and ``ar_ser = 0`` (the exact model one token at a time is
    ancestral sampling: never invalid), ``kernel`` and the provenance keys.

    Parameters
    ----------
    language : SparseLanguage
    result : MDMSamples

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        If ``language`` is not a :class:`SparseLanguage`.

    Examples
    --------
    >>> from ngramsim import sample_mdm
    >>> from ngramsim.sparse import SparseLanguage, sparse_sample_report
    >>> lang = SparseLanguage([[1], [0]], [[1.0], [1.0]], 0.0, [0.5, 0.5], [1, 0])
    >>> report = sparse_sample_report(lang, sample_mdm(lang, 6, "ar", 10, rng=0))
    >>> report["ser"], report["gen_log_ppl"], report["kernel"]
    (0.0, 0.0, 'sparse')
    """
    from ngramsim.measure import Measure
    from ngramsim.metrics import _mean_stderr, wilson_interval
    from ngramsim.provenance import provenance

    if not isinstance(language, SparseLanguage):
        raise TypeError(f"language must be a SparseLanguage, got {type(language).__name__}")
    M, L = result.samples.shape
    nll = -language.log_prob(result.samples) / L
    valid = np.isfinite(nll)
    invalid = int(M - valid.sum())
    low, high = wilson_interval(invalid, M)
    gen = Measure(float("inf"), float("nan"), "monte_carlo", M) if invalid else _mean_stderr(nll)
    gen_valid = _mean_stderr(nll[valid])
    report = {
        "ser": invalid / M, "ser_interval": [low, high], "num_invalid": invalid,
        "gen_log_ppl": gen.value, "gen_log_ppl_stderr": gen.stderr,
        "gen_log_ppl_valid": gen_valid.value, "gen_log_ppl_valid_stderr": gen_valid.stderr,
        "num_valid": int(valid.sum()), "nfe_mean": float(result.nfe.mean()), "nfe_max": int(result.nfe.max()),
        "fallback_fraction": float(result.fallback.mean()), "learning_kl_mean": result.learning_kl_mean,
        "learning_kl_max": float(result.learning_kl_max.max()), "num_samples": M, "length": L,
        "learning_error": result.learning_error, "temperature": result.temperature,
        "ar_nfe": L, "ar_ser": 0.0, "kernel": result.kernel,
    }
    report.update(provenance(language, seed=result.seed, schedule=result.schedule))
    return report
