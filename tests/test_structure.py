"""The code's shape: the training package reads top to bottom, each function at most a screenful (the loop itself
included, as nanoGPT's), so no stage grows back into one long function; and the structure drawn in
docs/architecture.md is the one the imports give, with no import cycle."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRAINING = ROOT / "src" / "gtloc" / "training"
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


def _draw_structure():
    spec = importlib.util.spec_from_file_location("draw_structure", ROOT / "scripts" / "draw_structure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_architecture_md_draws_the_structure_the_imports_give_with_no_cycle():
    draw = _draw_structure()
    text = (ROOT / "docs" / "architecture.md").read_text()
    stated = re.search(r"<!-- structure:begin -->\n```text\n(.*?)\n```\n<!-- structure:end -->", text, re.S)
    assert stated, "docs/architecture.md has no structure drawing"
    modules = draw.module_graph()
    assert len(modules) > 100 and draw.cycles(modules) == []
    assert stated.group(1) == draw.drawing(modules), "run `python scripts/draw_structure.py` and paste its output"


def test_the_drawing_finds_a_cycle_and_orders_parts_by_their_imports():
    draw = _draw_structure()
    modules = {"gtloc.a.x": {"gtloc.b.y"}, "gtloc.b.y": {"gtloc.c"}, "gtloc.c": {"gtloc.a.x"}, "gtloc.d": {"gtloc.c"}}
    assert draw.cycles(modules) == [["gtloc.a.x", "gtloc.b.y", "gtloc.c"]]
    assert "cycle: gtloc.a.x <-> gtloc.b.y <-> gtloc.c" in draw.drawing(modules)
    acyclic = {"gtloc.a.x": {"gtloc.b.y", "gtloc.c"}, "gtloc.b.y": {"gtloc.c"}, "gtloc.c": set()}
    assert draw.drawing(acyclic).splitlines() == [
        "a -> b, c",
        "b -> c",
        "c -> (nothing)",
        "no import cycle among the 3 modules",
    ]
