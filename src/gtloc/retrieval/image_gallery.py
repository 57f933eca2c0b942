"""Image galleries: pictures embedded once (backbone features + image embeddings) so they can be searched.

A gallery directory holds::

    gallery.json          format, model fingerprint, checkpoint, backbone identity, images root, paths, skipped
    gallery.safetensors   features (N, D) or (N, 10, D); embeddings (N, 512); latlon (N, 2); times (N, 5)

``latlon`` and ``times`` are the pictures' own labels (records CSV or EXIF), NaN where unknown: retrieval never
needs them, they are shown next to results and used to score benchmarks. Embeddings belong to one model:
opening a gallery with another model is refused unless it is re-embedded from the stored features.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gtloc.errors import GtlocError
from gtloc.io import atomic_path, exclusive_lock, read_format_json, write_json

if TYPE_CHECKING:
    from gtloc.backbones import Backbone
    from gtloc.data.schema import Records
    from gtloc.model.gtloc import GTLoc

FORMAT = "gtloc-gallery/1"
META_FILE = "gallery.json"
TENSORS_FILE = "gallery.safetensors"
FEATURES_SUBDIR = "features"


@dataclass
class ImageGallery:
    """Searchable pictures (made by ``gtloc index``). ``paths``: N paths relative to ``images_root``; ``features``
    ``(N, D)`` or ``(N, C, D)``; ``embeddings`` ``(N, 512)`` L2-normalised; ``latlon`` ``(N, 2)`` degrees and
    ``times`` ``(N, 5)`` local time, NaN where a picture has no label. ``meta``: what made it (model fingerprint,
    checkpoint, backbone, skipped)."""

    paths: list[str]
    features: torch.Tensor
    embeddings: torch.Tensor
    latlon: torch.Tensor
    times: torch.Tensor
    images_root: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def checkpoint(self) -> Path | None:
        """The run directory of the model the embeddings were made with (as recorded at indexing time)."""
        value = self.meta.get("checkpoint")
        return Path(value) if value else None

    def image_path(self, i: int) -> Path:
        """The file of picture ``i``: ``images_root / paths[i]`` resolved, and refused (``PathOutsideRootError``)
        when it leaves ``images_root`` (``..``, an absolute path, a symlink out)."""
        from gtloc.data.images import image_file

        return image_file(self.images_root or Path(), self.paths[i])

    def check_model(self, model: GTLoc) -> None:
        """Refuse a model other than the one that made the embeddings (they would not be comparable)."""
        made_with = self.meta.get("model_fingerprint")
        if made_with and made_with != model.fingerprint():
            raise GtlocError(
                f"gallery embeddings were made with model {made_with} ({self.meta.get('checkpoint')}), not with this "
                f"model ({model.fingerprint()}): index the pictures again with this model (build_image_gallery), "
                "or call ImageGallery.reembed(model)"
            )

    def reembed(self, model: GTLoc) -> ImageGallery:
        """A copy whose embeddings come from ``model`` on its device (from the stored features; no image is read
        again); the copy's tensors are on the CPU."""
        meta = {**self.meta, "model_fingerprint": model.fingerprint()}
        with torch.inference_mode():
            embeddings = model.embed_images(self.features.to(model.device, torch.float32)).cpu()
        return ImageGallery(
            self.paths,
            self.features,
            embeddings,
            self.latlon,
            self.times,
            self.images_root,
            meta,
        )

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write ``gallery.safetensors`` then ``gallery.json`` into ``directory`` (each atomically)."""
        directory = Path(directory)
        tensors = {
            "features": self.features.float().contiguous(),
            "embeddings": self.embeddings.float().contiguous(),
            "latlon": self.latlon.float().contiguous(),
            "times": self.times.float().contiguous(),
        }
        with atomic_path(directory / TENSORS_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"format": FORMAT})
        root = str(self.images_root.resolve()) if self.images_root is not None else None
        write_json(directory / META_FILE, {"format": FORMAT, **self.meta, "images_root": root, "paths": self.paths})

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> ImageGallery:
        """Load a gallery written by :meth:`save` (or ``gtloc index``); clear errors for missing/damaged files."""
        directory = Path(directory)
        meta_path, tensors_path = directory / META_FILE, directory / TENSORS_FILE
        for path in (meta_path, tensors_path):
            if not path.is_file():
                raise GtlocError(
                    f"{directory} is not an image gallery: {path.name} is missing (make one with `gtloc index`)"
                )
        meta = read_format_json(meta_path, FORMAT, "a gtloc gallery description")
        try:
            tensors = load_file(str(tensors_path))
        except (SafetensorError, OSError) as exc:
            raise GtlocError(f"{tensors_path}: unreadable safetensors file ({exc})") from None
        paths = list(meta.pop("paths"))
        n = {name: int(t.shape[0]) for name, t in tensors.items()}
        if any(count != len(paths) for count in n.values()):
            raise GtlocError(f"{directory}: gallery is damaged: {len(paths)} paths but tensor rows {n}")
        root = meta.pop("images_root", None)
        meta.pop("format")
        return cls(
            paths,
            tensors["features"],
            tensors["embeddings"],
            tensors["latlon"],
            tensors["times"],
            Path(root) if root else None,
            meta,
        )


@dataclass
class ImageGalleryBuild:
    """A built image gallery and the pictures that could not be added to it (``path -> reason``)."""

    gallery: ImageGallery
    skipped: dict[str, str]


def _folder_records(folder: Path) -> Records:
    """Every picture under ``folder`` with its EXIF GPS/time where readable (NaN otherwise)."""
    from gtloc.data.exif import PhotoReadError, read_photo_exif
    from gtloc.data.ingest import list_photos
    from gtloc.data.schema import Records
    from gtloc.timecode import datetime_to_time_row

    paths, _, _ = list_photos(folder)
    latlon = np.full((len(paths), 2), np.nan)
    times = np.full((len(paths), 5), np.nan)
    for i, rel in enumerate(paths):
        try:
            exif = read_photo_exif(folder / rel, check_pixels=False)
        except PhotoReadError:
            continue  # the feature extractor reports undecodable files with a reason
        if exif.has_gps:
            latlon[i] = (exif.lat, exif.lon)
        if exif.has_time:
            times[i] = datetime_to_time_row(exif.local_time)
    return Records(paths=paths, latlon=latlon, times=times)


def build_image_gallery(
    model: GTLoc,
    out_dir: str | os.PathLike[str],
    *,
    images: str | os.PathLike[str] | None = None,
    records: str | os.PathLike[str] | Records | None = None,
    images_root: str | os.PathLike[str] | None = None,
    features_dir: str | os.PathLike[str] | None = None,
    backbone: Backbone | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = False,
    device: str | torch.device | None = "auto",
) -> ImageGalleryBuild:
    """Build the image gallery of a folder of pictures (``images``) or a records file (``records``) in ``out_dir``
    (what ``gtloc index`` does).

    Features come from ``features_dir`` (an existing ``gtloc features`` cache) when given, else they are
    computed with ``backbone`` (default: the model's own, on ``device``) into ``out_dir/features`` (resumable);
    the pictures are embedded on ``device`` (``model`` is moved there) and saved as CPU tensors. ``images_root``:
    where records' relative paths live (default: the records file's folder). Pictures that cannot be decoded are
    skipped and returned with their reason.
    """
    from gtloc.backbones.extract import backbone_for, extract_features
    from gtloc.data.features import FeatureStore
    from gtloc.data.schema import Records, load_records
    from gtloc.device import resolve_device

    where = resolve_device(device)

    if (images is None) == (records is None):
        raise GtlocError("index exactly one source: a folder of images or a records file")
    if images is not None:
        root = Path(images)
        if not root.is_dir():
            raise GtlocError(f"image folder {root} does not exist")
        table = _folder_records(root)
    elif isinstance(records, Records):
        table, root = records, Path(images_root) if images_root is not None else Path()
    else:
        table = load_records(records)
        root = Path(images_root) if images_root is not None else Path(records).parent
    if len(table) == 0:
        raise GtlocError(f"nothing to index: no pictures in {images if images is not None else records}")
    with exclusive_lock(out_dir, "a gallery index"):  # one writer per gallery folder
        if features_dir is not None:
            store = FeatureStore.open(features_dir)
            if store.backbone != model.config.backbone or store.feature_dim != model.config.feature_dim:
                raise GtlocError(
                    f"features in {features_dir} are {store.backbone} (dim {store.feature_dim}) but the model expects "
                    f"{model.config.backbone} (dim {model.config.feature_dim})"
                )
        else:
            store = extract_features(
                table,
                root,
                backbone or backbone_for(model.config, device=where),
                Path(out_dir) / FEATURES_SUBDIR,
                progress=progress,
            )
        failed = store.failed
        skipped = {p: failed.get(p, "no cached features") for p in table.paths if p not in store}
        keep = [i for i, p in enumerate(table.paths) if p in store]
        if not keep:
            raise GtlocError(f"nothing to index: none of the {len(table)} pictures could be read ({_first(skipped)})")
        table = table.subset(keep)
        features = store.load(table.paths)
        model.to(where)
        with torch.inference_mode():
            embeddings = model.embed_images(features.to(where, torch.float32)).cpu()
        meta = {
            "model_fingerprint": model.fingerprint(),
            "checkpoint": str(Path(checkpoint).resolve()) if checkpoint is not None else None,
            "backbone": store.identity(),
            "skipped": [{"path": p, "reason": r} for p, r in skipped.items()],
        }
        gallery = ImageGallery(
            table.paths,
            features,
            embeddings,
            torch.from_numpy(table.latlon.astype(np.float32)),
            torch.from_numpy(table.times.astype(np.float32)),
            root,
            meta,
        )
        gallery.save(out_dir)
        return ImageGalleryBuild(ImageGallery.open(out_dir), skipped)


def _first(skipped: dict[str, str]) -> str:
    return next((f"{p}: {r}" for p, r in skipped.items()), "")
