"""``gtloc demo``: the whole pipeline on the embedded (synthetic) world, end to end, in a few minutes on a CPU.

generate a train and a test world -> extract features with the default backbone -> train GT-Loc -> predict the
test world -> evaluate -> train and score the baselines and ablations -> ``metrics.json``, ``report.md``, plots.
Every stage reuses what a previous (interrupted) run into the same ``out`` folder already finished.
"""

from __future__ import annotations

import os
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
from gtloc.evaluation.experiment import ABLATIONS, SCORES_FILE, compare_methods
from gtloc.evaluation.report import metrics_table, plot_time_posteriors, plot_world_map
from gtloc.inference.prediction_files import write_predictions
from gtloc.io import atomic_write_text, write_json
from gtloc.model.card import MODEL_CARD_FILE
from gtloc.training.config import TrainConfig, small_model_config
from gtloc.training.data import TrainingData, load_training_data

POSTERIOR_EXAMPLES = 6
RUNS = ("gtloc", *ABLATIONS)
# Rates of the demo's stages in CPU seconds, measured on this project's 2-core CPU (a from-scratch run with the
# default settings, 364 s of CPU in all): rendering one picture in one process (workers share it), one backbone
# crop (decoding included), one training picture-epoch (the mean of GT-Loc and its two ablations), the end of a run
# (calibration against the 100k GPS gallery, domain profile, neighbours), scoring an ablation (its galleries encoded
# in memory), the classification baseline per training picture, and what every run does (loading, predicting the
# test world, the plots; the process's start included). An idle CPU runs them in about that wall time;
# speed_factor says how much longer now.
SECONDS_PER_RENDER = 0.0078
SECONDS_PER_CROP = 0.0107
SECONDS_PER_TRAIN_PICTURE_EPOCH = 0.00055
SECONDS_PER_RUN_END = 43.0
SECONDS_PER_ABLATION_SCORE = 2.5
SECONDS_PER_CLASSIFIER_PICTURE = 0.0045
SECONDS_FIXED = 15.0
# The speed probe: PROBE_STEPS small one-thread matrix products took PROBE_CPU_SECONDS of CPU on that machine.
PROBE_STEPS = 200
PROBE_CPU_SECONDS = 0.12
# Peak memory of `gtloc demo` with the default settings (/usr/bin/time -v, maximum resident set size; README), and
# disk: bytes per rendered 224 px picture, per picture's features (one crop), per run (weights, training state,
# training neighbours, domain profile: 3,000 training pictures) and the one encoded 100k GPS gallery kept on disk.
DEMO_MEMORY = "at most 1.7 GB"
BYTES_PER_PICTURE = 13_800
BYTES_PER_CROP_FEATURES = 5_150
BYTES_PER_RUN = 43_000_000
BYTES_GALLERIES = 210_000_000


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


@dataclass
class DemoPlan:
    """What a demo run into a folder has left to do (the rest is reused): pictures to render, backbone crops to
    extract, runs to train, ablations to score, whether the classification baseline is to fit."""

    render: int
    crops: int
    train: tuple[str, ...]
    score: tuple[str, ...]
    classifier: bool

    def describe(self) -> str:
        """``"render 3,600 pictures, extract features of 9,000 crops, train 3 runs, ..."``, or that all is reused."""
        todo = [
            f"render {self.render:,} pictures" if self.render else "",
            f"extract features of {self.crops:,} crops" if self.crops else "",
            f"train {len(self.train)} run{'s' if len(self.train) != 1 else ''}" if self.train else "",
            f"score {len(self.score)} ablation{'s' if len(self.score) != 1 else ''}" if self.score else "",
            "fit the classification baseline" if self.classifier else "",
        ]
        todo = [t for t in todo if t]
        return ", ".join(todo) if todo else "load what is there: every stage is reused"


def plan_demo(out: str | Path, settings: DemoSettings) -> DemoPlan:
    """What :func:`run_demo` into ``out`` will compute (reading only file names and counts, never the data)."""
    out = Path(out)
    render = sum(
        n
        for name, n in (("world-train", settings.n_train), ("world-test", settings.n_test))
        if not _world_done(out / name, n)
    )
    crops = 0
    for name, n, tencrop in (
        ("features-train", settings.n_train, False),
        ("features-test", settings.n_test, settings.tencrop_test),
    ):
        left = n - _features_done(out / name, tencrop)
        crops += max(0, left) * (10 if tencrop else 1)
    runs = out / "runs"
    train = tuple(name for name in RUNS if not (runs / name / MODEL_CARD_FILE).is_file())
    score = tuple(name for name in ABLATIONS if name in train or not (runs / name / SCORES_FILE).is_file())
    return DemoPlan(render, crops, train, score, not (runs / "classification.json").is_file())


