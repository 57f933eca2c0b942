"""Predict for files: pictures on disk (through the checkpoint's backbone) or cached backbone features.

This is what ``gtloc predict`` runs. Pictures that fail to decode, and records without cached features, are
skipped and reported (``PredictionRun.skipped``), never fatal; bad arguments raise :class:`GtlocError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from gtloc.backbones.base import Backbone
from gtloc.backbones.extract import backbone_for, file_features
from gtloc.data.features import FeatureDirs, FeatureStore
from gtloc.data.schema import load_records, paths_for_csv
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.inference.prediction import Prediction
from gtloc.inference.prediction_files import prediction_json_path, write_predictions
from gtloc.inference.predictor import Predictor
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
    """Stack per-batch predictions row-wise (fields that are ``None`` stay ``None``; they share one read-out)."""
    if not parts:
        return Prediction(readout=readout)
    first = parts[0].tensors()
    return Prediction(
        readout=parts[0].readout,
        **{
            name: None if value is None else torch.cat([p.tensors()[name] for p in parts])
            for name, value in first.items()
        },
    )


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
) -> PredictionRun:
    """Predict from cached features: every path in ``store``, or only ``paths`` (those not cached are skipped)."""
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
            parts.append(predictor.predict(store.load(chunk), top_k=top_k))
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
) -> PredictionRun:
    """Predict for picture files: ``paths`` (relative to ``images_root`` when given) through ``backbone``.

    With ``images_root``, a path that resolves outside it is skipped unless ``allow_outside``.

    Pictures are decoded in ``num_workers`` processes, ``batch_size`` at a time; ``tencrop`` averages the
    similarities of ten crops (GT-Loc's test-time augmentation). Undecodable pictures are skipped.
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
                parts.append(predictor.predict(batch.features, top_k=top_k))
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
) -> PredictionRun:
    """``gtloc predict``: load the checkpoint, predict for the chosen inputs, write ``out`` and its JSON (if given).

    Inputs (exactly one): ``images`` files (each must exist; ``out`` names them as
    :func:`~gtloc.data.schema.paths_for_csv` says); ``records`` with ``images_root`` (default: the records CSV's
    folder); ``features`` (a feature directory or a list of them: all cached rows, or only those of ``records``).
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
    if top_k < 1:
        raise ParameterError(Param("top_k"), f" must be >= 1, got {top_k}")
    if readout is not None:
        check_readout(readout)
    if out is not None:
        output_file(out)
        output_file(prediction_json_path(out))
    if mode == "files":
        _check_files_exist(images)
    predictor = Predictor.from_pretrained(
        checkpoint, cache_dir, gps_index=gps_index, nprobe=nprobe, readout=readout, log=log, device=device
    )
    if mode == "features":
        store = FeatureStore.open(features)
        if tencrop is True and not store.tencrop:
            raise ParameterError(Param("tencrop"), f": feature cache {store.root} holds single-crop features")
        wanted = load_records(records).paths if records is not None else None
        result = predict_features(predictor, store, wanted, top_k=top_k, progress=progress)
    else:
        paths = list(images) if mode == "files" else load_records(records).paths
        backbone = backbone_for(predictor.model.config, model_path=backbone_path, fast=fast, device=predictor.device)
        root = (images_root or Path(records).parent) if mode == "records" else None
        crops = predictor.tencrop if tencrop is None else tencrop
        result = predict_images(
            predictor, backbone, paths, root, crops, top_k, batch_size, progress, allow_outside=allow_outside
        )
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
