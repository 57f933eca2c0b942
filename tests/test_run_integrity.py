"""Broken state ends in one ``error:`` line (exit 2) naming the file and the problem; training stops on NaN keeping
the last good checkpoint; a resume with other data is refused; one writer per run folder; a command that made
nothing usable exits non-zero. Everything runs through the CLI (``tests/helpers/cli.py``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from gtloc.backbones.extract import extract_features
from gtloc.data.schema import load_records
from helpers.cli import run_cli
from helpers.frozen import copy_run
from helpers.toydata import ToyBackbone, make_toy_dataset

SRC = Path(__file__).parent.parent / "src"
SMALL = """epochs: 1
batch_size: 8
checkpoint_every: 1
warmup_steps: 0
model:
  embed_dim: 16
  image_hidden_dim: 16
  encoder_hidden_dim: 16
  rff_dim: 8
  queue_size: 8
  gallery:
    time_days_step: 30
    time_minutes_step: 120
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("integrity")
    records = make_toy_dataset(root / "world", 24, seed=1)
    extract_features(load_records(records), root / "world", ToyBackbone(), root / "feats", progress=False)
    (root / "small.yaml").write_text(SMALL)
    return {"root": root, "records": records, "feats": root / "feats", "config": root / "small.yaml"}


def _train(monkeypatch, capsys, world, out: Path, *extra) -> tuple[int, str, str]:
    args = ("train", "--features", world["feats"], "--records", world["records"], "--out", out, "--no-progress")
    return run_cli(monkeypatch, capsys, *args, *extra)


def _one_error(code: int, err: str, *parts: str) -> None:
    assert code == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in err, err
    for part in parts:
        assert part in last, (part, last)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_model_file_is_one_error_line(world, toy_run, tmp_path, monkeypatch, capsys, damage):
    run = copy_run(toy_run["run"], tmp_path / "run")
    weights = run / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": os.urandom(500)}[damage])
    args = ("predict", "--checkpoint", run, "--features", world["feats"], "--out", tmp_path / "p.csv")
    _one_error(*run_cli(monkeypatch, capsys, *args, "--no-progress")[::2], str(weights), "unreadable safetensors")


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('{"embed_dim": -5}', "model config.embed_dim", "must be >= 1, got -5"),
        ('{"embed_dim": "big"}', "model config.embed_dim", "expected a whole number, got 'big'"),
        ("[1, 2]", "model config", "expected a mapping"),
        ("{not json", "unreadable model config", ""),
    ],
)
def test_a_bad_model_config_names_the_field(world, toy_run, tmp_path, monkeypatch, capsys, text, field, problem):
    run = copy_run(toy_run["run"], tmp_path / "run")
    (run / "config.json").write_text(text)
    args = ("predict", "--checkpoint", run, "--features", world["feats"], "--out", tmp_path / "p.csv")
    _one_error(*run_cli(monkeypatch, capsys, *args, "--no-progress")[::2], str(run / "config.json"), field, problem)


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("epochs: ten\n", "training config.epochs: expected a whole number, got 'ten'"),
        ("model:\n  embed_dim: -5\n", "training config.model.embed_dim: must be >= 1, got -5"),
        ("lr: .nan\n", "training config.lr: expected a finite number"),
        ("use_queues: 3\n", "training config.use_queues: expected true or false, got 3"),
        ("loss_weights:\n  img_gps: x\n", "training config.loss_weights.img_gps: expected a finite number"),
        ("epochs: [\n", "line 2: not valid YAML"),
    ],
)
def test_a_bad_training_config_names_the_file_and_field(world, tmp_path, monkeypatch, capsys, yaml, message):
    (tmp_path / "c.yaml").write_text(yaml)
    code, _, err = _train(monkeypatch, capsys, world, tmp_path / "run", "--config", tmp_path / "c.yaml")
    _one_error(code, err, str(tmp_path / "c.yaml"), message)


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_training_state_is_one_error_line(world, toy_run, tmp_path, monkeypatch, capsys, damage):
    run = copy_run(toy_run["run"], tmp_path / "run")
    state = run / "training_state.safetensors"
    data = state.read_bytes()
    state.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": os.urandom(500)}[damage])
    code, _, err = _train(monkeypatch, capsys, world, run, "--resume")
    _one_error(code, err, f"cannot resume: {state}")


def test_an_output_folder_that_is_a_file(world, tmp_path, monkeypatch, capsys):
    (tmp_path / "taken").write_text("x")
    code, _, err = _train(monkeypatch, capsys, world, tmp_path / "taken", "--config", world["config"])
    _one_error(code, err, f"cannot write {tmp_path / 'taken'}: {tmp_path / 'taken'} is an existing file")
    code, _, err = _train(monkeypatch, capsys, world, tmp_path / "taken" / "run", "--config", world["config"])
    _one_error(code, err, "is an existing file, not a folder")


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(world, tmp_path, monkeypatch, capsys):
    (tmp_path / "c.yaml").write_text(SMALL + "lr: 1.0e+30\n")
    run = tmp_path / "run"
    code, _, err = _train(monkeypatch, capsys, world, run, "--config", tmp_path / "c.yaml")
    _one_error(code, err, "training stopped at step 2: the loss is not finite", "the checkpoint of step 1")
    with safe_open(str(run / "training_state.safetensors"), framework="pt") as f:
        assert f.metadata()["step"] == "1"
        assert all(bool(f.get_tensor(k).isfinite().all()) for k in f.keys() if k.startswith("model."))  # noqa: SIM118
    assert not (run / "model.safetensors").exists()


