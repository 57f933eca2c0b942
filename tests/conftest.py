"""Test-wide settings.

Tests use small models, for which one intra-op thread is fastest; more threads oversubscribe the 2-core CI
machine when a test runs a subprocess beside pytest (and spin-waiting threads slow both by orders of magnitude).
The environment variable also reaches the subprocesses that tests start.
"""

import os
import random

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, so a test's random inputs are the same on every run."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
