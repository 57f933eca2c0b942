"""Training the heads on cached backbone features: AdamW, warm-up + cosine, the six terms, queues, resumable.

A run directory holds ``train_config.yaml`` (every hyper-parameter used), ``log.jsonl`` (one line per
``log_every`` steps),
``training_state.safetensors`` (the resumable checkpoint, rewritten atomically every ``checkpoint_every``
steps) and, at the end, the model (``config.json`` + ``model.safetensors``) that ``predict`` loads and the
training pictures for the kNN read-out (``neighbours.safetensors``, :mod:`gtloc.retrieval.neighbours`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from gtloc.backbones.blocks import block_weights
from gtloc.data.samplers import CameraBalancedSampler
from gtloc.device import autocast, resolve_device
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.io import atomic_write_text, exclusive_lock, output_dir
from gtloc.labels import has_label
from gtloc.model.card import MODEL_CARD_FILE, ModelCard
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.retrieval.galleries import RUN_GALLERIES_DIR
from gtloc.retrieval.neighbours import NEIGHBOURS_FILE, NeighbourStore
from gtloc.training.checkpoint import (
    LOG_FILE,
    MODEL_WEIGHTS_FILE,
    TRAIN_CONFIG_FILE,
    TRAINING_STATE_FILE,
    TrainingState,
    load_training_state,
    save_training_state,
)
from gtloc.training.config import TrainConfig, load_train_config, save_train_config
from gtloc.training.distributed import DistContext, process_group, wrap_loss
from gtloc.training.held_out import DataSource, finish_run
from gtloc.training.objective import Objective
from gtloc.training.refit import refit
from gtloc.training.small_data import adapt_config, distinct_labels, group_column, small_data_validation
from gtloc.training.validation import BEST_DIR, Selection, validation_metrics, validation_rows

if TYPE_CHECKING:
    from gtloc.data.features import FeatureDirs


@dataclass
class TrainingData:
    """In-memory training set. ``features`` ``(N, D)`` or ten-crop ``(N, C, D)``; ``latlon`` ``(N, 2)`` degrees
    and ``times`` ``(N, 5)`` local time, NaN where a label is missing; ``source``: the records file they came
    from (for the model card)."""

    features: torch.Tensor
    latlon: torch.Tensor
    times: torch.Tensor
    backbone: str
    paths: list[str] | None = None
    cameras: list[str] | None = None
    extras: dict[str, list[str]] = field(default_factory=dict)
    source: DataSource | None = None

    def __len__(self) -> int:
        return self.features.shape[0]

    def digests(self) -> dict[str, str]:
        """Content digests of the ``records`` (paths and labels) and the ``features``: a resumed run must see the
        same data it started with."""

        def digest(*parts: bytes) -> str:
            h = hashlib.blake2b(digest_size=16)
            for part in parts:
                h.update(part)
            return h.hexdigest()

        paths = "\n".join(self.paths or []).encode()
        labels = torch.cat([self.latlon.float().flatten(), self.times.float().flatten()]).nan_to_num(-999.0)
        return {
            "records": digest(paths, labels.numpy().tobytes()),
            "features": digest(self.features.float().contiguous().numpy().tobytes()),
        }

    def subset(self, rows: np.ndarray) -> TrainingData:
        """The rows ``rows`` (integer positions or a boolean mask) of this set."""
        pick = np.arange(len(self))[rows].tolist()
        idx = torch.tensor(pick, dtype=torch.long)
        return TrainingData(
            features=self.features[idx],
            latlon=self.latlon[idx],
            times=self.times[idx],
            backbone=self.backbone,
            paths=None if self.paths is None else [self.paths[i] for i in pick],
            cameras=None if self.cameras is None else [self.cameras[i] for i in pick],
            extras={k: [v[i] for i in pick] for k, v in self.extras.items()},
            source=self.source,
        )


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay from ``lr`` to ``lr * min_lr_ratio``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(total_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _non_default(obj: object) -> dict:
    """The fields of a (nested) config dataclass that differ from their defaults."""
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            nested = _non_default(value)
            if nested:
                out[f.name] = nested
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if value != default:
            out[f.name] = value
    return out


# Fields that do not change what is computed: a run resumed with another value is the same run.
NOT_DIGESTED = ("log_every",)


def _config_digest(config: TrainConfig) -> str:
    """A digest of what a config sets; a field added later with a default does not change old runs' digests.

    The device is no part of it (a run trained on a GPU resumes on the CPU and back), nor is ``log_every``."""
    settings = {k: v for k, v in _non_default(config).items() if k not in NOT_DIGESTED}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=list).encode()).hexdigest()[:16]


def _param_groups(model: GTLoc, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _Batches:
    """Deterministic batches: a seeded order per epoch, so a resumed run sees the same batches.

    The order is a permutation, or with ``cameras`` a :class:`CameraBalancedSampler` draw of the same length.
    """

    def __init__(self, n: int, batch_size: int, seed: int, cameras: list[str] | None = None):
        self.n, self.seed = n, seed
        self.batch_size = min(batch_size, n)
        self.per_epoch = n // self.batch_size
        self._sampler = None if cameras is None else CameraBalancedSampler(cameras, n, seed)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, b = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            if self._sampler is None:
                gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
                self._perm = torch.randperm(self.n, generator=gen)
            else:
                self._sampler.set_epoch(epoch)
                self._perm = torch.tensor(list(self._sampler), dtype=torch.long)
            self._epoch = epoch
        return self._perm[b * self.batch_size : (b + 1) * self.batch_size]


def _batch_cameras(config: TrainConfig, data: TrainingData) -> list[str] | None:
    if config.sampler != "camera":
        return None
    if data.cameras is None:
        raise GtlocError("sampler 'camera' needs a camera column in the training records")
    return data.cameras


def _pick_crops(features: torch.Tensor, step: int, seed: int) -> torch.Tensor:
    """Ten-crop features ``(B, C, D)`` -> one random crop per sample ``(B, D)`` (test-time views as augmentation)."""
    if features.dim() == 2:
        return features
    gen = torch.Generator().manual_seed(seed * 7919 + step)
    crop = torch.randint(features.shape[1], (features.shape[0],), generator=gen)
    return features[torch.arange(features.shape[0]), crop]


def _truncate_log(path: Path, step: int) -> None:
    """Keep only log lines of steps the restored checkpoint has done (later ones are redone)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))