def estimate_seconds(settings: DemoSettings, plan: DemoPlan | None = None) -> float:
    """How long the demo takes on the project's 2-core CPU, from the measured rates above: everything from scratch,
    or what ``plan`` (:func:`plan_demo`) has left."""
    if plan is None:
        crops = settings.n_train + settings.n_test * (10 if settings.tencrop_test else 1)
        plan = DemoPlan(settings.n_train + settings.n_test, crops, RUNS, ABLATIONS, True)
    workers = max(1, min(settings.workers, os.cpu_count() or 1))
    held_in = settings.n_train - round(0.1 * settings.n_train)  # demo_train_config holds a tenth out
    return (
        plan.render * SECONDS_PER_RENDER / workers
        + plan.crops * SECONDS_PER_CROP
        + len(plan.train) * (held_in * settings.epochs * SECONDS_PER_TRAIN_PICTURE_EPOCH + SECONDS_PER_RUN_END)
        + len(plan.score) * SECONDS_PER_ABLATION_SCORE
        + (settings.n_train * SECONDS_PER_CLASSIFIER_PICTURE if plan.classifier else 0.0)
        + SECONDS_FIXED
    )


def speed_factor() -> float:
    """How many times longer than the rates above say the demo takes on this CPU now: the wall time of a fixed
    one-thread workload over its CPU time on the machine the rates were measured on (:data:`PROBE_CPU_SECONDS`).
    It counts both a slower or faster CPU and a busy one (another job's threads take their share of the cores);
    the estimate assumes the load stays as it is at the start."""
    with torch.inference_mode():
        a, b = torch.ones(192, 192) / 192, torch.ones(192, 256) / 192
        began = time.perf_counter()
        for _ in range(PROBE_STEPS):
            torch.tanh(a @ b).T @ a
        return (time.perf_counter() - began) / PROBE_CPU_SECONDS


def demo_disk(settings: DemoSettings) -> str:
    """The demo folder's size on disk for ``settings``, from the sizes above (414 MB with the defaults)."""
    pictures = (settings.n_train + settings.n_test) * BYTES_PER_PICTURE * (settings.image_size / 224) ** 2
    crops = settings.n_train + settings.n_test * (10 if settings.tencrop_test else 1)
    runs = len(RUNS) * BYTES_PER_RUN * settings.n_train / 3000
    total = pictures + crops * BYTES_PER_CROP_FEATURES + runs + BYTES_GALLERIES
    return f"about {total / 1e6:.0f} MB"


def _world_done(world_dir: Path, n: int) -> bool:
    records_path = world_dir / "records.csv"
    return records_path.is_file() and len(load_records(records_path)) == n


def _features_done(feature_dir: Path, tencrop: bool) -> int:
    """How many pictures ``feature_dir`` holds features of (0 when it is absent or of the other crop kind)."""
    if not (feature_dir / MANIFEST).is_file():
        return 0
    store = FeatureStore.open(feature_dir)
    return len(store) if store.tencrop == tencrop else 0


def _world(out: Path, name: str, n: int, seed: int, settings: DemoSettings, progress: bool, log) -> Path:
    world_dir = out / name
    if _world_done(world_dir, n):
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
        "* `gtloc`: the best place (the top of the 100k MP-16 GPS gallery after merging entries within 10 km, what "
        "`predict` answers); the time is the default read-out: the grid month/hour",
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

    plan = plan_demo(out, settings)
    factor = speed_factor()
    estimate = estimate_seconds(settings, plan) * factor
    took = f"{estimate:.0f} seconds" if estimate < 90 else f"{estimate / 60:.0f} minutes"
    log(
        f"gtloc demo into {out}: about {took} to {plan.describe()}; {DEMO_MEMORY} of memory, {demo_disk(settings)} "
        f"of disk (finished stages are reused; at this CPU's speed now, {factor:.1f} x an idle 2-core CPU's time)"
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
