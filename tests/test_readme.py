"""The README's two commands stay true: CI runs the same test command, and every gtloc command it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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


OUTPUT_FLAGS = re.compile(r"(?:--out|--json|--plot|--skipped|-o)\s+([^\s\\]+)")
FILE_SUFFIXES = (".csv", ".json", ".md", ".png", ".yaml", ".txt", ".npy", ".pt")


def _readme_outputs() -> set[str]:
    """What the README's commands write, relative to where they run (the checkout): every --out/--json/--plot/
    --skipped value, a predictions CSV's JSON beside it, and save_pretrained folders."""
    text = (ROOT / "README.md").read_text()
    commands = "\n".join(re.findall(r"```bash\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]*gtloc [^`\n]*)`", text))
    outputs = set(re.findall(r"save_pretrained\('([^']+)'\)", commands))
    outputs |= set(re.findall(r"gtloc library synthetic ([^\s\\]+)", commands))  # its output folder is an argument
    for line in commands.splitlines():
        written = {o.strip("'\"") for o in OUTPUT_FLAGS.findall(line)}
        written = {o for o in written if not o.startswith("-") and o.upper() != o}  # not placeholders (FEATDIR)
        if "gtloc predict" in line:  # its CSV comes with the top-k JSON beside it
            written |= {o[: -len(".csv")] + ".json" for o in written if o.endswith(".csv")}
        outputs |= written
    return outputs


def test_the_readme_commands_leave_nothing_untracked():
    """Run in the checkout, every file a README command writes is ignored by git (or written under an ignored
    folder), so a user who tries them sees a clean `git status`."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("this test needs git and the repository's checkout (.git)")
    outputs = _readme_outputs()
    expected = {"demo-out", "demo-quick", "demo-out/fixtures.csv", "demo-out/fixtures.json", "preds.json"}
    expected.add("try-library")
    assert expected <= outputs
    inside = sorted(o for o in outputs if not o.startswith(("/", "~")))  # absolute outputs are not in the checkout
    probes = [o if o.endswith(FILE_SUFFIXES) else f"{o}/some-file" for o in inside]
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "--verbose", "--non-matching", *probes],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1) and not done.stderr, done.stderr  # 128: git refused a path, checked nothing
    tracked = [line.split("\t")[1] for line in done.stdout.splitlines() if line.startswith("::")]
    assert tracked == [], f"README outputs git would show as untracked: {tracked}"


@pytest.mark.slow
def test_the_readme_counts_the_tests_as_pytest_does():
    """The Development section's "leaves out the N tests marked `slow`, of M" is what pytest collects."""
    import subprocess
    import sys

    stated = re.search(r"leaves out the (\d+) tests marked `slow`, of ([\d,]+)", (ROOT / "README.md").read_text())
    assert stated, "the README no longer counts the slow tests"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "slow", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    counted = re.search(r"^(\d+)/(\d+) tests collected", done.stdout, re.M)
    assert counted, done.stdout[-2000:] + done.stderr[-2000:]
    assert (int(stated.group(1)), int(stated.group(2).replace(",", ""))) == tuple(map(int, counted.groups()))
