"""Training: schedule, resumable checkpoints (in-process and after kill -9), config handling, logs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest
import torch

from gtloc.errors import GtlocError, ParameterError
from gtloc.model.gtloc import GTLoc
from gtloc.training.config import TrainConfig, load_train_config, save_train_config, small_model_config
from gtloc.training.data import load_training_data
from gtloc.training.loop import lr_at, train
from helpers.cli import run_cli
from helpers.frozen import copy_run
from helpers.toydata import tiny_train_config


@pytest.fixture
def toy_cache(toy_world) -> tuple[Path, Path]:
    """The toy world's feature cache and records (160 pictures)."""
    return toy_world["features"], toy_world["records"]


def same_weights(a: GTLoc, b: GTLoc) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_lr_warms_up_then_decays_to_the_floor():
    config = TrainConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, config) == pytest.approx(1e-4)
    assert lr_at(9, 100, config) == pytest.approx(1e-3)
    assert lr_at(10, 100, config) == pytest.approx(1e-3)
    assert lr_at(100, 100, config) == pytest.approx(1e-4)
    mids = [lr_at(s, 100, config) for s in range(10, 101)]
    assert all(x >= y for x, y in itertools.pairwise(mids))


def test_training_lowers_the_loss_and_saves_a_loadable_model(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    model = train(data, tmp_path / "run", tiny_train_config(epochs=8), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, len(log) + 1))
    assert {"loss", "img_gps", "img_time", "gps_time", "ig2t", "it2g", "gt2i", "lr"} <= set(log[0])
    first, last = sum(r["loss"] for r in log[:5]) / 5, sum(r["loss"] for r in log[-5:]) / 5
    assert last < first
    loaded = GTLoc.from_pretrained(tmp_path / "run")
    assert same_weights(model, loaded)
    assert loaded.config.backbone == "toy" and loaded.config.feature_dim == 96
    assert load_train_config(tmp_path / "run" / "train_config.yaml").epochs == 8


