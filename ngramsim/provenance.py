"""Strict JSON output and provenance keys (SPEC §3).

Every JSON document ngramsim prints is strict JSON: a non-finite float is
written as the string ``"inf"``, ``"-inf"`` or ``"nan"``, and carries the
provenance keys ``version``, ``language_name``, ``language_sha256`` (plus
``seed`` and ``schedule`` where the command takes them).
"""

from __future__ import annotations

from ngramsim._json import dumps_strict, to_jsonable
from ngramsim._version import __version__
from ngramsim.io import language_sha256

__all__ = ["to_jsonable", "dumps_strict", "provenance"]


def provenance(language, **extra) -> dict:
    """The provenance keys of SPEC §3 for ``language``, plus ``extra`` (e.g. ``seed``, ``schedule``).

    Every JSON document ngramsim writes carries these keys, so a number can be
    traced to the code version and the exact language that produced it.

    Parameters
    ----------
    language : NGramLanguage
    **extra
        Further keys copied unchanged after the three fixed ones (a key of ``extra``
        named like a fixed key replaces it).

    Returns
    -------
    dict
        ``{"version": ngramsim.__version__, "language_name": language.name,
        "language_sha256": language_sha256(language), **extra}``.

    Examples
    --------
    >>> from ngramsim import language_sha256, provenance, window_language
    >>> lang = window_language(3, 2)
    >>> record = provenance(lang, seed=0, schedule="ar")
    >>> sorted(record)
    ['language_name', 'language_sha256', 'schedule', 'seed', 'version']
    >>> record["language_name"], record["language_sha256"] == language_sha256(lang)
    ('window(V=3,m=2)', True)
    """
    return {
        "version": __version__,
        "language_name": language.name,
        "language_sha256": language_sha256(language),
        **extra,
    }
