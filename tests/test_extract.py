"""Images -> backbone features (gtloc.backbones.extract): in memory, from files in batches, and the model's backbone."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.backbones import load_backbone
from gtloc.backbones.extract import backbone_for, encode_inputs, file_features, image_features
from gtloc.data.images import load_image
from gtloc.model.config import GTLocConfig
from helpers.toydata import ToyBackbone, register_backbone
from helpers.world import tiny_config


@pytest.fixture
def pictures(tmp_path):
    rng = np.random.default_rng(1)
    names = []
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (40 + i, 50, 3), dtype=np.uint8)).save(tmp_path / f"p{i}.png")
        names.append(f"p{i}.png")
    (tmp_path / "broken.png").write_text("no pixels here")
    return tmp_path, names


def test_image_features_are_the_backbone_over_its_preprocessing(pictures):
    root, names = pictures
    backbone = ToyBackbone()
    images = [load_image(root / n) for n in names[:3]]
    single = image_features(backbone, images)
    assert single.shape == (3, 96) and single.dtype == torch.float32
    expected = backbone.encode_images(torch.stack([backbone.preprocess(im) for im in images]))
    assert torch.equal(single, expected)
    crops = image_features(backbone, images, tencrop=True)
    assert crops.shape == (3, 10, 96)
    assert torch.equal(crops[1], backbone.encode_images(backbone.preprocess(images[1], tencrop=True)))
    assert image_features(backbone, []).shape == (0, 96)
    assert encode_inputs(backbone, [], tencrop=True).shape == (0, 96)


def test_file_features_keeps_batches_and_reports_unreadable_files(pictures):
    root, names = pictures
    backbone = ToyBackbone()
    batches = [names[:2], [names[2], "broken.png", names[3]], [names[4]]]
    out = list(file_features(backbone, batches, root, num_workers=2))
    assert [b.paths for b in out] == [names[:2], [names[2], names[3]], [names[4]]]
    assert [p for b in out for p, _ in b.failed] == ["broken.png"]
    assert "not an image file" in out[1].failed[0][1]
    expected = image_features(backbone, [load_image(root / n) for n in names])
    assert torch.equal(torch.cat([b.features for b in out]), expected)
    ten = next(file_features(backbone, [names[:2]], root, tencrop=True))
    assert ten.features.shape == (2, 10, 96)


def test_backbone_for_loads_the_configs_backbone_from_its_path(monkeypatch):
    loads = register_backbone(monkeypatch, ToyBackbone())
    config = tiny_config(backbone_path="/weights/toy")
    assert isinstance(backbone_for(config), ToyBackbone)
    backbone_for(config, model_path="/elsewhere")
    assert loads == ["/weights/toy", "/elsewhere"]
    assert type(backbone_for(GTLocConfig(), fast=False)) is type(load_backbone("efficientnet-lite0", fast=False))


def test_the_feature_store_does_not_import_the_backbones():
    code = "import sys, gtloc.data.features; print(any(m.startswith('gtloc.backbones') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stdout + done.stderr
