"""The backbone registry: EfficientNet-Lite0 (eager and ONNX fast path), CLIP from a local folder, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from gtloc.backbones import BACKBONES, backbone_spec, load_backbone
from gtloc.backbones import onnx_runtime as onnx_module
from gtloc.backbones.clip import HOW_TO_PROVIDE as HOW_TO_PROVIDE_PARTS
from gtloc.data.images import load_image
from gtloc.errors import GtlocError, ParameterError
from helpers.tinyclip import IMAGE_SIZE, PROJECTION_DIM

FIXTURES = Path(__file__).parent / "fixtures" / "backbones"
HOW_TO_PROVIDE = str(ParameterError(*HOW_TO_PROVIDE_PARTS))  # the hint as the Python API words it
STREET_SIGN, HAY = 919, 958  # ImageNet-1k class indices


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private gtloc cache for this module (the ONNX export is made once, here)."""
    root = tmp_path_factory.mktemp("gtloc-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GTLOC_CACHE", str(root))
        yield root


@pytest.fixture(scope="module")
def eager():
    return load_backbone("efficientnet-lite0", fast=False)


@pytest.fixture(scope="module")
def photos(eager):
    images = [load_image(FIXTURES / name) for name in ("street-sign.jpg", "hay-bales.jpg")]
    return torch.stack([eager.preprocess(im) for im in images])


def test_unknown_backbone_lists_the_available_ones():
    with pytest.raises(GtlocError) as info:
        load_backbone("resnet-50")
    assert str(info.value) == (
        "unknown backbone 'resnet-50'; available: clip-vit-l-14, clip-vit-l-14+photometric, efficientnet-lite0, "
        "efficientnet-lite0+photometric, photometric"
    )


def test_registry_describes_each_backbone():
    assert sorted(BACKBONES) == [
        "clip-vit-l-14",
        "clip-vit-l-14+photometric",
        "efficientnet-lite0",
        "efficientnet-lite0+photometric",
        "photometric",
    ]
    spec = backbone_spec("efficientnet-lite0")
    assert spec.feature_dim == 1280
    # a network's features with the 46 photometric statistics of the same crop appended
    assert backbone_spec("efficientnet-lite0+photometric").feature_dim == 1280 + 46
    assert backbone_spec("photometric").feature_dim == 46
    assert spec.preprocess.fingerprint() == {
        "size": 224,
        "resize": 256,
        "interpolation": "bilinear",
        "mean": [127 / 255] * 3,
        "std": [128 / 255] * 3,
        "tencrop_resize": 256,
    }
    assert backbone_spec("clip-vit-l-14").feature_dim == 768
    assert backbone_spec("clip-vit-l-14").preprocess.interpolation == "bicubic"


def test_efficientnet_normalisation_is_x255_minus_127_over_128():
    x = torch.rand(3, 4, 4)
    normalised = backbone_spec("efficientnet-lite0").preprocess.normalize(x)
    assert torch.allclose(normalised, (x * 255 - 127) / 128, atol=1e-6)


def test_efficientnet_features_are_the_pooled_classifier_input(eager, photos):
    features = eager.encode_images(photos)
    assert features.shape == (2, 1280) and features.dtype == torch.float32
    assert eager.runtime == "torch" and eager.feature_dim == 1280
    logits = eager.classify(photos)
    assert torch.allclose(eager.net._fc(features.clone()), logits, atol=1e-4)


def test_efficientnet_recognises_real_photos(eager, photos):
    top1 = eager.classify(photos).argmax(dim=1).tolist()
    assert top1 == [STREET_SIGN, HAY]


def test_onnx_fast_path_matches_eager_torch(cache, eager, photos):
    fast = load_backbone("efficientnet-lite0")
    assert fast.runtime == "onnxruntime"
    batch = torch.cat([photos, torch.randn(3, 3, 224, 224)])
    difference = (fast.encode_images(batch) - eager.encode_images(batch)).abs().max().item()
    assert difference <= 1e-3
    exported = list((cache / "onnx").glob("*.onnx"))
    assert [p.name for p in exported] == [f"efficientnet-lite0-{eager.weights_id}-opset17.onnx"]
    stamp = exported[0].stat().st_mtime_ns
    assert load_backbone("efficientnet-lite0").runtime == "onnxruntime"
    assert exported[0].stat().st_mtime_ns == stamp  # reused, not re-exported


def test_failed_export_falls_back_to_eager_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("GTLOC_CACHE", str(tmp_path))

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(onnx_module, "export_onnx", broken_export)
    with pytest.warns(UserWarning, match=r"ONNX fast path unavailable \(RuntimeError: exporter broke\)"):
        backbone = load_backbone("efficientnet-lite0")
    assert backbone.runtime == "torch"
    assert not list(tmp_path.rglob("*.onnx"))


