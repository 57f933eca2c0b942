"""Importing the GT-Loc release's checkpoint and GeoCLIP's weights into gtloc run directories.

The release checkpoint here is built with exactly the layout of the authors' model definition (random values, a
tiny CLIP saved with ``save_pretrained`` as ``image_encoder.backbone``), written with ``torch.save``, imported,
and gtloc's embeddings are checked against a float64 numpy forward pass written here from the raw tensors
(Equal Earth, torus angles, RFF, MLPs, L2 normalisation), independently of ``gtloc.model.encoders``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gtloc.cli import app
from gtloc.data.schema import load_records
from gtloc.errors import GtlocError
from gtloc.inference.predictor import Predictor
from gtloc.interop import (
    DEFAULT_FIXED_IMG_TIME_SCALE,
    geoclip_weights_dir,
    import_geoclip,
    import_released_checkpoint,
    load_state_dict,
    release_to_gtloc,
)
from gtloc.model.gtloc import GTLoc

SIGMAS = (1.0, 16.0, 256.0)
QUEUE = 16
LATLON = np.array([[48.8566, 2.3522], [-33.8688, 151.2093], [64.1466, -21.9426], [0.0, -179.5], [-89.0, 10.0]])
TIMES = np.array(
    [[1, 1, 0, 0, 0], [12, 31, 23, 59, 59], [6, 21, 12, 30, 0], [3, 15, 6, 5, 30], [9, 1, 18, 45, 10]], dtype=float
)


# --- the release's layout, built from random tensors ------------------------------------------------------


def _linear(g: torch.Generator, n_out: int, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n_out, n_in, generator=g) / math.sqrt(n_in), torch.randn(n_out, generator=g) * 0.1


def release_state(
    clip_state: dict[str, torch.Tensor] | None = None,
    feature_dim: int = 768,
    hidden: int = 1024,
    rff: int = 256,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """A state dict with the release's names, shapes and kinds of values (random weights)."""
    g = torch.Generator().manual_seed(seed)
    state = {f"image_encoder.backbone.{k}": v.clone() for k, v in (clip_state or {}).items()}
    for idx, (n_out, n_in) in {0: (768, feature_dim), 2: (512, 768)}.items():
        state[f"image_encoder.mlp.{idx}.weight"], state[f"image_encoder.mlp.{idx}.bias"] = _linear(g, n_out, n_in)
    for prefix, linears in (("location_encoder.LocEnc", (1, 3, 5)), ("time_encoder.TimeEnc", (1, 4, 7))):
        for i, sigma in enumerate(SIGMAS):
            p = f"{prefix}{i}."
            state[p + "capsule.0.b"] = torch.randn(rff, 2, generator=g) * sigma
            for j, n_in in zip(linears, (2 * rff, hidden, hidden), strict=True):
                state[p + f"capsule.{j}.weight"], state[p + f"capsule.{j}.bias"] = _linear(g, hidden, n_in)
            state[p + "head.0.weight"], state[p + "head.0.bias"] = _linear(g, 512, hidden)
    for k, name in enumerate(("img_gps", "img_time", "gps_time", "ig2t", "it2g", "gt2i")):
        state[f"{name}_logit_scale"] = torch.tensor(3.0 + 0.1 * k)
    state["gps_queue"] = torch.from_numpy(np.resize(LATLON, (QUEUE, 2)).T.astype(np.float32).copy())
    state["time_queue"] = torch.from_numpy(np.resize(TIMES, (QUEUE, 5)).T.astype(np.float32).copy())
    state["gps_queue_ptr"] = torch.tensor([3])
    state["time_queue_ptr"] = torch.tensor([5])
    return state


@pytest.fixture(scope="module")
def release(tiny_clip, tmp_path_factory) -> tuple[Path, dict[str, torch.Tensor]]:
    from transformers import CLIPModel

    clip_state = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).state_dict()
    state = release_state(clip_state)
    path = tmp_path_factory.mktemp("release") / "gtloc.pt"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def imported(release, tiny_clip, tmp_path_factory) -> tuple[Path, dict]:
    path, _ = release
    gallery = tmp_path_factory.mktemp("gallery") / "time_gallery.npy"
    np.save(gallery, TIMES.astype(np.float32))
    run = tmp_path_factory.mktemp("runs") / "gtloc-release"
    report = import_released_checkpoint(path, tiny_clip, run, time_gallery=gallery)
    return run, report.to_dict()


# --- the independent reference, float64 numpy from the raw tensors --------------------------------------------


