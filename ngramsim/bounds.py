r"""The inequalities of THEORY.md, computed: one public function per statement.

Each docstring gives the inequality, its source, its conditions and whether its
constants are published, reconstructed or ours; ``proofs/`` holds the proofs of
ours.  :func:`check_bound` holds a bound against what the simulator observes.
"""

from __future__ import annotations

from ngramsim.window_ser import c2_bound_details

__all__ = ["c2_ser_lower_bound"]


def c2_ser_lower_bound(language, length, schedule) -> float:
    r"""THEORY C2 (ours): a lower bound on the SER of position-oblivious samplers on ``W(V, m)``.

    .. math::

        \mathrm{SER} \ge 1 - \mathbb{E}\,(1 - c)^{Z},

    where ``c = c(V, m, D)`` bounds below the probability that two adjacent positions revealed
    at the same step, whose nearest revealed tokens are at distance ``>= D``, leave the window
    (a finite check over boundary contexts), and ``Z`` counts disjoint blocks of ``2D``
    positions whose centre pair is revealed at one step before the rest of the block.  For
    Bernoulli schedules ``E (1-c)^Z <= exp(-c J g_D(w))``; for count schedules it is bounded
    from the exact mean and variance of ``Z`` (Cantelli).  The largest bound over
    ``D = 1 .. 40`` is returned.  For ``linear:N`` it reads
    ``1 - exp(-c floor(L/2D) / (N (2D - 1)))``: constant at fixed ``L/N``, tending to 1 as
    ``L/N`` grows, so ``SER <= 1/2`` needs ``N`` linear in ``L``.

    Source: ours (``proofs/C2_window_ser_lower_bound.md``); every constant is computed here.

    Conditions: ``language`` is ``W(V, m)`` (:func:`~ngramsim.window_language`, ``mu`` uniform),
    ``schedule`` a count (``uniform:N``, ``counts:...``) or Bernoulli (``linear:N``, ``cosine:N``,
    ``poly:N:p``, a callable ``alpha``) schedule, and the ideal reverse model (``lambda = 0``,
    ``tau = 1``).  Anything else raises ``ValueError`` saying why.

    Examples
    --------
    >>> import ngramsim
    >>> from ngramsim.bounds import c2_ser_lower_bound
    >>> w = ngramsim.window_language(4, 2)
    >>> round(c2_ser_lower_bound(w, 1024, "linear:16"), 4) == round(c2_ser_lower_bound(w, 4096, "linear:64"), 4)
    True
    >>> c2_ser_lower_bound(w, 4096, "linear:16") > 0.99
    True
    """
    return c2_bound_details(language, length, schedule)["bound"]
