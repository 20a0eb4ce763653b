"""The language file format (SPEC §1) and atomic file writes.

One JSON object::

    {"format": "ngramsim.language/1", "vocab_size": V, "order": n,
     "transitions": [[... V floats ...], ... V^(n-1) rows],
     "initial": [... V^(n-1) floats ...], "name": "...", "meta": {...}}

For ``n = 1``, ``"initial"`` is ``[1.0]`` or ``[]``.  ``name`` and ``meta``
may be omitted.  Floats are written with ``repr`` precision, so a round trip
preserves every probability exactly (validation is idempotent).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import numbers
import os
import stat
import tempfile
from pathlib import Path

import numpy as np

from ngramsim._json import dumps_strict
from ngramsim._validation import check_language
from ngramsim.sources import NGramLanguage

__all__ = [
    "FORMAT",
    "SPARSE_FORMAT",
    "LanguageFormatError",
    "language_to_dict",
    "language_from_dict",
    "read_language",
    "write_language",
    "language_sha256",
    "write_text_atomic",
    "check_output_path",
    "write_npy_atomic",
]

FORMAT = "ngramsim.language/1"
_FIELDS = ("format", "vocab_size", "order", "transitions", "initial", "name", "meta")
#: The format string of a sparse order-2 language (:class:`~ngramsim.sparse.SparseLanguage`).
SPARSE_FORMAT = "ngramsim.sparse-language/1"
_SPARSE_FIELDS = ("format", "vocab_size", "order", "top_k", "teleport", "top_index", "top_prob", "nu", "initial",
                  "name", "meta")


class LanguageFormatError(ValueError):
    """A language file or dict that does not follow SPEC §1's format.

    Raised by :func:`language_from_dict` and :func:`read_language`.  The
    message starts with the source (a file path, or ``"language"`` for a dict)
    and names the offending field (``'transitions'``, ``'initial'``, ...), what
    it must be and what was found.  A subclass of :class:`ValueError`, so
    ``except ValueError`` catches it too.

    Parameters
    ----------
    message : str
        The one-line description ``"<source>: field '<name>' ..."``.

    Examples
    --------
    >>> from ngramsim import LanguageFormatError, language_from_dict
    >>> try:
    ...     language_from_dict({"format": "ngramsim.language/1", "vocab_size": 2, "order": 1})
    ... except LanguageFormatError as err:
    ...     print(err, isinstance(err, ValueError))
    language: missing field 'transitions' True
    """


def language_to_dict(language: NGramLanguage) -> dict:
    """The JSON-ready dict of SPEC §1 for ``language``.

    Parameters
    ----------
    language : NGramLanguage

    Returns
    -------
    dict
        ``{"format": "ngramsim.language/1", "vocab_size": V, "order": n,
        "transitions": P as nested lists (V^(n-1) rows of V floats),
        "initial": mu as a list of V^(n-1) floats, "name": ..., "meta": {...}}``;
        plain Python values (``meta`` copied), ready for :func:`json.dumps`.
        :func:`language_from_dict` inverts it exactly.

    Examples
    --------
    >>> from ngramsim import language_to_dict, window_language
    >>> d = language_to_dict(window_language(3, 2))
    >>> d["format"], d["vocab_size"], d["order"], d["transitions"][0]
    ('ngramsim.language/1', 3, 2, [0.5, 0.5, 0.0])
    >>> d["name"], d["meta"]["family"]
    ('window(V=3,m=2)', 'window')
    """
    if _is_sparse(language):
        return _sparse_core(language) | {"format": SPARSE_FORMAT, "name": language.name, "meta": dict(language.meta)}
    return {
        "format": FORMAT,
        "vocab_size": language.vocab_size,
        "order": language.order,
        "transitions": language.transitions.tolist(),
        "initial": language.initial.tolist(),
        "name": language.name,
        "meta": dict(language.meta),
    }


def language_sha256(language: NGramLanguage) -> str:
    """SHA-256 (hex) of the validated language's defining fields (SPEC §3 provenance).

    ``json.dumps({"vocab_size", "order", "transitions", "initial"}, sort_keys=True,
    separators=(",", ":"))`` encoded as UTF-8.

    Parameters
    ----------
    language : NGramLanguage

    Returns
    -------
    str
        64 lowercase hexadecimal digits.  It depends on ``(V, n, P, mu)`` only, not on
        ``name`` or ``meta``, so two languages with the same law and layout share it and
        it survives a file round trip (floats are written with ``repr`` precision).

    Examples
    --------
    >>> from ngramsim import language_from_dict, language_sha256, language_to_dict, window_language
    >>> lang = window_language(3, 2)
    >>> digest = language_sha256(lang)
    >>> len(digest), digest == language_sha256(language_from_dict(language_to_dict(lang)))
    (64, True)
    >>> digest == language_sha256(window_language(4, 2))
    False
    """
    if _is_sparse(language):
        core = _sparse_core(language)
    else:
        core = {
            "vocab_size": language.vocab_size,
            "order": language.order,
            "transitions": language.transitions.tolist(),
            "initial": language.initial.tolist(),
        }
    text = json.dumps(core, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_numeric_list(value, field: str, depth: int):
    """Check that ``value`` is a (nested, ``depth`` levels) list of JSON numbers."""
    if not isinstance(value, list):
        raise LanguageFormatError(f"field {field!r} must be a list, got {type(value).__name__}")
    for i, item in enumerate(value):
        if depth > 1:
            _check_numeric_list(item, f"{field}[{i}]", depth - 1)
        elif not _is_number(item):
            raise LanguageFormatError(f"field {field}[{i}] must be a number, got {item!r}")


def language_from_dict(data, *, source: str = "language") -> NGramLanguage:
    """Build a validated language from a SPEC §1 dict; errors name the field.

    Parameters
    ----------
    data : dict
        ``{"format": "ngramsim.language/1", "vocab_size": V, "order": n,
        "transitions": [[... V numbers ...], ... V^(n-1) rows], "initial": [... V^(n-1)
        numbers ...]}``, optionally with ``"name"`` (a string) and ``"meta"`` (an object).
        For ``n = 1``, ``"initial"`` may be ``[1.0]`` or ``[]``.  No other key is accepted.
    source : str
        Prefix of error messages (the file path when called by :func:`read_language`).

    Returns
    -------
    NGramLanguage or SparseLanguage
        Validated as by the constructor: rows of ``P`` and ``mu`` must sum to 1 within
        ``1e-9`` and are then renormalised.  A dict with ``"format":
        "ngramsim.sparse-language/1"`` (docs/formats.md) gives a
        :class:`~ngramsim.sparse.SparseLanguage`, validated the same way.

    Raises
    ------
    LanguageFormatError
        If ``data`` is not a dict, has an unknown or missing field, a wrong ``format``
        string, a non-integer or too small ``vocab_size`` (< 2) or ``order`` (< 1), a
        non-string ``name``, a non-object ``meta``, non-numeric or ragged tables, or
        tables that fail validation (shape, finiteness, sign, row sums).  The message
        names the field.

    Examples
    --------
    >>> from ngramsim import language_from_dict
    >>> lang = language_from_dict({"format": "ngramsim.language/1", "vocab_size": 2, "order": 2,
    ...                            "transitions": [[0.9, 0.1], [0.5, 0.5]], "initial": [0.5, 0.5]})
    >>> lang.order, lang.vocab_size, lang.transitions[0].tolist()
    (2, 2, [0.9, 0.1])
    >>> try:
    ...     language_from_dict({"format": "ngramsim.language/1", "vocab_size": 2, "order": 2,
    ...                         "transitions": [[0.9, 0.2], [0.5, 0.5]], "initial": [0.5, 0.5]})
    ... except ValueError as err:
    ...     print(str(err).split(":")[1].strip())
    field 'transitions'
    """
    if not isinstance(data, dict):
        raise LanguageFormatError(f"{source}: must be a JSON object, got {type(data).__name__}")
    if data.get("format") == SPARSE_FORMAT:
        return _sparse_from_dict(data, source)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise LanguageFormatError(f"{source}: unknown field {unknown[0]!r}; expected fields {list(_FIELDS)}")
    for field in ("format", "vocab_size", "order", "transitions", "initial"):
        if field not in data:
            raise LanguageFormatError(f"{source}: missing field {field!r}")
    if data["format"] != FORMAT:
        raise LanguageFormatError(f"{source}: field 'format' must be {FORMAT!r}, got {data['format']!r}")
    for field, minimum in (("vocab_size", 2), ("order", 1)):
        value = data[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise LanguageFormatError(f"{source}: field {field!r} must be an integer, got {value!r}")
        if value < minimum:
            raise LanguageFormatError(f"{source}: field {field!r} must be >= {minimum}, got {value}")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise LanguageFormatError(f"{source}: field 'name' must be a string, got {name!r}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise LanguageFormatError(f"{source}: field 'meta' must be an object, got {type(meta).__name__}")
    try:
        _check_numeric_list(data["transitions"], "transitions", 2)
        _check_numeric_list(data["initial"], "initial", 1)
        V, n = data["vocab_size"], data["order"]
        rows = data["transitions"]
        if any(len(row) != V for row in rows):
            bad = next(i for i, row in enumerate(rows) if len(row) != V)
            raise LanguageFormatError(
                f"field 'transitions' row {bad} has {len(rows[bad])} entries; expected vocab_size={V}"
            )
        return NGramLanguage(rows, data["initial"], order=n, name=name, meta=meta)
    except LanguageFormatError as exc:
        raise LanguageFormatError(f"{source}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise LanguageFormatError(f"{source}: field {_field_of(str(exc))!r}: {exc}") from None


def _is_sparse(language) -> bool:
    from ngramsim.sparse import SparseLanguage

    return isinstance(language, SparseLanguage)


def _sparse_core(language) -> dict:
    """The defining fields of a sparse language (hashed by :func:`language_sha256`)."""
    return {
        "vocab_size": language.vocab_size,
        "order": 2,
        "top_k": language.top_k,
        "teleport": language.teleport,
        "top_index": language.top_index.tolist(),
        "top_prob": language.top_prob.tolist(),
        "nu": language.nu.tolist(),
        "initial": language.initial.tolist(),
    }


def _sparse_from_dict(data, source):
    """A validated :class:`~ngramsim.sparse.SparseLanguage` from the ``ngramsim.sparse-language/1`` dict."""
    from ngramsim.sparse import SparseLanguage

    unknown = sorted(set(data) - set(_SPARSE_FIELDS))
    if unknown:
        raise LanguageFormatError(f"{source}: unknown field {unknown[0]!r}; expected fields {list(_SPARSE_FIELDS)}")
    for field in _SPARSE_FIELDS[:-2]:
        if field not in data:
            raise LanguageFormatError(f"{source}: missing field {field!r}")
    for field, minimum in (("vocab_size", 2), ("order", 2), ("top_k", 1)):
        value = data[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise LanguageFormatError(f"{source}: field {field!r} must be an integer, got {value!r}")
        if value < minimum:
            raise LanguageFormatError(f"{source}: field {field!r} must be >= {minimum}, got {value}")
    if data["order"] != 2:
        raise LanguageFormatError(f"{source}: field 'order' must be 2 for a sparse language, got {data['order']}")
    if not _is_number(data["teleport"]):
        raise LanguageFormatError(f"{source}: field 'teleport' must be a number, got {data['teleport']!r}")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise LanguageFormatError(f"{source}: field 'name' must be a string, got {name!r}")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise LanguageFormatError(f"{source}: field 'meta' must be an object, got {type(meta).__name__}")
    V, K = data["vocab_size"], data["top_k"]
    try:
        for field, depth in (("top_index", 2), ("top_prob", 2), ("nu", 1), ("initial", 1)):
            _check_numeric_list(data[field], field, depth)
        for field in ("top_index", "top_prob"):
            rows = data[field]
            if len(rows) != V or any(len(row) != K for row in rows):
                raise LanguageFormatError(f"field {field!r} must hold vocab_size={V} rows of top_k={K} entries")
        if any(not isinstance(v, int) for row in data["top_index"] for v in row):
            raise LanguageFormatError("field 'top_index' must hold integers")
        for field in ("nu", "initial"):
            if len(data[field]) != V:
                raise LanguageFormatError(f"field {field!r} must have vocab_size={V} entries, got {len(data[field])}")
        return SparseLanguage(np.array(data["top_index"], dtype=np.int64), data["top_prob"], data["teleport"],
                              data["nu"], data["initial"], name=name, meta=meta)
    except LanguageFormatError as exc:
        raise LanguageFormatError(f"{source}: {exc}") from None
    except (ValueError, TypeError) as exc:
        field = next((f for f in ("top_index", "top_prob", "teleport", "nu", "initial", "top_k")
                      if str(exc).startswith(f) or f" {f}" in str(exc)), "top_prob")
        raise LanguageFormatError(f"{source}: field {field!r}: {exc}") from None


def _field_of(message: str) -> str:
    for field in ("transitions", "initial", "order", "vocab_size"):
        if message.startswith(field) or f" {field}" in message:
            return field
    return "transitions"


def read_language(path) -> NGramLanguage:
    """Read a SPEC §1 language file; raises :class:`LanguageFormatError` naming the field.

    Parameters
    ----------
    path : str or path-like
        A UTF-8 JSON file holding one object in the format of :func:`language_to_dict`.

    Returns
    -------
    NGramLanguage or SparseLanguage
        The validated language (see :func:`language_from_dict`); a file in the
        ``ngramsim.sparse-language/1`` format gives a :class:`~ngramsim.sparse.SparseLanguage`.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    LanguageFormatError
        If the file is not UTF-8, not valid JSON (line and column given), or not a valid
        language; the message starts with the path and names the field.
    OSError
        Other failures to read ``path`` (a directory, no permission).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ngramsim import read_language, window_language, write_language
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "w.json"
    ...     write_language(window_language(5, 3), path)
    ...     lang = read_language(path)
    >>> lang.name, lang.vocab_size, lang.order
    ('window(V=5,m=3)', 5, 2)
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"language file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise LanguageFormatError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LanguageFormatError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return language_from_dict(data, source=str(path))


