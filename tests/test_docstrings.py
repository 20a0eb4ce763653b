"""The public API's docstrings: their examples run, and they have the numpydoc sections.

(a) The doctests of every name in ``ngramsim.__all__`` (and of its module's own
docstring) run with ``doctest`` under pinned numpy print options, one test item
per docstring.  ``pytest --doctest-modules`` (setup.cfg) runs them too, without
the pinning; the examples are written to print the same under both.

(b) Every exported function or class has ``Parameters`` (when it takes any, each
parameter named there), ``Returns`` (functions) and ``Examples`` sections; the
public methods and properties of exported classes have docstrings, and public
methods have ``Parameters`` (when they take any) and ``Returns``.
"""

from __future__ import annotations

import doctest
import inspect
import io
import re

import numpy as np
import pytest

import ngramsim

PUBLIC = [name for name in ngramsim.__all__ if name != "__version__"]

# Exempt from the section checks (b), not from running their examples (a).
SECTION_ALLOW_LIST: set[str] = set()

# numpy's defaults, pinned: another test may have changed the global print options.
PRINT_OPTIONS = {
    "precision": 8,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 75,
    "suppress": False,
    "nanstr": "nan",
    "infstr": "inf",
    "sign": "-",
    "floatmode": "maxprec",
    "legacy": False,
}


def _module_of(obj):
    return inspect.getmodule(obj)


def _collect_doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    module_finder = doctest.DocTestFinder(recurse=False, exclude_empty=True)
    tests, seen = [], set()
    for name in PUBLIC:
        obj = getattr(ngramsim, name)
        module = _module_of(obj)
        found = finder.find(obj, f"{module.__name__}.{obj.__qualname__}", module=module)
        found += module_finder.find(module, module.__name__)
        for test in found:
            if test.name not in seen and test.examples:
                seen.add(test.name)
                tests.append(test)
    return sorted(tests, key=lambda t: t.name)


DOCTESTS = _collect_doctests()


def test_every_public_name_has_an_example():
    with_examples = {test.name for test in DOCTESTS}
    missing = [
        name for name in PUBLIC
        if f"{_module_of(getattr(ngramsim, name)).__name__}.{getattr(ngramsim, name).__qualname__}" not in with_examples
    ]
    assert not missing, f"public names without a doctest: {missing}"


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_doctest(test):
    runner = doctest.DocTestRunner(optionflags=0, verbose=False)
    report = io.StringIO()
    with np.printoptions(**PRINT_OPTIONS):
        runner.run(test, out=report.write, clear_globs=True)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, report.getvalue()


# ---------------------------------------------------------------------------- sections

def _sections(doc: str) -> dict[str, str]:
    """numpydoc sections of a cleaned docstring: ``{title: body}`` (a title underlined by dashes)."""
    pieces = re.split(r"^([A-Z][A-Za-z ]+)\n-{3,}[ \t]*$", doc, flags=re.M)
    return {pieces[k].strip(): pieces[k + 1] for k in range(1, len(pieces) - 1, 2)}


def _documented_parameters(body: str) -> set[str]:
    """Names listed in a Parameters section: lines at column 0, ``name : type`` or ``a, b : type``."""
    names = set()
    for line in body.splitlines():
        if not line or line[0].isspace():
            continue
        head = line.split(" : ", 1)[0].rstrip(":").strip()
        names.update(part.strip() for part in head.split(","))
    return names


def _parameters(obj, *, skip_first=False):
    """Parameter names as numpydoc spells them (``*args``, ``**kwargs``); ``None`` if unknown."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):  # e.g. exception classes: no Python-level signature
        return None
    if skip_first:
        params = params[1:]
    prefix = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return [prefix.get(p.kind, "") + p.name for p in params]


def _section_problems(label, obj, *, is_function, require_examples, skip_first=False):
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return [f"{label}: no docstring"]
    sections = _sections(doc)
    problems = []
    params = _parameters(obj, skip_first=skip_first)
    if params is None or params:
        if "Parameters" not in sections:
            problems.append(f"{label}: no Parameters section")
        elif params:
            missing = [p for p in params if p not in _documented_parameters(sections["Parameters"])]
            if missing:
                problems.append(f"{label}: parameters not documented: {missing}")
    if is_function and "Returns" not in sections:
        problems.append(f"{label}: no Returns section")
    if require_examples and "Examples" not in sections:
        problems.append(f"{label}: no Examples section")
    return problems


def _public_members(cls):
    """Public methods and properties defined on ``cls`` itself (``__call__`` counts as public)."""
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        if isinstance(member, property | classmethod | staticmethod) or inspect.isfunction(member):
            yield name, member


@pytest.mark.parametrize("name", [n for n in PUBLIC if n not in SECTION_ALLOW_LIST])
def test_numpydoc_sections(name):
    obj = getattr(ngramsim, name)
    if inspect.isclass(obj):
        problems = _section_problems(name, obj, is_function=False, require_examples=True)
        for attr, member in _public_members(obj):
            label = f"{name}.{attr}"
            if isinstance(member, property):
                if not (member.fget.__doc__ or "").strip():
                    problems.append(f"{label}: property without a docstring")
                continue
            function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            problems += _section_problems(label, function, is_function=True, require_examples=False,
                                          skip_first=not isinstance(member, staticmethod))
    else:
        problems = _section_problems(name, obj, is_function=True, require_examples=True)
    assert not problems, "\n".join(problems)


def test_allow_list_names_are_public():
    assert SECTION_ALLOW_LIST <= set(PUBLIC)
