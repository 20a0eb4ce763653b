"""Slow, obviously correct references that tests compare the fast code against.

Everything here follows SPEC.md's definitions literally with Python loops over
``V^L``; it reads only the language's validated arrays ``P`` and ``mu``.
"""

import itertools
import math

import numpy as np


def context_index(tokens, vocab_size):
    """``idx(c) = sum_j c_j V^(len-1-j)`` (oldest token most significant)."""
    index = 0
    for t in tokens:
        index = index * vocab_size + int(t)
    return index


def sequence_prob(language, x):
    """``q(x) = mu(x_0..x_{n-2}) prod_{i>=n-1} P(x_i | c_i)`` by direct multiplication."""
    V, m = language.vocab_size, language.order - 1
    P, mu = language.transitions, language.initial
    p = mu[context_index(x[:m], V)] if m > 0 else 1.0
    for i in range(m, len(x)):
        p *= P[context_index(x[i - m : i], V), x[i]]
    return float(p)


def all_sequences(vocab_size, length):
    """Every sequence of ``V^L`` in lexicographic C order, shape ``(V^L, L)``."""
    return np.array(list(itertools.product(range(vocab_size), repeat=length)), dtype=np.int64).reshape(-1, length)


def enumerate_q(language, length):
    """``(sequences, q)`` over all of ``V^L``."""
    xs = all_sequences(language.vocab_size, length)
    return xs, np.array([sequence_prob(language, x) for x in xs])


def entropy(probs):
    """``-sum p log p`` with ``0 log 0 = 0`` (nats)."""
    return -sum(p * math.log(p) for p in probs if p > 0)


def token_marginals(language, length):
    """``q(x_i = v)`` by summing the enumerated law."""
    xs, q = enumerate_q(language, length)
    out = np.zeros((length, language.vocab_size))
    for x, p in zip(xs, q):
        for i, v in enumerate(x):
            out[i, v] += p
    return out


def ancestral_from_uniforms(language, uniforms):
    """Ancestral sampling with the same uniforms convention as the kernel, by linear search.

    Column 0 draws the initial context from ``mu`` (``n >= 2``); column ``i >= n-1``
    draws ``x_i``: the smallest ``v`` with ``u < cumsum(p)[v]``, and if none (rounding),
    the last ``v`` of positive probability.
    """
    V, m = language.vocab_size, language.order - 1
    P, mu = language.transitions, language.initial

    def draw(p, u):
        acc = 0.0
        for v in range(len(p)):
            acc += p[v]
            if p[v] > 0 and u < acc:
                return v
        return max(v for v in range(len(p)) if p[v] > 0)

    out = np.zeros(uniforms.shape, dtype=np.int64)
    for s in range(uniforms.shape[0]):
        if m > 0:
            c = draw(mu, uniforms[s, 0])
            for j in range(m):
                out[s, j] = (c // V ** (m - 1 - j)) % V
        for i in range(m, uniforms.shape[1]):
            out[s, i] = draw(P[context_index(out[s, i - m : i], V)], uniforms[s, i])
    return out


def context_graph_closure(language):
    """Boolean reachability matrix of the context chain (reflexive-transitive closure), by Warshall."""
    V, K = language.vocab_size, language.num_contexts
    reach = np.eye(K, dtype=bool)
    for c in range(K):
        for v in range(V):
            if language.transitions[c, v] > 0:
                reach[c, (c * V + v) % K] = True
    for k in range(K):
        reach |= reach[:, [k]] & reach[[k], :]
    return reach


def num_recurrent_classes(language):
    """Number of closed communicating classes: ``c`` is recurrent iff everything it reaches reaches it."""
    reach = context_graph_closure(language)
    recurrent = [c for c in range(len(reach)) if all(reach[d, c] for d in np.flatnonzero(reach[c]))]
    classes = {tuple(np.flatnonzero(reach[c] & reach[:, c])) for c in recurrent}
    return len(classes), reach
