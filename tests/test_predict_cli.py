"""`gtloc predict` on a tiny checkpoint: from cached features, picture files and records, with bad pictures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.backbones.base import Backbone
from gtloc.backbones.extract import extract_features
from gtloc.backbones.preprocess import Preprocess
from gtloc.data.features import FeatureStore
from gtloc.data.schema import Records, write_records
from gtloc.errors import ParameterError
from gtloc.evaluation.protocol import evaluate_predictions
from gtloc.inference.batch_predict import run_prediction
from gtloc.inference.prediction_files import CSV_COLUMNS, PREDICTION_COLUMNS, read_predictions
from gtloc.inference.predictor import Predictor
from gtloc.model.config import GalleryConfig, GTLocConfig
from gtloc.model.gtloc import GTLoc
from helpers.cli import run_cli
from helpers.toydata import register_backbone
from helpers.world import tiny_config

FIXTURES = Path(__file__).parent / "fixtures" / "backbones"
N_IMAGES = 6
TOP_K = 3


class TinyBackbone(Backbone):
    """Features: mean colour of each 4x4 cell's channels on a 8x8 input, ``(B, 12)``... kept to 12 numbers."""

    name = "tiny"
    feature_dim = 12
    weights_id = "tiny-v1"
    preprocessing = Preprocess(
        size=8, resize=8, interpolation="bilinear", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), tencrop_resize=10
    )

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.unfold(2, 4, 4).unfold(3, 4, 4).mean(dim=(-1, -2)).flatten(1)


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """Six coloured pictures + one broken file, their records, a feature cache and a tiny checkpoint."""
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    places = np.array(
        [[48.85, 2.35], [40.71, -74.0], [-33.87, 151.21], [35.68, 139.69], [-22.91, -43.17], [55.75, 37.62]]
    )
    times = np.column_stack(
        [
            rng.integers(1, 13, N_IMAGES),
            rng.integers(1, 29, N_IMAGES),
            rng.integers(0, 24, N_IMAGES),
            rng.integers(0, 60, N_IMAGES),
            np.zeros(N_IMAGES),
        ]
    ).astype(float)
    paths = [f"pics/{i}.png" for i in range(N_IMAGES)]
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(root / path)
    (root / "pics" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    records = Records(paths, places, times, extras={"camera": ["a", "a", "a", "b", "b", "b"]})
    write_records(records, root / "records.csv")
    write_records(records.subset([1, 3]), root / "subset.csv")
    gallery = root / "gallery.csv"
    gallery.write_text(
        "path,lat,lon\n" + "".join(f"g{i},{lat},{lon}\n" for i, (lat, lon) in enumerate(places)) + "x,10.5,-20.25\n"
    )
    config = tiny_config(str(gallery), backbone="tiny", feature_dim=TinyBackbone.feature_dim)
    GTLoc(config).save_pretrained(root / "run")
    extract_features(records, root, TinyBackbone(), root / "features", progress=False)
    return {
        "root": root,
        "run": root / "run",
        "features": root / "features",
        "records": root / "records.csv",
        "subset": root / "subset.csv",
        "paths": paths,
    }


@pytest.fixture
def tiny_backbone(monkeypatch) -> list[str | None]:
    """Serve TinyBackbone for the checkpoint's backbone name ("tiny"); record each load's model_path."""
    return register_backbone(monkeypatch, TinyBackbone())


def test_predict_from_features_writes_csv_json_and_a_summary(monkeypatch, capsys, tmp_path, world):
    out = tmp_path / "preds.csv"
    args = ("predict", "--checkpoint", world["run"], "--features", world["features"], "--out", out)
    code, stdout, stderr = run_cli(monkeypatch, capsys, *args, "--top-k", TOP_K, "--no-progress", "--readout", "argmax")
    assert code == 0, stderr
    rows = read_rows(out)
    assert list(rows[0]) == list(CSV_COLUMNS) and list(CSV_COLUMNS[: len(PREDICTION_COLUMNS)]) == list(
        PREDICTION_COLUMNS
    )
    assert [r["path"] for r in rows] == world["paths"]
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["n"] == N_IMAGES and doc["top_k"] == TOP_K and doc["skipped"] == []
    gallery = {
        (48.85, 2.35),
        (40.71, -74.0),
        (-33.87, 151.21),
        (35.68, 139.69),
        (-22.91, -43.17),
        (55.75, 37.62),
        (10.5, -20.25),
    }
    api = Predictor.from_pretrained(world["run"]).predict(
        FeatureStore.open(world["features"]).load(world["paths"]), TOP_K
    )
    for i, (row, entry) in enumerate(zip(rows, doc["predictions"], strict=True)):
        assert entry["path"] == row["path"]
        assert len(entry["places"]) == len(entry["times"]) == TOP_K
        probs = [p["prob"] for p in entry["places"]]  # the Python API's, over the whole gallery
        assert probs == pytest.approx(api.place_probs[i].tolist(), abs=1e-6)
        assert [p["prob"] for p in entry["times"]] == pytest.approx(api.time_probs[i].tolist(), abs=1e-6)
        assert all((round(p["lat"], 2), round(p["lon"], 2)) in gallery for p in entry["places"])
        assert (float(row["lat"]), float(row["lon"])) == pytest.approx(
            (entry["places"][0]["lat"], entry["places"][0]["lon"])
        )
        top_time = entry["times"][0]
        assert [int(row[k]) for k in ("month", "day", "hour", "minute")] == [
            top_time[k] for k in ("month", "day", "hour", "minute")
        ]
        assert len(entry["month_posterior"]) == 12 and sum(entry["month_posterior"]) == pytest.approx(1, abs=1e-4)
        assert len(entry["hour_posterior"]) == 24 and sum(entry["hour_posterior"]) == pytest.approx(1, abs=1e-4)
    summary = stdout.splitlines()
    assert summary[0] == "pics/0.png" and summary[1].startswith("  where  near ")
    assert summary[2].startswith("  when   ") and "; read-out argmax)" in summary[2]
    assert len(summary) == 5 * 3 + 2  # five pictures (name, where, when), "... and 1 more", the closing line
    assert summary[-1] == f"{N_IMAGES} predictions -> {out} (top-{TOP_K}: {out.with_suffix('.json')})"
    assert any(p.name.startswith("gps-") for p in (world["run"] / "galleries").iterdir())


def test_predictions_match_the_predictor_api(monkeypatch, capsys, tmp_path, world):
    out = tmp_path / "preds.csv"
    run_cli(monkeypatch, capsys, "predict", "--checkpoint", world["run"], "--features", world["features"], "--out", out)
    pred = Predictor.from_pretrained(world["run"]).predict(FeatureStore.open(world["features"]).load(world["paths"]))
    written = read_predictions(out)
    np.testing.assert_allclose(written.latlon, pred.latlon.numpy(), atol=1e-6)
    # The default read-out is mix: the least-expected-error point of the model's and the neighbours' posterior.
    np.testing.assert_array_equal(written.times[:, :4], pred.time_bayes.numpy()[:, :4])


def test_records_select_rows_of_the_feature_cache(monkeypatch, capsys, tmp_path, world):
    subset = tmp_path / "subset.csv"
    subset.write_text(world["subset"].read_text() + "pics/not-cached.png,1,1,,,,,,,,x\n")
    out = tmp_path / "preds.csv"
    args = ("predict", "--checkpoint", world["run"], "--features", world["features"], "--records", subset, "--out", out)
    code, _, stderr = run_cli(monkeypatch, capsys, *args)
    assert code == 0, stderr
    assert [r["path"] for r in read_rows(out)] == ["pics/1.png", "pics/3.png"]
    assert "skipped pics/not-cached.png: no features in the cache" in stderr
    skipped = json.loads(out.with_suffix(".json").read_text())["skipped"]
    assert skipped == [{"path": "pics/not-cached.png", "reason": "no features in the cache"}]


def test_image_files_skip_the_broken_one_and_agree_with_cached_features(
    monkeypatch, capsys, tmp_path, world, tiny_backbone
):
    root = world["root"]
    files = [str(root / p) for p in world["paths"][:3]] + [str(root / "pics" / "broken.png")]
    out = tmp_path / "preds.csv"
    code, _, stderr = run_cli(monkeypatch, capsys, "predict", *files, "--checkpoint", world["run"], "--out", out)
    assert code == 0, stderr
    assert tiny_backbone == [None]  # the checkpoint's backbone, loaded once from its default source
    assert f"skipped {root / 'pics' / 'broken.png'}: " in stderr
    rows = read_rows(out)
    assert [r["path"] for r in rows] == files[:3]
    cached = tmp_path / "cached.csv"
    run_cli(
        monkeypatch, capsys, "predict", "--checkpoint", world["run"], "--features", world["features"], "--out", cached
    )
    assert [list(r.values())[1:] for r in rows] == [list(r.values())[1:] for r in read_rows(cached)[:3]]
    skipped = json.loads(out.with_suffix(".json").read_text())["skipped"]
    assert [s["path"] for s in skipped] == [files[3]] and "not an image file" in skipped[0]["reason"]


def test_records_with_an_image_root_then_evaluate(monkeypatch, capsys, tmp_path, world, tiny_backbone):
    out = tmp_path / "preds.csv"
    args = ("predict", "--checkpoint", world["run"], "--records", world["records"], "--images", world["root"])
    code, _, stderr = run_cli(
        monkeypatch, capsys, *args, "--out", out, "--tencrop", "--readout", "bayes", "--batch-size", 4
    )
    assert code == 0, stderr
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["time_readout"] == "bayes"
    rows = read_rows(out)
    assert [r["path"] for r in rows] == world["paths"]
    assert all(
        [int(r[k]) for k in ("month", "day", "hour", "minute")]
        == [e["time"][k] for k in ("month", "day", "hour", "minute")]
        for r, e in zip(rows, doc["predictions"], strict=True)
    )
    metrics = evaluate_predictions(out, world["records"], group_by="camera")
    assert metrics["n"]["matched"] == metrics["n"]["geo"] == metrics["n"]["time"] == N_IMAGES
    assert set(metrics["groups"]) == {"a", "b"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            (),
            "give exactly one input: IMAGE... (picture files), --records R.csv [--images ROOT], or "
            "--features FEATDIR (--records optional) (got none)",
        ),
        (("x.png", "--features", "F"), "(got IMAGE..., --features)"),
        (("--images", "ROOT"), "--images needs --records (the image paths are read from the records)"),
        (("x.png", "--records", "R.csv"), "--records goes with --images or --features, not with IMAGE..."),
        (("x.png", "--readout", "mean"), "unknown --readout 'mean'; choose one of argmax, bayes, knn, mix"),
    ],
)
def test_bad_argument_combinations_are_explained(monkeypatch, capsys, tmp_path, world, extra, message):
    code, _, stderr = run_cli(
        monkeypatch, capsys, "predict", "--checkpoint", world["run"], "--out", tmp_path / "p.csv", *extra
    )
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr


