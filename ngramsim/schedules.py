r"""Unmasking schedules (SPEC §2): which positions are revealed at each step.

Four kinds:

1. *Bernoulli* (the paper's): ``alpha`` on the grid ``u_t = 1 - t/N``; each
   position is assigned to step ``t`` independently with probability
   ``w_t = alpha(u_t) - alpha(u_{t-1})``.  Built in: ``linear:N``
   (``alpha = 1 - t``), ``cosine:N`` (``alpha = cos(pi t / 2)``),
   ``poly:N:p`` (``alpha = 1 - t^p``), or any callable via :meth:`Schedule.bernoulli`.
2. *Fixed counts*: ``counts:s1,s2,...`` (``sum s_t = L``), ``uniform:N``; each
   ``S_t`` is a uniformly random ``s_t``-subset of the masked positions.
   ``grow:N`` and ``shrink:N`` are count schedules whose sizes grow (shrink)
   geometrically: the revealed count after step ``t`` is about ``L^(t/N)``
   (THEORY B5; :func:`geometric_sizes`).
3. *Explicit order*: ``order:0,3;1,2;4`` (0-based positions, steps separated by
   ``;``), ``ar`` = ``({0}, {1}, ..., {L-1})``, ``stride:s`` = ``({0, s, 2s, ...},
   {1, s+1, ...}, ..., {s-1, 2s-1, ...})`` (THEORY C2', ``min(s, L)`` steps).
4. *Adaptive*: ``topk:N``, ``margin:N``, ``eb:gamma``, ``esum:gamma``, scored on
   the model's predictive marginals, ties (within 1e-12) broken uniformly at random.
5. *Low-confidence remasking* (LLaDA's decoder): ``lowconf:N`` draws every masked
   position from ``p_theta`` at each step and keeps the ``s_t`` (``uniform:N``'s sizes)
   whose drawn token has the highest probability (ties within 1e-12 uniformly at
   random); the other draws are discarded (remasked).  Unlike ``topk``, the ranking
   is by the probability of the *drawn* token, so what is kept depends on the draws.
   *Random remasking* (LLaDA's other decoder: keep a uniformly random ``s_t``-subset of the
   draws) has exactly the law of ``uniform:N`` and is spelled ``random:N``.
6. *Semi-autoregressive blocks* (LLaDA): ``blocks:B:uniform:N``, ``blocks:B:random:N`` and
   ``blocks:B:lowconf:N`` cut the sequence into blocks of ``B`` positions (the last may be
   shorter), decoded left to right; the ``N`` steps are shared out as ``uniform:N``'s sizes
   over the ``ceil(L/B)`` blocks, and block ``b``'s ``N_b`` steps reveal its ``B_b`` positions
   with ``uniform:N_b``'s sizes, at random positions of the block or by low confidence within it.

7. *Remasking of revealed tokens* (ReMDM-style correctors): ``remdm:N:eta`` keeps
   ``uniform:N``'s revealed counts ``r_t = s_1 + ... + s_t``, but at step ``t`` first remasks each
   revealed token independently with probability ``sigma_t = min(eta, (L - r_t) / r_(t-1))``
   (ReMDM's capped schedule: never more than will be masked after the step; 0 at the last step),
   then draws a uniformly random set of ``r_t - |R|`` masked positions given what is left, so a
   wrong token can be replaced.  ``eta = 0`` is ``uniform:N``.

A :class:`Schedule` is length-free; :meth:`Schedule.resolve` checks it
against a length ``L`` and returns the arrays the kernels use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ngramsim._kernels.steps import (  # kind codes
    BERNOULLI,
    BLOCKS,
    COUNTS,
    EB,
    ESUM,
    LOWCONF,
    MARGIN,
    ORDER,
    REMDM,
    TOPK,
    alias_table,
)
from ngramsim._validation import check_int

__all__ = [
    "Schedule",
    "ResolvedSchedule",
    "parse_schedule",
    "uniform_sizes",
    "geometric_sizes",
    "SCHEDULE_GRAMMAR",
    "MAX_BERNOULLI_STEPS",
]

SCHEDULE_GRAMMAR = (
    "ar, linear:N, cosine:N, poly:N:p, counts:s1,s2,..., uniform:N, grow:N, shrink:N, "
    "order:0,3;1,2;4, stride:s, topk:N, margin:N, eb:gamma, esum:gamma, lowconf:N, random:N, "
    "blocks:B:uniform:N, blocks:B:random:N, blocks:B:lowconf:N, remdm:N:eta"
)

#: Inner decoders a ``blocks:B:...`` schedule accepts.
BLOCK_INNER = ("uniform", "random", "lowconf")

ADAPTIVE_RULES = {"topk": TOPK, "margin": MARGIN, "eb": EB, "esum": ESUM}

#: Slack for the endpoint checks of alpha (SPEC §2).
ENDPOINT_TOL = 1e-12

#: Most steps of a Bernoulli schedule: 2**20.  Its step law is tabulated (16 bytes and a
#: call of alpha per step), while at most L steps of a sequence reveal anything.
MAX_BERNOULLI_STEPS = 2**20


def _check_bernoulli_steps(N: int, spec: str) -> int:
    if N > MAX_BERNOULLI_STEPS:
        raise ValueError(
            f"schedule {spec!r}: a Bernoulli schedule takes at most N = 2^20 = {MAX_BERNOULLI_STEPS} steps "
            f"(its step law is tabulated, one entry per step, while at most L steps reveal anything), got N={N}; "
            "with N >= L^2, linear:N is within L(L-1)/(2N) in total variation of uniform:L "
            "(one uniformly random position per step)"
        )
    return N


def _linear(t):
    return 1.0 - t


def _cosine(t):
    return math.cos(math.pi * t / 2.0)


def _poly(p):
    def alpha(t):
        return 1.0 - t**p

    return alpha


def uniform_sizes(length: int, num_steps: int) -> np.ndarray:
    """Step sizes of ``uniform:N``: the first ``L mod N`` steps get ``ceil(L/N)``, the rest ``floor(L/N)``."""
    sizes = np.full(num_steps, length // num_steps, dtype=np.int64)
    sizes[: length % num_steps] += 1
    return sizes


def geometric_sizes(length: int, num_steps: int, *, growing: bool = True) -> np.ndarray:
    """Step sizes of ``grow:N`` (``growing``) and ``shrink:N`` (the same, reversed).

    The revealed count after step ``t`` is ``e_t = round(L^(t/N))``, moved up to ``e_(t-1) + 1``
    where rounding would leave a step empty and down to ``L - (N - t)`` where it would leave a
    later step empty, so that every size is ``>= 1`` and they sum to ``L`` (``N <= L``).  Each
    step of ``grow:N`` multiplies the revealed count by about ``L^(1/N)``: small steps first.
    """
    ends = np.empty(num_steps + 1, dtype=np.int64)
    ends[0] = 0
    for t in range(1, num_steps + 1):
        target = int(round(length ** (t / num_steps)))
        ends[t] = min(max(target, ends[t - 1] + 1), length - (num_steps - t))
    sizes = np.diff(ends)
    return sizes if growing else sizes[::-1].copy()


@dataclass(frozen=True)
class ResolvedSchedule:
    """A schedule checked against a length ``L``, in the form the kernels consume.

    Attributes
    ----------
    kind : int
        One of the module's kind codes.
    num_steps : int
        ``N`` (for ``eb``/``esum``: the largest possible number, ``L``).
    weights : ndarray (N,)
        Bernoulli step probabilities ``w_t`` (empty otherwise).
    alias_prob, alias_index : ndarray (N,)
        Alias tables of ``weights`` (empty otherwise).
    sizes : ndarray (N,)
        Step sizes for counts and ``topk``/``margin`` (empty otherwise).
    step_of : ndarray (L,)
        1-based step of each position for explicit orders (empty otherwise).
    gamma : float
        Threshold of ``eb``/``esum``.
    block : int
        Block length ``B`` of ``blocks:B:...`` (0: one block, the whole sequence).
    remask : ndarray (N,)
        ``remdm``: the remasking probabilities ``sigma_t`` (empty otherwise).
    bounds : ndarray (N, 2)
        For ``lowconf`` and blocks: step ``t`` reveals positions in ``[bounds[t-1, 0],
        bounds[t-1, 1])`` (the whole sequence without blocks); empty otherwise.
    """

    kind: int
    num_steps: int
    length: int
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alias_prob: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alias_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    step_of: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    gamma: float = 0.0
    block: int = 0
    remask: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bounds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def is_adaptive(self) -> bool:
        return self.kind in (TOPK, MARGIN, EB, ESUM)

    @property
    def kernel_schedule(self) -> tuple:
        """The tuple the non-adaptive kernels take: ``(kind, alias_prob, alias_index, sizes, step_of,
        num_steps, block)``."""
        return (self.kind, self.alias_prob, self.alias_index, self.sizes, self.step_of, self.num_steps,
                self.block)

    @property
    def hazards(self) -> np.ndarray:
        """Bernoulli hazards: the chance that a still-masked position is revealed at step ``t``,
        ``h_t = w_t / (1 - w_1 - ... - w_{t-1})`` (1 at the last step); empty for other kinds."""
        if self.kind != BERNOULLI:
            return np.zeros(0)
        hazards = np.zeros(len(self.weights))
        before = 0.0
        for t, w in enumerate(self.weights):
            denom = 1.0 - before
            hazards[t] = 0.0 if denom <= 0 else min(w / denom, 1.0)
            before += w
        hazards[-1] = 1.0
        return hazards


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule (length-free).  Build with :func:`parse_schedule` or :meth:`bernoulli`.

    ``spec`` is the canonical string (for a callable ``alpha``, ``"bernoulli:N:<name>"``).

    A frozen dataclass: the parameters below are stored as attributes of the same
    name.  Only the fields of its kind are set; the others keep their defaults.
    The constructor does not validate its arguments, hence the two builders.
    :meth:`resolve` checks the schedule against a length ``L``.

    Parameters
    ----------
    spec : str
        Canonical schedule string (``"uniform:8"``, ``"order:0,3;1,2;4"``, ...).
    kind : int
        Kind code shared with the kernels: 0 Bernoulli, 1 counts (``counts``,
        ``uniform``, ``random``, ``grow``, ``shrink``), 2 explicit order (``order``, ``ar``,
        ``stride``), 3 ``topk``, 4 ``margin``, 5 ``eb``, 6 ``esum``, 7 ``lowconf`` (also in
        blocks), 8 count steps in blocks, 9 ``remdm``.
    num_steps : int, optional
        ``N`` for Bernoulli, count and ``topk``/``margin`` schedules; ``None`` for
        explicit orders and ``eb``/``esum``, whose number of steps depends on ``L``
        (or on the run).
    alpha : callable, optional
        Bernoulli: ``alpha(t)``, the probability that a token is unmasked at time
        ``t``; non-increasing, ``alpha(0) = 1``, ``alpha(1) = 0``.
    power : float, optional
        The exponent ``p`` of ``poly:N:p``.
    sizes : tuple of int
        The sizes ``s_1, ..., s_N`` of ``counts:s1,s2,...``.
    uniform : bool
        ``uniform:N``: sizes ``ceil(L/N)`` for the first ``L mod N`` steps, ``floor(L/N)``
        after.
    partition : tuple of tuple of int, optional
        The blocks ``(S_1, ..., S_N)`` of ``order:...`` (0-based positions).
    autoregressive : bool
        ``ar``: ``({0}, {1}, ..., {L-1})``.
    gamma : float
        The threshold ``gamma >= 0`` of ``eb:gamma`` and ``esum:gamma``.
    stride : int, optional
        ``s`` of ``stride:s``: step ``j`` reveals the positions ``i`` with ``i mod s = j - 1``.
    geometric : {"grow", "shrink"}, optional
        ``grow:N`` / ``shrink:N``: geometric sizes (:func:`geometric_sizes`).
    block : int, optional
        ``B`` of ``blocks:B:...`` (kind 8 with a uniform/random inner decoder, kind 7 with
        ``lowconf``).
    eta : float
        The remasking cap ``eta`` in ``[0, 1]`` of ``remdm:N:eta`` (kind 9).

    Attributes
    ----------
    is_adaptive : bool
        Whether the steps depend on the model's predictions (``topk``, ``margin``,
        ``eb``, ``esum``).

    See Also
    --------
    parse_schedule : the schedule grammar, with the claim each kind serves.

    Examples
    --------
    >>> from ngramsim import Schedule, parse_schedule
    >>> schedule = parse_schedule("uniform:3")
    >>> schedule.spec, schedule.num_steps, schedule.is_adaptive
    ('uniform:3', 3, False)
    >>> schedule.resolve(7).sizes.tolist()  # 7 = 3 + 2 + 2
    [3, 2, 2]
    >>> Schedule.bernoulli(lambda t: 1 - t**2, 4, name="quadratic").spec
    'bernoulli:4:quadratic'
    """

    spec: str
    kind: int
    num_steps: int | None = None
    alpha: object = None
    power: float | None = None
    sizes: tuple = ()
    uniform: bool = False
    partition: tuple | None = None
    autoregressive: bool = False
    gamma: float = 0.0
    stride: int | None = None
    geometric: str | None = None
    block: int | None = None
    eta: float = 0.0

    @classmethod
    def bernoulli(cls, alpha, num_steps, *, name=None) -> Schedule:
        """A Bernoulli schedule from a user ``alpha(t)``: non-increasing, ``alpha(0) = 1``, ``alpha(1) = 0``.

        The checks run on the grid ``u_t = 1 - t/N`` (here, once) and raise
        ``ValueError`` naming ``alpha``.

        Each position is assigned to step ``t`` independently with probability
        ``w_t = alpha(u_t) - alpha(u_{t-1})`` (:meth:`bernoulli_weights`): the
        masking schedules of Feng et al. (2025, arXiv:2502.09622) and MDLM.

        Parameters
        ----------
        alpha : callable
            ``alpha(t) -> float`` on ``[0, 1]``.  Values within ``1e-12`` of the
            endpoints are accepted and set to them exactly.
        num_steps : int
            ``N``, with ``1 <= N <= MAX_BERNOULLI_STEPS = 2^20``.
        name : str, optional
            Label in ``spec``; default ``alpha.__name__``.

        Returns
        -------
        Schedule
            ``kind = 0`` (Bernoulli), ``spec = "bernoulli:N:<name>"``.

        Raises
        ------
        TypeError
            If ``alpha`` is not callable or ``num_steps`` not an integer.
        ValueError
            If ``N < 1`` or ``N > 2^20``, or on the grid ``alpha`` fails, returns a
            value outside ``[0, 1]`` (beyond ``1e-12``), misses an endpoint, or
            increases.

        Examples
        --------
        >>> from ngramsim import Schedule
        >>> def alpha(t):
        ...     return 1 - t**2
        >>> schedule = Schedule.bernoulli(alpha, 4)
        >>> schedule.spec, schedule.bernoulli_weights().round(4).tolist()
        ('bernoulli:4:alpha', [0.4375, 0.3125, 0.1875, 0.0625])
        >>> try:
        ...     Schedule.bernoulli(lambda t: t, 4)  # increasing: not a masking schedule
        ... except ValueError as err:
        ...     print(str(err).split(" (")[0])
        alpha(1) must be 0
        """
        if not callable(alpha):
            raise TypeError(f"alpha must be callable, got {type(alpha).__name__}")
        num_steps = check_int(num_steps, "num_steps", minimum=1)
        label = name or getattr(alpha, "__name__", "alpha")
        _check_bernoulli_steps(num_steps, f"bernoulli:{num_steps}:{label}")
        schedule = cls(spec=f"bernoulli:{num_steps}:{label}", kind=BERNOULLI, num_steps=num_steps, alpha=alpha)
        schedule.bernoulli_weights()  # validate now
        return schedule

    def bernoulli_weights(self) -> np.ndarray:
        """``w_t = alpha(u_t) - alpha(u_{t-1})``, ``t = 1..N`` on the grid ``u_t = 1 - t/N``.

        ``w_t`` is the probability that a given position is revealed at step ``t``;
        equivalently a position still masked before step ``t`` is revealed there with
        probability ``w_t / (1 - w_1 - ... - w_{t-1})``.  For Bernoulli schedules only.

        Returns
        -------
        ndarray, shape (N,)
            Non-negative, summing to 1 (rounding below ``1e-12`` clipped, then
            normalised).

        Raises
        ------
        ValueError
            If ``alpha`` fails on the grid, leaves ``[0, 1]``, misses ``alpha(1) = 0``
            or ``alpha(0) = 1`` by more than ``1e-12``, or increases.

        Examples
        --------
        >>> from ngramsim import parse_schedule
        >>> parse_schedule("linear:4").bernoulli_weights().tolist()
        [0.25, 0.25, 0.25, 0.25]
        >>> parse_schedule("cosine:2").bernoulli_weights().round(6).tolist()  # cos(pi/4), 1 - cos(pi/4)
        [0.707107, 0.292893]
        """
        N = self.num_steps
        values = np.empty(N + 1)
        for t in range(N + 1):
            try:
                value = float(self.alpha(1.0 - t / N))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"alpha must return a real number; alpha({1.0 - t / N!r}) failed: {exc}") from None
            if not math.isfinite(value) or value < -ENDPOINT_TOL or value > 1 + ENDPOINT_TOL:
                raise ValueError(f"alpha must map [0, 1] into [0, 1]; alpha({1.0 - t / N!r}) = {value!r}")
            values[t] = value
        if abs(values[0]) > ENDPOINT_TOL:
            raise ValueError(f"alpha(1) must be 0 (within {ENDPOINT_TOL:g}), got {values[0]!r}")
        if abs(values[-1] - 1.0) > ENDPOINT_TOL:
            raise ValueError(f"alpha(0) must be 1 (within {ENDPOINT_TOL:g}), got {values[-1]!r}")
        values[0], values[-1] = 0.0, 1.0
        weights = np.diff(values)
        if np.any(weights < -ENDPOINT_TOL):
            t = int(np.argmax(weights < -ENDPOINT_TOL)) + 1
            raise ValueError(
                f"alpha must be non-increasing: alpha({1.0 - t / N!r}) = {values[t]!r} < "
                f"alpha({1.0 - (t - 1) / N!r}) = {values[t - 1]!r}"
            )
        weights = np.clip(weights, 0.0, None)
        return weights / weights.sum()

    @property
    def is_adaptive(self) -> bool:
        """Whether the steps depend on the model's predictions (``topk``, ``margin``, ``eb``, ``esum``).

        THEORY B2 and B3 hold for non-adaptive schedules only.
        """
        return self.kind in (TOPK, MARGIN, EB, ESUM)

    def resolve(self, length) -> ResolvedSchedule:
        """Check the schedule against ``length`` and return the kernels' arrays.

        Parameters
        ----------
        length : int
            ``L >= 1``.

        Returns
        -------
        ResolvedSchedule
            ``kind``, ``num_steps`` (``N``; for ``ar`` ``L``, for ``stride:s``
            ``min(s, L)``, for ``eb``/``esum`` the most possible, ``L``), and the arrays
            of its kind: Bernoulli ``weights`` and their alias tables, count ``sizes``
            (also for ``topk``/``margin``), or ``step_of`` (the 1-based step of each
            position) for explicit orders.

        Raises
        ------
        TypeError
            If ``length`` is not an integer.
        ValueError
            If ``L < 1``; ``uniform``, ``grow``, ``shrink``, ``topk`` or ``margin`` with
            ``N > L``; counts that do not sum to ``L``; an ``order`` that does not
            partition ``0 .. L-1``; or a Bernoulli ``alpha`` that fails its checks.

        Examples
        --------
        >>> from ngramsim import parse_schedule
        >>> parse_schedule("order:0,3;1,2;4").resolve(5).step_of.tolist()
        [1, 2, 2, 1, 3]
        >>> parse_schedule("grow:3").resolve(16).sizes.tolist()  # revealed 3, 6, 16 ~ 16^(t/3)
        [3, 3, 10]
        >>> try:
        ...     parse_schedule("counts:2,2").resolve(5)
        ... except ValueError as err:
        ...     print(err)
        schedule 'counts:2,2': counts must sum to length=5, got 4
        """
        L = check_int(length, "length", minimum=1)
        if self.kind == BERNOULLI:
            w = self.bernoulli_weights()
            prob, index = alias_table(w)
            return ResolvedSchedule(BERNOULLI, self.num_steps, L, weights=w, alias_prob=prob, alias_index=index)
        if self.kind == COUNTS:
            if self.geometric:
                if self.num_steps > L:
                    raise ValueError(f"schedule {self.spec!r}: {self.geometric}:N needs N <= length={L}, got N={self.num_steps}")
                sizes = geometric_sizes(L, self.num_steps, growing=self.geometric == "grow")
                return ResolvedSchedule(COUNTS, self.num_steps, L, sizes=sizes)
            if self.uniform:
                if self.num_steps > L:
                    raise ValueError(f"schedule {self.spec!r}: uniform:N needs N <= length={L}, got N={self.num_steps}")
                sizes = uniform_sizes(L, self.num_steps)
            else:
                sizes = np.array(self.sizes, dtype=np.int64)
                if sizes.sum() != L:
                    raise ValueError(f"schedule {self.spec!r}: counts must sum to length={L}, got {int(sizes.sum())}")
            return ResolvedSchedule(COUNTS, len(sizes), L, sizes=sizes)
        if self.kind == ORDER:
            if self.autoregressive:
                return ResolvedSchedule(ORDER, L, L, step_of=np.arange(1, L + 1, dtype=np.int64))
            if self.stride is not None:
                step_of = np.arange(L, dtype=np.int64) % self.stride + 1
                return ResolvedSchedule(ORDER, min(self.stride, L), L, step_of=step_of)
            partition = self.partition
            positions = np.fromiter((i for block in partition for i in block), dtype=np.int64)
            steps = np.repeat(np.arange(1, len(partition) + 1, dtype=np.int64), [len(b) for b in partition])
            if positions.size and positions.max() >= L:
                bad = int(positions[np.argmax(positions >= L)])
                raise ValueError(f"schedule {self.spec!r}: position {bad} is out of range for length={L}")
            seen = np.bincount(positions, minlength=L)
            if np.any(seen > 1):
                raise ValueError(
                    f"schedule {self.spec!r}: position {int(np.argmax(seen > 1))} appears twice; "
                    f"the order must partition 0..{L - 1}"
                )
            if np.any(seen == 0):
                raise ValueError(
                    f"schedule {self.spec!r}: position {int(np.argmax(seen == 0))} is never revealed; "
                    f"the order must partition 0..{L - 1}"
                )
            step_of = np.zeros(L, dtype=np.int64)
            step_of[positions] = steps
            return ResolvedSchedule(ORDER, len(partition), L, step_of=step_of)
        if self.block is not None or self.kind == LOWCONF:
            return self._resolve_blocks(L)
        if self.kind == REMDM:
            return self._resolve_remdm(L)
        if self.kind in (TOPK, MARGIN):
            if self.num_steps > L:
                raise ValueError(f"schedule {self.spec!r}: needs N <= length={L}, got N={self.num_steps}")
            return ResolvedSchedule(self.kind, self.num_steps, L, sizes=uniform_sizes(L, self.num_steps))
        return ResolvedSchedule(self.kind, L, L, gamma=self.gamma)

    def _resolve_remdm(self, L):
        """``remdm:N:eta``: ``uniform:N``'s sizes and ``sigma_t = min(eta, (L - r_t) / r_(t-1))``."""
        if self.num_steps > L:
            raise ValueError(f"schedule {self.spec!r}: remdm:N:eta needs N <= length={L}, got N={self.num_steps}")
        sizes = uniform_sizes(L, self.num_steps)
        ends = np.cumsum(sizes)
        remask = np.zeros(self.num_steps)
        remask[1:] = np.minimum(self.eta, (L - ends[1:]) / ends[:-1])
        return ResolvedSchedule(REMDM, self.num_steps, L, sizes=sizes, remask=remask)

    def _resolve_blocks(self, L):
        """``blocks:B:...``: ``N`` steps shared out over ``ceil(L/B)`` blocks as ``uniform:N``'s sizes
        (``lowconf:N`` is one block, ``B = L``)."""
        B, N = self.block or L, self.num_steps
        if B > L:
            raise ValueError(f"schedule {self.spec!r}: the block length B must be <= length={L}, got B={B}")
        if N > L:  # as for uniform:N; also keeps every step's counter blocks apart (_kernels/rng.py)
            raise ValueError(f"schedule {self.spec!r}: needs N <= length={L}, got N={N}")
        num_blocks = -(-L // B)
        if N < num_blocks:
            raise ValueError(
                f"schedule {self.spec!r}: {N} steps for {num_blocks} blocks of length {B} (length={L}); "
                f"every block needs a step, so N must be >= ceil(L/B) = {num_blocks}"
            )
        sizes, bounds = [], []
        for b, steps in enumerate(uniform_sizes(N, num_blocks)):
            lo, hi = b * B, min((b + 1) * B, L)
            sizes.append(uniform_sizes(hi - lo, int(steps)))  # more steps than positions: empty steps
            bounds.append(np.tile(np.array([lo, hi], dtype=np.int64), (int(steps), 1)))
        return ResolvedSchedule(self.kind, N, L, sizes=np.concatenate(sizes), block=self.block or 0,
                                bounds=np.concatenate(bounds))


def _steps(text, spec, name="N"):
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"schedule {spec!r}: {name} must be an integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"schedule {spec!r}: {name} must be >= 1, got {value}")
    return value


def _positions(text, spec):
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise ValueError(f"schedule {spec!r}: positions must be integers separated by ',', got {text!r}") from None
    if any(v < 0 for v in values):
        raise ValueError(f"schedule {spec!r}: positions must be >= 0")
    return values


def _parse_blocks(rest, spec) -> Schedule:
    b_text, _, inner = rest.partition(":")
    B = _steps(b_text, spec, name="the block length B")
    head, _, n_text = inner.partition(":")
    if head not in BLOCK_INNER or not n_text:
        raise ValueError(
            f"schedule {spec!r}: blocks:B:<inner> takes inner decoder uniform:N, random:N or lowconf:N "
            f"(N steps in all), got {inner!r}"
        )
    N = _steps(n_text, spec)
    kind = LOWCONF if head == "lowconf" else BLOCKS
    return Schedule(spec=f"blocks:{B}:{head}:{N}", kind=kind, num_steps=N, uniform=True, block=B)


def parse_schedule(spec) -> Schedule:
    """Parse a schedule string (SPEC §2 grammar) or pass a :class:`Schedule` through.

    Grammar: ``ar``, ``linear:N``, ``cosine:N``, ``poly:N:p``, ``counts:s1,s2,...``,
    ``uniform:N``, ``random:N``, ``grow:N``, ``shrink:N``, ``order:0,3;1,2;4``, ``stride:s``,
    ``topk:N``, ``margin:N``, ``eb:gamma``, ``esum:gamma``, ``lowconf:N``,
    ``blocks:B:uniform:N``, ``blocks:B:random:N``, ``blocks:B:lowconf:N``, ``remdm:N:eta``.  Raises
    ``ValueError`` naming the schedule and the grammar.

    Parameters
    ----------
    spec : str or Schedule
        A schedule string (surrounding whitespace ignored) or an already parsed
        :class:`Schedule`, returned unchanged.

    Returns
    -------
    Schedule
        Length-free; its ``spec`` is the canonical spelling of the string.

    Raises
    ------
    TypeError
        If ``spec`` is neither a string nor a :class:`Schedule`.
    ValueError
        If the string does not follow the grammar, or a number in it is out of range
        (``N``, counts, ``s`` < 1; negative positions; ``p <= 0``; ``gamma < 0``; a
        Bernoulli ``N`` above ``2^20``).  Checks that need ``L`` are made by
        :meth:`Schedule.resolve`.

    Notes
    -----
    What each kind is for:

    * ``linear``, ``cosine``, ``poly`` (``alpha = 1 - t``, ``cos(pi t / 2)``,
      ``1 - t^p``): the masking schedules analysed by Feng et al. (2025,
      arXiv:2502.09622): under TER a number of steps independent of ``L``
      suffices, under SER it must grow with ``L``.
    * ``counts``, ``uniform``: fixed sizes ``s_t`` at random positions, the setting
      of the exact B2 identity (``E_S KL`` as a Riemann error of ``Phi``; Chen,
      Cong and Li 2025, arXiv:2511.04647) and of Li and Cai's bound (2025,
      arXiv:2505.21400, Theorem 1).
    * ``grow``, ``shrink``: geometric sizes, small blocks first or big blocks first
      (THEORY B5; Zhao and Cai 2026, arXiv:2602.20126): ``O(DTC log L / N)`` and
      ``O(TC log L / N)``.
    * ``ar``, ``order``, ``stride``: planned orders; ``ar`` needs ``L`` steps, while
      ``stride:s`` reaches ``SER = 0`` on ``W(V, m)`` in ``s`` steps when every
      entry of ``P^s`` is positive (THEORY C2').
    * ``topk``, ``margin``, ``eb``, ``esum``: adaptive rules; ``eb`` is the
      entropy-bounded sampler of Ben-Hamu et al. (2025, arXiv:2505.24857),
      ``esum`` the entropy-sum rule of Cai and Li (2026, arXiv:2603.22248).
    * ``lowconf``, ``random``, ``blocks``: the decoders of LLaDA (Nie et al. 2025,
      arXiv:2502.09992): low-confidence and random remasking, alone or in
      semi-autoregressive blocks.
    * ``remdm``: remasking of revealed tokens (ReMDM, Wang et al. 2025,
      arXiv:2503.00307), the corrector a parallel sampler can use to repair an invalid pair.

    Examples
    --------
    >>> from ngramsim import parse_schedule
    >>> parse_schedule(" eb:0.5 ").spec, parse_schedule("eb:0.5").is_adaptive
    ('eb:0.5', True)
    >>> parse_schedule("poly:4:2").bernoulli_weights().round(4).tolist()
    [0.4375, 0.3125, 0.1875, 0.0625]
    >>> parse_schedule("stride:2").resolve(5).step_of.tolist()
    [1, 2, 1, 2, 1]
    >>> try:
    ...     parse_schedule("uniform:x")
    ... except ValueError as err:
    ...     print(err)
    schedule 'uniform:x': N must be an integer, got 'x'
    """
    if isinstance(spec, Schedule):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"schedule must be a string ({SCHEDULE_GRAMMAR}) or a Schedule, got {type(spec).__name__}")
    text = spec.strip()
    head, _, rest = text.partition(":")
    if head == "ar" and not rest:
        return Schedule(spec="ar", kind=ORDER, autoregressive=True)
    if head in ("linear", "cosine") and rest:
        N = _check_bernoulli_steps(_steps(rest, spec), spec)
        return Schedule(spec=f"{head}:{N}", kind=BERNOULLI, num_steps=N, alpha=_linear if head == "linear" else _cosine)
    if head == "poly" and rest:
        n_text, _, p_text = rest.partition(":")
        N = _check_bernoulli_steps(_steps(n_text, spec), spec)
        try:
            p = float(p_text)
        except ValueError:
            raise ValueError(f"schedule {spec!r}: poly:N:p needs a real exponent p > 0, got {p_text!r}") from None
        if not (math.isfinite(p) and p > 0):
            raise ValueError(f"schedule {spec!r}: the exponent p must be finite and > 0, got {p!r}")
        return Schedule(spec=f"poly:{N}:{p:g}", kind=BERNOULLI, num_steps=N, alpha=_poly(p), power=p)
    if head == "counts" and rest:
        sizes = tuple(_steps(s, spec, name="each count") for s in rest.split(","))
        return Schedule(spec=f"counts:{','.join(map(str, sizes))}", kind=COUNTS, num_steps=len(sizes), sizes=sizes)
    if head in ("uniform", "random") and rest:
        N = _steps(rest, spec)
        return Schedule(spec=f"{head}:{N}", kind=COUNTS, num_steps=N, uniform=True)
    if head == "blocks" and rest:
        return _parse_blocks(rest, spec)
    if head in ("grow", "shrink") and rest:
        N = _steps(rest, spec)
        return Schedule(spec=f"{head}:{N}", kind=COUNTS, num_steps=N, geometric=head)
    if head == "stride" and rest:
        stride = _steps(rest, spec, name="s")
        return Schedule(spec=f"stride:{stride}", kind=ORDER, stride=stride)
    if head == "order" and rest:
        blocks = tuple(_positions(block, spec) for block in rest.split(";"))
        canonical = ";".join(",".join(map(str, b)) for b in blocks)
        return Schedule(spec=f"order:{canonical}", kind=ORDER, partition=blocks)
    if head in ("topk", "margin") and rest:
        N = _steps(rest, spec)
        return Schedule(spec=f"{head}:{N}", kind=ADAPTIVE_RULES[head], num_steps=N)
    if head == "lowconf" and rest:
        N = _steps(rest, spec)
        return Schedule(spec=f"lowconf:{N}", kind=LOWCONF, num_steps=N)
    if head == "remdm" and rest:
        n_text, _, eta_text = rest.partition(":")
        N = _steps(n_text, spec)
        try:
            eta = float(eta_text)
        except ValueError:
            raise ValueError(f"schedule {spec!r}: remdm:N:eta needs a real eta in [0, 1], got {eta_text!r}") from None
        if not 0.0 <= eta <= 1.0:
            raise ValueError(f"schedule {spec!r}: eta must lie in [0, 1], got {eta!r}")
        eta += 0.0  # -0.0 -> 0.0
        text = repr(eta).removesuffix(".0")  # shortest round trip: the recorded spec re-parses to the same eta
        return Schedule(spec=f"remdm:{N}:{text}", kind=REMDM, num_steps=N, uniform=True, eta=eta)
    if head in ("eb", "esum") and rest:
        try:
            gamma = float(rest)
        except ValueError:
            raise ValueError(f"schedule {spec!r}: {head}:gamma needs a real gamma >= 0, got {rest!r}") from None
        if not (math.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"schedule {spec!r}: gamma must be finite and >= 0, got {gamma!r}")
        return Schedule(spec=f"{head}:{rest}", kind=ADAPTIVE_RULES[head], gamma=gamma)
    raise ValueError(f"unknown schedule {spec!r}; expected one of: {SCHEDULE_GRAMMAR}")

