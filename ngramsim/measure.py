"""``Measure``: a value with its standard error, how it was obtained and from how many samples.

The one record for estimates across ngramsim: information measures (exact, or Monte
Carlo over ``num_samples`` draws) and the Monte Carlo metrics of sampled sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Measure"]


@dataclass(frozen=True)
class Measure:
    """A value (nats for information measures), its standard error (0 when exact, ``nan`` when
    undefined), ``method`` (``"exact"`` or ``"monte_carlo"``) and the number of samples (0 when exact)."""

    value: float
    stderr: float
    method: str
    num_samples: int = 0