def np_equal_earth(latlon: np.ndarray) -> np.ndarray:
    a1, a2, a3, a4, sf = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336
    theta = np.arcsin(math.sqrt(3) / 2 * np.sin(np.radians(latlon[:, 0])))
    x = 2 * math.sqrt(3) * np.radians(latlon[:, 1]) * np.cos(theta)
    x = x / (3 * (9 * a4 * theta**8 + 7 * a3 * theta**6 + 3 * a2 * theta**2 + a1))
    y = a4 * theta**9 + a3 * theta**7 + a2 * theta**3 + a1 * theta
    return np.stack([x, y], axis=1) * sf / 180


def np_torus_angles(t: np.ndarray) -> np.ndarray:
    """method.md: month_frac = (month-1) + (day-1)*12/365, hour_frac = h + min/60 + s/3600, angles in [-pi, pi)."""
    month_frac = (t[:, 0] - 1) + (t[:, 1] - 1) * 12 / 365
    hour_frac = t[:, 2] + t[:, 3] / 60 + t[:, 4] / 3600
    return np.stack([2 * math.pi * month_frac / 12 - math.pi, 2 * math.pi * hour_frac / 24 - math.pi], axis=1)


def np_normalize(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def np_encoder(state: dict[str, torch.Tensor], prefix: str, linears: tuple[int, ...], v: np.ndarray) -> np.ndarray:
    w = {k: t.double().numpy() for k, t in state.items() if k.startswith(prefix)}
    out = 0.0
    for i in range(len(SIGMAS)):
        p = f"{prefix}{i}."
        vp = 2 * math.pi * v @ w[p + "capsule.0.b"].T
        h = np.concatenate([np.cos(vp), np.sin(vp)], axis=1)
        for j in linears:
            h = np.maximum(h @ w[p + f"capsule.{j}.weight"].T + w[p + f"capsule.{j}.bias"], 0.0)
        out = out + h @ w[p + "head.0.weight"].T + w[p + "head.0.bias"]
    return np_normalize(out)


def np_image_head(state: dict[str, torch.Tensor], features: np.ndarray) -> np.ndarray:
    w = {k: t.double().numpy() for k, t in state.items() if k.startswith("image_encoder.mlp.")}
    h = np.maximum(features @ w["image_encoder.mlp.0.weight"].T + w["image_encoder.mlp.0.bias"], 0.0)
    return np_normalize(h @ w["image_encoder.mlp.2.weight"].T + w["image_encoder.mlp.2.bias"])


# --- the release import ---------------------------------------------------------------------------------------


def test_release_embeddings_equal_independent_numpy(release, imported, tiny_clip):
    from transformers import CLIPModel

    from gtloc.backbones import load_backbone

    _, state = release
    run, _ = imported
    model = GTLoc.from_pretrained(run)
    config = model.config
    assert (config.backbone, config.backbone_path, config.time_input) == ("clip-vit-l-14", str(tiny_clip), "angles")
    model64 = GTLoc.from_pretrained(run).double()
    with torch.no_grad():
        loc = model64.encode_location(torch.from_numpy(LATLON)).numpy()
        tim = model64.encode_time(torch.from_numpy(TIMES)).numpy()
    np.testing.assert_allclose(
        loc, np_encoder(state, "location_encoder.LocEnc", (1, 3, 5), np_equal_earth(LATLON)), atol=1e-5
    )
    np.testing.assert_allclose(
        tim, np_encoder(state, "time_encoder.TimeEnc", (1, 4, 7), np_torus_angles(TIMES)), atol=1e-5
    )

    # Image: the backbone recorded in the run dir, then the head; reference features from transformers directly.
    pixels = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    features = load_backbone(config.backbone, model_path=config.backbone_path).encode_images(pixels)
    reference = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    with torch.no_grad():
        out = reference.get_image_features(pixel_values=pixels)
        ref_features = (out if isinstance(out, torch.Tensor) else out.pooler_output).double().numpy()
        img = model64.encode_image(features.double()).numpy()
    assert features.shape == (3, 768)
    np.testing.assert_allclose(features.double().numpy(), ref_features, atol=1e-5)
    np.testing.assert_allclose(img, np_image_head(state, ref_features), atol=1e-5)
    # float32 inference: RFF phases at sigma=256 lose precision; directions still agree closely.
    with torch.no_grad():
        loc32 = model.encode_location(torch.from_numpy(LATLON).float()).double().numpy()
    assert (loc32 * loc).sum(1).min() > 0.9999


def test_every_tensor_is_accounted_for(release, imported):
    _, state = release
    run, report = imported
    backbone = {k for k in state if k.startswith("image_encoder.backbone.")}
    assert set(report["verified"]) == backbone and len(backbone) > 20
    sources = {v.split(" ")[0] for v in report["loaded"].values()}
    assert sources == set(state) - backbone
    assert set(report["filled"]) == {
        "image_encoder.feature_mean",
        "image_encoder.feature_std",
        "gps_queue.count",
        "time_queue.count",
    }
    saved = json.loads((run / "import_report.json").read_text())
    assert saved["verified"] == report["verified"] and saved["run_dir"] == str(run)


def test_queues_scales_and_pointers_are_converted(release, imported):
    _, state = release
    model = GTLoc.from_pretrained(imported[0])
    assert torch.equal(model.gps_queue.items, state["gps_queue"].T)
    assert torch.equal(model.time_queue.items, state["time_queue"].T)
    assert (int(model.gps_queue.ptr), int(model.time_queue.ptr)) == (3, 5)
    assert int(model.gps_queue.count) == QUEUE  # valid labels: a full queue
    assert model.it2g_logit_scale.item() == pytest.approx(float(state["it2g_logit_scale"]))
    assert model.config.fixed_img_time_scale is None and model.config.location_sigmas == SIGMAS


def test_predictor_uses_the_copied_release_time_gallery(imported):
    run, _ = imported
    config = json.loads((run / "config.json").read_text())
    assert config["gallery"]["time"] == str((run / "time_gallery.npy").resolve())
    predictor = Predictor.from_pretrained(run, gps_gallery=torch.from_numpy(LATLON).float())
    assert torch.equal(predictor.time_gallery.labels, torch.from_numpy(TIMES).float())
    pred = predictor.predict(torch.randn(2, 768), top_k=3)
    released = {tuple(row) for row in TIMES.tolist()}
    assert all(tuple(row) in released for row in pred.time_topk.reshape(-1, 5).tolist())
    assert pred.time_probs[:, 0].ge(pred.time_probs[:, 1]).all()


def test_missing_unknown_and_misshaped_tensors_are_named():
    state = release_state(hidden=32, rff=8)
    del state["time_encoder.TimeEnc1.head.0.bias"]
    state["time_encoder.TimeEnc2.capsule.4.weight"] = torch.zeros(32, 31)
    with pytest.raises(GtlocError) as info:
        release_to_gtloc(state, "gtloc.pt")
    message = str(info.value)
    assert "time_encoder.TimeEnc2.capsule.4.weight: checkpoint (32, 31) vs model (32, 32)" in message
    assert "missing tensors: ['time_encoder.TimeEnc1.head.0.bias']" in message

    state = release_state(hidden=32, rff=8)
    state["ema_decay"] = torch.tensor(0.99)
    state["gps_queue_index"] = torch.tensor([0])
    with pytest.raises(GtlocError, match=r"tensors gtloc does not know: ema_decay, gps_queue_index\."):
        release_to_gtloc(state, "gtloc.pt")


def test_absent_img_time_scale_is_fixed_and_documented():
    state = release_state(hidden=32, rff=8)
    del state["img_time_logit_scale"]
    model, _, report = release_to_gtloc(state)
    assert model.config.fixed_img_time_scale == pytest.approx(DEFAULT_FIXED_IMG_TIME_SCALE)
    assert float(model.scale("img_time_logit_scale")) == pytest.approx(1 / 0.07, rel=1e-6)
    assert "img_time_logit_scale" in report.filled
    model, _, _ = release_to_gtloc(state, img_time_scale=50.0)
    assert float(model.scale("img_time_logit_scale")) == pytest.approx(50.0, rel=1e-6)
    with pytest.raises(GtlocError, match="has its own img_time_logit_scale"):
        release_to_gtloc(release_state(hidden=32, rff=8), "gtloc.pt", img_time_scale=50.0)


def test_queue_of_invalid_labels_imports_empty_and_missing_pointer_is_reported():
    state = release_state(hidden=32, rff=8)
    state["time_queue"] = torch.randn(5, QUEUE)  # a never-filled random initialisation
    del state["gps_queue_ptr"]
    model, _, report = release_to_gtloc(state)
    assert int(model.time_queue.count) == 0 and int(model.gps_queue.count) == QUEUE
    assert report.filled["gps_queue.ptr"].startswith("0 (no pointer in the checkpoint; looked for ['gps_queue_ptr'")


def test_backbone_mismatch_names_the_tensors(release, tiny_clip, tmp_path):
    _, state = release
    state = dict(state)
    key = "image_encoder.backbone.visual_projection.weight"
    state[key] = state[key] + 1e-3
    del state["image_encoder.backbone.logit_scale"]
    path = tmp_path / "gtloc.pt"
    torch.save(state, path)
    with pytest.raises(GtlocError) as info:
        import_released_checkpoint(path, tiny_clip, tmp_path / "run")
    assert "differ: visual_projection.weight" in str(info.value)
    assert "missing from the checkpoint: logit_scale" in str(info.value)
    assert not (tmp_path / "run").exists()


def test_wrapped_checkpoint_and_unsafe_pickles(tmp_path):
    state = release_state(hidden=32, rff=8)
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, tmp_path / "wrapped.pt")
    loaded, notes = load_state_dict(tmp_path / "wrapped.pt")
    assert set(loaded) == set(state)
    assert notes[0].endswith("other entries not used: ['epoch']") and "module." in notes[1]

    torch.save({"model": state, "optimizer": Path("x")}, tmp_path / "pickled.pt")
    with pytest.raises(GtlocError, match=r"pickled\.pt: not a loadable PyTorch state dict of tensors"):
        load_state_dict(tmp_path / "pickled.pt")
    with pytest.raises(GtlocError, match="checkpoint not found"):
        load_state_dict(tmp_path / "absent.pt")