def test_resume_in_process_reproduces_the_uninterrupted_run(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    config = tiny_train_config()
    straight = train(data, tmp_path / "a", config, progress=False)
    train(data, tmp_path / "b", config, progress=False, stop_after=7)
    resumed = train(data, tmp_path / "b", None, resume=True, progress=False)
    assert same_weights(straight, resumed)
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert steps == list(range(1, steps[-1] + 1))


@pytest.mark.slow
def test_kill_minus_9_mid_epoch_then_resume(toy_cache, tmp_path):
    features, records = toy_cache
    config = tiny_train_config(epochs=30, checkpoint_every=10)  # 150 steps: killed after 25, far from the end
    config_path = tmp_path / "config.yaml"
    save_train_config(config, config_path)
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "gtloc", "train", "--features", str(features), "--records", str(records)]
    cmd += ["--out", str(run), "--config", str(config_path), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = run / "log.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) >= 25 and (run / "training_state.safetensors").exists():
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    total = config.epochs * (160 // config.batch_size)
    done = len(log.read_text().splitlines())
    assert 25 <= done < total, "the run must be killed mid-way"
    assert not (run / "model.safetensors").exists()

    resumed = subprocess.run([*cmd[:-3], "--resume", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    straight = train(load_training_data(features, records), tmp_path / "straight", config, progress=False)
    assert same_weights(straight, GTLoc.from_pretrained(run))
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == list(range(1, total + 1))


def test_a_used_run_directory_needs_resume(toy_cache, toy_run, tmp_path):
    run = copy_run(toy_run["run"], tmp_path / "run")
    with pytest.raises(ParameterError) as info:
        train(load_training_data(*toy_cache), run, tiny_train_config(epochs=1), progress=False)
    assert info.value.parameters == ("resume", "out_dir")
    assert str(info.value).endswith(
        "already holds a training run: pass resume=True to continue it, or choose another out_dir"
    )


def test_a_used_run_directory_needs_resume_on_the_command_line(toy_cache, toy_run, tmp_path, monkeypatch, capsys):
    features, records = toy_cache
    copy_run(toy_run["run"], tmp_path / "run")
    args = ("train", "--features", features, "--records", records, "--out", tmp_path / "run", "--no-progress")
    code, _, stderr = run_cli(monkeypatch, capsys, *args)
    assert code == 2
    assert stderr.strip() == (
        f"error: {tmp_path / 'run'} already holds a training run: pass --resume to continue it, or choose another --out"
    )


def test_resume_with_another_config_is_refused(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    train(data, tmp_path / "run", tiny_train_config(), progress=False, stop_after=4)
    with pytest.raises(GtlocError, match=r"with a different config \(differs in \['epochs'\]\)"):
        train(data, tmp_path / "run", tiny_train_config(epochs=9), resume=True, progress=False)


def test_resume_without_a_run_says_so(toy_cache, tmp_path):
    with pytest.raises(GtlocError, match=r"cannot resume: .*train_config\.yaml does not exist"):
        train(load_training_data(*toy_cache), tmp_path / "nothing", None, resume=True, progress=False)


def test_config_file_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(GtlocError, match=r"unknown training config keys \['learning_rate'\]"):
        load_train_config(bad)
    bad.write_text("batch_size: 1\n")
    with pytest.raises(GtlocError, match=r"bad.yaml: training config.batch_size: must be >= 2"):
        load_train_config(bad)
    with pytest.raises(GtlocError, match="does not exist"):
        load_train_config(tmp_path / "missing.yaml")


def test_config_round_trip(tmp_path):
    config = tiny_train_config(tau=0.0)
    save_train_config(config, tmp_path / "c.yaml")
    assert load_train_config(tmp_path / "c.yaml") == replace(config)


def test_missing_time_labels_are_masked_not_faked(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    data.times[::2] = float("nan")
    data.latlon[1::4] = float("nan")
    train(data, tmp_path / "run", tiny_train_config(epochs=1), progress=False)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in log)


def test_camera_sampler_balances_cameras_and_resumes_exactly(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    data.cameras = ["big"] * 150 + [f"small{i}" for i in range(10)]  # one camera holds 94 % of the pictures
    config = tiny_train_config(sampler="camera", epochs=2)
    straight = train(data, tmp_path / "a", config, progress=False)
    train(data, tmp_path / "b", config, progress=False, stop_after=4)
    assert same_weights(straight, train(data, tmp_path / "b", None, resume=True, progress=False))
    # The GPS queue holds the labels of the last 64 pictures drawn: a camera is drawn 1 time in 11, so few of them
    # are the big camera's (shuffled batches: 94 in 100).
    assert big_camera_share(straight.gps_queue.contents(), data.latlon[:150]) < 0.25
    shuffled = train(data, tmp_path / "c", tiny_train_config(epochs=2), progress=False)
    assert big_camera_share(shuffled.gps_queue.contents(), data.latlon[:150]) > 0.75


def big_camera_share(queued: torch.Tensor, big: torch.Tensor) -> float:
    """The share of queued places ``(Q, 2)`` that are places of the big camera's pictures ``(B, 2)``."""
    assert len(queued) == 64
    return (queued[:, None, :] == big[None, :, :]).all(dim=-1).any(dim=1).float().mean().item()


def test_camera_sampler_needs_a_camera_column(toy_cache, tmp_path):
    with pytest.raises(GtlocError, match="sampler 'camera' needs a camera column"):
        train(load_training_data(*toy_cache), tmp_path / "run", tiny_train_config(sampler="camera"), progress=False)
    with pytest.raises(GtlocError, match="sampler: must be 'shuffle' or 'camera', got 'cams'"):
        TrainConfig.from_dict({"sampler": "cams"})


def test_a_run_killed_before_its_first_checkpoint_starts_over_cleanly(toy_cache, tmp_path):
    data = load_training_data(*toy_cache)
    run = tmp_path / "run"
    run.mkdir()
    save_train_config(tiny_train_config(), run / "train_config.yaml")
    (run / "log.jsonl").write_text('{"step": 1, "loss": 99.0}\n{"step": 2, "loss": 98.0}\n')
    with pytest.raises(GtlocError, match=r"cannot resume: .*training_state\.safetensors does not exist"):
        train(data, run, None, resume=True, progress=False)
    train(data, run, tiny_train_config(), progress=False)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, len(log) + 1))
    assert all(r["loss"] < 90 for r in log)


def test_resume_ignores_config_fields_left_at_their_defaults(toy_cache, tmp_path):
    """A run resumes under a newer config that adds a field at its default; a changed value is still refused."""

    @dataclass
    class NewerTrainConfig(TrainConfig):
        added_later: int = 0  # a field a later gtloc adds, with a default

    data = load_training_data(*toy_cache)
    config = tiny_train_config()
    train(data, tmp_path / "run", config, progress=False, stop_after=4)
    newer = NewerTrainConfig(**{f.name: getattr(config, f.name) for f in fields(TrainConfig)})
    resumed = train(data, tmp_path / "run", newer, resume=True, progress=False)
    assert same_weights(resumed, train(data, tmp_path / "straight", config, progress=False))
    with pytest.raises(GtlocError, match=r"with a different config \(differs in \['model'\]\)"):
        train(data, tmp_path / "run", tiny_train_config(model=small_model_config(rff_dim=8)), resume=True)
