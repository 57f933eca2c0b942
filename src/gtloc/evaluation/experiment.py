"""GT-Loc against its baselines and ablations, trained and scored on the same cached features (one table, one run)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.evaluation.baselines import BaselinePrediction, classification_baseline, constant_baseline, random_baseline
from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.prediction import Prediction
from gtloc.inference.predictor import Predictor
from gtloc.io import write_json
from gtloc.model.losses import LossWeights
from gtloc.training.checkpoint import TRAINING_STATE_FILE, saved_step
from gtloc.training.config import TrainConfig
from gtloc.training.data import TrainingData
from gtloc.training.loop import train

ABLATIONS = ("gtloc_hard_targets", "gtloc_time_only")
TIME_ONLY_WEIGHTS = LossWeights(img_gps=0.0, gps_time=0.0, ig2t=0.0, it2g=0.0, gt2i=0.0)
SCORES_FILE = "scores.json"
# What a trained run's scores depend on: its model, galleries' spec, temperatures, training neighbours, read-out.
RUN_FILES = ("config.json", "model.safetensors", "calibration.json", "neighbours.safetensors", "model_card.json")


@dataclass
class Comparison:
    """Metrics per method (the evaluate format) plus GT-Loc's own prediction and predictor, for reports."""

    gtloc: dict[str, Any]
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    prediction: Prediction | None = None
    predictor: Predictor | None = None


def _score(latlon: np.ndarray, times: np.ndarray, test: TrainingData) -> dict[str, Any]:
    return protocol_metrics(latlon, test.latlon.numpy().astype(float), times, test.times.numpy().astype(float))


def _score_baseline(pred: BaselinePrediction, test: TrainingData) -> dict[str, Any]:
    return _score(pred.latlon, pred.times, test)


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def run_digest(run_dir: Path) -> str:
    """A digest of the files of the trained run in ``run_dir`` that its scores depend on (:data:`RUN_FILES`)."""
    return _digest(*((run_dir / name).read_bytes() if (run_dir / name).is_file() else b"-" for name in RUN_FILES))


def cached_score(
    path: Path, key: dict[str, Any], compute: Callable[[], dict[str, Any]], log, name: str
) -> dict[str, Any]:
    """The metrics stored in ``path`` (JSON) when they were computed for the same ``key`` (digests of the model
    and of the data they score), else ``compute()``, stored there for the next run."""
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict) and stored.get("key") == key and isinstance(stored.get("metrics"), dict):
            log(f"  reusing the scores of {name} in {path} (same model and test data)")
            return stored["metrics"]
    metrics = compute()
    write_json(path, {"key": key, "metrics": metrics})
    return metrics


def _predict(predictor: Predictor, test: TrainingData) -> Prediction:
    return predictor.predict(test.features, top_k=5, where=predictor.gps_gallery is not None)


def _train_variant(
    train_data: TrainingData,
    run_dir: Path,
    config: TrainConfig,
    resume: bool,
    progress: bool,
    log,
    keep_galleries: bool = True,
    device: str = "auto",
) -> Path:
    """Train into ``run_dir`` (or, with ``resume``, continue a run, or find it finished: a changed config is refused
    by ``train``); returns ``run_dir``.

    ``keep_galleries``: cache the galleries encoded for calibration in ``run_dir/galleries`` (what ``gtloc predict``
    on the run reuses); an ablation, calibrated and scored once, encodes them in memory (the 100k GPS gallery is
    200 MB on disk).
    """
    resume = resume and saved_step(run_dir / TRAINING_STATE_FILE) is not None  # train says how it resumes
    train(
        train_data,
        run_dir,
        config,
        device=device,
        resume=resume,
        progress=progress,
        cache_galleries=keep_galleries,
        log=log,
    )
    return run_dir


