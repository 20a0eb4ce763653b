"""The Python examples of README.md and of docs/*.md run as written."""

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples():
    assert _python_blocks(README), "README.md has no python example"


@pytest.mark.parametrize("document", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_python_examples_run(document, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for k, block in enumerate(_python_blocks(document)):
        # Each block runs from a real file, so tools that read their caller's source (hypothesis) work.
        path = tmp_path / f"{document.stem}_example_{k}.py"
        path.write_text(block)
        runpy.run_path(str(path), run_name="readme_example")
