"""The command line as a new user meets it: a fast ``--help``, real switches, the same flags and env var across
commands, and ``serve`` failing in one line (missing web extra, busy port) before it prints its URL."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import typer.main

from gtloc.cli import app
from gtloc.cli import features as features_cli
from gtloc.cli import predict as predict_cli
from gtloc.cli import serve as serve_cli
from gtloc.cli.app import CHECKPOINT_ENV
from helpers.cli import run_cli

COMMANDS = typer.main.get_command(app).commands
HEAVY = ("torch", "matplotlib")


def _heavy_modules_after(code: str) -> list[str]:
    """Top-level heavy modules loaded by ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(done.stdout.strip().splitlines()[-1])


def test_gtloc_help_imports_neither_torch_nor_matplotlib():
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gtloc", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage" in done.stdout
    assert [line for line in done.stderr.splitlines() if "torch" in line or "matplotlib" in line] == []


def test_every_command_help_imports_neither_torch_nor_matplotlib():
    names = sorted(COMMANDS)
    code = (
        "import typer.main\nfrom gtloc.cli import app\ncommand = typer.main.get_command(app)\n"
        f"for name in {names!r}:\n"
        "    try:\n        command.main([name, '--help'], prog_name='gtloc')\n"
        "    except SystemExit as exit:\n        assert exit.code == 0, (name, exit.code)\n"
    )
    assert _heavy_modules_after(code) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_boolean_options_are_switches_without_a_type(monkeypatch, capsys, name):
    command = COMMANDS[name]
    flags = [p for p in command.params if getattr(p, "is_flag", False)]
    assert all(p.secondary_opts for p in flags), [p.opts for p in flags if not p.secondary_opts]
    status, stdout, _ = run_cli(monkeypatch, capsys, name, "--help")
    assert status == 0 and "<bool>" not in stdout


def test_root_help_shows_no_bool_type(monkeypatch, capsys):
    status, stdout, _ = run_cli(monkeypatch, capsys, "--help")
    assert status == 0 and "<bool>" not in stdout


def test_names_written_out_for_a_light_help_match_the_library():
    from gtloc.backbones import BACKBONES, DEFAULT_BACKBONE
    from gtloc.retrieval.faiss import GPS_INDEXES
    from gtloc.training.small_data import SMALL_DATA_N

    assert tuple(sorted(BACKBONES)) == features_cli.BACKBONE_NAMES
    assert features_cli.DEFAULT_BACKBONE == DEFAULT_BACKBONE
    assert features_cli.TENCROP_BELOW == SMALL_DATA_N and features_cli.SMALL_SET_BACKBONE in BACKBONES
    assert predict_cli.GPS_INDEXES == GPS_INDEXES


def test_every_checkpoint_option_reads_the_environment_variable():
    with_checkpoint = {
        name: [p for p in command.params if "--checkpoint" in getattr(p, "opts", ())]
        for name, command in COMMANDS.items()
    }
    with_checkpoint = {name: params[0] for name, params in with_checkpoint.items() if params}
    assert set(with_checkpoint) == {"index", "predict", "retrieve", "verify", "serve"}
    # retrieve prefers the gallery's own run over the environment (a gallery refuses other models).
    assert {name for name, p in with_checkpoint.items() if p.envvar == CHECKPOINT_ENV} == set(with_checkpoint) - {
        "retrieve"
    }
    assert CHECKPOINT_ENV in COMMANDS["retrieve"].params[1].help


def test_the_records_image_folder_is_images_everywhere():
    for name in ("features", "predict", "index"):
        visible = {o for p in COMMANDS[name].params if not getattr(p, "hidden", False) for o in p.opts}
        assert "--images" in visible and "--images-root" not in visible, name
    hidden = [p for p in COMMANDS["index"].params if "--images-root" in p.opts]
    assert hidden and hidden[0].hidden


def test_serve_names_the_missing_extra_in_one_line(monkeypatch, capsys, tmp_path):
    real = serve_cli.importlib.util.find_spec
    monkeypatch.setattr(serve_cli.importlib.util, "find_spec", lambda name: None if name == "uvicorn" else real(name))
    status, stdout, stderr = run_cli(monkeypatch, capsys, "serve", "--checkpoint", tmp_path)
    assert status == 2 and stdout == ""
    assert stderr == "error: gtloc serve needs the web extra (missing uvicorn): pip install 'gtloc[web]'\n"


def test_serve_checks_the_port_before_printing_its_url(monkeypatch, capsys, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status, stdout, stderr = run_cli(monkeypatch, capsys, "serve", "--checkpoint", tmp_path, "--port", port)
    assert status == 2 and "http://" not in stdout
    assert stderr.startswith(f"error: cannot listen on 127.0.0.1:{port} (") and "choose another --port" in stderr


def test_ingest_with_no_record_fails_and_counts_the_reasons(monkeypatch, capsys, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "notes.jpg").write_text("not a photo")
    (photos / "readme.txt").write_text("hello")
    out = tmp_path / "records.csv"
    status, _, stderr = run_cli(monkeypatch, capsys, "ingest", photos, "--out", out, "--no-progress")
    assert status == 2
    assert stderr == (
        f"error: no records from {photos}: skipped 1 file (not an image 1), ignored 1 non-image file; nothing written\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["predict", "verify", "index", "serve"])
def test_a_checkpoint_that_does_not_exist_is_named_with_its_absolute_path(monkeypatch, capsys, tmp_path, command):
    monkeypatch.chdir(tmp_path)
    args = {"predict": ["x.jpg"], "verify": ["x.jpg"], "index": ["--out", "g"], "serve": []}[command]
    status, _, err = run_cli(monkeypatch, capsys, command, *args, "--checkpoint", "runs/gone")
    assert status == 2
    assert err == f"error: no such run folder: {tmp_path / 'runs/gone'} does not exist (relative to {tmp_path})\n"
    monkeypatch.setenv(CHECKPOINT_ENV, "demo-out/runs/gtloc")
    status, _, err = run_cli(monkeypatch, capsys, command, *args)
    assert status == 2 and err == (
        f"error: no such run folder: {tmp_path / 'demo-out/runs/gtloc'} does not exist "
        f"(${CHECKPOINT_ENV}=demo-out/runs/gtloc, relative to {tmp_path})\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing made on the way (no runs/gone/galleries)


def test_the_api_names_a_missing_run_folder_and_makes_nothing(tmp_path, monkeypatch):
    import gtloc

    monkeypatch.chdir(tmp_path)
    with pytest.raises(gtloc.GtlocError, match=f"^no such run folder: {tmp_path / 'nope'} does not exist"):
        gtloc.load("nope")
    assert not (tmp_path / "nope").exists()
