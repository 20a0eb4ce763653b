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


def subset_entropy(language, length, positions):
    """``H(X_A)`` of the positions ``A`` by grouping the enumerated law on ``x_A`` (0 for ``A`` empty)."""
    xs, q = enumerate_q(language, length)
    law = {}
    for x, p in zip(xs, q):
        key = tuple(x[list(positions)])
        law[key] = law.get(key, 0.0) + p
    return entropy(law.values())


def kl_divergence(q, p):
    """``sum_{q > 0} q log(q / p)``, unclamped (``+inf`` if ``p`` misses part of the support of ``q``)."""
    total = 0.0
    for a, b in zip(q, p):
        if a > 0:
            if b <= 0:
                return math.inf
            total += a * (math.log(a) - math.log(b))
    return total


def b1_terms(language, length, blocks, learning_error=0.0, temperature=1.0):
    """THEORY B1's per-step terms of an explicit ordered partition, from their definitions (unclamped).

    ``tc[t] = E_q[ sum_{i in S_t} H(X_i | x_R) - H(X_{S_t} | x_R) ]`` and
    ``learning[t] = E_q[ sum_{i in S_t} KL(q(.|x_R) || p_theta(.|x_R)) ]`` with ``R = R_t``,
    by grouping the enumerated law on ``x_R``.
    """
    V = language.vocab_size
    xs, q = enumerate_q(language, length)
    tc, learning = [], []
    revealed = []
    for block in blocks:
        groups = {}
        for x, p in zip(xs, q):
            if p > 0:
                groups.setdefault(tuple(x[revealed]), []).append((x, p))
        step_tc = step_learning = 0.0
        for members in groups.values():
            evidence = sum(p for _, p in members)
            joint = {}
            rows = np.zeros((len(block), V))
            for x, p in members:
                key = tuple(x[block])
                joint[key] = joint.get(key, 0.0) + p / evidence
                rows[np.arange(len(block)), x[block]] += p / evidence
            step_tc += evidence * (sum(entropy(r) for r in rows) - entropy(joint.values()))
            step_learning += evidence * sum(kl_divergence(r, _theta(r, learning_error, temperature)) for r in rows)
        tc.append(step_tc)
        learning.append(step_learning)
        revealed = revealed + list(block)
    return np.array(tc), np.array(learning)


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


# ----------------------------------------------------------------------------------------------
# The idealised MDM (SPEC §2) by brute force: its exact output law over V^L for every schedule
# kind, by recursion over states (partial assignments), enumerating every reveal set and value.
# It parses schedule strings itself and reads nothing from ngramsim but the language's arrays.

TIE = 1e-12


def _alpha_of(name, power=None):
    if name == "linear":
        return lambda t: 1.0 - t
    if name == "cosine":
        return lambda t: math.cos(math.pi * t / 2)
    return lambda t: 1.0 - t**power


