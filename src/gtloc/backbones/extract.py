"""Images -> backbone features: a few PIL images in memory, picture files in batches, or every record's picture
into a feature directory (:mod:`gtloc.data.features` stores them).

Features are ``(N, F)`` float32, or ``(N, C, F)`` with ten-crop (``C = 10`` crops per picture, GT-Loc's test-time
augmentation). :func:`backbone_for` loads the backbone a model was trained with, from its config.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from gtloc.backbones import load_backbone
from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess
from gtloc.data.exif_table import EXIF_TABLE, exif_table, write_exif_table
from gtloc.data.features import FeatureStore, FeatureWriter, select_shard
from gtloc.data.images import image_file, load_image
from gtloc.data.ingest import expand_photos
from gtloc.data.schema import Records, paths_for_csv
from gtloc.device import cpu_threads
from gtloc.errors import GtlocError
from gtloc.io import exclusive_lock

CROPS_PER_RUN = 32


class BackboneChoice(Protocol):
    """Which backbone a model was trained with, as its config says (``GTLocConfig`` is one)."""

    backbone: str
    backbone_path: str | None


def backbone_for(
    config: BackboneChoice,
    *,
    model_path: str | os.PathLike[str] | None = None,
    fast: bool = True,
    device: str | torch.device | None = "auto",
    precision: str = "fp32",
) -> Backbone:
    """The frozen backbone a model was trained with: ``config.backbone`` with weights from ``model_path`` (default:
    ``config.backbone_path``, else the backbone's own source), on ``device`` in ``precision``
    (:func:`~gtloc.backbones.load_backbone`). ``fast``: its ONNX Runtime path where it has one."""
    return load_backbone(
        config.backbone, model_path=model_path or config.backbone_path, fast=fast, device=device, precision=precision
    )


@torch.inference_mode()
def encode_inputs(backbone: Backbone, inputs: Sequence[torch.Tensor], tencrop: bool = False) -> torch.Tensor:
    """Preprocessed pictures (each ``(3, S, S)``, or ``(C, 3, S, S)`` with ``tencrop``) -> features ``(N, F)`` or
    ``(N, C, F)``, in one batch."""
    if not inputs:
        return torch.empty(0, backbone.feature_dim)
    return encode_batch(backbone, torch.stack(list(inputs)))


@torch.inference_mode()
def encode_batch(backbone: Backbone, inputs: torch.Tensor) -> torch.Tensor:
    """Stacked inputs ``(N, 3, S, S)`` -> ``(N, F)``, or ten-crop ``(N, C, 3, S, S)`` -> ``(N, C, F)``, float32.

    Ten crops go through the network :data:`CROPS_PER_RUN` at a time: a batch of 32 pictures is 320 crops, and
    one run over all of them made ONNX Runtime hold about 5 GB of activations (the demo's peak memory)."""
    if inputs.dim() == 4:
        return backbone.encode_images(inputs).float()
    crops = inputs.flatten(0, 1)
    features = torch.cat([backbone.encode_images(part).float() for part in crops.split(CROPS_PER_RUN)])
    return features.view(inputs.shape[0], inputs.shape[1], features.shape[-1])


def image_features(backbone: Backbone, images: Sequence[Image.Image], *, tencrop: bool = False) -> torch.Tensor:
    """RGB PIL images -> backbone features ``(N, F)``, or ``(N, C, F)`` with ``tencrop``."""
    return encode_inputs(backbone, [backbone.preprocess(image, tencrop=tencrop) for image in images], tencrop)


@dataclass
class FileBatch:
    """One batch of picture files: the ``paths`` that were read, their ``features`` (rows in that order), and
    ``failed`` ``(path, reason)`` pairs for those that could not be decoded."""

    paths: list[str]
    features: torch.Tensor
    failed: list[tuple[str, str]] = field(default_factory=list)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class _Pictures(Dataset):
    """Picture ``i`` of ``paths`` decoded and preprocessed: ``(path, input)``, or ``(path, reason)`` when it cannot be
    read. Holds only picklable parts (the paths and the :class:`Preprocess`), so worker processes can use it."""

    def __init__(
        self,
        paths: Sequence[str],
        root: str | os.PathLike[str] | None,
        allow_outside: bool,
        preprocessing: Preprocess,
        tencrop: bool,
    ) -> None:
        self.paths, self.root, self.allow_outside = list(paths), root, allow_outside
        self.preprocessing, self.tencrop = preprocessing, tencrop

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[str, torch.Tensor | str]:
        path = self.paths[i]
        try:
            image = load_image(image_file(self.root, path, self.allow_outside))
            return path, self.preprocessing.tencrop(image) if self.tencrop else self.preprocessing(image)
        except Exception as exc:
            return path, getattr(exc, "reason", f"{type(exc).__name__}: {exc}")


def _collate(items: list[tuple[str, torch.Tensor | str]]) -> tuple[list[str], torch.Tensor, list[tuple[str, str]]]:
    """One batch: the paths read, their inputs stacked (``(n, 3, S, S)``; ten-crop ``(n, 10, 3, S, S)``), failures."""
    read = [(path, item) for path, item in items if not isinstance(item, str)]
    failed = [(path, item) for path, item in items if isinstance(item, str)]
    inputs = torch.stack([item for _, item in read]) if read else torch.empty(0)
    return [path for path, _ in read], inputs, failed


def file_features(
    backbone: Backbone,
    batches: Sequence[Sequence[str]],
    images_root: str | os.PathLike[str] | None = None,
    *,
    tencrop: bool = False,
    num_workers: int = 2,
    allow_outside: bool = False,
) -> Iterator[FileBatch]:
    """Features of picture files, one :class:`FileBatch` per batch of paths (relative to ``images_root`` if given).

    Pictures are decoded and preprocessed in ``num_workers`` worker processes (a torch ``DataLoader``, two batches
    ahead per worker, in pinned memory when the backbone is on CUDA) while the network runs; ``0`` decodes in
    this process. Both give the same features (tests/test_extract_device.py). A picture that cannot be decoded is
    reported in its batch's ``failed`` with the reason, never fatal; so is, with ``images_root``, a path that
    resolves outside it (``..``, absolute, a symlink out) unless ``allow_outside``.
    """
    flat = [path for batch in batches for path in batch]
    order, start = [], 0
    for batch in batches:
        order.append(list(range(start, start + len(batch))))
        start += len(batch)
    loader = DataLoader(
        _Pictures(flat, images_root, allow_outside, backbone.preprocessing, tencrop),
        batch_sampler=order,
        num_workers=num_workers if len(batches) > 1 else 0,
        collate_fn=_collate,
        pin_memory=torch.device(backbone.device).type == "cuda",
    )
    for paths, inputs, failed in loader:
        features = encode_batch(backbone, inputs) if paths else torch.empty(0, backbone.feature_dim)
        yield FileBatch(paths, features, failed)


def extract_features(
    records: Records | Sequence[str],
    images_root: str | os.PathLike[str] | None,
    backbone: Backbone | str,
    out_dir: str | os.PathLike[str],
    *,
    tencrop: bool = False,
    batch_size: int = 32,
    shard_size: int = 1024,
    num_workers: int | None = None,
    progress: bool = True,
    shard_index: int = 0,
    num_shards: int = 1,
    allow_outside: bool = False,
    device: str | torch.device | None = "auto",
    precision: str = "fp32",
    log: Callable[[str], None] | None = None,
) -> FeatureStore:
    """Compute and cache ``backbone`` features of every record's image under ``out_dir``; resume if present.

    ``records``: Records or image paths, relative to ``images_root``. ``backbone``: a loaded backbone, or a name
    loaded on ``device`` in ``precision`` (:func:`~gtloc.backbones.load_backbone`; a loaded one keeps its own).
    Images are decoded in ``num_workers`` processes while the network runs (default: the cores, at most 4;
    0 = in this process). Images already cached are skipped; undecodable ones are reported in
    the manifest and ``failed.csv`` and skipped. With ``num_shards`` > 1 only the images of worker
    ``shard_index`` (:func:`~gtloc.data.features.select_shard`) are extracted; merge the workers' directories with
    :func:`~gtloc.data.features.merge_feature_dirs`. Returns the opened store. Paths outside ``images_root``
    are refused unless ``allow_outside`` (see :func:`file_features`); one process at a time writes ``out_dir`` (a
    second gets :class:`~gtloc.io.FolderBusyError` at once). ``log`` hears one line when a run resumes.
    """
    if batch_size < 1 or shard_size < 1:
        raise GtlocError(f"batch_size and shard_size must be >= 1, got {batch_size} and {shard_size}")
    all_paths = select_shard(
        list(dict.fromkeys(records.paths if isinstance(records, Records) else records)), shard_index, num_shards
    )
    model = load_backbone(backbone, device=device, precision=precision) if isinstance(backbone, str) else backbone
    identity = {**model.fingerprint(), "tencrop": tencrop}
    with exclusive_lock(out_dir, "features"):
        return _extract(model, all_paths, images_root, out_dir, identity, shard_index, num_shards, tencrop,
                        batch_size, shard_size, num_workers, progress, allow_outside, log)  # fmt: skip


def extract_photo_features(
    photos: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], backbone: Backbone | str, **kwargs: Any
) -> tuple[FeatureStore, Records, list[tuple[str, str]]]:
    """:func:`extract_features` for photos named on a command line: files and folders (every photo under a folder,
    recursively, :func:`~gtloc.data.ingest.expand_photos`), no records CSV needed. The cache names each photo as a
    CSV in the working folder would (:func:`~gtloc.data.schema.paths_for_csv`: relative to it, else absolute), and
    ``out_dir/exif.csv`` holds what each photo's EXIF says (:mod:`gtloc.data.exif_table`), which ``gtloc predict
    --features`` reads. ``kwargs`` go to :func:`extract_features`. Returns the store, the EXIF table and the files
    under the folders that are not photos it can read (``(path, reason)``: camera RAW files, unlisted folders)."""
    found, unlisted = expand_photos(photos)
    if not found:
        raise GtlocError(f"no photos in {', '.join(map(str, photos))}")
    names = paths_for_csv(found, Path.cwd() / EXIF_TABLE)
    store = extract_features(names, None, backbone, out_dir, **kwargs)
    table = exif_table(found, names)
    write_exif_table(table, out_dir)
    return store, table, [(s.path, f"{s.reason}: {s.detail}") for s in unlisted]


def _extract(
    model: Backbone,
    all_paths: list[str],
    images_root: str | os.PathLike[str] | None,
    out_dir: str | os.PathLike[str],
    identity: dict[str, Any],
    shard_index: int,
    num_shards: int,
    tencrop: bool,
    batch_size: int,
    shard_size: int,
    num_workers: int | None,
    progress: bool,
    allow_outside: bool,
    log: Callable[[str], None] | None,
) -> FeatureStore:
    writer = FeatureWriter(out_dir, identity, {"index": shard_index, "count": num_shards})
    left = [p for p in all_paths if p not in writer]
    if log is not None and len(left) < len(all_paths):
        done = len(all_paths) - len(left)
        log(f"resuming {out_dir}: {done} of {len(all_paths)} images have features; extracting the other {len(left)}")
    shards = list(_chunks(left, shard_size))
    batches = [list(_chunks(shard, batch_size)) for shard in shards]
    workers = num_workers if num_workers is not None else min(4, cpu_threads())
    encoded = file_features(
        model,
        [b for shard in batches for b in shard],
        images_root,
        tencrop=tencrop,
        num_workers=workers,
        allow_outside=allow_outside,
    )
    with tqdm(total=sum(map(len, shards)), unit="img", desc=f"features ({model.name})", disable=not progress) as bar:
        for shard in batches:
            done_paths: list[str] = []
            parts: list[torch.Tensor] = []
            for _ in shard:
                batch = next(encoded)
                for path, reason in batch.failed:
                    writer.fail(path, reason)
                if batch.paths:
                    done_paths.extend(batch.paths)
                    parts.append(batch.features)
                bar.update(len(batch.paths) + len(batch.failed))
            if done_paths:
                writer.write_shard(done_paths, torch.cat(parts))
            else:
                writer.save()
    return FeatureStore.open(writer.root)
