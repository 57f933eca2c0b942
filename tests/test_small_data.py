"""Small training sets: the trainer's adaptation, the kNN time read-out and the time prior, gtloc crossval."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from gtloc.backbones.extract import extract_features
from gtloc.data.schema import load_records, write_records
from gtloc.errors import GtlocError
from gtloc.evaluation.crossval import cross_validate
from gtloc.evaluation.crossval_report import summary_sentences, verdicts
from gtloc.inference.predictor import Predictor
from gtloc.model.calibration import Temperatures
from gtloc.model.domain import DomainProfile
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import build_time_gallery, time_grid
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore, time_kernel, time_prior
from gtloc.retrieval.time_posterior import TimeGallery, TimePosterior, mix_weight
from gtloc.timecode import hour_error, month_error
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import load_training_data
from gtloc.training.loop import train
from gtloc.training.small_data import (
    SMALL_DATA_N,
    SMALL_VAL_SPLIT,
    adapt_config,
    distinct_labels,
    group_column,
    small_data_validation,
)
from gtloc.training.validation import validation_metrics
from helpers.cli import run_cli
from helpers.toydata import ToyBackbone, make_toy_dataset

GRID = time_grid(days_step=30, minutes_step=60)


def tiny_train_config(**overrides) -> dict:
    model = small_model_config(encoder_hidden_dim=16, image_hidden_dim=16, rff_dim=8, embed_dim=16, queue_size=4096)
    model = replace(model, gallery=replace(model.gallery, time_days_step=30, time_minutes_step=60))
    config = TrainConfig(epochs=2, batch_size=16, warmup_steps=50, checkpoint_every=100, model=model, **overrides)
    return config.to_dict()


def test_adaptation_caps_queue_and_warmup_and_narrows_the_model_on_small_sets():
    config = TrainConfig(epochs=30, batch_size=256, warmup_steps=50)
    small = adapt_config(config, n_train=270, n_distinct=270)
    assert small.model.queue_size == 270
    assert small.warmup_steps == 3  # 30 one-batch epochs: a tenth of the steps
    assert small.model.encoder_hidden_dim == 128 and small.model.image_hidden_dim == 512
    assert small.model.image_input_dropout == 0.5
    big = adapt_config(config, n_train=SMALL_DATA_N * 5, n_distinct=SMALL_DATA_N * 5)
    assert big.model == config.model and big.warmup_steps == 50
    assert adapt_config(replace(config, adapt_to_data=False), 270, 270) == replace(config, adapt_to_data=False)


def test_small_sets_hold_out_whole_groups_to_calibrate_on():
    config = TrainConfig()
    cameras = {"camera": [f"c{i % 4}" for i in range(300)]}
    held = small_data_validation(config, 300, cameras)
    assert (held.val_group, held.val_split, held.select, held.refit) == ("camera", SMALL_VAL_SPLIT, "last", True)
    random_rows = small_data_validation(config, 300, {"camera": [f"c{i % 2}" for i in range(300)]})
    assert random_rows.val_group is None and random_rows.val_split == SMALL_VAL_SPLIT  # two groups: too few
    assert small_data_validation(config, 300, {}).val_split == SMALL_VAL_SPLIT
    for untouched in (replace(config, val_split=0.1), replace(config, adapt_to_data=False)):
        assert small_data_validation(untouched, 300, cameras) == untouched
    assert small_data_validation(config, SMALL_DATA_N, cameras) == config
    assert group_column(replace(config, val_group="site"), cameras) == "site"
    assert group_column(config, cameras) == "camera" and group_column(config, {"site": ["a", "b"]}) is None


def test_distinct_labels_counts_places_and_times_ignoring_missing_ones():
    latlon = torch.tensor([[1.0, 2.0], [1.0, 2.0], [float("nan"), 0.0]])
    times = torch.tensor([[1.0, 1, 1, 0, 0], [2.0, 1, 1, 0, 0], [3.0, 1, 1, 0, 0]])
    assert distinct_labels(latlon, times) == 3
    assert distinct_labels(latlon, torch.full((3, 5), float("nan"))) == 1


def test_kernel_prior_and_knn_posterior_sit_on_the_training_times():
    times = torch.tensor([[6.0, 15, 12, 0, 0]] * 3 + [[12.0, 15, 0, 0, 0]])
    kernel = time_kernel(times, GRID)
    assert torch.allclose(kernel.sum(1), torch.ones(4))
    assert GRID[kernel[0].argmax()].tolist()[:3] == [6.0, 1.0, 12.0]  # the grid has day 1 of each month
    prior = time_prior(times, GRID)
    assert prior.sum() == pytest.approx(1.0)
    assert prior[kernel[0].argmax()] > prior[kernel[3].argmax()]  # three pictures at noon in June, one at midnight
    features = torch.cat([torch.ones(3, 4), -torch.ones(1, 4)]) + 0.01 * torch.randn(4, 4)
    store = NeighbourStore.from_training(features, times, torch.zeros(4, 2))
    post = store.time_posterior(-torch.ones(1, 4), GRID, k=1)
    assert GRID[post[0].argmax()].tolist()[:3] == [12.0, 1.0, 0.0]  # Dec 15 midnight's nearest grid time
    assert mix_weight(250) == pytest.approx(0.5) and mix_weight(25_000) > 0.98


def test_neighbour_store_round_trip_and_a_foreign_file_is_refused(tmp_path):
    store = NeighbourStore.from_training(torch.randn(5, 3, 8), torch.rand(5, 5) + 1, torch.rand(5, 2))
    assert store.features.shape == (5, 8) and store.n_train == 5
    store.save(tmp_path / "n.safetensors")
    back = NeighbourStore.load(tmp_path / "n.safetensors")
    assert torch.equal(back.features, store.features) and torch.equal(back.times, store.times) and back.n_train == 5
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(GtlocError, match=r"bad\.safetensors"):
        NeighbourStore.load(tmp_path / "bad.safetensors")
    with pytest.raises(GtlocError, match="dimension"):
        store.query(torch.randn(2, 9))


@pytest.fixture(scope="module")
def webcams(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A toy set of 96 pictures in three 'cameras', its feature cache and a tiny training config."""
    root = tmp_path_factory.mktemp("webcams")
    records_path = make_toy_dataset(root / "world", 96, seed=5)
    records = load_records(records_path)
    records.extras["camera"] = [f"cam{i % 3}" for i in range(len(records))]
    write_records(records, records_path)
    extract_features(records, root / "world", ToyBackbone(), root / "features", progress=False)
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(tiny_train_config()))
    return records_path, root / "features", config