def parse_reference_schedule(spec, length, alpha=None, num_steps=None):
    """A plain description of a schedule: ``(kind, data)``; ``alpha`` gives a Bernoulli schedule directly."""
    if alpha is not None:
        return "bernoulli", [alpha(1 - t / num_steps) for t in range(num_steps + 1)]
    head, _, rest = spec.partition(":")
    if head == "blocks":
        kind, data, _ = block_schedule(spec, length)
        return kind, data
    if head == "ar":
        return "order", [[i] for i in range(length)]
    if head in ("linear", "cosine", "poly"):
        parts = rest.split(":")
        N = int(parts[0])
        a = _alpha_of(head, float(parts[1]) if head == "poly" else None)
        return "bernoulli", [a(1 - t / N) for t in range(N + 1)]
    if head == "counts":
        return "counts", [int(s) for s in rest.split(",")]
    if head == "remdm":
        # uniform:N's sizes; sigma_1 = 0, sigma_t = min(eta, masked after step t / revealed before it).
        n_text, eta = rest.split(":")
        N, eta = int(n_text), float(eta)
        sizes = [length // N + (1 if t < length % N else 0) for t in range(N)]
        ends = list(itertools.accumulate(sizes))
        sigmas = [0.0] + [min(eta, (length - ends[t]) / ends[t - 1]) for t in range(1, N)]
        return "remdm", (sizes, sigmas)
    if head in ("uniform", "topk", "margin", "lowconf", "random"):
        N = int(rest)
        sizes = [length // N + (1 if t < length % N else 0) for t in range(N)]
        return ("counts" if head == "uniform" else head), sizes
    if head == "order":
        return "order", [[int(p) for p in block.split(",")] for block in rest.split(";")]
    if head == "stride":
        s = int(rest)
        return "order", [list(range(j, length, s)) for j in range(min(s, length))]
    if head in ("grow", "shrink"):
        # Cumulative counts round(L^(t/N)), kept strictly increasing and leaving room for later steps.
        N = int(rest)
        ends = [0]
        for t in range(1, N + 1):
            ends.append(min(max(round(length ** (t / N)), ends[-1] + 1), length - (N - t)))
        sizes = [b - a for a, b in zip(ends, ends[1:])]
        return "counts", sizes if head == "grow" else sizes[::-1]
    return head, float(rest)


def _even_split(total, parts):
    return [total // parts + (1 if j < total % parts else 0) for j in range(parts)]


def block_schedule(spec, length):
    """``blocks:B:<inner>:N``: ``(inner kind, sizes per step, [lo, hi) per step)``.

    Blocks ``[bB, min((b+1)B, L))`` left to right; the ``N`` steps split evenly over the blocks
    (earlier blocks get the extra ones), each block's length split evenly over its steps.
    """
    _, B, inner, N = spec.split(":")
    B, N = int(B), int(N)
    num_blocks = -(-length // B)
    sizes, ranges = [], []
    for b, steps in enumerate(_even_split(N, num_blocks)):
        lo, hi = b * B, min(length, (b + 1) * B)
        sizes += _even_split(hi - lo, steps)
        ranges += [(lo, hi)] * steps
    return ("counts" if inner == "uniform" else inner), sizes, ranges


def _theta(r, lam, tau):
    V = len(r)
    t = np.zeros(V)
    support = r > 0
    logs = np.log(r[support]) / tau
    t[support] = np.exp(logs - logs.max())
    t /= t.sum()
    return (1 - lam) * t + lam / V


def _conditional(xs, q, state):
    """``(q(x_R), rows)``: evidence and exact conditional rows at masked positions, by summation."""
    match = np.ones(len(xs), dtype=bool)
    for i, v in enumerate(state):
        if v >= 0:
            match &= xs[:, i] == v
    evidence = q[match].sum()
    return evidence, match


def _subsets_uniform(members, k):
    combos = list(itertools.combinations(members, k))
    return [(set(c), 1.0 / len(combos)) for c in combos]


def _adaptive_sets(rule, data, t, masked, rows):
    """Reveal sets of an adaptive rule with their probabilities (random tie-breaking enumerated)."""
    if rule == "topk":
        score = {i: -rows[i].max() for i in masked}
    elif rule == "margin":
        score = {i: -(np.sort(rows[i])[-1] - np.sort(rows[i])[-2]) for i in masked}
    else:
        score = {i: -sum(p * math.log(p) for p in rows[i] if p > 0) for i in masked}
    ranked = sorted(score[i] for i in masked)
    if rule in ("topk", "margin"):
        k = min(data[t], len(masked))
    elif rule == "eb":
        k = max(j for j in range(1, len(masked) + 1) if sum(ranked[:j]) - ranked[j - 1] <= data + TIE)
    else:
        over = [j for j in range(1, len(masked) + 1) if sum(ranked[:j]) > data + TIE]
        k = over[0] if over else len(masked)
    bound = ranked[k - 1]
    sure = [i for i in masked if score[i] < bound - TIE]
    tied = [i for i in masked if abs(score[i] - bound) <= TIE]
    return [(set(sure) | extra, p) for extra, p in _subsets_uniform(tied, k - len(sure))]


def exact_mdm_law(language, length, spec, *, learning_error=0.0, temperature=1.0, alpha=None, num_steps=None):
    """The sampler's exact law over ``V^L`` (lexicographic C order) and its SER, by brute force."""
    V = language.vocab_size
    xs, q = enumerate_q(language, length)
    kind, data = parse_reference_schedule(spec, length, alpha, num_steps)
    if kind == "bernoulli":
        alphas = [0.0] + list(data[1:-1]) + [1.0]
        num = len(alphas) - 1
    elif kind in ("counts", "order", "topk", "margin", "lowconf", "random"):
        num = len(data)
    elif kind == "remdm":
        num = len(data[0])
    else:
        num = length
    law = np.zeros(len(xs))
    index_weights = V ** np.arange(length - 1, -1, -1)
    ranges = block_schedule(spec, length)[2] if spec.startswith("blocks:") else [(0, length)] * num

    def reveal_sets(t, masked, rows):
        if kind == "bernoulli":
            if t == num - 1:
                return [(set(masked), 1.0)]
            denom = 1 - alphas[t]
            h = 0.0 if denom <= 0 else (alphas[t + 1] - alphas[t]) / denom
            out = []
            for k in range(len(masked) + 1):
                for c in itertools.combinations(masked, k):
                    out.append((set(c), h**k * (1 - h) ** (len(masked) - k)))
            return out
        if kind == "counts":
            return _subsets_uniform(masked, data[t])
        if kind == "order":
            return [(set(data[t]), 1.0)]
        return _adaptive_sets(kind, data, t, masked, rows)

    def model_rows(state, masked):
        evidence, match = _conditional(xs, q, state)
        rows = {}
        for i in masked:
            if evidence > 0:
                r = np.array([q[match & (xs[:, i] == v)].sum() for v in range(V)]) / evidence
                rows[i] = _theta(r, learning_error, temperature)
            else:
                rows[i] = np.full(V, 1.0 / V)
        return rows

    def draw_into(state, chosen, rows, t, prob):
        for values in itertools.product(range(V), repeat=len(chosen)):
            p = prob
            for i, v in zip(chosen, values):
                p *= rows[i][v]
            if p == 0:
                continue
            nxt = list(state)
            for i, v in zip(chosen, values):
                nxt[i] = v
            recurse(tuple(nxt), t + 1, p)

    def recurse(state, t, prob):
        masked = [i for i, v in enumerate(state) if v < 0]
        if not masked:
            law[int(np.dot(state, index_weights))] += prob
            return
        if kind == "remdm":
            # Remask each revealed token with probability sigma_t, then draw a uniformly random
            # (s_t + #remasked)-subset of the masked positions given what is left revealed.
            sizes, sigmas = data
            revealed = [i for i in range(length) if i not in masked]
            for k in range(len(revealed) + 1):
                p_k = sigmas[t] ** k * (1 - sigmas[t]) ** (len(revealed) - k)
                if p_k == 0:
                    continue
                for remasked in itertools.combinations(revealed, k):
                    reduced = tuple(-1 if i in remasked else v for i, v in enumerate(state))
                    left = [i for i, v in enumerate(reduced) if v < 0]
                    rows = model_rows(reduced, left)
                    subsets = list(itertools.combinations(left, sizes[t] + k))
                    for c in subsets:
                        draw_into(reduced, c, rows, t, prob * p_k / len(subsets))
            return
        rows = model_rows(state, masked)
        lo, hi = ranges[t] if t < len(ranges) else (0, length)
        masked = [i for i in masked if lo <= i < hi]  # semi-autoregressive blocks: the current block only
        if kind in ("random", "lowconf"):
            # Draw every masked position, keep data[t] of the draws, remask the rest.  random: a
            # uniformly random subset; lowconf: uniformly among the subsets that no left-out
            # position beats by more than the tie tolerance in p(drawn token).
            size = data[t]
            for drawn in itertools.product(range(V), repeat=len(masked)):
                p_draw = float(np.prod([rows[i][v] for i, v in zip(masked, drawn)]))
                if p_draw == 0:
                    continue
                conf = {i: rows[i][v] for i, v in zip(masked, drawn)}
                sets = [c for c in itertools.combinations(masked, size)
                        if kind == "random" or all(conf[i] >= conf[j] - 1e-12 for i in c for j in masked if j not in c)]
                for c in sets:
                    nxt = list(state)
                    for i in c:
                        nxt[i] = drawn[masked.index(i)]
                    recurse(tuple(nxt), t + 1, prob * p_draw / len(sets))
            return
        for chosen, p_set in reveal_sets(t, masked, rows):
            if p_set == 0:
                continue
            draw_into(state, sorted(chosen), rows, t, prob * p_set)

    recurse(tuple([-1] * length), 0, 1.0)
    ser = float(law[q == 0].sum())
    return law, ser


# ------------------------------------------------------------------ log space, any length
def _log(a):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(a, dtype=np.float64))


def log_matrix_powers(language, max_power):
    """``log P^d`` for ``d = 0 .. max_power`` of an order-2 language, by log-sum-exp products (no underflow)."""
    from scipy.special import logsumexp

    logP = _log(language.transitions)
    V = logP.shape[0]
    out = np.empty((max_power + 1, V, V))
    out[0] = np.where(np.eye(V, dtype=bool), 0.0, -np.inf)
    for d in range(1, max_power + 1):
        out[d] = logsumexp(out[d - 1][:, :, None] + logP[None, :, :], axis=1)
    return out


def log_conditionals(language, tokens, revealed):
    """``(log q(x_i = v, x_R) for all i, v; log q(x_R))`` by a plain log-space forward-backward.

    Literal recursion over contexts with numpy's ``logaddexp`` (no scaling, so zeros are
    exact); rows of revealed positions are left as they come out (``-inf`` off the value).
    """
    V, n = language.vocab_size, language.order
    L = len(tokens)
    logP = _log(language.transitions)
    obs = [[v for v in range(V) if not revealed[i] or v == tokens[i]] for i in range(L)]
    if n == 1:
        rows = np.full((L, V), -np.inf)
        for i in range(L):
            rows[i, obs[i]] = logP[0, obs[i]]
        per = np.logaddexp.reduce(rows, axis=1)
        total = per.sum()
        return rows - per[:, None] + total, total
    m = n - 1
    K = V**m
    logmu = _log(language.initial)
    # alpha[i][c]: log P(x_0..x_i consistent, s_i = c), s_i = context after position i (i >= m-1).
    alpha = np.full((L, K), -np.inf)
    for c in range(K):
        digits = [(c // V ** (m - 1 - j)) % V for j in range(m)]
        if all(d in obs[j] for j, d in enumerate(digits)):
            alpha[m - 1, c] = logmu[c]
    for i in range(m, L):
        for c in range(K):
            for v in obs[i]:
                t = (c * V + v) % K
                alpha[i, t] = np.logaddexp(alpha[i, t], alpha[i - 1, c] + logP[c, v])
    beta = np.full((L, K), -np.inf)
    beta[L - 1] = 0.0
    for i in range(L - 1, m - 1, -1):
        for c in range(K):
            terms = [logP[c, v] + beta[i, (c * V + v) % K] for v in obs[i]]
            beta[i - 1, c] = np.logaddexp.reduce(terms) if terms else -np.inf
    rows = np.full((L, V), -np.inf)
    for i in range(L):
        for v in obs[i]:
            if i >= m:
                terms = [alpha[i - 1, c] + logP[c, v] + beta[i, (c * V + v) % K] for c in range(K)]
            else:
                terms = [alpha[m - 1, c] + beta[m - 1, c] for c in range(K) if (c // V ** (m - 1 - i)) % V == v]
            rows[i, v] = np.logaddexp.reduce(terms)
    return rows, np.logaddexp.reduce(alpha[L - 1])
