"""The model's configuration: everything needed to rebuild a ``GTLoc`` from its JSON file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from gtloc.errors import GtlocError

LOGIT_SCALE_NAMES = (
    "img_gps_logit_scale",
    "img_time_logit_scale",
    "gps_time_logit_scale",
    "it2g_logit_scale",
    "ig2t_logit_scale",
    "gt2i_logit_scale",
)


@dataclass
class GalleryConfig:
    """How the prediction galleries are built.

    ``gps``: ``"mp16"`` (the 100k MP-16 coordinates) or a path to a ``lat,lon`` CSV / records file.
    ``time``: ``"grid"`` (a regular day-of-year x time-of-day grid), or a path to a records CSV or a ``.npy`` of
    ``[month, day, hour, minute, second]`` rows. ``time_days_step`` / ``time_minutes_step`` set the grid resolution.
    """

    gps: str = "mp16"
    time: str = "grid"
    time_days_step: int = 7
    time_minutes_step: int = 30


@dataclass
class GTLocConfig:
    """Architecture and settings of a GT-Loc model (saved as ``config.json`` next to the weights).

    ``backbone_path``: local weights of ``backbone`` (e.g. a CLIP ``save_pretrained`` folder); ``None`` = the
    backbone's default source. ``has_time_encoder``: ``False`` for image->GPS models (GeoCLIP's weights) that have
    no trained time encoder; such a model predicts places only.
    """

    backbone: str = "efficientnet-lite0"
    backbone_path: str | None = None
    has_time_encoder: bool = True
    feature_dim: int = 1280
    embed_dim: int = 512
    image_hidden_dim: int = 768
    encoder_hidden_dim: int = 1024
    rff_dim: int = 256
    location_sigmas: tuple[float, ...] = (1.0, 16.0, 256.0)
    time_sigmas: tuple[float, ...] = (1.0, 16.0, 256.0)
    time_input: str = "periodic"
    time_dropout: float = 0.0
    image_input_dropout: float = 0.0
    queue_size: int = 4096
    logit_scale_init: float = 2.6592600369644043  # log(1 / 0.07)
    logit_scale_max: float = 100.0
    fixed_img_time_scale: float | None = None
    seed: int = 0
    gallery: GalleryConfig = field(default_factory=GalleryConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GTLocConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GtlocError(f"unknown model config keys {unknown}; known keys: {sorted(known)}")
        values = dict(data)
        if isinstance(values.get("gallery"), dict):
            values["gallery"] = GalleryConfig(**values["gallery"])
        for key in ("location_sigmas", "time_sigmas"):
            if key in values:
                values[key] = tuple(float(s) for s in values[key])
        return cls(**values)
