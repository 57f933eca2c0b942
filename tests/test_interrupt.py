"""Ctrl-C on a long command: it says what was kept and the command that goes on, exits 130 without a traceback, and
the command run again says that it resumed. Each command runs in its own process group and gets SIGINT as a
terminal's Ctrl-C delivers it (to the whole group, worker processes included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtloc.data.schema import Records, write_records

pytestmark = pytest.mark.slow

SRC = Path(__file__).parent.parent / "src"
TIMEOUT = 240


class Command:
    """``gtloc ARGS`` in a new process group, its stdout and stderr read line by line in threads."""

    def __init__(self, *args: object, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gtloc", *map(str, args)],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.err), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"the command ended before {what}: {''.join(self.out)}{''.join(self.err)}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {what} within {TIMEOUT} s")
            time.sleep(0.05)

    def printed(self, text: str) -> bool:
        return any(text in line for line in self.out)

    def interrupt(self) -> tuple[int, str, str]:
        """Ctrl-C: SIGINT to the process group; returns (exit status, stdout, stderr)."""
        os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(timeout=TIMEOUT)
        for reader in self.readers:
            reader.join(timeout=10)
        return code, "".join(self.out), "".join(self.err)


def _pictures(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    paths = [f"images/{i:04d}.png" for i in range(n)]
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(root / path)
    latlon = np.column_stack([rng.uniform(-60, 60, n), rng.uniform(-180, 180, n)])
    times = np.column_stack(
        [rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(0, 24, n), np.zeros(n), np.zeros(n)]
    )
    write_records(Records(paths, latlon, times), root / "records.csv")
    return root / "records.csv"


def _assert_interrupted(code: int, err: str, *expected: str) -> None:
    assert code == 130, err
    assert "Traceback" not in err, err
    assert "\ninterrupted: " in err, err
    for text in expected:
        assert text in err, err


def test_ctrl_c_during_features_keeps_the_finished_shards_and_the_rerun_resumes(tmp_path):
    records = _pictures(tmp_path, 300)
    args = ("features", "--records", records, "--out", "feats", "--shard-size", "8", "--batch-size", "8")
    run = Command(*args, "--eager", "--workers", "0", "--no-progress", cwd=tmp_path)
    # the second shard's file means the first is listed in the manifest (a shard is written, then listed)
    run.wait_for(lambda: len(list((tmp_path / "feats").glob("shard-*.safetensors"))) >= 2, "two shards")
    code, _, err = run.interrupt()
    _assert_interrupted(code, err, "kept the features of ", " of 300 images in feats", "the same command extracts")
    assert f"gtloc features --records {records} --out feats" in err
    kept = int(err.split("kept the features of ")[1].split(" ")[0])
    assert 8 <= kept < 300 and kept % 8 == 0

    again = Command(*args, "--eager", "--workers", "0", "--no-progress", cwd=tmp_path)
    again.wait_for(lambda: again.printed("resuming feats: "), "resume line")
    again.interrupt()
    assert f"resuming feats: {kept} of 300 images have features; extracting the other {300 - kept}" in "".join(
        again.out
    )


def test_ctrl_c_during_training_names_the_checkpoint_and_the_resume_command(tmp_path):
    from gtloc.backbones.extract import extract_features
    from gtloc.data.schema import load_records
    from helpers.toydata import ToyBackbone

    records = _pictures(tmp_path, 64)
    extract_features(load_records(records), tmp_path, ToyBackbone(), tmp_path / "feats", progress=False)
    (tmp_path / "train.yaml").write_text("epochs: 100000\nbatch_size: 16\ncheckpoint_every: 5\nwarmup_steps: 2\n")
    args = ("train", "--features", "feats", "--records", records, "--out", "run", "--config", "train.yaml")
    run = Command(*args, "--no-progress", cwd=tmp_path)
    run.wait_for(lambda: (tmp_path / "run" / "training_state.safetensors").is_file(), "first checkpoint")
    code, _, err = run.interrupt()
    _assert_interrupted(code, err, "kept the checkpoint of step ", "run/training_state.safetensors", "--resume")
    assert err.rstrip().endswith("--config train.yaml --no-progress --resume")
    step = int(err.split("kept the checkpoint of step ")[1].split(" ")[0])

    again = Command("train", "--features", "feats", "--records", records, "--out", "run", "--resume", cwd=tmp_path)
    again.wait_for(lambda: again.printed("resuming the run in run from its checkpoint of step"), "resume line")
    again.interrupt()
    resumed = next(line for line in again.out if "resuming the run" in line)
    assert int(resumed.split("checkpoint of step ")[1].split(" ")[0]) >= step


def test_ctrl_c_during_the_demo_lists_what_is_left_and_the_rerun_reuses_the_rest(tmp_path):
    args = ("demo", "--out", "d", "--n-train", 60, "--n-test", 8, "--epochs", 1, "--size", 64, "--workers", 1)
    run = Command(*args, "--no-progress", cwd=tmp_path)
    run.wait_for(lambda: run.printed("[features-train] extracting"), "the features stage")
    code, _, err = run.interrupt()
    _assert_interrupted(code, err, "the finished stages in d are kept (left: ", "train 3 runs", "gtloc demo --out d")

    again = Command(*args, "--no-progress", cwd=tmp_path)
    again.wait_for(lambda: again.printed("[world-test] reusing 8 pictures"), "reuse line")
    code, out, err = again.interrupt()
    assert "[world-train] reusing 60 pictures" in out and "rendering" not in out
    assert code == 130 and "Traceback" not in err


def test_ctrl_c_during_world_says_it_is_rendered_again_from_the_start(tmp_path):
    run = Command("world", "--n", 3000, "--size", 64, "--out", "w", "--workers", 2, "--no-progress", cwd=tmp_path)
    run.wait_for(lambda: sum(1 for _ in (tmp_path / "w").rglob("*.jpg")) >= 2, "first pictures")
    code, _, err = run.interrupt()
    _assert_interrupted(code, err, "the world in w is incomplete", "gtloc world --n 3000 --size 64 --out w")
