"""Galleries: the candidate places and times that predictions are retrieved from.

* ``gps_gallery``: ``(G, 2)`` float32 ``[lat, lon]`` degrees; by default the 100k MP-16 coordinates
  (:func:`gtloc.places.mp16_coordinates`).
* ``time_gallery``: ``(T, 5)`` float32 ``[month, day, hour, minute, second]`` local clock time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gtloc.errors import GtlocError
from gtloc.io import atomic_path
from gtloc.model.config import GalleryConfig
from gtloc.places import mp16_coordinates
from gtloc.timecode import InvalidTimeError, validate_times

logger = logging.getLogger(__name__)

# A run directory's cache of its encoded galleries (training writes it when it calibrates, predict reuses it).
RUN_GALLERIES_DIR = "galleries"

if TYPE_CHECKING:
    from gtloc.data.schema import Records
    from gtloc.model.gtloc import GTLoc


def load_gps_gallery() -> torch.Tensor:
    """The 100,000 MP-16 GPS coordinates, ``(100000, 2)`` float32 ``[lat, lon]`` degrees."""
    return torch.from_numpy(mp16_coordinates())


def time_grid(days_step: int = 7, minutes_step: int = 30) -> torch.Tensor:
    """A regular day-of-year x time-of-day grid of local timestamps, ``(12 * D * M, 5)`` float32.

    Every month gets the same number ``D = round(365 / 12 / days_step)`` of days (at most its length), evenly
    spaced from day 1, so no month carries more gallery entries (and so more prior mass) than another; each day
    gets the minutes
    ``0, minutes_step, ...``. The default (about weekly, every 30 min) has 12 x 4 x 48 = 2,304 entries.
    """
    if days_step < 1 or minutes_step < 1:
        raise GtlocError(f"time grid steps must be >= 1, got days_step={days_step}, minutes_step={minutes_step}")
    per_month = max(1, round(365 / 12 / days_step))
    rows = []
    for month in range(1, 13):
        length = (date(2001 + month // 12, month % 12 + 1, 1) - date(2001, month, 1)).days
        count = min(per_month, length)
        for k in range(count):
            day = 1 + (k * length) // count
            rows += [[month, day, minute // 60, minute % 60, 0.0] for minute in range(0, 1440, minutes_step)]
    return torch.tensor(rows, dtype=torch.float32)


def time_gallery_from_records(records: Records, max_size: int | None = None, seed: int = 0) -> torch.Tensor:
    """The distinct local timestamps of ``records`` (rows with a time), optionally subsampled, ``(T, 5)`` float32."""
    times = np.unique(records.times[records.has_time], axis=0)
    if len(times) == 0:
        raise GtlocError("cannot build a time gallery: no record has a complete local time")
    if max_size is not None and len(times) > max_size:
        times = times[np.sort(np.random.default_rng(seed).choice(len(times), max_size, replace=False))]
    return torch.tensor(times, dtype=torch.float32)


def load_time_gallery_npy(path: str | Path) -> torch.Tensor:
    """An explicit time gallery: a ``.npy`` of ``[month, day, hour, minute, second]`` rows, validated."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GtlocError(f"{path}: cannot read the time gallery ({exc})") from exc
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise GtlocError(
            f"{path}: a time gallery must have shape (T, 5) [month, day, hour, minute, second], got {arr.shape}"
        )
    try:
        validate_times(arr)
    except InvalidTimeError as exc:
        raise exc.located(str(path)) from None
    return torch.tensor(arr, dtype=torch.float32)


def load_gps_csv(path: str | Path) -> torch.Tensor:
    """Coordinates from a CSV with ``lat`` and ``lon`` columns (any case; a records file works too), validated."""
    import csv

    from gtloc.geo import validate_coordinate

    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = {name.lower(): name for name in reader.fieldnames or []}
            if "lat" not in columns or "lon" not in columns:
                raise GtlocError(f"{path}: a GPS gallery CSV needs lat and lon columns, found {reader.fieldnames}")
            rows = []
            for line, row in enumerate(reader, start=2):
                lat, lon = row[columns["lat"]], row[columns["lon"]]
                validate_coordinate(lat, lon, where=f"{path} line {line}")
                rows.append((float(lat), float(lon)))
    except OSError as exc:
        raise GtlocError(f"cannot read the GPS gallery {path}: {exc}") from exc
    if not rows:
        raise GtlocError(f"{path}: the GPS gallery is empty")
    return torch.tensor(rows, dtype=torch.float32)