def test_missing_onnxruntime_falls_back_to_eager_with_a_warning(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.warns(UserWarning, match="onnxruntime is not installed: running the backbone in eager torch"):
        backbone = load_backbone("efficientnet-lite0")
    assert backbone.runtime == "torch"


def test_bad_efficientnet_weights_file(tmp_path):
    missing = tmp_path / "nothing.pth"
    with pytest.raises(GtlocError) as info:
        load_backbone("efficientnet-lite0", model_path=missing)
    assert str(info.value) == f"efficientnet-lite0 weights not found: {missing}"


# --- CLIP: the tiny random model and tokenizer (the session's ``tiny_clip``), loaded back offline ---


def test_clip_loads_from_a_local_folder(tiny_clip):
    from transformers import CLIPModel

    clip = load_backbone("clip-vit-l-14", model_path=tiny_clip)
    assert clip.name == "clip-vit-l-14" and clip.feature_dim == PROJECTION_DIM
    assert clip.preprocessing.size == IMAGE_SIZE  # read from the config: ViT-L/14's is 224
    pixels = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    features = clip.encode_images(pixels)
    assert features.shape == (2, PROJECTION_DIM) and features.dtype == torch.float32
    reference = CLIPModel.from_pretrained(tiny_clip, local_files_only=True).eval()
    with torch.no_grad():
        output = reference.get_image_features(pixel_values=pixels)
    expected = output if isinstance(output, torch.Tensor) else output.pooler_output
    assert torch.allclose(features, expected, atol=1e-5)


def test_clip_text_features(tiny_clip):
    clip = load_backbone("clip-vit-l-14", model_path=tiny_clip)
    text = clip.encode_text(["a photo taken at noon", "sunset"])
    assert text.shape == (2, PROJECTION_DIM) and text.dtype == torch.float32
    assert not torch.allclose(text[0], text[1])


def test_clip_preprocessing_is_clip_s_own(tiny_clip):
    clip = load_backbone("clip-vit-l-14", model_path=tiny_clip)
    fingerprint = clip.preprocessing.fingerprint()
    assert fingerprint["interpolation"] == "bicubic" and fingerprint["size"] == IMAGE_SIZE
    assert fingerprint["mean"] == [0.48145466, 0.4578275, 0.40821073]
    size = (IMAGE_SIZE, IMAGE_SIZE)
    assert clip.preprocess(load_image(FIXTURES / "hay-bales.jpg")).shape == (3, *size)
    assert clip.preprocess(load_image(FIXTURES / "hay-bales.jpg"), tencrop=True).shape == (10, 3, *size)


def test_missing_clip_folder_says_how_to_provide_it(tmp_path):
    missing = tmp_path / "clip-vit-large-patch14"
    with pytest.raises(ParameterError) as info:
        load_backbone("clip-vit-l-14", model_path=missing)
    assert info.value.parameter == "model_path"
    assert str(info.value) == (
        f"CLIP model directory not found: {missing}. clip-vit-l-14 loads offline from a local copy of "
        "openai/clip-vit-large-patch14: pass model_path=DIR with a folder written by "
        "CLIPModel.from_pretrained('openai/clip-vit-large-patch14').save_pretrained(DIR) (save its CLIPTokenizer "
        "there too for text features), or set HF_HUB_CACHE to a Hugging Face cache that holds it"
    )


def test_folder_without_a_clip_model(tmp_path):
    with pytest.raises(GtlocError) as info:
        load_backbone("clip-vit-l-14", model_path=tmp_path)
    message = str(info.value)
    assert message.startswith(f"no CLIP model in {tmp_path} (") and message.endswith(f"). {HOW_TO_PROVIDE}")


def test_clip_not_in_the_hugging_face_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(GtlocError) as info:
        load_backbone("clip-vit-l-14")
    message = str(info.value)
    assert message.startswith(f"no CLIP model in the Hugging Face cache ({tmp_path}) (")
    assert message.endswith(f"). {HOW_TO_PROVIDE}")


def test_clip_without_tokenizer_still_encodes_images_but_not_text(tiny_clip, tmp_path):
    folder = tmp_path / "image-only"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((tiny_clip / name).read_bytes())
    clip = load_backbone("clip-vit-l-14", model_path=folder)
    assert clip.encode_images(torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE)).shape == (1, PROJECTION_DIM)
    with pytest.raises(GtlocError, match=rf"^no CLIP tokenizer in {folder} \("):
        clip.encode_text(["noon"])