def test_a_small_run_stores_its_neighbours_and_predicts_with_each_read_out(webcams, tmp_path):
    records_path, features, config_path = webcams
    data = load_training_data(features, records_path, log=lambda m: None)
    config = TrainConfig.from_dict(yaml.safe_load(config_path.read_text()))
    train(data, tmp_path / "run", config, progress=False)
    saved = yaml.safe_load((tmp_path / "run" / "train_config.yaml").read_text())
    assert saved["model"]["queue_size"] == 96 and saved["warmup_steps"] == 1  # adapted and recorded
    # a small set: one camera of three is held out to calibrate on, then the model is trained again on all three
    assert saved["val_group"] == "camera" and saved["refit"] is True
    store = NeighbourStore.load(tmp_path / "run" / NEIGHBOURS_FILE)
    assert store.n_train == 96 and torch.equal(store.times, data.times)
    answers, hours = {}, {}
    for posterior in ("gallery", "knn", "mix"):
        predictor = Predictor.from_pretrained(tmp_path / "run", time_posterior=posterior)
        pred = predictor.predict(data.features[:7], top_k=3, where=False)
        assert torch.allclose(pred.month_posterior.sum(1), torch.ones(7), atol=1e-4)
        answers[posterior], hours[posterior] = pred.month_posterior, pred.hour_posterior
    # held-out cameras of a small set: the mix takes the model's month and mostly the neighbours' hour
    assert Temperatures.load(tmp_path / "run").mix_weights == {"month": 0.9, "hour": 0.1}
    assert torch.allclose(answers["mix"], 0.9 * answers["gallery"] + 0.1 * answers["knn"], atol=1e-5)
    assert torch.allclose(hours["mix"], 0.1 * hours["gallery"] + 0.9 * hours["knn"], atol=1e-5)
    knn = store.time_posterior(data.features[:7], GRID)
    month_onehot = torch.nn.functional.one_hot(GRID[:, 0].long() - 1, 12).float()
    assert torch.allclose(answers["knn"], knn @ month_onehot, atol=1e-5)
    with_prior = Predictor.from_pretrained(tmp_path / "run", time_posterior="gallery", time_prior=True)
    assert with_prior.predict(data.features[:2], where=False).time_bayes.shape == (2, 5)
    with pytest.raises(GtlocError, match="time_posterior"):
        Predictor.from_pretrained(tmp_path / "run", time_posterior="nearest")
    with pytest.raises(GtlocError, match="neighbours"):
        Predictor(GTLoc.from_pretrained(tmp_path / "run"), time_posterior="knn")


