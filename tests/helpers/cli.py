"""Run the real ``gtloc`` entry point in-process, as a user's shell would, and capture what it prints."""

from __future__ import annotations

import sys

import pytest

from gtloc.cli import main


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    """``gtloc ARGS...`` -> ``(exit status, stdout, stderr)``."""
    monkeypatch.setattr(sys, "argv", ["gtloc", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    return info.value.code or 0, out.out, out.err
