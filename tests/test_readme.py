"""The README's two commands stay true: CI runs the same test command, and every gtloc command it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from gtloc.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_readme_test_command():
    demo, tests = _readme_commands()[:2]
    assert "gtloc demo" in demo
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()


def test_every_command_in_the_readme_exists():
    text = (ROOT / "README.md").read_text()
    names = set(re.findall(r"^gtloc ([a-z][a-z-]+)", text, re.M)) | set(re.findall(r"&& gtloc ([a-z-]+)", text))
    assert "demo" in names and "train" in names
    for name in sorted(names):
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, f"`gtloc {name}` is in the README but not a command: {result.output}"


def test_the_first_command_installs_what_serve_needs():
    """The README's first command, then `gtloc serve`, needs no other install step: it installs the web extra,
    and that extra holds every module `serve` checks for."""
    from gtloc.cli.serve import WEB_MODULES

    demo = _readme_commands()[0]
    assert 'pip install -e ".[web]"' in demo
    extra = re.search(r"^web = \[(.*?)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    distributions = {re.split(r"[<>=]", name)[0].replace("-", "_") for name in re.findall(r'"([^"]+)"', extra)}
    assert {"python_multipart" if m == "multipart" else m for m in WEB_MODULES} == distributions
