"""Test-wide settings and the session's shared fixtures.

Tests use small models, for which one intra-op thread is fastest; more threads oversubscribe the 2-core CI
machine when a test runs a subprocess beside pytest (and spin-waiting threads slow both by orders of magnitude).
The environment variable also reaches the subprocesses that tests start.

``toy_world``, ``webcam_run`` and ``tiny_clip`` are built once per session (``tests/helpers`` has the builders);
tests must not change what they hold, only read it or copy it.
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

from helpers.tinyclip import save_tiny_clip
from helpers.world import build_webcam_run, build_world

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, so a test's random inputs are the same on every run."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


@pytest.fixture(scope="session")
def toy_world(tmp_path_factory) -> dict:
    """The toy world (160 pictures, features, a tiny untrained checkpoint and its gallery): see ``build_world``."""
    return build_world(tmp_path_factory.mktemp("toy-world"))


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """A tiny random CLIP with tokenizer, saved once: 32 px pictures, 768-d projections as ViT-L/14's."""
    return save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def webcam_run(tmp_path_factory) -> dict:
    """A toy run trained on two fixed webcams, sure of where its pictures come from: see ``build_webcam_run``
    (about 8 s: tests that use it are marked slow)."""
    return build_webcam_run(tmp_path_factory.mktemp("webcam-run"))