def compare_methods(
    train_data: TrainingData,
    test: TrainingData,
    run_root: str | Path,
    config: TrainConfig,
    *,
    ablations: tuple[str, ...] = ABLATIONS,
    resume: bool = False,
    progress: bool = True,
    log=print,
    device: str = "auto",
) -> Comparison:
    """Train GT-Loc (``run_root/gtloc``) and each ablation on ``device``, fit the baselines (on the CPU), and
    score all on ``test``.

    Methods: ``gtloc`` (the run's read-out, by default ``mix``: least expected error under the mix of the model's
    and the training neighbours' posteriors) and, under ``baselines``: ``gtloc_argmax_readout`` (the paper's:
    argmax of the model's gallery posterior), ``gtloc_bayes_readout`` (least expected error under the gallery
    posterior), ``gtloc_given_location`` (``(image + location) -> time`` with the true place, the run's read-out),
    ``constant``, ``random``, ``classification``, and the ablations ``gtloc_hard_targets`` (``tau = 0``) and
    ``gtloc_time_only`` (no GPS terms), both with their run's read-out. Every time is a prediction's
    :attr:`~gtloc.inference.prediction.Prediction.best_time`.
    """
    run_root = Path(run_root)
    log("training GT-Loc")
    _train_variant(train_data, run_root / "gtloc", config, resume, progress, log, device=device)
    # Loaded as gtloc.load does: with its read-out, temperatures, domain profile, model card and cached galleries.
    predictor = Predictor.from_pretrained(run_root / "gtloc", log=log, device=device)
    pred = _predict(predictor, test)
    latlon = pred.latlon.numpy().astype(float)
    result = Comparison(
        gtloc=_score(latlon, pred.best_time.numpy().astype(float), test), prediction=pred, predictor=predictor
    )
    # The model's own time posterior, without the neighbours (and without a second copy of the 100k GPS gallery):
    # its argmax is the paper's read-out, its least-expected-error answer the "bayes" read-out.
    gallery = Predictor.from_pretrained(run_root / "gtloc", readout="bayes", places=False, device=device).predict(
        test.features, top_k=5, where=False
    )
    result.baselines["gtloc_argmax_readout"] = _score(latlon, gallery.time.numpy().astype(float), test)
    result.baselines["gtloc_bayes_readout"] = _score(latlon, gallery.best_time.numpy().astype(float), test)
    given = predictor.predict_time_given_location(test.features, test.latlon)
    n = len(test)
    no_place = np.full((n, 2), np.nan)
    result.baselines["gtloc_given_location"] = _score(no_place, given.best_time.numpy().astype(float), test)

    train_latlon, train_times = train_data.latlon.numpy().astype(float), train_data.times.numpy().astype(float)
    result.baselines["constant"] = _score_baseline(constant_baseline(train_latlon, train_times, n), test)
    gps_labels = predictor.gps_gallery.labels.cpu().numpy()
    time_labels = predictor.time_gallery.labels.cpu().numpy()
    result.baselines["random"] = _score_baseline(random_baseline(gps_labels, time_labels, n, config.seed), test)
    test_key = test.digests()

    def classification() -> dict[str, Any]:
        log("training the classification baseline")
        fitted = classification_baseline(
            train_data.features, train_times, test.features, seed=config.seed, progress=progress
        )
        return _score_baseline(fitted, test)

    key = {"train": train_data.digests(), "test": test_key, "seed": config.seed}
    result.baselines["classification"] = cached_score(
        run_root / "classification.json", key, classification, log, "the classification baseline"
    )
    variants = {
        "gtloc_hard_targets": replace(config, tau=0.0),
        "gtloc_time_only": replace(config, loss_weights=TIME_ONLY_WEIGHTS),
    }
    for name in ablations:
        log(f"training ablation {name}")
        places = name != "gtloc_time_only"
        variant = _train_variant(
            train_data,
            run_root / name,
            variants[name],
            resume,
            progress,
            log,
            keep_galleries=False,
            device=device,
        )

        def score(name: str = name, places: bool = places) -> dict[str, Any]:
            predictor = Predictor.from_pretrained(run_root / name, cache=False, places=places, log=log, device=device)
            vpred = _predict(predictor, test)
            latlon = vpred.latlon.numpy().astype(float) if places else np.full((n, 2), np.nan)
            return _score(latlon, vpred.best_time.numpy().astype(float), test)

        key = {"run": run_digest(variant), "test": test_key}
        result.baselines[name] = cached_score(variant / SCORES_FILE, key, score, log, f"ablation {name}")
    return result
