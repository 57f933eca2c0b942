"""Predict for files: pictures on disk (through the checkpoint's backbone) or cached backbone features.

This is what ``gtloc predict`` runs. Photos named on the command line may be files or folders (every photo under a
folder, recursively, by :func:`gtloc.data.ingest.expand_photos`). Pictures that fail to decode, and records without
cached features, are skipped and reported (``PredictionRun.skipped``), never fatal; bad arguments raise
:class:`GtlocError`.

Each photo's EXIF is read (from the file, or for cached features from the feature directory's ``exif.csv``,
:mod:`gtloc.data.exif_table`) and kept on the prediction (``Prediction.exif``); where it has GPS, the photo's time
is answered given that place (``exif_place``), unless a ``place`` is given for every photo.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from gtloc.backbones.base import Backbone
from gtloc.backbones.extract import backbone_for, file_features
from gtloc.data.exif import PhotoExif, photo_exif
from gtloc.data.exif_table import read_exif_table
from gtloc.data.features import FeatureDirs, FeatureStore
from gtloc.data.images import image_file
from gtloc.data.ingest import expand_photos
from gtloc.data.schema import load_records, paths_for_csv
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.inference.prediction import Prediction
from gtloc.inference.prediction_files import prediction_json_path, write_predictions
from gtloc.inference.predictor import Predictor, known_places
from gtloc.io import output_file
from gtloc.model.card import ModelCard
from gtloc.model.readouts import DEFAULT_READOUT, check_readout

FEATURE_CHUNK = 1024


@dataclass
class PredictionRun:
    """``paths`` that were predicted (row i of ``prediction``), ``skipped`` ``(path, reason)`` pairs, and the
    model card of the run that predicted (``None`` without one)."""

    paths: list[str]
    prediction: Prediction
    skipped: list[tuple[str, str]] = field(default_factory=list)
    model_card: ModelCard | None = None


def concat_predictions(parts: Sequence[Prediction], readout: str = DEFAULT_READOUT) -> Prediction:
    """Stack per-batch predictions row-wise: fields that are ``None`` in every part stay ``None``; a batch without a
    known place gets NaN rows in ``known_place``; the parts share one read-out, coverage and place source."""
    if not parts:
        return Prediction(readout=readout)
    tensors = {}
    for name in parts[0].tensors():
        values = [p.tensors()[name] for p in parts]
        if all(v is None for v in values):
            tensors[name] = None
        elif name == "known_place":
            filled = [torch.full((len(p), 2), math.nan) if v is None else v for p, v in zip(parts, values, strict=True)]
            tensors[name] = torch.cat(filled)
        else:
            tensors[name] = torch.cat(values)
    exif = None
    if any(p.exif is not None for p in parts):
        exif = [e for p in parts for e in (p.exif if p.exif is not None else [None] * len(p))]
    source = next((p.known_place_source for p in parts if p.known_place_source), "")
    return dataclasses.replace(parts[0], **tensors, exif=exif, known_place_source=source)


def predict_batch(
    predictor: Predictor,
    features: torch.Tensor,
    top_k: int,
    exif: Sequence[PhotoExif | None] | None,
    place: tuple[float, float] | None = None,
    exif_place: bool = True,
) -> Prediction:
    """One batch's prediction: its time given ``place`` (every photo), else given each photo's EXIF GPS where it has
    one (``exif_place``; ``exif``: each photo's EXIF, ``None`` when not read), else the image's alone."""
    known, source = known_places(len(features), place, exif if exif_place else None)
    pred = predictor.predict(features, top_k=top_k, place=known, place_source=source)
    pred.exif = None if exif is None else list(exif)
    return pred


def _check_feature_dim(predictor: Predictor, dim: int, source: str) -> None:
    expected = predictor.model.config.feature_dim
    if dim != expected:
        raise GtlocError(
            f"{source} gives {dim}-d features but the checkpoint's image head expects {expected}-d "
            f"(backbone {predictor.model.config.backbone!r})"
        )


def predict_features(
    predictor: Predictor,
    store: FeatureStore,
    paths: Sequence[str] | None = None,
    top_k: int = 5,
    progress: bool = False,
    exif: dict[str, PhotoExif] | None = None,
    place: tuple[float, float] | None = None,
    exif_place: bool = True,
) -> PredictionRun:
    """Predict from cached features: every path in ``store``, or only ``paths`` (those not cached are skipped).
    ``exif``: the photos' EXIF by path (the feature directory's ``exif.csv``), ``place`` and ``exif_place`` as for
    :func:`predict_batch`."""
    config = predictor.model.config
    if store.backbone != config.backbone:
        raise GtlocError(
            f"feature cache {store.root} was made with backbone {store.backbone!r} but the checkpoint "
            f"expects {config.backbone!r}"
        )
    _check_feature_dim(predictor, store.feature_dim, f"feature cache {store.root}")
    wanted = store.paths if paths is None else list(dict.fromkeys(paths))
    failed = store.failed
    skipped = [(p, failed.get(p, "no features in the cache")) for p in wanted if p not in store]
    todo = [p for p in wanted if p in store]
    parts = []
    with tqdm(total=len(todo), unit="img", desc="predict", disable=not progress) as bar:
        for start in range(0, len(todo), FEATURE_CHUNK):
            chunk = todo[start : start + FEATURE_CHUNK]
            known = None if exif is None else [exif.get(p) for p in chunk]
            parts.append(predict_batch(predictor, store.load(chunk), top_k, known, place, exif_place))
            bar.update(len(chunk))
    return PredictionRun(todo, concat_predictions(parts, predictor.readout), skipped)


def predict_images(
    predictor: Predictor,
    backbone: Backbone,
    paths: Sequence[str],
    images_root: str | Path | None = None,
    tencrop: bool = False,
    top_k: int = 5,
    batch_size: int = 32,
    progress: bool = True,
    num_workers: int = 2,
    allow_outside: bool = False,
    place: tuple[float, float] | None = None,
    exif_place: bool = True,
) -> PredictionRun:
    """Predict for picture files: ``paths`` (relative to ``images_root`` when given) through ``backbone``.

    With ``images_root``, a path that resolves outside it is skipped unless ``allow_outside``.

    Pictures are decoded in ``num_workers`` processes, ``batch_size`` at a time; ``tencrop`` averages the
    similarities of ten crops (GT-Loc's test-time augmentation). Undecodable pictures are skipped. Each picture's
    EXIF is read; ``place`` and ``exif_place`` as for :func:`predict_batch`.
    """
    if batch_size < 1:
        raise GtlocError(f"batch size must be >= 1, got {batch_size}")
    _check_feature_dim(predictor, backbone.feature_dim, f"backbone {backbone.name!r}")
    batches = [list(paths[start : start + batch_size]) for start in range(0, len(paths), batch_size)]
    run = PredictionRun([], Prediction(readout=predictor.readout))
    parts = []
    with tqdm(total=len(paths), unit="img", desc="predict", disable=not progress) as bar:
        for batch in file_features(
            backbone, batches, images_root, tencrop=tencrop, num_workers=num_workers, allow_outside=allow_outside
        ):
            run.skipped.extend(batch.failed)
            if batch.paths:
                run.paths.extend(batch.paths)
                exif = [photo_exif(image_file(images_root, p, allow_outside=True)) for p in batch.paths]
                parts.append(predict_batch(predictor, batch.features, top_k, exif, place, exif_place))
            bar.update(len(batch.paths) + len(batch.failed))
    run.prediction = concat_predictions(parts, predictor.readout)
    return run


def _input_mode(images: Sequence[str], records: str | Path | None, images_root, features) -> str:
    given = [
        name for name, value in (("images", images), ("images_root", images_root), ("features", features)) if value
    ]
    if not given and records is not None:
        return "records"
    if len(given) != 1:
        got = [part for name in given for part in (", ", Param(name))][1:] or ["none"]
        raise ParameterError(
            "give exactly one input: ",
            Param("images"),
            " (picture files), ",
            Param("records", "R.csv"),
            " [",
            Param("images_root", "ROOT"),
            "], or ",
            Param("features", "FEATDIR"),
            " (",
            Param("records"),
            " optional) (got ",
            *got,
            ")",
        )
    if images_root and records is None:
        raise ParameterError(
            Param("images_root"), " needs ", Param("records"), " (the image paths are read from the records)"
        )
    if images and records is not None:
        raise ParameterError(
            Param("records"),
            " goes with ",
            Param("images_root"),
            " or ",
            Param("features"),
            ", not with ",
            Param("images"),
        )
    return {"images": "files", "images_root": "records", "features": "features"}[given[0]]


def _feature_exif(features: FeatureDirs) -> dict[str, PhotoExif] | None:
    """The photos' EXIF of every feature directory given that has an ``exif.csv``; ``None`` when none has."""
    dirs = [features] if isinstance(features, str | os.PathLike) else list(features)
    tables = [table for table in map(read_exif_table, dirs) if table is not None]
    return {path: exif for table in tables for path, exif in table.items()} if tables else None


def _check_files_exist(paths: Sequence[str]) -> None:
    """A picture named on the command line must exist: a stray word (``--tencrop true``) is not skipped quietly."""
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        folder = Path(os.path.abspath(missing[0])).parent
        more = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise ParameterError(Param("images"), f": no file {missing[0]!r} in {folder}{more}")


def run_prediction(
    checkpoint: str | Path,
    out: str | Path | None,
    images: Sequence[str] = (),
    records: str | Path | None = None,
    images_root: str | Path | None = None,
    features: FeatureDirs | None = None,
    top_k: int = 5,
    tencrop: bool | None = None,
    batch_size: int = 32,
    readout: str | None = None,
    backbone_path: str | Path | None = None,
    fast: bool = True,
    progress: bool = True,
    log: Callable[[str], None] = print,
    gps_index: str = "exact",
    nprobe: int = 8,
    cache_dir: str | Path | None = None,
    allow_outside: bool = False,
    device: str | torch.device | None = "auto",
    place: tuple[float, float] | None = None,
    exif_place: bool = True,
) -> PredictionRun:
    """``gtloc predict``: load the checkpoint, predict for the chosen inputs, write ``out`` and its JSON (if given).

    Inputs (exactly one): ``images`` photo files and folders (each must exist; a folder stands for every photo
    under it, :func:`~gtloc.data.ingest.expand_photos`; ``out`` names them as
    :func:`~gtloc.data.schema.paths_for_csv` says); ``records`` with ``images_root`` (default: the records CSV's
    folder); ``features`` (a feature directory or a list of them: all cached rows, or only those of ``records``;
    the photos' EXIF from each directory's ``exif.csv`` where it has one).
    Each photo's time is answered given ``place`` ``(lat, lon)`` when given, else given its EXIF GPS where it has
    one (``exif_place``; False: the image alone); the place answer is always the image's own.
    The backbone for picture inputs is the one named in the checkpoint's config, loaded from ``backbone_path``
    (default: the config's own ``backbone_path``);
    ``fast`` uses its ONNX Runtime path where it has one. ``gps_index`` / ``nprobe``: how the GPS gallery is
    searched (see :class:`Predictor`; a FAISS index is cached in the run's ``galleries`` folder). ``cache_dir``:
    where encoded galleries and indexes are cached (default: see :meth:`Predictor.from_pretrained`). ``readout``:
    the time read-out (default: the run's own, named in its model card; else ``mix``). ``tencrop``: pictures are
    scored as ten crops (default: as the model was trained, :attr:`Predictor.tencrop`).
    ``device``: where the backbone, the model and the searches run (``"auto"``: CUDA when there).
    """
    mode = _input_mode(images, records, images_root, features)
    if place is not None:
        known_places(1, place, None)
    if top_k < 1:
        raise ParameterError(Param("top_k"), f" must be >= 1, got {top_k}")
    if readout is not None:
        check_readout(readout)
    if out is not None:
        output_file(out)
        output_file(prediction_json_path(out))
    unlisted: list[tuple[str, str]] = []
    if mode == "files":
        _check_files_exist(images)
        photos, skipped_entries = expand_photos(images)
        unlisted = [(s.path, f"{s.reason}: {s.detail}") for s in skipped_entries]
        if not photos and not unlisted:
            raise ParameterError(Param("images"), f": no photos in {', '.join(map(str, images))}")
        images = [str(p) for p in photos]
    predictor = Predictor.from_pretrained(
        checkpoint, cache_dir, gps_index=gps_index, nprobe=nprobe, readout=readout, log=log, device=device
    )
    if mode == "features":
        store = FeatureStore.open(features)
        if tencrop is True and not store.tencrop:
            raise ParameterError(Param("tencrop"), f": feature cache {store.root} holds single-crop features")
        wanted = load_records(records).paths if records is not None else None
        exif = _feature_exif(features)
        result = predict_features(predictor, store, wanted, top_k, progress, exif, place, exif_place)
    else:
        paths = list(images) if mode == "files" else load_records(records).paths
        backbone = backbone_for(predictor.model.config, model_path=backbone_path, fast=fast, device=predictor.device)
        root = (images_root or Path(records).parent) if mode == "records" else None
        crops = predictor.tencrop if tencrop is None else tencrop
        result = predict_images(
            predictor,
            backbone,
            paths,
            root,
            crops,
            top_k,
            batch_size,
            progress,
            allow_outside=allow_outside,
            place=place,
            exif_place=exif_place,
        )
        result.skipped = unlisted + result.skipped
    for path, reason in result.skipped[:10]:
        log(f"skipped {path}: {reason}")
    if len(result.skipped) > 10:
        log(f"... and {len(result.skipped) - 10} more skipped (all are listed in the JSON)")
    if not result.paths:
        raise GtlocError(f"nothing to predict: all {len(result.skipped)} inputs were skipped")
    result.model_card = predictor.card
    if out is not None:
        extra = {"checkpoint": str(checkpoint), "backbone": predictor.model.config.backbone, "top_k": top_k}
        if predictor.card is not None:
            extra["model"] = predictor.card.summary()
        paths, skipped = result.paths, result.skipped
        if mode == "files":
            paths = paths_for_csv(paths, out)
            skipped = list(zip(paths_for_csv([p for p, _ in skipped], out), [why for _, why in skipped], strict=True))
        write_predictions(paths, result.prediction, out, skipped, extra)
    return result