def check_output_path(path) -> Path:
    """Check, before any work, that ``path`` can be written; return the path to write.

    * The directory must exist (``FileNotFoundError`` otherwise: create it first) and be writable.
    * A symbolic link is followed: the file it points to is replaced, the link stays.
    * A FIFO or a character device (``/dev/stdout``, ``/dev/null``, ``/dev/full``) is written
      through, not replaced; any other non-regular target (a directory, a socket) is refused.
    """
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    parent = target.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: directory {parent} does not exist (create it first)")
    if target.exists():
        mode = os.stat(target).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"cannot write {path}: it is a directory")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            raise ValueError(f"cannot write {path}: not a regular file, FIFO or character device")
        if not os.access(target, os.W_OK):
            raise PermissionError(f"cannot write {path}: permission denied")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: directory {parent} is not writable")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _atomic_open(path, mode):
    """Open a temporary file beside ``path``; on success fsync it and rename it onto ``path``.

    Regular files (new or existing) are replaced atomically, keeping an existing file's
    permission bits (new files get ``0666 & ~umask``, as ``open`` would give them); FIFOs and
    character devices are written through (see :func:`check_output_path`).
    """
    target = check_output_path(path)
    encoding = None if "b" in mode else "utf-8"
    if target.exists() and not stat.S_ISREG(os.stat(target).st_mode):
        with open(target, mode, encoding=encoding) as handle:
            yield handle
        return
    keep = stat.S_IMODE(os.stat(target).st_mode) if target.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, keep)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    with _atomic_open(path, "w") as handle:
        handle.write(text)


