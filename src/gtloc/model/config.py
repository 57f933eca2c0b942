"""The model's configuration: everything needed to rebuild a ``GTLoc`` from its JSON file."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gtloc.errors import GtlocError

T = TypeVar("T")


def _typed(value: Any, kind: Any, name: str) -> Any:
    """``value`` checked (and, where lossless, converted) against the annotation ``kind``, or ``GtlocError``."""
    if kind is Any:
        return value
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _typed(value, kind, name)
    if dataclasses.is_dataclass(kind):
        return value if isinstance(value, kind) else from_mapping(kind, value, name)
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, list | tuple) or not value:
            raise GtlocError(f"{name}: expected a non-empty list, got {value!r}")
        return tuple(_typed(v, args[0], f"{name}[{i}]") for i, v in enumerate(value))
    ok = {
        bool: isinstance(value, bool),
        int: (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer()),
        float: isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        wanted = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}[kind]
        raise GtlocError(f"{name}: expected {wanted}, got {value!r}")
    return kind(value)


def from_mapping(cls: type[T], data: Any, what: str) -> T:
    """The dataclass ``cls`` built from ``data`` (a mapping from a JSON/YAML file), every field type-checked.

    Unknown keys, values of the wrong type (``epochs: ten``) and ``validate()`` failures (``embed_dim: -5``) all
    raise ``GtlocError`` naming the field as ``what.field``.
    """
    if not isinstance(data, dict):
        raise GtlocError(f"{what}: expected a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise GtlocError(f"unknown {what} keys {unknown}; known keys: {sorted(known)}")
    values = {k: _typed(v, hints[k], f"{what}.{k}") for k, v in data.items()}
    made = cls(**values)
    validate = getattr(made, "validate", None)
    if validate is not None:
        problem = validate()
        if problem:
            raise GtlocError(f"{what}.{problem}")
    return made


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

    def validate(self) -> str:
        """The first out-of-range field as ``"name: why"``, or ""."""
        for name in ("time_days_step", "time_minutes_step"):
            if getattr(self, name) < 1:
                return f"{name}: must be >= 1, got {getattr(self, name)}"
        return ""


@dataclass
class GTLocConfig:
    """Architecture and settings of a GT-Loc model (saved as ``config.json`` next to the weights).

    ``backbone_path``: local weights of ``backbone`` (e.g. a CLIP ``save_pretrained`` folder); ``None`` = the
    backbone's default source. ``has_time_encoder``: ``False`` for image->GPS models (GeoCLIP's weights) that have
    no trained time encoder; such a model predicts places only. ``tencrop``: the heads were trained on ten-crop
    features (a random crop per picture and step), so photos are scored as ten crops by default.
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
    tencrop: bool = False
    seed: int = 0
    gallery: GalleryConfig = field(default_factory=GalleryConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "model config") -> GTLocConfig:
        """The config in ``data`` (as written by :meth:`to_dict`), every field type- and range-checked."""
        return from_mapping(cls, data, what)

    def validate(self) -> str:
        """The first out-of-range field as ``"name: why"``, or "" when all are in range."""
        for name in ("feature_dim", "embed_dim", "image_hidden_dim", "encoder_hidden_dim", "rff_dim"):
            if getattr(self, name) < 1:
                return f"{name}: must be >= 1, got {getattr(self, name)}"
        for name in ("location_sigmas", "time_sigmas"):
            if any(s <= 0 for s in getattr(self, name)):
                return f"{name}: must all be > 0, got {list(getattr(self, name))}"
        for name in ("time_dropout", "image_input_dropout"):
            if not 0 <= getattr(self, name) < 1:
                return f"{name}: must be in [0, 1), got {getattr(self, name)}"
        if self.queue_size < 0:
            return f"queue_size: must be >= 0, got {self.queue_size}"
        from gtloc.model.encoders import TIME_INPUTS

        if self.time_input not in TIME_INPUTS:
            return f"time_input: must be one of {sorted(TIME_INPUTS)}, got {self.time_input!r}"
        if self.logit_scale_max <= 0:
            return f"logit_scale_max: must be > 0, got {self.logit_scale_max}"
        problem = self.gallery.validate()
        return f"gallery.{problem}" if problem else ""