def test_crossval_cli_writes_pooled_and_per_group_metrics_beside_the_floor(monkeypatch, capsys, webcams, tmp_path):
    records_path, features, config_path = webcams
    out = tmp_path / "cv"
    args = ("crossval", "--records", records_path, "--features", features, "--group-by", "camera", "--out", out)
    code, stdout, stderr = run_cli(monkeypatch, capsys, *args, "--config", config_path, "--no-progress")
    assert code == 0, stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert sorted(metrics["groups"]) == ["cam0", "cam1", "cam2"] and metrics["group_by"] == "camera"
    assert metrics["pooled"]["gtloc"]["n"]["time"] == 96 == sum(g["n"] for g in metrics["groups"].values())
    for group in metrics["groups"].values():
        assert group["n"] == 32
        assert group["gtloc"]["time"]["hour_error"] >= 0 and group["constant"]["time"]["hour_error"] >= 0
    table = (out / "crossval.md").read_text()
    assert "| camera | n | hour err (h) | floor hour" in table and "| pooled | 96 |" in table
    assert "| pooled | 96 |" in stdout and "95 % intervals over 3 camera groups" in stdout
    hour = next(v for v in metrics["verdicts"]["gtloc"] if v["measure"] == "hour")
    assert hour["units"] == 3 and hour["words"] == "too few groups to tell (under 5)" and hour["low"] is None
    pooled = metrics["pooled"]
    assert hour["ratio"] == pytest.approx(
        pooled["gtloc"]["time"]["hour_error"] / pooled["constant"]["time"]["hour_error"]
    )
    assert f"| gtloc | hour error (h) | {hour['value']:.2f} |" in table and hour["words"] in table
    assert all((out / "folds" / cam / "model.safetensors").is_file() for cam in ("cam0", "cam1", "cam2"))
    assert not list(out.rglob("galleries/*"))  # every fold's galleries were encoded in memory only
    assert not list(out.rglob("training_state.safetensors"))  # a finished fold keeps no resumable checkpoint
    for fold in (out / "folds").iterdir():  # disk: each fold holds its model, what predicts with it and small text
        sizes = {path.relative_to(fold).as_posix(): path.stat().st_size for path in fold.rglob("*") if path.is_file()}
        stored = sum(sizes[name] for name in ("model.safetensors", NEIGHBOURS_FILE, "domain.safetensors"))
        assert sum(sizes.values()) <= stored + 16 * 1024 and not (fold / "refit").exists(), sizes
    models = {path: path.stat().st_mtime_ns for path in out.rglob("model.safetensors")}
    code, again, stderr = run_cli(monkeypatch, capsys, *args, "--config", config_path, "--no-progress")
    assert code == 0 and "| pooled | 96 |" in again, stderr
    assert {path: path.stat().st_mtime_ns for path in out.rglob("model.safetensors")} == models  # reused, not retrained


