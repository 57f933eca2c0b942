"""Photometric statistics: what each number measures, and the backbones that serve them as features."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from gtloc.backbones import BACKBONES, load_backbone
from gtloc.backbones.blocks import block_weights, feature_blocks
from gtloc.backbones.extract import extract_features, image_features
from gtloc.backbones.photometric import FEATURE_DIM, NAMES, PhotometricBackbone, WithPhotometric, photometric_statistics
from gtloc.data.features import FeatureStore
from gtloc.data.schema import load_records
from gtloc.model.encoders import ImageHead
from gtloc.retrieval.neighbours import NeighbourStore
from helpers.toydata import ToyBackbone, make_toy_dataset

PHOTO = Path(__file__).parent / "fixtures" / "backbones" / "hay-bales.jpg"


def stats_of(pixels: torch.Tensor) -> dict[str, float]:
    return dict(zip(NAMES, photometric_statistics(pixels).tolist(), strict=True))


def test_a_uniform_grey_picture_has_its_value_everywhere_and_no_contrast():
    stats = stats_of(torch.full((3, 30, 20), 0.4))
    assert len(NAMES) == FEATURE_DIM == len(set(NAMES))
    for name in ("r_mean", "g_q10", "b_q90", "luma_q50", "top_luma_mean", "bottom_b_mean"):
        assert stats[name] == pytest.approx(0.4, abs=1e-5), name
    for name in ("contrast", "saturation", "gradient", "dark_fraction", "bright_fraction", "middle_contrast"):
        assert stats[name] == pytest.approx(0.0, abs=1e-6), name
    assert stats["chroma_r"] == pytest.approx(1 / 3, abs=1e-5)


def test_a_bright_blue_sky_over_dark_ground_reads_as_such():
    """Top third a saturated bright blue, the rest near black: the thirds, fractions and chromaticity say so."""
    pixels = torch.zeros(3, 30, 30)
    pixels[:, :10] = torch.tensor([0.1, 0.4, 1.0]).view(3, 1, 1)
    pixels[:, 10:] = 0.02
    stats = stats_of(pixels)
    assert stats["top_b_mean"] == pytest.approx(1.0) and stats["top_saturation"] == pytest.approx(0.9)
    assert stats["bottom_dark_fraction"] == 1.0 and stats["top_dark_fraction"] == 0.0
    assert stats["dark_fraction"] == pytest.approx(2 / 3)
    assert stats["top_luma_mean"] > stats["middle_luma_mean"] == pytest.approx(stats["bottom_luma_mean"])
    assert stats["chroma_b"] > stats["chroma_r"] and stats["contrast"] > 0.1 and stats["gradient"] > 0


def test_statistics_are_bounded_batched_and_refuse_other_shapes():
    pixels = torch.rand(4, 3, 17, 23, generator=torch.Generator().manual_seed(0)) * 1.5 - 0.2  # out of range too
    batch = photometric_statistics(pixels)
    assert batch.shape == (4, FEATURE_DIM) and batch.dtype == torch.float32
    assert float(batch.min()) >= 0.0 and float(batch.max()) <= 1.0
    assert torch.allclose(batch[2], photometric_statistics(pixels[2]), atol=1e-6)
    with pytest.raises(ValueError, match="RGB pixels"):
        photometric_statistics(torch.rand(2, 1, 8, 8))


def test_photometric_backbones_are_registered_with_their_dimensions():
    assert BACKBONES["photometric"].feature_dim == FEATURE_DIM
    assert BACKBONES["efficientnet-lite0+photometric"].feature_dim == 1280 + FEATURE_DIM
    assert BACKBONES["clip-vit-l-14+photometric"].feature_dim == 768 + FEATURE_DIM
    backbone = load_backbone("photometric", device="cpu")
    assert backbone.fingerprint()["backbone"] == "photometric" and backbone.feature_dim == FEATURE_DIM


def test_appended_statistics_are_those_of_the_networks_own_crop():
    """A network's features followed by the statistics of its input crop: the statistics equal the photometric
    backbone's on the same (un-normalised) crop, the network's part is untouched, and the fingerprint says so."""
    network = ToyBackbone()
    joined = WithPhotometric(network)
    image = Image.open(PHOTO).convert("RGB")
    both = image_features(joined, [image])
    alone = image_features(network, [image])
    pixels = network.preprocessing(image)[None]  # ToyBackbone's normalisation is the identity
    assert both.shape == (1, network.feature_dim + FEATURE_DIM) and joined.name == "toy+photometric"
    assert torch.equal(both[:, : network.feature_dim], alone)
    assert torch.allclose(both[:, network.feature_dim :], photometric_statistics(pixels), atol=1e-6)
    assert joined.fingerprint()["weights"] == f"toy-v1+{PhotometricBackbone.weights_id}"
    crops = image_features(joined, [image], tencrop=True)
    assert crops.shape == (1, 10, network.feature_dim + FEATURE_DIM)


@pytest.mark.slow
def test_efficientnet_with_photometric_undoes_its_normalisation():
    """EfficientNet's input is ``(x - 127/255) / (128/255)``: the appended statistics are those of ``x``."""
    joined = load_backbone("efficientnet-lite0+photometric", device="cpu")
    image = Image.open(PHOTO).convert("RGB")
    features = image_features(joined, [image])
    expected = image_features(PhotometricBackbone(), [image])
    assert torch.allclose(features[:, 1280:], expected, atol=1e-5)


def test_cached_photometric_features_record_their_backbone(tmp_path):
    records = make_toy_dataset(tmp_path / "world", 6)
    store = extract_features(load_records(records), tmp_path / "world", "photometric", tmp_path / "f", progress=False)
    again = FeatureStore.open(tmp_path / "f")
    assert store.backbone == again.backbone == "photometric" and again.feature_dim == FEATURE_DIM
    assert again.load(load_records(records).paths).shape == (6, FEATURE_DIM)


def test_feature_blocks_weigh_the_statistics_like_the_network():
    """After standardisation each block adds the same expected squared norm, in the head and in the kNN store."""
    weights = block_weights("efficientnet-lite0+photometric", 1280 + FEATURE_DIM)
    assert feature_blocks("efficientnet-lite0+photometric", 1280 + FEATURE_DIM) == (1280, FEATURE_DIM)
    assert torch.allclose(weights[:1280], torch.full((1280,), (FEATURE_DIM / 1280) ** 0.5))
    assert torch.equal(weights[1280:], torch.ones(FEATURE_DIM))
    assert torch.equal(block_weights("efficientnet-lite0", 1280), torch.ones(1280))
    features = torch.randn(500, 64 + FEATURE_DIM, generator=torch.Generator().manual_seed(0)) * 3 + 1
    weights = block_weights("toy+photometric", 64 + FEATURE_DIM)
    head = ImageHead(64 + FEATURE_DIM, hidden_dim=8, out_dim=4)
    head.set_feature_stats(features, weights)
    x = (features - head.feature_mean) / head.feature_std
    network, stats = x[:, :64].pow(2).sum(1).mean(), x[:, 64:].pow(2).sum(1).mean()
    assert float(network) == pytest.approx(float(stats), rel=1e-4) == pytest.approx(FEATURE_DIM, rel=1e-4)
    store = NeighbourStore.from_training(features, torch.ones(500, 5), torch.zeros(500, 2), weights=weights)
    assert torch.allclose(store.std, head.feature_std * 500**0.5 / 499**0.5, rtol=1e-4)  # sample vs population std
