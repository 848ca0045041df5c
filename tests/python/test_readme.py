"""The README's PyTorch example runs as written."""
import pathlib
import re

import pytest

pytest.importorskip("torch")


def test_readme_torch_example_runs(capsys):
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"<!-- readme-torch-example -->\n```python\n(.*?)```", readme, re.S)
    assert block, "the README lost its PyTorch example"
    scope = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)
    assert tuple(scope["y"].shape) == (2, 8, 32, 32)
    assert "converted" in capsys.readouterr().out
