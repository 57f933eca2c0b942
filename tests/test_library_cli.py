"""The `gtloc library` commands: light help, switches without a type, the contract's names."""

from __future__ import annotations

import subprocess
import sys

import typer.main

from gtloc.cli import app

LIBRARY = typer.main.get_command(app).commands["library"].commands


def test_the_contract_commands_and_flags_exist():
    assert {"scan", "fill", "evaluate", "synthetic"} <= set(LIBRARY)
    options = {name: {o for p in command.params for o in getattr(p, "opts", ())} for name, command in LIBRARY.items()}
    assert {"--out"} <= options["scan"]
    assert {"--out", "--checkpoint", "--xmp", "--xmp-name"} <= options["fill"]
    assert {"--hide", "--unit", "--folds", "--checkpoint"} <= options["evaluate"]


def test_library_help_loads_neither_torch_nor_matplotlib():
    code = (
        "import sys, typer.main\nfrom gtloc.cli import app\ncommand = typer.main.get_command(app)\n"
        f"for name in {sorted(LIBRARY)!r}:\n"
        "    try:\n        command.main(['library', name, '--help'], prog_name='gtloc')\n"
        "    except SystemExit as exit:\n        assert exit.code == 0, (name, exit.code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_switches_take_no_value():
    for name, command in LIBRARY.items():
        flags = [p for p in command.params if getattr(p, "is_flag", False)]
        assert all(p.secondary_opts for p in flags), (name, [p.opts for p in flags])