def test_crossval_without_a_group_column_deals_random_folds_and_scores_each_read_out(webcams, tmp_path):
    records_path, features, config_path = webcams
    config = TrainConfig.from_dict(yaml.safe_load(config_path.read_text()))
    result = cross_validate(
        records_path, features, None, tmp_path / "cv", config, folds=4, readouts=("knn", "argmax"), log=lambda m: None
    )
    assert sorted(result["groups"]) == ["fold1", "fold2", "fold3", "fold4"] and result["folds"] == 4
    assert [g["n"] for g in result["groups"].values()] == [24] * 4
    assert set(result["pooled"]) == {"gtloc", "gtloc_argmax", "constant"} and result["readouts"] == ["knn", "argmax"]
    assert set(result["verdicts"]) == {"gtloc", "gtloc_argmax"}
    assert result["verdicts"]["gtloc"][0]["units"] == 96  # rows, not folds, are the bootstrap units
    report = (tmp_path / "cv" / "crossval.md").read_text()
    assert "4 random folds" in report and "gtloc = read-out knn" in report and "| fold1 | 24 |" in report
    with pytest.raises(GtlocError, match="readout"):
        cross_validate(records_path, features, None, tmp_path / "x", config, readouts=("best",), log=lambda m: None)
    with pytest.raises(GtlocError, match="folds"):
        cross_validate(records_path, features, None, tmp_path / "x", config, folds=97, log=lambda m: None)


def test_verdicts_say_which_measures_beat_the_constant_guess():
    """Per-row errors of eight groups: hours at half the constant's, months the same up to noise, km doubled."""
    rng = np.random.default_rng(0)
    constant = np.abs(rng.normal(4.0, 1.0, (160, 3)))
    model = constant * np.array([0.5, 1.0, 2.0]) + rng.normal(0, 0.3, (160, 3)) * np.array([0, 1, 0])
    units = np.repeat(np.arange(8), 20)
    found = {v.measure: v for v in verdicts(model, constant, units)}
    assert found["hour"].words == "beats the constant guess" and found["hour"].high < 1
    assert found["month"].words == "no clear difference from the constant guess"
    assert found["km"].words == "worse than the constant guess" and found["km"].low > 1
    assert found["hour"].ratio == pytest.approx(model[:, 0].mean() / constant[:, 0].mean())
    assert found["km"].ratio == pytest.approx(np.median(model[:, 2]) / np.median(constant[:, 2]))
    few = verdicts(model, constant, np.repeat(np.arange(4), 40))  # four units: no interval, no verdict
    assert all(v.words.startswith("too few groups") and np.isnan(v.low) for v in few)
    assert "beats the constant guess on the hour" in summary_sentences({"m": list(found.values())}, "8 groups")


@pytest.mark.parametrize(
    ("column", "edit", "message"),
    [
        ("site", None, "'site' is not a column"),
        ("camera", "single", "has 1 group"),
        ("camera", "blank", "row 3 has no value"),
    ],
)
def test_crossval_bad_input_is_one_error_line(monkeypatch, capsys, webcams, tmp_path, column, edit, message):
    records_path, features, config_path = webcams
    if edit is not None:
        records = load_records(records_path)
        cameras = ["cam0"] * len(records) if edit == "single" else list(records.extras["camera"])
        if edit == "blank":
            cameras[1] = ""
        records.extras["camera"] = cameras
        records_path = tmp_path / "records.csv"
        write_records(records, records_path)
    args = ("crossval", "--records", records_path, "--features", features, "--group-by", column, "--out", tmp_path)
    code, _, stderr = run_cli(monkeypatch, capsys, *args, "--config", config_path, "--no-progress")
    assert code == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "metrics.json").exists()


def test_world_frames_per_camera(tmp_path):
    from gtloc.data.world import generate_world

    records = generate_world(None, 2, tmp_path / "w", size=16, cameras=3, frames=(2, 4), progress=False)
    counts = np.unique(records.extras["camera"], return_counts=True)[1]
    assert len(counts) == 3 and all(2 <= c <= 4 for c in counts)
    assert json.loads((tmp_path / "w" / "world.json").read_text())["frames_per_camera"] == counts.tolist()
    with pytest.raises(GtlocError, match="and no n"):
        generate_world(9, 2, tmp_path / "x", cameras=3, frames=(2, 4))
    with pytest.raises(GtlocError, match=r"1 <= min <= max"):
        generate_world(None, 2, tmp_path / "x", cameras=3, frames=(5, 4))


