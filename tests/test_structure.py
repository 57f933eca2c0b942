"""The code's shape: the training package reads top to bottom, each function at most a screenful (the loop itself
included, as nanoGPT's), so no stage grows back into one long function."""

from __future__ import annotations

import ast
from pathlib import Path

TRAINING = Path(__file__).resolve().parent.parent / "src" / "gtloc" / "training"
MAX_LINES = 80


def long_functions(folder: Path, limit: int) -> list[str]:
    """``file:line name (n lines)`` of every function or method under ``folder`` longer than ``limit`` lines, from
    its ``def`` to its last line (docstring included, decorators not)."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_in_training_is_longer_than_80_lines():
    assert list(TRAINING.glob("*.py")), TRAINING  # the check reads the sources, not an empty folder
    assert long_functions(TRAINING, MAX_LINES) == []


def test_the_check_finds_a_long_function(tmp_path):
    body = "".join(f"        x{i} = {i}\n" for i in range(80))
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\nclass C:\n    def long(self):\n{body}")
    assert long_functions(tmp_path, MAX_LINES) == ["m.py:6 long (81 lines)"]
