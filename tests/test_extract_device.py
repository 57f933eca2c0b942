"""Feature extraction's device plumbing on the CPU: worker processes vs this process, precision, device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.backbones import load_backbone
from gtloc.backbones.extract import extract_features, file_features
from gtloc.errors import GtlocError, ParameterError

# Worker processes decode and preprocess exactly as this process does, and the network sees the same batches:
# the features agree to this absolute tolerance (in practice they are bit-identical).
WORKER_TOLERANCE = 1e-6
# bf16 autocast of EfficientNet-Lite0 on the CPU vs fp32: each picture's feature vector differs by 2.5-3.4% of its
# length (relative L2; cosine 0.9995-0.9997 on these pictures).
BF16_RELATIVE = 0.05


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(3)
    names = []
    for i in range(7):
        size = (60 + 7 * i, 80)
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / f"p{i}.jpg", quality=90)
        names.append(f"p{i}.jpg")
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    return root, names


@pytest.fixture(scope="module")
def effnet():
    return load_backbone("efficientnet-lite0", device="cpu")


def test_worker_processes_give_the_single_process_features(photos, effnet):
    root, names = photos
    batches = [names[:3], [names[3], "broken.jpg", names[4]], names[5:]]
    single = list(file_features(effnet, batches, root, num_workers=0))
    workers = list(file_features(effnet, batches, root, num_workers=2))
    assert [b.paths for b in workers] == [b.paths for b in single] == [names[:3], names[3:5], names[5:]]
    assert [b.failed for b in workers] == [b.failed for b in single]
    assert workers[1].failed[0][0] == "broken.jpg"
    for a, b in zip(single, workers, strict=True):
        torch.testing.assert_close(b.features, a.features, atol=WORKER_TOLERANCE, rtol=0)
    ten = list(file_features(effnet, [names[:2], names[2:4]], root, tencrop=True, num_workers=2))
    assert [b.features.shape for b in ten] == [(2, 10, 1280), (2, 10, 1280)]


def test_bf16_features_on_the_cpu(photos, tmp_path):
    root, names = photos
    fp32 = load_backbone("efficientnet-lite0", device="cpu", fast=False)
    bf16 = load_backbone("efficientnet-lite0", device="cpu", precision="bf16")
    assert bf16.runtime == "torch"  # the ONNX fast path is fp32 only
    assert bf16.fingerprint() == {**fp32.fingerprint(), "precision": "bf16"}
    a = next(file_features(fp32, [names], root, num_workers=0)).features
    b = next(file_features(bf16, [names], root, num_workers=0)).features
    assert b.dtype == torch.float32
    error = (a - b).norm(dim=1) / a.norm(dim=1)
    assert (error > 0).all() and (error < BF16_RELATIVE).all()
    extract_features(names, root, fp32, tmp_path / "feats", progress=False)
    with pytest.raises(GtlocError, match="precision"):  # a cache made in fp32 is not continued in bf16
        extract_features(names, root, bf16, tmp_path / "feats", progress=False)


def test_fp16_on_the_cpu_is_refused():
    with pytest.raises(ParameterError, match="fp16 runs on CUDA only") as info:
        load_backbone("efficientnet-lite0", device="cpu", precision="fp16")
    assert info.value.parameter == "precision"


def test_features_by_name_on_a_device(photos, tmp_path):
    root, names = photos
    store = extract_features(names[:2], root, "efficientnet-lite0", tmp_path / "f", device="cpu", progress=False)
    assert len(store.paths) == 2 and store.feature_dim == 1280
