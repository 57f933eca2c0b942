"""The one-call API: ``gtloc.load(run).predict_image(photo)``, the README's Python section run as written, a
readable ``Prediction``, and ``import gtloc`` staying light (the public names load on first use)."""

from __future__ import annotations

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
from gtloc.training.loop import load_training_data, train
from helpers.toydata import ToyBackbone, make_toy_dataset, register_backbone

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = Path(__file__).parent / "fixtures" / "exif-photos"
PHOTO = PHOTOS / "HTC_Desire.jpg"
OTHER_PHOTO = PHOTOS / "FujiFilm_FinePixS1Pro_3.jpg"


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


def test_the_readme_python_block_runs_on_a_trained_run_and_a_photo(run, capsys):
    blocks = re.findall(r"```python\n(.*?)```", _python_section(), re.S)
    assert blocks and "gtloc.load(" in blocks[0] and "predict_image(" in blocks[0]
    namespace: dict = {}
    for block in blocks:
        code = block.replace("demo-out/runs/gtloc", str(run)).replace("photo.jpg", str(PHOTO))
        exec(compile(code, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("Prediction for 1 image:") and "place 3" in printed and "time 3" in printed
    prediction = namespace["prediction"]
    assert prediction.place_topk.shape == (1, 3, 2) and prediction.month_posterior.shape == (1, 12)
    assert [namespace["lat"], namespace["lon"]] == prediction.latlon[0].tolist()


@pytest.mark.slow
def test_the_readme_one_liner_works_in_a_fresh_python(run):
    line = re.search(r'`(python -c "import gtloc;[^`]*)`', _python_section()).group(1)
    code = re.fullmatch(r'python -c "(.*)"', line).group(1)
    code = code.replace("demo-out/runs/gtloc", str(run)).replace("photo.jpg", str(PHOTO))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Prediction for 1 image:") and "place 3" in done.stdout


def test_predict_image_is_the_backbone_then_predict(run):
    predictor = gtloc.load(run)
    assert isinstance(predictor, Predictor)
    one = predictor.predict_image(PHOTO, top_k=3)
    features = image_features(predictor.backbone, [load_image(PHOTO), load_image(OTHER_PHOTO)])
    expected = predictor.predict(features, top_k=3)
    assert torch.equal(one.place_topk[0], expected.place_topk[0])
    assert torch.allclose(one.place_probs[0], expected.place_probs[0])
    assert torch.allclose(one.hour_posterior[0], expected.hour_posterior[0], atol=1e-6)
    both = predictor.predict_image([str(PHOTO), OTHER_PHOTO], top_k=3)
    assert len(both) == 2 and torch.equal(both.place_topk, expected.place_topk)
    from_pil = predictor.predict_image(load_image(PHOTO), top_k=3)  # an upright RGB image, as given
    assert torch.equal(from_pil.place_topk, one.place_topk)


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
    lat, lon = pred.place_topk[0, 0].tolist()
    # Each picture's line is the one `gtloc predict` prints: best place, the read-out's time, then its alternatives.
    assert lines[1].startswith(f"image 0  {lat:.4f}, {lon:.4f} (near ") and "(read-out mix; p(month)=" in lines[1]
    assert lines[2].startswith(f"  place 1  {lat:8.4f}, {lon:9.4f}  p={float(pred.place_probs[0, 0]):.3f}  near ")
    assert sum(line.startswith("  place ") for line in lines) == 4 and sum("  time " in line for line in lines) == 4
    assert lines[6].startswith("image 1  ") and "tensor(" not in text
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
