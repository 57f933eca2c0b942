"""GeoCLIP's pretrained location encoder (from the ``geoclip`` wheel) loads into ``LocationEncoder`` unchanged.

The reference forward pass below is written from the raw tensors with numpy (Equal Earth from the published
constants, then per scale: RFF -> three ReLU layers -> head, summed), independently of ``gtloc.model.encoders``.
``geoclip`` itself is never imported (it needs pandas); only its weight file is read.
"""

from __future__ import annotations

import copy
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gtloc.geo import haversine_km
from gtloc.model.config import GTLocConfig
from gtloc.model.encoders import LocationEncoder
from gtloc.model.gtloc import GTLoc

INSTALL_HINT = "run `pip install --no-deps geoclip==1.3.0` (its location encoder weights are a test fixture)"

CITIES = [
    (48.8566, 2.3522),  # Paris
    (51.5074, -0.1278),  # London
    (40.7128, -74.0060),  # New York
    (35.6762, 139.6503),  # Tokyo
    (-33.8688, 151.2093),  # Sydney
    (-22.9068, -43.1729),  # Rio de Janeiro
    (30.0444, 31.2357),  # Cairo
    (19.4326, -99.1332),  # Mexico City
    (55.7558, 37.6173),  # Moscow
    (28.6139, 77.2090),  # Delhi
    (-1.2921, 36.8219),  # Nairobi
    (37.7749, -122.4194),  # San Francisco
    (1.3521, 103.8198),  # Singapore
    (64.1466, -21.9426),  # Reykjavik
    (-34.6037, -58.3816),  # Buenos Aires
    (41.9028, 12.4964),  # Rome
]


@pytest.fixture(scope="module")
def geoclip_state() -> dict[str, torch.Tensor]:
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the geoclip package is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "weights" / "location_encoder_weights.pth"
    if not path.is_file():
        pytest.fail(f"{path} is missing: {INSTALL_HINT}")
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def encoder(geoclip_state) -> LocationEncoder:
    enc = LocationEncoder()
    enc.load_state_dict(geoclip_state, strict=True)
    return enc.eval()


def reference_forward(state: dict[str, torch.Tensor], latlon: np.ndarray) -> np.ndarray:
    """GeoCLIP's location encoder in float64 numpy: ``(N, 2)`` degrees -> ``(N, 512)`` unnormalised."""
    w = {k: v.double().numpy() for k, v in state.items()}
    a1, a2, a3, a4, sf = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336
    theta = np.arcsin(math.sqrt(3) / 2 * np.sin(np.radians(latlon[:, 0])))
    x = 2 * math.sqrt(3) * np.radians(latlon[:, 1]) * np.cos(theta)
    x = x / (3 * (9 * a4 * theta**8 + 7 * a3 * theta**6 + 3 * a2 * theta**2 + a1))
    y = a4 * theta**9 + a3 * theta**7 + a2 * theta**3 + a1 * theta
    v = np.stack([x, y], axis=1) * sf / 180
    out = np.zeros((len(latlon), 512))
    for i in range(3):
        p = f"LocEnc{i}."
        vp = 2 * math.pi * v @ w[p + "capsule.0.b"].T
        h = np.concatenate([np.cos(vp), np.sin(vp)], axis=1)
        for j in (1, 3, 5):
            h = np.maximum(h @ w[p + f"capsule.{j}.weight"].T + w[p + f"capsule.{j}.bias"], 0.0)
        out += h @ w[p + "head.0.weight"].T + w[p + "head.0.bias"]
    return out


def offset_points(latlon: np.ndarray, km: float, seed: int) -> np.ndarray:
    """Points ``km`` away from each row of ``latlon`` in a random direction (flat-earth step, fine below 300 km)."""
    bearing = np.random.default_rng(seed).uniform(0, 2 * math.pi, len(latlon))
    dlat = km / 111.195 * np.cos(bearing)
    dlon = km / 111.195 * np.sin(bearing) / np.cos(np.radians(latlon[:, 0]))
    return latlon + np.stack([dlat, dlon], axis=1)


def test_state_dict_keys_and_shapes_match_exactly(geoclip_state):
    own = LocationEncoder().state_dict()
    assert set(own) == set(geoclip_state)
    assert all(own[k].shape == geoclip_state[k].shape for k in own)
    assert len(own) == 27  # 3 scales x (b + 3 Linear x 2 + head x 2)


def test_output_equals_independent_numpy_forward(geoclip_state, encoder):
    rng = np.random.default_rng(0)
    latlon = np.concatenate([np.array(CITIES), np.stack([rng.uniform(-85, 85, 48), rng.uniform(-180, 180, 48)], 1)])
    ref = reference_forward(geoclip_state, latlon)
    with torch.no_grad():
        out64 = copy.deepcopy(encoder).double()(torch.from_numpy(latlon)).numpy()
        out32 = encoder(torch.from_numpy(latlon).float()).double().numpy()
    assert out64.shape == (64, 512)
    np.testing.assert_allclose(out64, ref, atol=1e-5, rtol=0)
    # float32 (how GeoCLIP runs) loses RFF phase precision at sigma=256 (measured: 2e-4 of the outputs' scale).
    assert np.abs(out32 - ref).max() < 1e-3 * np.abs(ref).max()
    cos = np.sum(out32 * ref, 1) / np.linalg.norm(out32, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() > 0.9999


def test_nearby_places_are_more_similar_than_far_ones(encoder):
    cities = np.array(CITIES)
    with torch.no_grad():
        base = F.normalize(encoder(torch.from_numpy(cities).float()), dim=-1)
        sims = {}
        for km in (1, 10, 100):
            near = torch.from_numpy(offset_points(cities, km, seed=km)).float()
            sims[km] = (base * F.normalize(encoder(near), dim=-1)).sum(1)
        between = base @ base.T
    far = between[~torch.eye(len(cities), dtype=torch.bool)]
    assert np.all(haversine_km(cities[:, None], cities[None])[~np.eye(len(cities), dtype=bool)] > 300)
    assert sims[1].min() > 0.8  # a kilometre away is almost the same embedding
    assert sims[1].mean() > sims[10].mean() > sims[100].mean() > far.mean() + 0.05
    assert (sims[1] > far.reshape(len(cities), -1).max(1).values).all()


def test_weights_load_into_a_gtloc_model_through_load_state_dict(geoclip_state):
    model = GTLoc(GTLocConfig(feature_dim=8, queue_size=0))
    model.location_encoder.load_state_dict(geoclip_state, strict=True)
    torch.testing.assert_close(model.location_encoder.LocEnc2.capsule[0].b, geoclip_state["LocEnc2.capsule.0.b"])
    emb = model.encode_location(torch.tensor(CITIES[:4]))
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(4))