def test_bad_argument_combinations_name_python_parameters_in_the_api(tmp_path, world):
    with pytest.raises(ParameterError) as info:
        run_prediction(world["run"], tmp_path / "p.csv", images_root="ROOT")
    assert info.value.parameters == ("images_root", "records")
    assert str(info.value) == "images_root needs records (the image paths are read from the records)"
    with pytest.raises(ParameterError, match=r"^unknown readout 'mean'; choose one of argmax, bayes, knn, mix$"):
        run_prediction(world["run"], tmp_path / "p.csv", images=["x.png"], readout="mean")


def test_a_json_output_name_is_refused(monkeypatch, capsys, tmp_path, world):
    args = ("predict", "--checkpoint", world["run"], "--features", world["features"], "--out", tmp_path / "p.json")
    code, _, stderr = run_cli(monkeypatch, capsys, *args)
    assert code == 2 and "must not end in .json" in stderr


def test_a_cache_from_another_backbone_is_refused(monkeypatch, capsys, tmp_path, world):
    config = json.loads((world["run"] / "config.json").read_text())
    other = tmp_path / "run"
    model = GTLoc(GTLocConfig.from_dict({**config, "backbone": "efficientnet-lite0"}))
    model.save_pretrained(other)
    code, _, stderr = run_cli(
        monkeypatch,
        capsys,
        "predict",
        "--checkpoint",
        other,
        "--features",
        world["features"],
        "--out",
        tmp_path / "p.csv",
    )
    assert code == 2
    assert "was made with backbone 'tiny' but the checkpoint expects 'efficientnet-lite0'" in stderr