def test_resume_with_other_records_or_features_is_refused(world, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    code, _, err = _train(monkeypatch, capsys, world, run, "--config", world["config"])
    assert code == 0, err
    lines = world["records"].read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = "12.5"  # one label moved: same paths, same features
    moved = tmp_path / "moved.csv"
    moved.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    args = ("train", "--features", world["feats"], "--records", moved, "--out", run, "--resume", "--no-progress")
    _one_error(*run_cli(monkeypatch, capsys, *args)[::2], f"cannot resume {run}: its records differ")
    other = make_toy_dataset(tmp_path / "other", 24, seed=1)
    extract_features(load_records(other), tmp_path / "other", ToyBackbone(), tmp_path / "ofeats", progress=False)
    store = json.loads((tmp_path / "ofeats" / "manifest.json").read_text())
    assert store["shards"]  # same paths and labels (same seed), features of other pictures would differ:
    from safetensors.torch import load_file, save_file

    shard = tmp_path / "ofeats" / store["shards"][0]["file"]
    save_file({"features": load_file(str(shard))["features"] + 0.01}, str(shard))
    args = ("train", "--features", tmp_path / "ofeats", "--records", world["records"], "--out", run, "--resume")
    _one_error(*run_cli(monkeypatch, capsys, *args, "--no-progress")[::2], "its features differ")


def _hold_lock(folder: Path) -> subprocess.Popen:
    """A separate process that takes ``folder``'s write lock and sleeps (as a long training run would)."""
    code = (
        "import sys, time\nfrom gtloc.io import exclusive_lock\n"
        "with exclusive_lock(sys.argv[1], 'test'):\n    print('held', flush=True)\n    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_two_writers_of_one_run_folder_the_second_is_refused_and_a_crash_frees_it(world, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    holder = _hold_lock(run)
    try:
        code, _, err = _train(monkeypatch, capsys, world, run, "--config", world["config"])
        _one_error(code, err, f"{run} is being written by another gtloc run (pid {holder.pid} on ")
        assert not (run / "train_config.yaml").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    code, _, err = _train(monkeypatch, capsys, world, run, "--config", world["config"])
    assert code == 0, err


def test_features_with_no_readable_image_exits_non_zero(tmp_path, monkeypatch, capsys):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_text("not a picture")
    (tmp_path / "r.csv").write_text("path,lat,lon\na.jpg,1,2\nmissing.jpg,3,4\n")
    args = ("features", "--records", tmp_path / "r.csv", "--images", tmp_path / "images", "--out", tmp_path / "f")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--no-progress")
    _one_error(code, err, "no features: none of the 2 images could be read", str(tmp_path / "f" / "failed.csv"))


def test_lenient_says_how_many_rows_it_skipped_and_where_the_report_is(tmp_path, monkeypatch, capsys):
    (tmp_path / "images").mkdir()
    from PIL import Image

    Image.new("RGB", (40, 30)).save(tmp_path / "images" / "a.png")
    (tmp_path / "r.csv").write_text("path,lat,lon\na.png,1,2\nb.png,95,2\nc.png,x,2\n")
    args = ("features", "--records", tmp_path / "r.csv", "--images", tmp_path / "images", "--out", tmp_path / "f")
    code, out, err = run_cli(monkeypatch, capsys, *args, "--no-progress", "--lenient")
    assert code == 0, err
    assert f"notice: skipped 2 of 3 rows of {tmp_path / 'r.csv'} (every problem is listed in " in err
    assert str(tmp_path / "r.report.csv") in err and "1 of 1 images" in out
    (tmp_path / "r.csv").write_text("path,lat,lon\nb.png,95,2\n")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--no-progress", "--lenient")
    _one_error(code, err, f"no usable records in {tmp_path / 'r.csv'}: all 1 rows have problems")


def test_ingest_with_no_usable_photo_exits_non_zero_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from PIL import Image

    (tmp_path / "photos").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "photos" / "no_exif.jpg")
    code, _, err = run_cli(monkeypatch, capsys, "ingest", tmp_path / "photos", "--out", tmp_path / "r.csv")
    _one_error(code, err, f"no records from {tmp_path / 'photos'}", "nothing written")
    assert not (tmp_path / "r.csv").exists()


def test_a_killed_lock_holder_never_blocks(tmp_path):
    """The lock is the kernel's (flock): it goes with its holder, whatever the holder's end."""
    from gtloc.io import exclusive_lock

    holder = _hold_lock(tmp_path / "x")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 30
    while True:
        try:
            with exclusive_lock(tmp_path / "x", "test"):
                break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("backbone", "make", "message"),
    [
        ("efficientnet-lite0", lambda p: p.write_text("path,lat\n"), "cannot read efficientnet-lite0 weights"),
        ("efficientnet-lite0", lambda p: torch.save([1, 2], p), "does not hold efficientnet-lite0 weights"),
        ("clip-vit-l-14", lambda p: (p.mkdir(), (p / "config.json").write_text("junk")), "no CLIP model in"),
    ],
)
def test_a_malformed_backbone_is_one_error_line(tmp_path, monkeypatch, capsys, backbone, make, message):
    (tmp_path / "r.csv").write_text("path,lat,lon\na.png,1,2\n")
    make(tmp_path / "weights")
    args = ("features", "--records", tmp_path / "r.csv", "--images", tmp_path, "--out", tmp_path / "f")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--backbone", backbone, "--backbone-path", tmp_path / "weights")
    _one_error(code, err, message, str(tmp_path / "weights"))
    assert err.count("\n") == 1