def test_bad_time_gallery_and_existing_run_dir(release, imported, tiny_clip, tmp_path):
    path, _ = release
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([[13, 1, 0, 0, 0]], dtype=np.float32))
    with pytest.raises(GtlocError, match=r"bad\.npy: .*month"):
        import_released_checkpoint(path, tiny_clip, tmp_path / "run", time_gallery=bad)
    with pytest.raises(GtlocError, match="already holds a model"):
        import_released_checkpoint(path, tiny_clip, imported[0])


# --- GeoCLIP's weights from the installed wheel -----------------------------------------------------------------


def test_geoclip_import_predicts_places_only(tmp_path):
    weights = geoclip_weights_dir()
    report = import_geoclip(tmp_path / "geoclip")
    model = GTLoc.from_pretrained(tmp_path / "geoclip")
    assert model.time_encoder is None and not model.config.has_time_encoder
    assert len(report.loaded) == 27 + 4 + 1  # location encoder, image MLP, logit scale
    raw = torch.load(weights / "location_encoder_weights.pth", map_location="cpu", weights_only=True)
    state = {f"location_encoder.{k}": v for k, v in raw.items()}
    with torch.no_grad():
        loc = model.double().encode_location(torch.from_numpy(LATLON)).numpy()
    np.testing.assert_allclose(
        loc, np_encoder(state, "location_encoder.LocEnc", (1, 3, 5), np_equal_earth(LATLON)), atol=1e-5
    )
    scale = torch.load(weights / "logit_scale_weights.pth", map_location="cpu", weights_only=True)
    assert model.img_gps_logit_scale.item() == pytest.approx(float(scale))

    predictor = Predictor(model.float(), gps_gallery=torch.from_numpy(LATLON).float())
    pred = predictor.predict(torch.randn(2, 768), top_k=2)
    places = {tuple(row) for row in torch.from_numpy(LATLON).float().tolist()}
    assert all(tuple(row) in places for row in pred.place_topk.reshape(-1, 2).tolist())
    assert pred.time_topk is None and not predictor.can_predict_time
    with pytest.raises(GtlocError, match="no time encoder"):
        predictor.predict(torch.randn(2, 768), when=True)
    with pytest.raises(GtlocError, match="has no times"):
        _ = pred.time