def write_npy_atomic(path, array) -> None:
    """Save ``array`` with ``numpy.save`` to exactly ``path`` (no suffix added), atomically."""
    with _atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(array))


def write_language(language: NGramLanguage, path) -> None:
    """Write ``language`` to ``path`` in the SPEC §1 format (atomically).

    The JSON of :func:`language_to_dict` (floats at ``repr`` precision, so
    :func:`read_language` gives back the same ``P`` and ``mu`` bit for bit and the
    same :func:`language_sha256`), indented, with a final newline.  A regular file
    is written to a temporary file in the same directory and renamed over
    ``path``, so readers never see a partial file; a symbolic link is followed and
    a FIFO or character device is written through.

    Parameters
    ----------
    language : NGramLanguage
    path : str or path-like
        Target file; its directory must exist.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        If ``language`` is not an :class:`NGramLanguage`, or its ``meta`` holds a value
        that cannot be written as JSON.
    FileNotFoundError
        If the directory of ``path`` does not exist.
    IsADirectoryError
        If ``path`` is a directory.
    PermissionError
        If ``path`` or its directory is not writable.
    ValueError
        If ``path`` is a socket or another non-regular file that is neither a FIFO nor
        a character device.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from ngramsim import cycle_language, write_language
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "cycle.json"
    ...     write_language(cycle_language(3), path)
    ...     data = json.loads(path.read_text())
    >>> data["format"], data["transitions"][0]
    ('ngramsim.language/1', [0.0, 1.0, 0.0])
    """
    if not _is_sparse(language):
        check_language(language)
    write_text_atomic(path, dumps_strict(language_to_dict(language), indent=1) + "\n")
