"""GT-Loc against its baselines and ablations, trained and scored on the same cached features (one table, one run)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.evaluation.baselines import BaselinePrediction, classification_baseline, constant_baseline, random_baseline
from gtloc.evaluation.protocol import protocol_metrics
from gtloc.inference.prediction import Prediction
from gtloc.inference.predictor import Predictor
from gtloc.model.losses import LossWeights
from gtloc.training.checkpoint import TRAINING_STATE_FILE, saved_step
from gtloc.training.config import TrainConfig
from gtloc.training.loop import TrainingData, train

ABLATIONS = ("gtloc_hard_targets", "gtloc_time_only")
TIME_ONLY_WEIGHTS = LossWeights(img_gps=0.0, gps_time=0.0, ig2t=0.0, it2g=0.0, gt2i=0.0)


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
    places: bool = True,
    device: str = "auto",
) -> Predictor:
    """Train (or, with ``resume``, continue or reload a finished run: a changed config is refused by ``train``), and
    load it as :func:`gtloc.load` does: with its read-out, temperatures, domain profile and model card.

    ``keep_galleries``: cache the encoded galleries in ``run_dir/galleries`` (what ``gtloc predict`` on the run
    reuses); an ablation, calibrated and scored once, encodes them in memory (the 100k GPS gallery is 200 MB on
    disk).
    ``places=False``: no GPS gallery at all (a time-only model).
    """
    step = saved_step(run_dir / TRAINING_STATE_FILE) if resume else None
    if step is not None:
        log(f"  resuming the run in {run_dir} after step {step} (a finished run is only loaded)")
    resume = step is not None
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
    return Predictor.from_pretrained(run_dir, cache=keep_galleries, places=places, log=log, device=device)


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
    predictor = _train_variant(train_data, run_root / "gtloc", config, resume, progress, log, device=device)
    pred = _predict(predictor, test)
    latlon = pred.latlon.numpy().astype(float)
    result = Comparison(
        gtloc=_score(latlon, pred.best_time.numpy().astype(float), test), prediction=pred, predictor=predictor
    )
    for readout in ("argmax", "bayes"):
        other = Predictor.from_pretrained(run_root / "gtloc", readout=readout, places=False, device=device)
        answer = other.predict(test.features, top_k=5, where=False).best_time
        result.baselines[f"gtloc_{readout}_readout"] = _score(latlon, answer.numpy().astype(float), test)
    given = predictor.predict_time_given_location(test.features, test.latlon)
    n = len(test)
    no_place = np.full((n, 2), np.nan)
    result.baselines["gtloc_given_location"] = _score(no_place, given.best_time.numpy().astype(float), test)

    train_latlon, train_times = train_data.latlon.numpy().astype(float), train_data.times.numpy().astype(float)
    result.baselines["constant"] = _score_baseline(constant_baseline(train_latlon, train_times, n), test)
    gps_labels = predictor.gps_gallery.labels.cpu().numpy()
    time_labels = predictor.time_gallery.labels.cpu().numpy()
    result.baselines["random"] = _score_baseline(random_baseline(gps_labels, time_labels, n, config.seed), test)
    log("training the classification baseline")
    result.baselines["classification"] = _score_baseline(
        classification_baseline(train_data.features, train_times, test.features, seed=config.seed, progress=progress),
        test,
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
            places=places,
            device=device,
        )
        vpred = _predict(variant, test)
        latlon = vpred.latlon.numpy().astype(float) if places else np.full((n, 2), np.nan)
        result.baselines[name] = _score(latlon, vpred.best_time.numpy().astype(float), test)
    return result