def test_geoclip_missing_tensor_is_named(tmp_path):
    weights = geoclip_weights_dir()
    for name in ("location_encoder_weights.pth", "logit_scale_weights.pth"):
        (tmp_path / name).write_bytes((weights / name).read_bytes())
    mlp = torch.load(weights / "image_encoder_mlp_weights.pth", map_location="cpu", weights_only=True)
    del mlp["2.bias"]
    mlp["1.weight"] = torch.zeros(1)
    torch.save(mlp, tmp_path / "image_encoder_mlp_weights.pth")
    with pytest.raises(GtlocError) as info:
        import_geoclip(tmp_path / "run", weights_dir=tmp_path)
    assert "missing tensors: ['image_encoder.mlp.2.bias']" in str(info.value)
    assert "unexpected tensors: ['image_encoder.mlp.1.weight']" in str(info.value)


# --- the command ----------------------------------------------------------------------------------------------


def test_cli_imports_both_and_checks_its_options(release, tiny_clip, tmp_path):
    runner = CliRunner()
    path, _ = release
    result = runner.invoke(
        app, ["import-checkpoint", "--gtloc", str(path), "--clip", str(tiny_clip), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and (tmp_path / "r" / "model.safetensors").is_file()
    result = runner.invoke(
        app, ["import-checkpoint", "--geoclip", "--clip", str(tiny_clip), "--out", str(tmp_path / "g")]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "g" / "config.json").read_text())["backbone_path"] == str(tiny_clip)
    for args, message in (
        (["--gtloc", str(path), "--geoclip"], "give exactly one of --gtloc FILE or --geoclip"),
        (["--gtloc", str(path)], "--gtloc needs --clip PATH"),
        (["--geoclip", "--time-gallery", "x.npy"], "apply to --gtloc only"),
    ):
        result = runner.invoke(app, ["import-checkpoint", *args])
        assert isinstance(result.exception, GtlocError) and message in str(result.exception)


# --- the release's benchmark CSVs -----------------------------------------------------------------------------


def test_release_benchmark_csvs_load_as_records(tmp_path):
    im2gps = tmp_path / "im2gps3k_places365.csv"
    im2gps.write_text("path,lat,lon\n100115_00a4bfee7f.jpg,40.75799,-73.98551\n1002_3426a6b5d5.jpg,-33.8570,151.2150\n")
    skyfinder = tmp_path / "skyfinder_val.csv"
    skyfinder.write_text(
        "path,lat,lon,unix_ts,year,month,day,hour,minute,second\n"
        "10066/20130101_120422.jpg,44.9778,-93.2650,1357063462,2013,1,1,12,4,22\n"
        "65/20130707_031500.jpg,36.1699,-115.1398,1373192100,2013,7,7,3,15,0\n"
    )
    records = load_records(im2gps)
    assert records.paths == ["100115_00a4bfee7f.jpg", "1002_3426a6b5d5.jpg"] and not records.has_time.any()
    np.testing.assert_allclose(records.latlon[0], [40.75799, -73.98551])
    records = load_records(skyfinder)
    assert records.has_time.all() and records.extras["unix_ts"] == ["1357063462", "1373192100"]
    np.testing.assert_array_equal(records.times[1], [7, 7, 3, 15, 0])


def test_imported_release_is_evaluated_on_release_csvs(imported, tmp_path):
    from gtloc.backbones import load_backbone
    from gtloc.inference.prediction_files import write_predictions

    truth = tmp_path / "skyfinder_val.csv"
    truth.write_text(
        "path,lat,lon,unix_ts,year,month,day,hour,minute,second\n"
        "10066/a.jpg,44.9778,-93.2650,1357063462,2013,1,1,12,4,22\n"
        "65/b.jpg,36.1699,-115.1398,1373192100,2013,7,7,3,15,0\n"
    )
    records = load_records(truth)
    run, _ = imported
    predictor = Predictor.from_pretrained(run, gps_gallery=torch.from_numpy(LATLON).float())
    config = predictor.model.config
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    features = load_backbone(config.backbone, model_path=config.backbone_path).encode_images(pixels)
    write_predictions(records.paths, predictor.predict(features, top_k=3), tmp_path / "preds.csv")
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--predictions",
            str(tmp_path / "preds.csv"),
            "--truth",
            str(truth),
            "--out",
            str(tmp_path / "m.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| rows | n | month err (months) | hour err (h) | median km |" in result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["n"]["geo"] == 2 and metrics["n"]["time"] == 2
    # The protocol by hand on the written rows: month + (day-1)/31 and hours + minutes/60, cyclic differences.
    with open(tmp_path / "preds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    truth_times = [(1, 1, 12 + 4 / 60 + 22 / 3600), (7, 7, 3 + 15 / 60)]

    def cyclic(a: float, b: float, period: float) -> float:
        d = abs(a - b) % period
        return min(d, period - d)

    month_errors = [
        cyclic(int(r["month"]) + (int(r["day"]) - 1) / 31, month + (day - 1) / 31, 12)
        for r, (month, day, _) in zip(rows, truth_times, strict=True)
    ]
    hour_errors = [
        cyclic(int(r["hour"]) + int(r["minute"]) / 60, hour, 24)
        for r, (_, _, hour) in zip(rows, truth_times, strict=True)
    ]
    assert metrics["time"]["month_error"] == pytest.approx(sum(month_errors) / 2, abs=1e-9)
    assert metrics["time"]["hour_error"] == pytest.approx(sum(hour_errors) / 2, abs=1e-9)
