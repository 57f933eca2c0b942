"""Read-only and shared use: files follow the umask, a read-only run folder still predicts (caches go to the user
cache folder, ``--cache-dir`` or ``$GTLOC_CACHE``), a damaged derived cache is rebuilt with a notice, and an
output path that cannot be written is one ``error:`` line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.backbones.base import Backbone
from gtloc.backbones.extract import extract_features
from gtloc.backbones.preprocess import Preprocess
from gtloc.data.schema import Records, load_records, write_records
from gtloc.io import OutputPathError, atomic_write_text, output_dir
from gtloc.model.gtloc import GTLoc
from helpers.cli import run_cli
from helpers.world import tiny_config

SRC = Path(__file__).parent.parent / "src"


class TinyBackbone(Backbone):
    name = "tiny"
    feature_dim = 12
    weights_id = "tiny-v1"
    preprocessing = Preprocess(8, 8, "bilinear", (0.5,) * 3, (0.5,) * 3, 10)

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.unfold(2, 4, 4).unfold(3, 4, 4).mean(dim=(-1, -2)).flatten(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Four pictures, their features, and a tiny checkpoint whose GPS gallery is a 5-row CSV."""
    root = tmp_path_factory.mktemp("shared")
    rng = np.random.default_rng(0)
    paths = [f"pics/{i}.png" for i in range(4)]
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(root / path)
    records = Records(paths, np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]), np.full((4, 5), np.nan))
    write_records(records, root / "records.csv")
    (root / "places.csv").write_text("path,lat,lon\n" + "".join(f"g{i},{i * 10},{i * 20}\n" for i in range(5)))
    config = tiny_config(str(root / "places.csv"), backbone="tiny", feature_dim=12)
    GTLoc(config).save_pretrained(root / "run")
    extract_features(records, root, TinyBackbone(), root / "features", progress=False)
    return {"root": root, "run": root / "run", "features": root / "features"}


def _fresh_run(world, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(world["run"], run, ignore=shutil.ignore_patterns("galleries"))
    return run


def _predict_without_write_permission(run: Path, out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    """``gtloc predict`` in a subprocess that cannot write ``run`` (mode 0555; as root, with CAP_DAC_OVERRIDE
    dropped so that the mode bits bind root too)."""
    command = [sys.executable, "-m", "gtloc", "predict", "--checkpoint", str(run), "--out", str(out), *extra]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only for the command")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    env = {**os.environ, "PYTHONPATH": str(SRC), "GTLOC_CACHE": str(cache)}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.txt", "x")
        os.umask(0o077)
        atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777 for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_every_file_training_features_and_prediction_write_follows_the_umask(world, tmp_path, umask, mode):
    """Model weights, the resumable state, feature shards and encoded galleries go through safetensors, which
    writes its own private (0600) file: they too get the umask's mode, like the JSON and CSV beside them."""
    from gtloc.inference.prediction_files import write_predictions
    from gtloc.inference.predictor import Predictor
    from gtloc.training.loop import train
    from helpers.toydata import mini_train_config, random_training_data

    old = os.umask(umask)
    try:
        extract_features(
            load_records(world["root"] / "records.csv"),
            world["root"],
            TinyBackbone(),
            tmp_path / "features",
            progress=False,
        )
        train(random_training_data(), tmp_path / "run", mini_train_config(), progress=False, log=lambda _: None)
        predictor = Predictor.from_pretrained(tmp_path / "run")
        pred = predictor.predict(torch.randn(2, 16), top_k=2)
        write_predictions(["a.jpg", "b.jpg"], pred, tmp_path / "preds.csv")
    finally:
        os.umask(old)
    written = _modes(tmp_path)
    assert {"run/model.safetensors", "run/training_state.safetensors", "features/shard-00000.safetensors"} <= set(
        written
    )
    assert any(name.startswith("run/galleries/gps-") for name in written)
    assert {name: m for name, m in written.items() if m != mode} == {}


def test_an_output_path_that_cannot_be_written_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match=r"cannot write .*/file/sub: .*/file is an existing file, not a folder"):
        output_dir(tmp_path / "file" / "sub")
    with pytest.raises(OutputPathError, match=r"cannot write .*/file/out.csv: .*/file is an existing file"):
        atomic_write_text(tmp_path / "file" / "out.csv", "x")
    with pytest.raises(OutputPathError, match=r"cannot write .*: it is an existing folder, not a file"):
        atomic_write_text(tmp_path, "x")


