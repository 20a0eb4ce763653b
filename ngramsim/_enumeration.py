"""Enumeration of ``V^L`` for the exact paths (exact engine, information measures by enumeration)."""

from __future__ import annotations

import numpy as np

__all__ = ["all_sequences"]


def all_sequences(vocab_size: int, length: int) -> np.ndarray:
    """Every sequence of ``V^L`` in lexicographic C order, shape ``(V^L, L)``."""
    grid = np.indices((vocab_size,) * length).reshape(length, -1).T
    return np.ascontiguousarray(grid, dtype=np.int64)