def _resolve_config(out_dir: Path, config: TrainConfig | None, resume: bool, data: TrainingData) -> TrainConfig:
    """The run's config: the one saved in ``out_dir`` when resuming (a different one is refused), else ``config``.

    The model's ``backbone`` and ``feature_dim`` always come from the training features.
    """
    if config is not None:
        config = _with_features(config, data)
    saved_path = out_dir / TRAIN_CONFIG_FILE
    if resume:
        if not saved_path.is_file():
            raise GtlocError(f"cannot resume: {saved_path} does not exist (is {out_dir} a gtloc training run?)")
        saved = load_train_config(saved_path)
        if config is not None and _config_digest(config) != _config_digest(saved):
            diff = sorted(k for k, v in config.to_dict().items() if saved.to_dict()[k] != v and k not in NOT_DIGESTED)
            raise ParameterError(
                f"cannot resume {out_dir} with a different config (differs in {diff}); use a new ", Param("out_dir")
            )
        return saved
    if (out_dir / TRAINING_STATE_FILE).exists():
        raise ParameterError(
            f"{out_dir} already holds a training run: pass ",
            Param("resume", True),
            " to continue it, or choose another ",
            Param("out_dir"),
        )
    return config or _with_features(TrainConfig(), data)


def _with_features(config: TrainConfig, data: TrainingData) -> TrainConfig:
    """The config with the model's backbone, feature size and crops from ``data``, adapted to its size
    (``small_data``)."""
    model = replace(
        config.model, backbone=data.backbone, feature_dim=data.features.shape[-1], tencrop=data.features.dim() == 3
    )
    config = small_data_validation(replace(config, model=model), len(data), data.extras)
    return adapt_config(config, len(data), distinct_labels(data.latlon, data.times))


