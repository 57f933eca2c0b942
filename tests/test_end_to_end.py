"""The whole command-line pipeline on a small generated world: world -> features -> train -> predict -> evaluate."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from gtloc.cli import app
from gtloc.training.config import TrainConfig, save_train_config, small_model_config

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"gtloc {' '.join(map(str, args))} failed:\n{result.output}\n{result.exception!r}"
    return result.output


def test_world_features_train_predict_evaluate(tmp_path):
    world, feats, rundir = tmp_path / "world", tmp_path / "features", tmp_path / "run"
    run("world", "--n", 48, "--seed", 3, "--size", 96, "--out", world, "--no-progress")
    records = world / "records.csv"
    run(
        "features",
        "--records",
        records,
        "--images",
        world / "images",
        "--backbone",
        "efficientnet-lite0",
        "--out",
        feats,
        "--batch-size",
        16,
    )
    model = small_model_config(encoder_hidden_dim=32, image_hidden_dim=64, queue_size=32, rff_dim=16)
    save_train_config(
        TrainConfig(epochs=2, batch_size=16, warmup_steps=2, checkpoint_every=3, model=model), tmp_path / "config.yaml"
    )
    run(
        "train",
        "--features",
        feats,
        "--records",
        records,
        "--out",
        rundir,
        "--config",
        tmp_path / "config.yaml",
        "--no-progress",
    )
    assert (rundir / "model.safetensors").is_file() and (rundir / "train_config.yaml").is_file()

    preds = tmp_path / "preds.csv"
    run("predict", "--checkpoint", rundir, "--features", feats, "--out", preds, "--top-k", 3)
    with open(preds, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 48
    assert set(rows[0]) >= {"path", "lat", "lon", "month", "day", "hour", "minute"}
    topk = json.loads(preds.with_suffix(".json").read_text())
    assert len(topk["predictions"]) == 48

    out = run("evaluate", "--predictions", preds, "--truth", records, "--out", tmp_path / "metrics.json")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics["geo"]) == {"median_km", "acc_1km", "acc_25km", "acc_200km", "acc_750km", "acc_2500km"}
    assert 0 <= metrics["time"]["month_error"] <= 6 and 0 <= metrics["time"]["hour_error"] <= 12
    assert "month_error" in out or "month err" in out