def build_gps_gallery(spec: str) -> torch.Tensor:
    """``"mp16"`` or a path to a CSV with ``lat``/``lon`` columns (e.g. a records file) -> ``(G, 2)`` degrees."""
    return load_gps_gallery() if spec == "mp16" else load_gps_csv(spec)


def build_time_gallery(config: GalleryConfig) -> torch.Tensor:
    """The time gallery that ``config.time`` names: ``"grid"``, a ``.npy`` file, or a records CSV."""
    if config.time == "grid":
        return time_grid(config.time_days_step, config.time_minutes_step)
    if str(config.time).endswith(".npy"):
        return load_time_gallery_npy(config.time)
    from gtloc.data.schema import load_records

    return time_gallery_from_records(load_records(config.time))


def _labels_digest(labels: torch.Tensor) -> str:
    return hashlib.sha256(labels.contiguous().numpy().tobytes()).hexdigest()[:16]


def encoder_fingerprint(model: GTLoc, kind: str) -> str:
    """A short hash of the weights that encode a ``kind`` gallery: the location encoder's for ``"gps"``, the time
    encoder's for ``"time"``. Models that share that encoder share the cached embeddings (the rest of the model,
    the image head for one, does not change them)."""
    encoder = model.location_encoder if kind == "gps" else model.time_encoder
    if encoder is None:
        raise GtlocError("this model has no time encoder (config has_time_encoder=false): it predicts places only")
    h = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def gallery_cache_stem(model: GTLoc, kind: str, labels: torch.Tensor) -> str:
    """File stem of a gallery's cached embeddings (and of indexes built on them): kind, encoder and labels digests."""
    return f"{kind}-{encoder_fingerprint(model, kind)}-{_labels_digest(labels.float().contiguous())}"


def read_cache(path: Path, keys: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
    """The tensors of a derived cache file, or None when it is absent, or unreadable (rebuilt, with a notice)."""
    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
        if all(k in tensors for k in keys):
            return tensors
        problem = f"it lacks {', '.join(k for k in keys if k not in tensors)}"
    except (OSError, SafetensorError, ValueError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    logger.warning("cache %s is damaged (%s): rebuilding it", path, problem)
    return None


@dataclass
class EncodedGallery:
    """Gallery labels and their embeddings. ``labels`` ``(G, 2)`` or ``(G, 5)``; ``embeddings`` ``(G, 512)``;
    both on the device of the model that encoded them."""

    kind: str
    labels: torch.Tensor
    embeddings: torch.Tensor

    def to(self, device: torch.device | str) -> EncodedGallery:
        """The same gallery with both tensors on ``device``."""
        return EncodedGallery(self.kind, self.labels.to(device), self.embeddings.to(device))


@torch.inference_mode()
def encode_gallery(
    model: GTLoc,
    kind: str,
    labels: torch.Tensor,
    cache_dir: str | Path | None = None,
    batch_size: int = 4096,
    log: Callable[[str], None] | None = None,
) -> EncodedGallery:
    """Encode a ``"gps"`` or ``"time"`` gallery with ``model`` on its device, reusing an on-disk cache when one
    matches; the result is on the model's device.

    The cache file name carries the fingerprint of the encoder's weights (:func:`encoder_fingerprint`) and a
    digest of the labels, so a changed encoder or gallery is never served stale embeddings. ``log`` hears one
    line when the gallery is actually encoded (not when the cache answers). The cache holds CPU tensors: it is
    valid on every device; the result is on the model's device.
    """
    if kind not in ("gps", "time"):
        raise ValueError(f"gallery kind must be 'gps' or 'time', got {kind!r}")
    labels = labels.float().contiguous()
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{gallery_cache_stem(model, kind, labels)}.safetensors"
        cached = read_cache(cache_file, ("labels", "embeddings"))
        if cached is not None and torch.equal(cached["labels"], labels):
            return EncodedGallery(kind, labels, cached["embeddings"]).to(model.device)
    if log is not None:
        noun = f"{len(labels):,}-place GPS" if kind == "gps" else f"{len(labels):,}-time"
        where = f" (cached in {cache_dir})" if cache_dir is not None else ""
        log(f"encoding the {noun} gallery once{where}")
    encode = model.encode_location if kind == "gps" else model.encode_time
    on_device = labels.to(model.device)
    embeddings = torch.cat([encode(chunk) for chunk in on_device.split(batch_size)])
    if cache_file is not None:
        with atomic_path(cache_file) as tmp:
            save_file({"labels": labels, "embeddings": embeddings.cpu().contiguous()}, str(tmp))
    return EncodedGallery(kind, on_device, embeddings)