def train(
    data: TrainingData,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    device: str | torch.device | None = "auto",
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
    cache_galleries: bool = True,
    log: Callable[[str], None] | None = None,
) -> GTLoc:
    """Train a GT-Loc model on ``data`` and save it in ``out_dir``; returns the trained model (on ``device``).

    ``device``: ``"auto"`` (CUDA when there), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
    (:func:`gtloc.device.resolve_device`); it is no part of the run's config, so a run resumes on another device.
    ``resume`` continues the run in
    ``out_dir`` from its last checkpoint with the config it saved. ``stop_after`` ends the run early after that
    many steps in total (the checkpoint is written first).
    Under ``torchrun`` (one process or more) each process uses ``cuda:LOCAL_RANK`` when CUDA is there, and each
    global batch of ``batch_size`` is split across the processes; the contrastive terms see the embeddings of all
    of them (``gtloc.training.distributed``), so the run matches a single process on the same batches; process 0
    writes the log, checkpoints and model.
    ``cache_galleries``: the galleries encoded at the end of training (to calibrate on the held-out rows) are kept in
    ``out_dir/galleries`` for ``predict`` to reuse (the 100k GPS gallery is 200 MB); ``False`` encodes them in memory.
    ``log`` hears what the end of training does that takes a while (calibrating, encoding a gallery).
    """
    args = (data, Path(out_dir), config, resume, progress, stop_after)
    with process_group(device) as ctx:
        here = ctx.device if ctx is not None else resolve_device(device)
        if ctx is not None and not ctx.is_main:
            return _train(*args, ctx, here, cache_galleries, say=log)
        with exclusive_lock(out_dir, "a training run"):
            model = _train(*args, ctx, here, cache_galleries, say=log)
            config = load_train_config(Path(out_dir) / TRAIN_CONFIG_FILE)
            if not config.refit or not (Path(out_dir) / MODEL_CARD_FILE).is_file():
                return model

            def train_all(folder: Path, settings: TrainConfig, again: bool) -> GTLoc:
                return _train(data, folder, settings, again, progress, None, None, here, False, say=log)

            return refit(Path(out_dir), config, len(data), train_all, log)


def _check_finite(step: int, out_dir: Path, last_good: int, what: str, value: torch.Tensor) -> None:
    """Stop the run at ``step`` (1-based) when ``value`` holds NaN or inf; the last checkpoint is left as it is."""
    if bool(torch.isfinite(value).all()):
        return
    shown = f" ({float(value)})" if value.numel() == 1 else ""
    state = out_dir / TRAINING_STATE_FILE
    kept = f"the checkpoint of step {last_good} in {state} is kept" if last_good else "no checkpoint yet"
    raise GtlocError(
        f"training stopped at step {step}: the {what} is not finite{shown}; {kept} (try a lower lr or grad_clip)"
    )