def test_all_pictures_broken_is_an_error(monkeypatch, capsys, tmp_path, world, tiny_backbone):
    broken = world["root"] / "pics" / "broken.png"
    code, _, stderr = run_cli(
        monkeypatch, capsys, "predict", broken, "--checkpoint", world["run"], "--out", tmp_path / "p.csv"
    )
    assert code == 2
    assert "nothing to predict: all 1 inputs were skipped" in stderr
    assert not (tmp_path / "p.csv").exists()


def test_the_checkpoint_backbone_is_loaded_for_real_pictures(monkeypatch, capsys, tmp_path):
    """No stand-in: the default EfficientNet-Lite0 named in the checkpoint's config runs on two photos."""
    gallery = tmp_path / "gallery.csv"
    gallery.write_text("path,lat,lon\na,0,0\nb,45,90\nc,-30,-60\n")
    default = GTLocConfig()  # the default backbone, EfficientNet-Lite0
    config = tiny_config(
        backbone=default.backbone,
        feature_dim=default.feature_dim,
        gallery=GalleryConfig(gps=str(gallery), time_days_step=60, time_minutes_step=120),
    )
    GTLoc(config).save_pretrained(tmp_path / "run")
    photos = [str(FIXTURES / "hay-bales.jpg"), str(FIXTURES / "street-sign.jpg")]
    out = tmp_path / "preds.csv"
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "predict", *photos, "--checkpoint", tmp_path / "run", "--out", out, "--eager"
    )
    assert code == 0, stderr
    assert [r["path"] for r in read_rows(out)] == photos
    assert stdout.splitlines()[-1].startswith("2 predictions -> ")


