"""The one-call API: ``gtloc.load(run).predict_image(photo)``, the README's Python section run as written, a
readable ``Prediction``, and ``import gtloc`` staying light (the public names load on first use)."""

from __future__ import annotations

import calendar
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gtloc
from gtloc.backbones.extract import extract_features, image_features
from gtloc.data.images import ImageDecodeError, load_image
from gtloc.errors import GtlocError
from gtloc.inference.predictor import Prediction, Predictor
from gtloc.model.config import GalleryConfig
from gtloc.model.gtloc import GTLoc
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import load_training_data
from gtloc.training.loop import train
from helpers.toydata import ToyBackbone, make_toy_dataset, register_backbone

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = Path(__file__).parent / "fixtures" / "exif-photos"
PHOTO = PHOTOS / "HTC_Desire.jpg"
OTHER_PHOTO = PHOTOS / "FujiFilm_FinePixS1Pro_3.jpg"
README_PHOTO = "tests/fixtures/exif-photos/HTC_Desire.jpg"  # a photo in the checkout, as the README names it


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A small GT-Loc trained on EfficientNet-Lite0 features of the EXIF fixture photos (their places are the
    GPS gallery), saved as a run directory like the demo's."""
    root = tmp_path_factory.mktemp("public-api")
    records = PHOTOS / "expected.csv"
    extract_features(gtloc.load_records(records), PHOTOS, "efficientnet-lite0", root / "features", progress=False)
    model = small_model_config(
        encoder_hidden_dim=32,
        image_hidden_dim=32,
        embed_dim=32,
        rff_dim=16,
        queue_size=8,
        gallery=GalleryConfig(gps=str(records), time="grid", time_days_step=30, time_minutes_step=60),
    )
    config = TrainConfig(epochs=3, batch_size=4, warmup_steps=2, checkpoint_every=100, model=model)
    train(load_training_data(root / "features", records, log=lambda _: None), root / "run", config, progress=False)
    return root / "run"


def _python_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Python\n(.*?)^## ", text, re.S | re.M).group(1)
    return section