def test_train_with_camera_validation_keeps_the_selected_step_and_stops_early(monkeypatch, capsys, webcams, tmp_path):
    records_path, features, config_path = webcams
    run = tmp_path / "run"
    args = ("train", "--features", features, "--records", records_path, "--out", run, "--config", config_path)
    extra = ("--epochs", "6", "--val-group", "camera", "--select", "hour", "--patience", "2", "--no-progress")
    code, _, stderr = run_cli(monkeypatch, capsys, *args, *extra)
    assert code == 0, stderr
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    validations = [line for line in lines if "validation" in line]
    assert validations and set(validations[0]["validation"]) == {
        "hour",
        "month",
        "geo",
        "loss",
        "hour_argmax",
        "month_argmax",
    }
    chosen = lines[-1]
    assert (
        chosen["select"] == "hour"
        and chosen["selected_step"] == min(validations, key=lambda v: v["validation"]["hour"])["step"]
    )
    assert chosen["value"] == pytest.approx(min(v["validation"]["hour"] for v in validations))
    best = GTLoc.from_pretrained(run / "best")
    saved = GTLoc.from_pretrained(run)
    assert all(torch.equal(a, b) for a, b in zip(best.state_dict().values(), saved.state_dict().values(), strict=True))
    steps = [line["step"] for line in lines if "loss" in line and "validation" not in line]
    stale = len(validations) - 1 - [v["step"] for v in validations].index(chosen["selected_step"])
    assert stale <= 2 and (stale == 2 or steps[-1] == 6 * (64 // 16))  # stopped by patience, or ran to the end
    assert NeighbourStore.load(run / NEIGHBOURS_FILE).n_train == 64  # one camera of three held out
    assert not (run / "refit").exists()  # validation asked for with select hour: no second run


def test_train_validation_bad_input_is_one_error_line(monkeypatch, capsys, webcams, tmp_path):
    records_path, features, config_path = webcams
    args = ("train", "--features", features, "--records", records_path, "--config", config_path, "--no-progress")
    for extra, message in (
        (("--val-group", "site"), "--val-group 'site' is not a column"),
        (("--val-split", "1.5"), "val_split: must be in [0, 1)"),
        (("--select", "km"), "select: must be hour, month, geo, loss or last"),
        (("--val-split", "0.2", "--select", "last", "--patience", "2"), "patience: early stopping needs a select"),
    ):
        code, _, stderr = run_cli(monkeypatch, capsys, *args, "--out", tmp_path / extra[-1], *extra)
        assert code == 2, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_select_last_keeps_the_last_step_and_still_scores_the_held_out_rows(monkeypatch, capsys, webcams, tmp_path):
    records_path, features, config_path = webcams
    run = tmp_path / "run"
    args = ("train", "--features", features, "--records", records_path, "--out", run, "--config", config_path)
    code, _, stderr = run_cli(monkeypatch, capsys, *args, "--epochs", "3", "--val-split", "0.25", "--select", "last")
    assert code == 0, stderr
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    validations = [line for line in lines if "validation" in line]
    assert len(validations) == 3 and not any("best_step" in line or "selected_step" in line for line in lines)
    state = load_file(run / "training_state.safetensors")
    saved = GTLoc.from_pretrained(run).state_dict()
    assert all(torch.equal(state[f"model.{name}"], value) for name, value in saved.items())
    assert not (run / "best").exists() and (run / "calibration.json").is_file()


def test_validation_scores_the_least_expected_error_answer(webcams):
    """The validation hour/month are those of the answer predict reads from the model's gallery posterior."""
    records_path, features, config_path = webcams
    data = load_training_data(features, records_path, log=lambda message: None)
    config = TrainConfig.from_dict(yaml.safe_load(config_path.read_text()))
    model = GTLoc(replace(config.model, feature_dim=data.features.shape[-1])).eval()
    model.image_encoder.set_feature_stats(data.features)
    places = torch.unique(data.latlon, dim=0)
    loss = lambda *batch: {"loss": torch.zeros(())}  # noqa: E731
    metrics = validation_metrics(model, data.features, data.latlon, data.times, places, loss)
    gallery = build_time_gallery(model.config.gallery)
    with torch.no_grad():
        logits = model.scale("img_time_logit_scale") * model.embed_images(data.features) @ model.encode_time(gallery).T
    truth = data.times.numpy().astype(float)
    bayes = TimePosterior.build(TimeGallery(gallery), logits).bayes().numpy().astype(float)
    argmax = gallery[logits.argmax(dim=1)].numpy().astype(float)
    assert metrics["hour"] == pytest.approx(float(np.mean(hour_error(bayes, truth))))
    assert metrics["month_argmax"] == pytest.approx(float(np.mean(month_error(argmax, truth))))
    assert metrics["hour"] != pytest.approx(metrics["hour_argmax"])  # two different answers on this data


def test_train_on_a_small_set_calibrates_on_a_held_out_camera_and_warns(monkeypatch, capsys, webcams, tmp_path):
    """Plain `gtloc train` on 96 pictures of three cameras: one camera is held out, the run is calibrated on it,
    and the warning gives its errors beside the constant guess's and the crossval command."""
    records_path, features, config_path = webcams
    run = tmp_path / "run"
    args = ("train", "--features", features, "--records", records_path, "--out", run, "--config", config_path)
    code, stdout, stderr = run_cli(monkeypatch, capsys, *args, "--no-progress")
    assert code == 0, stderr
    saved = yaml.safe_load((run / "train_config.yaml").read_text())
    assert (saved["val_group"], saved["val_split"], saved["select"]) == ("camera", SMALL_VAL_SPLIT, "last")
    assert "training again on all 96 pictures (the held-out ones too)" in stdout
    card = json.loads((run / "model_card.json").read_text())
    validation = card["validation"]
    assert validation["pictures"] == 32 and validation["held_out_groups"] == 1 and card["calibration"]
    assert "warning: a small training set (96 pictures)" in stderr
    assert "32 held-out pictures of 1 camera groups it never saw" in stderr
    assert f"hour:  {validation['hour_error']:.2f} h" in stderr and f"{validation['constant_hour_error']:.2f}" in stderr
    assert f"gtloc crossval --records {records_path} --features {features} --group-by camera" in stderr
    assert NeighbourStore.load(run / NEIGHBOURS_FILE).n_train == 96 == card["training_data"]["pictures"]
    first = load_file(run / "training_state.safetensors")  # the first run's checkpoint: not the run's model now
    saved = GTLoc.from_pretrained(run).state_dict()
    assert not all(torch.equal(first[f"model.{name}"], value) for name, value in saved.items())
    assert not (run / "refit").exists()  # the second run's folder is deleted once its model replaced the first
    profile = DomainProfile.load(run)  # the domain profile of all 96 pictures, and the card says so
    assert len(profile.reference) == 96 and card["domain_check"] == json.loads(json.dumps(profile.describe()))


def test_a_run_trained_on_ten_crops_scores_photos_as_ten_crops(tmp_path):
    records_path = make_toy_dataset(tmp_path / "world", 40, seed=2)
    extract_features(
        load_records(records_path), tmp_path / "world", ToyBackbone(), tmp_path / "f", tencrop=True, progress=False
    )
    data = load_training_data(tmp_path / "f", records_path, log=lambda m: None)
    config = TrainConfig.from_dict(tiny_train_config())
    train(data, tmp_path / "run", config, progress=False, cache_galleries=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["tencrop"] is True
    assert Predictor.from_pretrained(tmp_path / "run", cache=False, places=False).tencrop is True
    assert Predictor.from_pretrained(tmp_path / "run", cache=False, places=False, tencrop=False).tencrop is False
