"""On a CUDA GPU: every device path agrees with the CPU, and runs and caches move between devices.

Skipped (with the reason shown) where CUDA is not available; the CPU suite covers the plumbing (test_device.py,
test_train_device.py, test_extract_device.py).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gtloc.inference.predictor import Predictor
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import time_grid
from gtloc.retrieval.search import search
from gtloc.training.config import save_train_config
from gtloc.training.loop import train
from helpers.toydata import mini_train_config, random_training_data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available())")


def _losses(run) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("gpu") / "run"
    data = random_training_data()
    train(data, run, mini_train_config(), device="cpu", progress=False)
    return run, data


def test_training_on_cuda_matches_cpu_and_moves_back(trained, tmp_path):
    run, data = trained
    model = train(data, tmp_path / "cuda", mini_train_config(), device="cuda", progress=False)
    assert model.device.type == "cuda"
    assert _losses(tmp_path / "cuda") == pytest.approx(_losses(run), abs=1e-3)
    on_cpu = GTLoc.from_pretrained(tmp_path / "cuda")  # trained on the GPU, loaded on the CPU
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(on_cpu.state_dict()[name], tensor.cpu(), msg=name)


def test_resume_on_another_device(tmp_path):
    data = random_training_data()
    train(data, tmp_path / "run", mini_train_config(), device="cuda", progress=False, stop_after=5)
    train(data, tmp_path / "run", mini_train_config(), device="cpu", progress=False, resume=True)
    assert len(_losses(tmp_path / "run")) == 16


def test_one_process_torchrun_uses_the_gpu_and_equals_the_plain_run(trained, tmp_path):
    _, data = trained
    torch.save({"features": data.features, "latlon": data.latlon, "times": data.times}, tmp_path / "data.pt")
    save_train_config(mini_train_config(), tmp_path / "config.yaml")
    script = (
        "import sys, torch\n"
        "from gtloc.training.data import TrainingData\n"
        "from gtloc.training.loop import train\n"
        "from gtloc.training.config import load_train_config\n"
        "blob = torch.load(sys.argv[1], weights_only=True)\n"
        "data = TrainingData(blob['features'], blob['latlon'], blob['times'], 'test')\n"
        "model = train(data, sys.argv[2], load_train_config(sys.argv[3]), device='auto', progress=False)\n"
        "print('device', model.device)\n"
    )
    (tmp_path / "run.py").write_text(script)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=1",
        str(tmp_path / "run.py"),
    ]
    cmd += [str(tmp_path / "data.pt"), str(tmp_path / "ddp"), str(tmp_path / "config.yaml")]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device cuda:0" in done.stdout
    train(data, tmp_path / "plain", mini_train_config(), device="cuda", progress=False)
    assert _losses(tmp_path / "ddp") == pytest.approx(_losses(tmp_path / "plain"), abs=1e-4)


def test_prediction_on_cuda_matches_cpu_and_the_gallery_cache_serves_both(trained, tmp_path):
    run, data = trained
    model = GTLoc.from_pretrained(run)
    gps = data.latlon
    cpu = Predictor(copy.deepcopy(model), gps_gallery=gps, time_gallery=time_grid(), device="cpu")
    gpu = Predictor(copy.deepcopy(model), gps_gallery=gps, time_gallery=time_grid(), cache_dir=tmp_path, device="cuda")
    assert gpu.gps_gallery.embeddings.device.type == "cuda"
    a, b = cpu.predict(data.features), gpu.predict(data.features.cuda())
    assert b.place_probs.device.type == "cpu"
    torch.testing.assert_close(b.place_probs, a.place_probs, atol=1e-4, rtol=1e-3)
    assert (b.place_topk[:, 0] == a.place_topk[:, 0]).float().mean() > 0.95
    torch.testing.assert_close(b.month_posterior, a.month_posterior, atol=1e-4, rtol=1e-3)
    cached = Predictor(
        copy.deepcopy(model), gps_gallery=gps, time_gallery=time_grid(), cache_dir=tmp_path, device="cpu"
    )
    torch.testing.assert_close(cached.gps_gallery.embeddings, gpu.gps_gallery.embeddings.cpu())


def test_search_on_cuda_equals_cpu():
    gen = torch.Generator().manual_seed(1)
    queries = torch.nn.functional.normalize(torch.randn(300, 64, generator=gen), dim=1)
    gallery = torch.nn.functional.normalize(torch.randn(5000, 64, generator=gen), dim=1)
    a, b = search(queries, gallery, 5, 30.0), search(queries.cuda(), gallery.cuda(), 5, 30.0)
    assert torch.equal(b.indices.cpu(), a.indices)
    torch.testing.assert_close(b.probs.cpu(), a.probs, atol=1e-5, rtol=1e-4)


def test_backbone_features_on_cuda_agree_with_cpu(tmp_path):
    from gtloc.backbones import load_backbone
    from gtloc.backbones.extract import file_features

    rng = np.random.default_rng(0)
    names = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
        names.append(f"{i}.jpg")
    cpu = next(file_features(load_backbone(device="cpu"), [names], tmp_path, num_workers=0)).features
    for precision, tolerance in (("fp32", 1e-3), ("bf16", 0.05), ("fp16", 0.01)):  # relative L2 per picture
        backbone = load_backbone(device="cuda", precision=precision)
        gpu = next(file_features(backbone, [names[:2], names[2:]], tmp_path, num_workers=2))
        rest = next(file_features(backbone, [names[2:]], tmp_path, num_workers=0))
        features = torch.cat([gpu.features, rest.features])
        assert ((features - cpu).norm(dim=1) / cpu.norm(dim=1)).max() < tolerance, precision


def test_queues_never_wait_for_the_gpu():
    from gtloc.model.queues import LabelQueue

    queue = LabelQueue(16, 2).cuda()
    queue.contents()  # reads the fresh buffers' position once
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            queue.push(torch.randn(6, 2))
            queue.contents()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert queue.contents().shape == (16, 2)
