"""GTLoc: normalised embeddings, six logit scales, seeded construction, queues, save/load of checkpoints."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from safetensors.torch import load_file

from gtloc.errors import GtlocError
from gtloc.model.config import LOGIT_SCALE_NAMES, GTLocConfig
from gtloc.model.gtloc import GTLoc


def small_config(**overrides) -> GTLocConfig:
    values = {
        "feature_dim": 24,
        "embed_dim": 16,
        "image_hidden_dim": 20,
        "encoder_hidden_dim": 32,
        "rff_dim": 8,
        "queue_size": 6,
    }
    return GTLocConfig(**{**values, **overrides})


def batch(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(n, 24, generator=g)
    latlon = torch.rand(n, 2, generator=g) * torch.tensor([180.0, 360.0]) - torch.tensor([90.0, 180.0])
    times = torch.stack(
        [
            torch.randint(1, 13, (n,), generator=g).float(),
            torch.randint(1, 29, (n,), generator=g).float(),
            torch.randint(0, 24, (n,), generator=g).float(),
            torch.randint(0, 60, (n,), generator=g).float(),
            torch.zeros(n),
        ],
        dim=1,
    )
    return features, latlon, times


def test_embeddings_are_l2_normalised_including_ten_crops():
    model = GTLoc(small_config())
    features, latlon, times = batch(5)
    for emb in (model.encode_image(features), model.encode_location(latlon), model.encode_time(times)):
        assert emb.shape == (5, 16)
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(5))
    crops = model.encode_image(torch.randn(5, 10, 24))
    assert crops.shape == (5, 10, 16)
    torch.testing.assert_close(crops.norm(dim=-1), torch.ones(5, 10))


def test_embed_images_is_the_one_ten_crop_rule_renormalised_mean_of_crop_embeddings():
    model = GTLoc(small_config())
    features, crops = torch.randn(5, 24), torch.randn(5, 10, 24)
    with torch.no_grad():
        torch.testing.assert_close(model.embed_images(features), model.encode_image(features))
        per_crop = model.encode_image(crops)
        embedded = model.embed_images(crops, batch_size=2)
    torch.testing.assert_close(embedded, torch.nn.functional.normalize(per_crop.mean(dim=1), dim=-1))
    torch.testing.assert_close(embedded.norm(dim=-1), torch.ones(5))
    # It ranks a gallery as the mean of the crops' similarities does (the paper's test-time augmentation).
    gallery = torch.nn.functional.normalize(torch.randn(40, 16), dim=-1)
    assert torch.equal((embedded @ gallery.T).argsort(dim=1), (per_crop @ gallery.T).mean(dim=1).argsort(dim=1))
    with pytest.raises(GtlocError, match=r"image features must be \(N, feature_dim\).*got \(24,\)"):
        model.embed_images(torch.randn(24))


def test_six_logit_scales_start_at_one_over_0_07_and_clamp():
    model = GTLoc(small_config(logit_scale_max=50.0))
    for name in LOGIT_SCALE_NAMES:
        param = getattr(model, name)
        assert param.requires_grad and param.item() == pytest.approx(math.log(1 / 0.07))
        assert model.scale(name).item() == pytest.approx(1 / 0.07, rel=1e-6)
    model.ig2t_logit_scale.data.fill_(10.0)
    assert model.scale("ig2t_logit_scale").item() == 50.0


def test_fixed_image_time_scale_is_not_learned():
    model = GTLoc(small_config(fixed_img_time_scale=30.0))
    assert not model.img_time_logit_scale.requires_grad
    assert model.scale("img_time_logit_scale").item() == pytest.approx(30.0, rel=1e-6)
    assert model.img_gps_logit_scale.requires_grad


def test_same_seed_same_weights_other_seed_other_weights_whatever_the_global_rng():
    torch.manual_seed(1)
    a = GTLoc(small_config(seed=3)).state_dict()
    torch.manual_seed(2)
    b = GTLoc(small_config(seed=3)).state_dict()
    c = GTLoc(small_config(seed=4)).state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    for key in (
        "location_encoder.LocEnc0.capsule.0.b",
        "time_encoder.TimeEnc2.capsule.0.b",
        "image_encoder.mlp.0.weight",
    ):
        assert not torch.equal(a[key], c[key])
    # Location and time encoders draw their frequencies from different seeds.
    assert not torch.equal(a["location_encoder.LocEnc0.capsule.0.b"], a["time_encoder.TimeEnc0.capsule.0.b"][:, :2])


def test_construction_leaves_the_global_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    GTLoc(small_config())
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_enqueue_leaves_out_rows_with_missing_labels():
    model = GTLoc(small_config())
    _, latlon, times = batch(4)
    latlon[1, 0] = float("nan")
    times[2, 3] = float("nan")
    model.enqueue(latlon, times)
    torch.testing.assert_close(model.gps_queue.contents(), latlon[[0, 2, 3]])
    torch.testing.assert_close(model.time_queue.contents(), times[[0, 1, 3]])


def test_fingerprint_tracks_weights_not_queues():
    model = GTLoc(small_config())
    before = model.fingerprint()
    assert len(before) == 16
    _, latlon, times = batch(4)
    model.enqueue(latlon, times)
    assert model.fingerprint() == before
    with torch.no_grad():
        model.image_encoder.mlp[2].bias[0] += 1e-3
    assert model.fingerprint() != before


# --- checkpoints ---------------------------------------------------------------------------------------------


def trained_looking_model() -> GTLoc:
    """A model whose weights differ from what its seed would rebuild, with filled queues and feature stats."""
    model = GTLoc(small_config(fixed_img_time_scale=20.0))
    features, latlon, times = batch(9, seed=1)
    model.image_encoder.set_feature_stats(features)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        model.location_encoder.LocEnc1.capsule[0].b.mul_(2.0)  # B is stored, not re-drawn from the seed
        model.gt2i_logit_scale.fill_(3.0)
    model.enqueue(latlon, times)
    model.enqueue(latlon[:2], times[:2])  # 9 + 2 rows into a ring of 6: ptr moves to 2
    return model


def test_save_and_load_round_trip_is_exact(tmp_path):
    model = trained_looking_model().eval()
    model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = GTLoc.from_pretrained(tmp_path / "ckpt")
    assert not loaded.training
    assert loaded.config == model.config
    own, back = model.state_dict(), loaded.state_dict()
    assert set(own) == set(back)
    for key in own:
        torch.testing.assert_close(back[key], own[key], rtol=0, atol=0)
    features, latlon, times = batch(6, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode_image(features), model.encode_image(features), rtol=0, atol=0)
        torch.testing.assert_close(loaded.encode_location(latlon), model.encode_location(latlon), rtol=0, atol=0)
        torch.testing.assert_close(loaded.encode_time(times), model.encode_time(times), rtol=0, atol=0)
    torch.testing.assert_close(loaded.gps_queue.contents(), model.gps_queue.contents(), rtol=0, atol=0)
    torch.testing.assert_close(loaded.time_queue.contents(), model.time_queue.contents(), rtol=0, atol=0)
    assert int(loaded.gps_queue.ptr) == int(model.gps_queue.ptr) == 2
    assert int(loaded.time_queue.count) == int(model.time_queue.count) == 6
    assert loaded.fingerprint() == model.fingerprint()
    assert not loaded.img_time_logit_scale.requires_grad
    assert loaded.scale("gt2i_logit_scale").item() == pytest.approx(math.exp(3.0))


def test_config_json_carries_the_architecture(tmp_path):
    GTLoc(small_config(backbone="clip-vit-l14", feature_dim=24)).save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["backbone"] == "clip-vit-l14"
    assert data["location_sigmas"] == [1.0, 16.0, 256.0]
    assert data["gallery"] == {"gps": "mp16", "time": "grid", "time_days_step": 7, "time_minutes_step": 30}
    assert GTLocConfig.from_dict(data) == small_config(backbone="clip-vit-l14")


def test_queue_size_zero_saves_and_loads(tmp_path):
    GTLoc(small_config(queue_size=0)).save_pretrained(tmp_path)
    assert GTLoc.from_pretrained(tmp_path).gps_queue.contents().shape == (0, 2)


def test_loading_weights_of_another_feature_dim_names_tensor_and_both_shapes(tmp_path):
    GTLoc(small_config(feature_dim=768)).save_pretrained(tmp_path)
    state = load_file(str(tmp_path / "model.safetensors"))
    with pytest.raises(GtlocError) as info:
        GTLoc(small_config(feature_dim=1280)).load_weights(state, source="ckpt-768")
    message = str(info.value)
    assert message.startswith("ckpt-768 does not fit this model config: shape mismatches: ")
    assert "image_encoder.feature_mean: checkpoint (768,) vs model (1280,)" in message
    assert "image_encoder.mlp.0.weight: checkpoint (20, 768) vs model (20, 1280)" in message
    assert "missing" not in message and "unexpected" not in message


def test_config_and_weights_that_disagree_give_a_clear_error(tmp_path):
    GTLoc(small_config(feature_dim=768)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "feature_dim": 1280}))
    with pytest.raises(GtlocError) as info:
        GTLoc.from_pretrained(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "model.safetensors") in message
    assert "image_encoder.mlp.0.weight: checkpoint (20, 768) vs model (20, 1280)" in message


def test_missing_and_unexpected_tensors_are_listed(tmp_path):
    model = GTLoc(small_config())
    state = dict(model.state_dict())
    del state["gt2i_logit_scale"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(GtlocError) as info:
        model.load_weights(state)
    assert str(info.value) == (
        "state dict does not fit this model config: missing tensors: ['gt2i_logit_scale'] | "
        "unexpected tensors: ['extra.weight']"
    )


def test_missing_files_give_clear_errors(tmp_path):
    with pytest.raises(GtlocError) as info:
        GTLoc.from_pretrained(tmp_path / "nowhere")
    assert str(info.value) == f"no such run folder: {tmp_path / 'nowhere'} does not exist"
    (tmp_path / "empty").mkdir()
    with pytest.raises(GtlocError) as info:
        GTLoc.from_pretrained(tmp_path / "empty")
    assert str(info.value) == f"{tmp_path / 'empty'} is not a gtloc checkpoint: config.json is missing"
    GTLoc(small_config()).save_pretrained(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "model.safetensors").unlink()
    with pytest.raises(GtlocError) as info:
        GTLoc.from_pretrained(tmp_path / "ckpt")
    assert str(info.value) == f"{tmp_path / 'ckpt'} is not a gtloc checkpoint: model.safetensors is missing"


def test_corrupt_files_give_clear_errors(tmp_path):
    GTLoc(small_config()).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(GtlocError, match=re.escape("model.safetensors: unreadable safetensors file")):
        GTLoc.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(GtlocError, match=re.escape("config.json: unreadable model config")):
        GTLoc.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"feature_dim": 24, "colour": "red"}))
    with pytest.raises(GtlocError, match=r"unknown model config keys \['colour'\]"):
        GTLoc.from_pretrained(tmp_path)