def test_the_readme_python_block_runs_on_a_trained_run_and_a_photo(run, capsys, monkeypatch, tmp_path):
    """As written, in the checkout (its photo exists there), and its best place and time are what `gtloc predict`
    prints and writes for the same photo."""
    import csv

    from helpers.cli import run_cli

    blocks = re.findall(r"```python\n(.*?)```", _python_section(), re.S)
    assert README_PHOTO in blocks[0] and (ROOT / README_PHOTO).is_file()  # the snippet's photo is in the checkout
    assert blocks and "gtloc.load(" in blocks[0] and "predict_image(" in blocks[0]
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in blocks:
        assert "tests/fixtures/exif-photos/" in block
        exec(compile(block.replace("demo-out/runs/gtloc", str(run)), "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("Prediction for 1 image:") and "place 3" in printed and "time 3" in printed
    prediction = namespace["prediction"]
    assert prediction.place_topk.shape == (1, 3, 2) and prediction.month_posterior.shape == (1, 12)
    assert [namespace["lat"], namespace["lon"]] == prediction.latlon[0].tolist()
    # The snippet reads the one answer that `gtloc predict` prints: the read-out's time, not the argmax.
    assert [namespace[k] for k in ("month", "day", "hour", "minute", "second")] == prediction.best_time[0].tolist()
    assert prediction.known_place_source == "exif" and namespace["hours"] == prediction.hour_window()[1]
    out = tmp_path / "preds.csv"
    code, _, err = run_cli(monkeypatch, capsys, "predict", PHOTO, "--checkpoint", run, "--out", out, "--no-progress")
    assert code == 0, err
    row = next(csv.DictReader(out.open()))
    assert float(row["lat"]) == pytest.approx(namespace["lat"], abs=1e-4)
    assert float(row["lon"]) == pytest.approx(namespace["lon"], abs=1e-4)
    assert [int(row["month"]), int(row["hour"])] == [int(namespace["month"]), int(namespace["hour"])]


@pytest.mark.slow
def test_the_readme_one_liner_works_in_a_fresh_python(run):
    line = re.search(r'`(python -c "import gtloc;[^`]*)`', _python_section()).group(1)
    code = re.fullmatch(r'python -c "(.*)"', line).group(1).replace("demo-out/runs/gtloc", str(run))
    assert "tests/fixtures/exif-photos/HTC_Desire.jpg" in code and (ROOT / "tests/fixtures/exif-photos").is_dir()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Prediction for 1 image:") and "place 3" in done.stdout


def test_predict_image_is_the_backbone_then_predict(run):
    predictor = gtloc.load(run)
    assert isinstance(predictor, Predictor)
    one = predictor.predict_image(PHOTO, top_k=3, exif_place=False)
    features = image_features(predictor.backbone, [load_image(PHOTO), load_image(OTHER_PHOTO)])
    expected = predictor.predict(features, top_k=3)
    assert torch.equal(one.place_topk[0], expected.place_topk[0])
    assert torch.allclose(one.place_probs[0], expected.place_probs[0])
    assert torch.allclose(one.hour_posterior[0], expected.hour_posterior[0], atol=1e-6)
    assert one.known_place is None and one.exif[0].lat == pytest.approx(45.500667, abs=1e-5)
    both = predictor.predict_image([str(PHOTO), OTHER_PHOTO], top_k=3, exif_place=False)
    assert len(both) == 2 and torch.equal(both.place_topk, expected.place_topk)
    from_pil = predictor.predict_image(load_image(PHOTO), top_k=3, exif_place=False)  # an upright RGB image, as given
    assert torch.equal(from_pil.place_topk, one.place_topk)


def test_predict_image_answers_the_time_given_the_exif_place_or_a_given_one(run):
    """By default a photo's EXIF GPS is the known place of its time (the place answer stays the image's own);
    ``place=`` gives one place for every photo; both are what ``predict(features, place=...)`` answers."""
    predictor = gtloc.load(run)
    features = image_features(predictor.backbone, [load_image(PHOTO), load_image(OTHER_PHOTO)])
    exif_place = torch.tensor([[45.500667, 9.110333], [55.104833, -1.8845]])  # tests/fixtures/exif-photos
    by_exif = predictor.predict_image([PHOTO, OTHER_PHOTO], top_k=3)
    expected = predictor.predict(features, top_k=3, place=exif_place)
    assert by_exif.known_place_source == "exif" and torch.allclose(by_exif.known_place, exif_place)
    assert torch.allclose(by_exif.month_hour_posterior, expected.month_hour_posterior, atol=1e-6)
    assert torch.equal(by_exif.place_topk, predictor.predict(features, top_k=3).place_topk)
    assert "given its EXIF place 45.5007, 9.1103" in repr(by_exif)
    assert "EXIF   45.5007, 9.1103; 2011-05-06 09:59:48" in repr(by_exif)
    london = predictor.predict_image([PHOTO, OTHER_PHOTO], top_k=3, place=(51.5074, -0.1278))
    expected = predictor.predict(features, top_k=3, place=torch.tensor([[51.5074, -0.1278]] * 2))
    assert london.known_place_source == "given" and "given the place you gave 51.5074, -0.1278" in repr(london)
    assert torch.allclose(london.month_hour_posterior, expected.month_hour_posterior, atol=1e-6)
    given = predictor.predict_time_given_location(features, exif_place, top_k=3)
    assert torch.allclose(given.month_hour_posterior, by_exif.month_hour_posterior, atol=1e-6)
    with pytest.raises(GtlocError, match="place"):
        predictor.predict_image(PHOTO, place=(91.0, 0.0))


def test_ten_crop_is_the_predictors_setting(run):
    predictor = gtloc.load(run, tencrop=True)
    crops = image_features(predictor.backbone, [load_image(PHOTO)], tencrop=True)
    assert crops.shape == (1, 10, 1280)
    got = predictor.predict_image(PHOTO, top_k=3)
    expected = predictor.predict(crops, top_k=3)
    assert torch.equal(got.place_topk, expected.place_topk)
    assert torch.allclose(got.place_probs, expected.place_probs)


@pytest.fixture
def toy_predictor(tmp_path, monkeypatch):
    """A predictor over a model trained on the toy backbone (registered by name), and a few toy pictures."""
    loads = register_backbone(monkeypatch, ToyBackbone())
    records = make_toy_dataset(tmp_path / "world", 4, seed=5)
    config = small_model_config(
        backbone=ToyBackbone.name,
        feature_dim=ToyBackbone.feature_dim,
        embed_dim=16,
        image_hidden_dim=16,
        encoder_hidden_dim=16,
        rff_dim=8,
        queue_size=4,
        gallery=GalleryConfig(gps=str(records), time="grid", time_days_step=60, time_minutes_step=120),
    )
    pictures = sorted((tmp_path / "world" / "img").glob("*.png"))
    return Predictor(GTLoc(config)), loads, pictures


def test_the_backbone_is_loaded_on_first_use_and_kept(toy_predictor):
    predictor, loads, pictures = toy_predictor
    assert loads == []
    predictor.predict_image(pictures[0])
    predictor.predict_image(pictures[1:])
    assert loads == [None]  # the model's backbone, loaded once from its default source


def test_predict_image_errors_name_the_problem(toy_predictor, tmp_path):
    predictor, _, pictures = toy_predictor
    junk = tmp_path / "junk.jpg"
    junk.write_text("not a photo")
    with pytest.raises(ImageDecodeError, match=r"junk\.jpg: not an image file"):
        predictor.predict_image([pictures[0], junk])
    with pytest.raises(GtlocError, match="top_k must be >= 1, got 0"):
        predictor.predict_image(pictures[0], top_k=0)
    predictor.model.config.feature_dim = 95
    with pytest.raises(GtlocError, match="backbone 'toy' gives 96-d features but the model's image head expects 95"):
        predictor.predict_image(pictures[0])


def test_a_prediction_prints_places_times_and_probabilities_not_tensors(toy_predictor):
    predictor, _, pictures = toy_predictor
    pred = predictor.predict_image(pictures[:2], top_k=2)
    text = repr(pred)
    assert text == str(pred)
    lines = text.splitlines()
    assert lines[0] == "Prediction for 2 images:"
    lat, lon = pred.latlon[0].tolist()
    first, hours, _ = pred.hour_window()
    # Each picture's block is the one `gtloc predict` prints: best place, the read-out's time, the EXIF, then the
    # alternatives; probabilities as percentages, the time as a month and clock hours.
    assert lines[1] == "image 0"
    assert lines[2].startswith(f"  where  near {pred.place_name[0]} ({lat:.4f}, {lon:.4f}); p ")
    assert lines[2].endswith(f"; 80 % within {pred.place_radius_km[0]:,.0f} km")
    month = calendar.month_name[int(pred.best_time[0, 0])]
    window = f"{int(first[0]):02d}:00-{(int(first[0]) + int(hours[0])) % 24:02d}:00"
    assert lines[3].startswith(f"  when   {month}, {window} ({month} p ") and lines[3].endswith("; read-out mix)")
    assert lines[4] == "  EXIF   no GPS; no time"
    assert lines[5].startswith(f"  place 1  {lat:8.4f}, {lon:9.4f}  p ") and " %  near " in lines[5]
    assert sum(line.startswith("  place ") for line in lines) == 4 and sum("  time " in line for line in lines) == 4
    assert lines[9] == "image 1" and "tensor(" not in text and "p=" not in text
    repeated = {k: None if v is None else v.repeat(4, *[1] * (v.dim() - 1)) for k, v in pred.tensors().items()}
    many = Prediction(readout=pred.readout, **repeated)
    assert len(many) == 8 and repr(many).endswith("... and 3 more")
    places_only = predictor.predict_image(pictures[0], top_k=1)
    places_only = Prediction(place_topk=places_only.place_topk, place_probs=places_only.place_probs)
    assert "time 1" not in repr(places_only) and "place 1" in repr(places_only)


def test_import_gtloc_loads_no_torch_and_every_public_name_resolves():
    code = "import sys, gtloc; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
    for name in gtloc.__all__:
        assert getattr(gtloc, name) is not None, name
        assert name in dir(gtloc)
    assert gtloc.load is gtloc.inference.predictor.load and gtloc.GtlocError is GtlocError
    with pytest.raises(AttributeError, match="no attribute 'predict_photo'"):
        gtloc.predict_photo  # noqa: B018
