"""Test-wide settings and the session's shared fixtures.

Tests use small models, for which one intra-op thread is fastest; more threads oversubscribe the 2-core CI
machine when a test runs a subprocess beside pytest (and spin-waiting threads slow both by orders of magnitude).
The environment variable also reaches the subprocesses that tests start.

``toy_world``, ``toy_run``, ``webcam_run`` and ``tiny_clip`` are built once per session (``tests/helpers`` has the
builders); tests must not change what they hold, only read it or copy it. ``toy_run`` is read-only
(``helpers.frozen``): after each test its folder must be as it was, so a test that writes into it fails.
"""

import os
import random

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.frozen import Frozen
from helpers.tinyclip import save_tiny_clip
from helpers.world import build_toy_run, build_webcam_run, build_world

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, so a test's random inputs are the same on every run."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


_FROZEN: list[Frozen] = []


@pytest.fixture(autouse=True)
def _shared_runs_stay_unchanged():
    """After each test, every read-only session fixture holds what it held (a stat of each file: about 0.1 ms)."""
    yield
    for frozen in _FROZEN:
        changed = frozen.changes()
        assert not changed, f"this test changed the shared {frozen.folder} ({changed}): copy it with copy_run first"


@pytest.fixture(scope="session")
def toy_world(tmp_path_factory) -> dict:
    """The toy world (160 pictures, features, a tiny untrained checkpoint and its gallery): see ``build_world``."""
    return build_world(tmp_path_factory.mktemp("toy-world"))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random CLIP with tokenizer, saved once: 32 px pictures, 768-d projections as ViT-L/14's."""
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def toy_run(toy_world, tmp_path_factory):
    """A tiny run trained on the toy world with a quarter held out, calibrated, read-only: see ``build_toy_run``;
    ``helpers.frozen.copy_run`` gives a test a copy to change."""
    run = build_toy_run(tmp_path_factory.mktemp("toy-run"), toy_world)
    frozen = Frozen(run["run"])
    _FROZEN.append(frozen)
    yield run
    _FROZEN.remove(frozen)
    frozen.thaw()


@pytest.fixture(scope="session")
def webcam_run(tmp_path_factory) -> dict:
    """A toy run trained on two fixed webcams, sure of where its pictures come from: see ``build_webcam_run``
    (about 8 s: tests that use it are marked slow)."""
    return build_webcam_run(tmp_path_factory.mktemp("webcam-run"))