def test_cli_predict_into_a_file_path_is_one_error_line(world, tmp_path, monkeypatch, capsys):
    (tmp_path / "taken").write_text("x")
    out = tmp_path / "taken" / "preds.csv"
    args = ("predict", "--checkpoint", world["run"], "--features", world["features"], "--out", out, "--no-progress")
    code, _, err = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"error: cannot write {out}: {tmp_path / 'taken'} is an existing file, not a folder")


def test_a_read_only_run_folder_still_predicts_into_the_user_cache(world, tmp_path):
    run = _fresh_run(world, tmp_path)
    run.chmod(0o555)
    try:
        done = _predict_without_write_permission(
            run, tmp_path / "preds.csv", tmp_path / "cache", "--features", str(world["features"]), "--no-progress"
        )
    finally:
        run.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "preds.csv").is_file() and not (run / "galleries").exists()
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "galleries").glob("*.safetensors")) == [
        "gps",
        "time",
    ]


def test_cache_dir_chooses_where_galleries_are_cached(world, tmp_path, monkeypatch, capsys):
    run = _fresh_run(world, tmp_path)
    args = ("predict", "--checkpoint", run, "--features", world["features"], "--out", tmp_path / "p.csv")
    code, _, err = run_cli(monkeypatch, capsys, *args, "--no-progress", "--cache-dir", tmp_path / "mine")
    assert code == 0, err
    assert len(list((tmp_path / "mine").glob("*.safetensors"))) == 2 and not (run / "galleries").exists()


def test_a_damaged_gallery_cache_is_rebuilt_with_a_notice(world, tmp_path, monkeypatch, capsys):
    run = _fresh_run(world, tmp_path)
    args = ("predict", "--checkpoint", run, "--features", world["features"], "--out", tmp_path / "p.csv")
    assert run_cli(monkeypatch, capsys, *args, "--no-progress")[0] == 0
    first = (tmp_path / "p.csv").read_text()
    for damage in (b"", b"garbage" * 10, None):
        for cached in (run / "galleries").glob("*.safetensors"):
            data = cached.read_bytes()
            cached.write_bytes(damage if damage is not None else data[: len(data) // 2])
        code, _, err = run_cli(monkeypatch, capsys, *args, "--no-progress")
        assert code == 0, err
        assert err.count("notice: cache ") == 2 and "is damaged" in err and "rebuilding it" in err
        assert (tmp_path / "p.csv").read_text() == first
    assert run_cli(monkeypatch, capsys, *args, "--no-progress")[2].count("notice:") == 0


def test_a_damaged_faiss_index_cache_is_rebuilt_with_a_notice(world, tmp_path, monkeypatch, capsys):
    run = _fresh_run(world, tmp_path)
    args = ("predict", "--checkpoint", run, "--features", world["features"], "--out", tmp_path / "p.csv")
    args = (*args, "--gps-index", "faiss-flat", "--no-progress")
    assert run_cli(monkeypatch, capsys, *args)[0] == 0
    first = (tmp_path / "p.csv").read_text()
    (index,) = (run / "galleries").glob("*.faiss")
    for damage in (b"", b"garbage" * 10, index.read_bytes()[:100]):
        index.write_bytes(damage)
        code, _, err = run_cli(monkeypatch, capsys, *args)
        assert code == 0, err
        assert err.count("notice: cache ") == 1 and f"{index.name} is damaged" in err and "rebuilding it" in err
        assert (tmp_path / "p.csv").read_text() == first
    assert run_cli(monkeypatch, capsys, *args)[2].count("notice:") == 0
