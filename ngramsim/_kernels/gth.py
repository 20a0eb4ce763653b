r"""Grassmann–Taksar–Heyman (GTH) state reduction: the stationary law of an irreducible chain.

Censoring.  Watch an irreducible chain on ``{0, ..., n}`` only while it is in
``{0, ..., n-1}``: the result is again a Markov chain (the *censored* chain),
whose transition from ``i`` to ``j`` goes either directly or through ``n``,

.. math::

    A'[i, j] = A[i, j] + A[i, n] \, \frac{A[n, j]}{\sum_{l < n} A[n, l]},
    \qquad i, j < n,

and whose stationary law is the stationary law of the original chain
restricted to ``{0, ..., n-1}``, renormalised.  Eliminating ``k-1, ..., 1`` in
turn leaves the single state ``0``; walking back up, the balance equation of
``n`` in the chain censored to ``{0, ..., n}`` gives
``pi_n = sum_{i<n} pi_i A[i, n] / sum_{l<n} A[n, l]``.

Why this is accurate.  The escape mass ``1 - A[n, n]`` is computed as the sum
of the off-diagonal entries ``sum_{l<n} A[n, l]``, never as a difference, so
every operation adds, multiplies or divides non-negative numbers: each rounds
with relative error at most one ulp and nothing cancels.  Every ``pi_j``,
however small, therefore comes out with a small *relative* error
(O'Cinneide 1993), whereas a linear solve of ``pi (T - I) = 0`` only bounds the
absolute error by ``eps`` times a condition number that explodes for nearly
decomposable chains (small entries then come out wrong, even negative).
Diagonal entries of the input are never read.

References: W. K. Grassmann, M. I. Taksar, D. P. Heyman, Regenerative analysis
and steady state distributions for Markov chains, Oper. Res. 33 (1985);
C. A. O'Cinneide, Entrywise perturbation theory and error analysis for Markov
chains, Numer. Math. 65 (1993).
"""

import numba


@numba.njit(cache=True)
def gth_reduce(A):
    """Censor ``A`` (float64, ``(k, k)``, C order) onto ``{0, ..., n-1}`` for ``n = k-1, ..., 1``, in place.

    After the call, column ``n`` above the diagonal holds
    ``A[i, n] / sum_{l<n} A[n, l]`` of the chain censored to ``{0, ..., n}``:
    what :func:`gth_back_substitute` needs.  Returns ``-1``, or the first state
    ``n`` with no mass towards ``{0, ..., n-1}`` (then ``A`` is not irreducible
    and the reduction stopped there).
    """
    k = A.shape[0]
    for n in range(k - 1, 0, -1):
        escape = 0.0
        for j in range(n):
            escape += A[n, j]
        if not escape > 0.0:
            return n
        for i in range(n):
            a = A[i, n]
            if a == 0.0:
                continue  # no path i -> n: row i is unchanged (context chains are sparse)
            a /= escape
            A[i, n] = a
            for j in range(n):
                A[i, j] += a * A[n, j]
    return -1


@numba.njit(cache=True)
def gth_back_substitute(A, out):
    """Fill ``out`` (float64, ``(k,)``) with the stationary law from a matrix reduced by :func:`gth_reduce`.

    ``pi_0 = 1`` and ``pi_n = sum_{i<n} pi_i A[i, n]`` (sums of non-negative
    terms), then ``pi`` is divided by its sum.
    """
    k = A.shape[0]
    out[0] = 1.0
    for n in range(1, k):
        total = 0.0
        for i in range(n):
            total += out[i] * A[i, n]
        out[n] = total
    norm = 0.0
    for n in range(k):
        norm += out[n]
    for n in range(k):
        out[n] /= norm
    return out
