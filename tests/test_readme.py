"""README.md's Python examples run as written."""

import re
import runpy
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README.md has no python example"
    monkeypatch.chdir(tmp_path)
    for k, block in enumerate(blocks):
        # Each block runs from a real file, so tools that read their caller's source (hypothesis) work.
        path = tmp_path / f"readme_example_{k}.py"
        path.write_text(block)
        runpy.run_path(str(path), run_name="readme_example")