def _train(
    data: TrainingData,
    out_dir: Path,
    config: TrainConfig | None,
    resume: bool,
    progress: bool,
    stop_after: int | None,
    ctx: DistContext | None,
    device: torch.device,
    cache_galleries: bool,
    say: Callable[[str], None] | None,
) -> GTLoc:
    main = ctx is None or ctx.is_main
    output_dir(out_dir)
    config = _resolve_config(out_dir, config, resume, data)
    if not resume and main:
        save_train_config(config, out_dir / TRAIN_CONFIG_FILE)

    data, val = _split_validation(data, config, ctx)
    torch.manual_seed(config.seed)
    model = GTLoc(config.model)
    if not resume:
        model.image_encoder.set_feature_stats(data.features, block_weights(data.backbone, data.features.shape[-1]))
    model.to(device)
    loss_fn = GTLocLoss(config.tau, config.loss_weights, config.use_queues)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    batches = _Batches(len(data), config.batch_size, config.seed, _batch_cameras(config, data))
    total_steps = config.epochs * batches.per_epoch
    digest = _config_digest(config)
    data_digests = data.digests()

    start = 0
    if resume:
        state = load_training_state(out_dir / TRAINING_STATE_FILE, model, optimizer)
        if state.config_digest != digest:
            raise GtlocError(f"{out_dir / TRAINING_STATE_FILE} was written under another config; cannot resume it")
        changed = [k for k, v in data_digests.items() if state.data_digests.get(k) != v]
        if changed:
            raise GtlocError(
                f"cannot resume {out_dir}: its {' and '.join(changed)} differ from those the run started with; "
                "resume with the same records and features, or start a new run folder"
            )
        start = state.step
        if main:
            _truncate_log(out_dir / LOG_FILE, start)

    last_good = start
    if ctx is None:
        objective = Objective(model, loss_fn, config.queue_grad)
    else:
        objective = wrap_loss(model, loss_fn, config.queue_grad, ctx, batches.batch_size)
    end = total_steps if stop_after is None else min(total_steps, stop_after)
    every = config.val_every or batches.per_epoch
    selection = Selection.load(out_dir) if resume else Selection()
    stopped = val is not None and config.patience > 0 and selection.stale >= config.patience
    if stopped:
        end = start
    if resume and (start >= total_steps or stopped) and _finished(out_dir, digest):
        if say is not None and main:
            say(f"the run in {out_dir} finished at step {start}: loaded, not trained or calibrated again")
        return GTLoc.from_pretrained(out_dir).to(device)
    if resume and say is not None and main:
        say(f"resuming the run in {out_dir} from its checkpoint of step {start} of {total_steps}")
    places = torch.unique(data.latlon[has_label(data.latlon)], dim=0)
    model.train()
    bar = tqdm(
        total=total_steps, initial=start, disable=not (progress and main), desc="train", unit="step", dynamic_ncols=True
    )
    window = _LogWindow(time.perf_counter())
    # A fresh run starts a fresh log (a run killed before its first checkpoint leaves lines that are redone).
    with open(out_dir / LOG_FILE if main else os.devnull, "a" if resume else "w", encoding="utf-8") as log:
        for step in range(start, end):
            idx = batches.indices(step)
            lr = lr_at(step, total_steps, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            features = _pick_crops(data.features[idx], step, config.seed)
            if ctx is not None:
                features = features[ctx.shard(len(idx))]
            latlon, times = data.latlon[idx], data.times[idx]
            with autocast(device, config.precision):
                terms = objective(_to(features, device), _to(latlon, device), _to(times, device))
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            window.watch(step + 1, terms["loss"], norm)
            optimizer.step()
            model.enqueue(latlon, times)  # CPU labels: the queues copy them without waiting for the device
            window.add(terms)
            validate = val is not None and ((step + 1) % every == 0 or step + 1 == end)
            checkpoint = (step + 1) % config.checkpoint_every == 0 or step + 1 == end or validate
            if window.steps == config.log_every or checkpoint:
                values, seconds, bad = window.flush(time.perf_counter())
                if bad is not None:
                    _check_finite(bad[0], out_dir, last_good, bad[1], torch.tensor(bad[2]))
                record = {"step": step + 1, "epoch": step // batches.per_epoch + 1, "lr": lr, **values}
                record["seconds"] = seconds
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
            bar.update(1)
            if checkpoint:
                weights = torch.cat([p.detach().flatten() for p in model.parameters()])
                _check_finite(step + 1, out_dir, last_good, "model's weights", weights)
                if main:
                    save_training_state(
                        out_dir / TRAINING_STATE_FILE, model, optimizer, TrainingState(step + 1, digest, data_digests)
                    )
                last_good = step + 1
            if validate:
                metrics = validation_metrics(model, val.features, val.latlon, val.times, places, objective)
                line = {"step": step + 1, "validation": metrics}
                if config.select != "last":
                    if np.isnan(metrics[config.select]):
                        raise ParameterError(Param("select"), f" {config.select!r}: no held-out row has that label")
                    selection.update(step + 1, metrics[config.select], model, out_dir)
                    line["best_step"] = selection.step
                log.write(json.dumps(line) + "\n")
                log.flush()
                if config.patience and selection.stale >= config.patience:
                    stopped = True
                    break
            if checkpoint:
                window.reset(time.perf_counter())  # the seconds column times training steps
    bar.close()
    model.eval()
    if (end == total_steps or stopped) and main:
        if val is not None and selection.step:
            model.load_state_dict(GTLoc.from_pretrained(out_dir / BEST_DIR).state_dict())
            with open(out_dir / LOG_FILE, "a", encoding="utf-8") as log:
                chosen = {"selected_step": selection.step, "select": config.select, "value": selection.value}
                log.write(json.dumps(chosen) + "\n")
        model.save_pretrained(out_dir)
        weights = block_weights(data.backbone, data.features.shape[-1])
        neighbours = NeighbourStore.from_training(data.features, data.times, data.latlon, config.seed, weights)
        neighbours.save(out_dir / NEIGHBOURS_FILE)
        on_cpu = model if device.type == "cpu" else copy.deepcopy(model).cpu()
        held = None if val is None else (val.features, val.latlon, val.times)
        column = group_column(config, data.extras)
        finish_run(
            on_cpu,
            out_dir,
            data.features,
            held,
            data.source,
            len(data),
            digest,
            config.seed,
            neighbours=neighbours,
            cache_dir=out_dir / RUN_GALLERIES_DIR if cache_galleries else None,
            log=say,
            groups=data.extras.get(column) if column is not None else None,
            train_times=data.times,
            held_out_groups=None if val is None or column not in val.extras else len(set(val.extras[column])),
        )
    return model


def _finished(out_dir: Path, config_digest: str) -> bool:
    """Whether the run in ``out_dir`` wrote its model and, last of all, the model card of this config (so its
    calibration, domain profile and neighbours are there too): resuming it has nothing left to do."""
    card = ModelCard.load(out_dir)
    return card is not None and card.config_digest == config_digest and (out_dir / MODEL_WEIGHTS_FILE).is_file()


def _split_validation(
    data: TrainingData, config: TrainConfig, ctx: DistContext | None
) -> tuple[TrainingData, TrainingData | None]:
    """The training rows and the held-out validation rows (``None`` without ``val_split`` / ``val_group``)."""
    if not config.val_split and config.val_group is None:
        return data, None
    if ctx is not None:
        raise ParameterError(Param("val_split"), " / ", Param("val_group"), " run in a single process only")
    groups = None
    if config.val_group is not None:
        if config.val_group not in data.extras:
            columns = ", ".join(sorted(data.extras)) or "none"
            raise ParameterError(
                Param("val_group"), f" {config.val_group!r} is not a column of the training records (extra: {columns})"
            )
        groups = data.extras[config.val_group]
    held = validation_rows(len(data), config.seed, config.val_split, groups)
    return data.subset(~held), data.subset(held)


def _to(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch to the training device; from the CPU without waiting for the device (``non_blocking``)."""
    return tensor.to(device, non_blocking=True)


class _LogWindow:
    """The loss terms of the steps since the last log line, summed on the device, and the first step whose loss or
    gradient norm was not finite: read once per line (the only time a step waits for the device)."""

    WATCHED = ("loss", "gradient norm")

    def __init__(self, began: float) -> None:
        self.reset(began)

    def reset(self, began: float) -> None:
        """Start a new window at time ``began`` (``time.perf_counter()``)."""
        self.began, self.steps = began, 0
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.bad_code: torch.Tensor | None = None  # 2 * step + index in WATCHED, -1 while all are finite
        self.bad_value: torch.Tensor | None = None

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        self.steps += 1
        for name, value in terms.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value
            self.counts[name] = self.counts.get(name, 0) + 1

    def watch(self, step: int, loss: torch.Tensor, norm: torch.Tensor) -> None:
        """Note (on the device, without waiting) whether step ``step``'s loss or gradient norm is not finite."""
        for kind, value in enumerate((loss, norm)):
            value = value.detach().float()
            if self.bad_code is None:
                self.bad_code = torch.full((), -1, dtype=torch.long, device=value.device)
                self.bad_value = torch.zeros((), device=value.device)
            new = (self.bad_code < 0) & ~torch.isfinite(value)
            self.bad_value = torch.where(new, value, self.bad_value)
            self.bad_code = torch.where(new, 2 * step + kind, self.bad_code)

    def flush(self, now: float) -> tuple[dict[str, float], float, tuple[int, str, float] | None]:
        """Each term's mean over the steps that had it (5 decimals), the mean seconds per step, and the first
        ``(step, what, value)`` that was not finite (or None); then reset."""
        names = list(self.sums)
        parts = [self.sums[n].double() for n in names]
        if self.bad_code is not None:
            parts += [self.bad_code.double(), self.bad_value.double()]
        read = torch.stack(parts).tolist() if parts else []
        values = {n: round(t / self.counts[n], 5) for n, t in zip(names, read, strict=False)}
        bad = None
        if self.bad_code is not None and read[-2] >= 0:
            step, kind = divmod(int(read[-2]), 2)
            bad = (step, self.WATCHED[kind], read[-1])
        seconds = round((now - self.began) / max(self.steps, 1), 4)
        self.reset(now)
        return values, seconds, bad


def load_training_data(features_dir: FeatureDirs, records_path: str | Path, log=print) -> TrainingData:
    """The rows of ``records_path`` with their cached features from ``features_dir``, looked up by ``path``.

    ``features_dir``: one feature directory, or a list of them (e.g. the directories of sharded workers).

    Rows whose image failed to decode during feature extraction are skipped with a message; any other row
    without cached features is an error naming it.
    """
    from gtloc.data.features import FeatureStore
    from gtloc.data.schema import load_records

    records = load_records(records_path)
    store = FeatureStore.open(features_dir)
    failed = store.failed
    keep = [i for i, path in enumerate(records.paths) if path not in failed]
    if len(keep) < len(records):
        dropped = len(records) - len(keep)
        log(f"skipping {dropped} records whose images failed to decode (see failed.csv in {_named(features_dir)})")
        records = records.subset(keep)
    if len(records) == 0:
        raise GtlocError(f"{records_path}: no records with features to use")
    return TrainingData(
        features=store.load(records.paths).float(),
        latlon=torch.from_numpy(records.latlon.astype(np.float32)),
        times=torch.from_numpy(records.times.astype(np.float32)),
        backbone=store.backbone,
        paths=list(records.paths),
        cameras=records.extras.get("camera"),
        extras=dict(records.extras),
        source=DataSource.of(records_path),
    )


def _named(features_dir: FeatureDirs) -> str:
    return str(features_dir) if isinstance(features_dir, str | os.PathLike) else ", ".join(map(str, features_dir))
