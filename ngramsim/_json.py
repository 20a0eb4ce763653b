"""Strict JSON encoding (SPEC §3): non-finite floats become ``"inf"``, ``"-inf"``, ``"nan"``."""

from __future__ import annotations

import json
import math
import numbers

import numpy as np


def to_jsonable(obj):
    """Recursively convert ``obj`` (numpy scalars/arrays, tuples, dicts) to strict-JSON-ready Python values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        value = float(obj)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "items"):
        return to_jsonable(dict(obj.items()))
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


def dumps_strict(obj, **kwargs) -> str:
    """``json.dumps`` of :func:`to_jsonable` ``(obj)``, refusing any non-finite float."""
    return json.dumps(to_jsonable(obj), allow_nan=False, **kwargs)


_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def from_jsonable(obj):
    """Invert :func:`to_jsonable` for non-finite floats: the strings ``"inf"``, ``"-inf"``, ``"nan"`` become floats.

    Applied recursively through lists and dicts.  The encoding is lossy for a
    genuine string value ``"nan"`` (it comes back as a float), so fields that may
    hold arbitrary strings should not be decoded with it.
    """
    if isinstance(obj, dict):
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    if isinstance(obj, str):
        return _NON_FINITE.get(obj, obj)
    return obj
