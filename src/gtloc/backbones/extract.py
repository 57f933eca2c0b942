"""Images -> backbone features: a few PIL images in memory, picture files in batches, or every record's picture
into a feature directory (:mod:`gtloc.data.features` stores them).

Features are ``(N, F)`` float32, or ``(N, C, F)`` with ten-crop (``C = 10`` crops per picture, GT-Loc's test-time
augmentation). :func:`backbone_for` loads the backbone a model was trained with, from its config.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from PIL import Image
from tqdm import tqdm

from gtloc.backbones import load_backbone
from gtloc.backbones.base import Backbone
from gtloc.data.features import FeatureStore, FeatureWriter, select_shard
from gtloc.data.images import image_file, load_image
from gtloc.data.schema import Records
from gtloc.errors import GtlocError
from gtloc.io import exclusive_lock


class BackboneChoice(Protocol):
    """Which backbone a model was trained with, as its config says (``GTLocConfig`` is one)."""

    backbone: str
    backbone_path: str | None


def backbone_for(
    config: BackboneChoice, *, model_path: str | os.PathLike[str] | None = None, fast: bool = True
) -> Backbone:
    """The frozen backbone a model was trained with: ``config.backbone`` with weights from ``model_path`` (default:
    ``config.backbone_path``, else the backbone's own source). ``fast``: its ONNX Runtime path where it has one."""
    return load_backbone(config.backbone, model_path=model_path or config.backbone_path, fast=fast)


@torch.inference_mode()
def encode_inputs(backbone: Backbone, inputs: Sequence[torch.Tensor], tencrop: bool = False) -> torch.Tensor:
    """Preprocessed pictures (each ``(3, S, S)``, or ``(C, 3, S, S)`` with ``tencrop``) -> features ``(N, F)`` or
    ``(N, C, F)``, in one batch."""
    if not inputs:
        return torch.empty(0, backbone.feature_dim)
    if not tencrop:
        return backbone.encode_images(torch.stack(list(inputs))).float()
    features = backbone.encode_images(torch.cat(list(inputs))).float()
    return features.view(len(inputs), -1, features.shape[-1])


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


def _prefetch(
    executor: ThreadPoolExecutor, fn: Callable[[str], Any], items: Iterable[str], ahead: int
) -> Iterator[Any]:
    """``fn(item)`` for each item, in order, computed up to ``ahead`` items in advance on ``executor``."""
    pending: deque[Future[Any]] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


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

    Pictures are decoded and preprocessed on ``num_workers`` threads, up to two batches ahead of the network.
    A picture that cannot be decoded is reported in its batch's ``failed`` with the reason, never fatal; so is,
    with ``images_root``, a path that resolves outside it (``..``, absolute, a symlink out) unless ``allow_outside``.
    """

    def prepare(path: str) -> torch.Tensor | str:
        try:
            return backbone.preprocess(load_image(image_file(images_root, path, allow_outside)), tencrop=tencrop)
        except Exception as exc:
            return getattr(exc, "reason", f"{type(exc).__name__}: {exc}")

    ahead = 2 * max((len(batch) for batch in batches), default=1)
    with ThreadPoolExecutor(max_workers=num_workers) as executor:
        prepared = _prefetch(executor, prepare, (path for batch in batches for path in batch), ahead)
        for batch in batches:
            out = FileBatch([], torch.empty(0))
            inputs = []
            for path in batch:
                item = next(prepared)
                if isinstance(item, str):
                    out.failed.append((path, item))
                else:
                    out.paths.append(path)
                    inputs.append(item)
            out.features = encode_inputs(backbone, inputs, tencrop)
            yield out


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
) -> FeatureStore:
    """Compute and cache ``backbone`` features of every record's image under ``out_dir``; resume if present.

    ``records``: Records or image paths, relative to ``images_root``. Images are decoded on ``num_workers``
    threads while the network runs. Images already cached are skipped; undecodable ones are reported in
    the manifest and ``failed.csv`` and skipped. With ``num_shards`` > 1 only the images of worker
    ``shard_index`` (:func:`~gtloc.data.features.select_shard`) are extracted; merge the workers' directories with
    :func:`~gtloc.data.features.merge_feature_dirs`. Returns the opened store. Paths outside ``images_root``
    are refused unless ``allow_outside`` (see :func:`file_features`); one process at a time writes ``out_dir`` (a
    second gets :class:`~gtloc.io.FolderBusyError` at once).
    """
    if batch_size < 1 or shard_size < 1:
        raise GtlocError(f"batch_size and shard_size must be >= 1, got {batch_size} and {shard_size}")
    all_paths = select_shard(
        list(dict.fromkeys(records.paths if isinstance(records, Records) else records)), shard_index, num_shards
    )
    model = load_backbone(backbone) if isinstance(backbone, str) else backbone
    identity = {**model.fingerprint(), "tencrop": tencrop}
    with exclusive_lock(out_dir, "features"):
        return _extract(model, all_paths, images_root, out_dir, identity, shard_index, num_shards, tencrop,
                        batch_size, shard_size, num_workers, progress, allow_outside)  # fmt: skip


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
) -> FeatureStore:
    writer = FeatureWriter(out_dir, identity, {"index": shard_index, "count": num_shards})
    shards = list(_chunks([p for p in all_paths if p not in writer], shard_size))
    batches = [list(_chunks(shard, batch_size)) for shard in shards]
    workers = num_workers or min(4, os.cpu_count() or 1)
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