def test_a_stray_word_after_a_switch_is_a_missing_picture_not_a_silent_skip(monkeypatch, capsys, tmp_path, world):
    """``--tencrop true``: ``--tencrop`` is a switch, so ``true`` is a picture path, and there is no such file."""
    monkeypatch.chdir(tmp_path)
    photo = str(world["root"] / world["paths"][0])
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "predict", photo, "--tencrop", "true", "--checkpoint", world["run"]
    )
    assert code == 2 and stdout == ""
    assert stderr == f"error: IMAGE...: no file 'true' in {tmp_path}\n"


def test_without_out_the_predictions_are_printed_and_nothing_is_written(
    monkeypatch, capsys, tmp_path, world, tiny_backbone
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GTLOC_CHECKPOINT", str(world["run"]))
    files = [str(world["root"] / p) for p in world["paths"]]
    code, stdout, stderr = run_cli(monkeypatch, capsys, "predict", *files, "--no-progress")
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[:-1:4] == files  # every picture, with its place, its time and its EXIF below it
    assert all(line.startswith("  where  near ") and "; p " in line for line in lines[1:-1:4])
    assert all(line.startswith("  when   ") and "read-out " in line for line in lines[2:-1:4])
    assert set(lines[3:-1:4]) == {"  EXIF   no GPS; no time"}
    assert lines[-1] == f"{len(files)} predictions (--out FILE.csv writes them with the top-5 JSON)"
    assert list(tmp_path.iterdir()) == []


def test_ingest_then_predict_then_evaluate_a_folder_of_photos(monkeypatch, capsys, tmp_path, world, tiny_backbone):
    """The README's path for one's own photos, with no option to reconcile paths: records and predictions name
    each photo the same way, so evaluate matches all of them."""
    shutil.copytree(Path(__file__).parent / "fixtures" / "exif-photos", tmp_path / "photos")
    monkeypatch.chdir(tmp_path)
    assert run_cli(monkeypatch, capsys, "ingest", "photos", "--out", "records.csv")[0] == 0
    photos = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "photos").glob("*.jpg"))  # photos/*.jpg
    args = ("predict", *photos, "--checkpoint", world["run"], "--out", "preds.csv", "--no-progress")
    code, _, stderr = run_cli(monkeypatch, capsys, *args)
    assert code == 0, stderr
    code, stdout, stderr = run_cli(
        monkeypatch, capsys, "evaluate", "--predictions", "preds.csv", "--truth", "records.csv", "--out", "m.json"
    )
    assert code == 0 and stderr == ""
    assert stdout.splitlines()[-1] == f"{len(photos)} matched ({len(photos)} with places, 9 with times) -> m.json"
    assert json.loads((tmp_path / "m.json").read_text())["n"]["matched"] == len(photos) == 9
    assert [r["path"] for r in read_rows(tmp_path / "preds.csv")] == photos


def test_records_paths_default_to_the_csv_folder(monkeypatch, capsys, tmp_path, world, tiny_backbone):
    args = ("predict", "--checkpoint", world["run"], "--records", world["records"], "--out", tmp_path / "p.csv")
    code, _, stderr = run_cli(monkeypatch, capsys, *args, "--no-progress")
    assert code == 0, stderr
    assert [r["path"] for r in read_rows(tmp_path / "p.csv")] == world["paths"]
