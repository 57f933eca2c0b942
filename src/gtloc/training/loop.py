"""Training the heads on cached backbone features: AdamW, warm-up + cosine, the six terms, queues, resumable.

A run directory holds ``train_config.yaml`` (every hyper-parameter used), ``log.jsonl`` (one line per
``log_every`` steps),
``training_state.safetensors`` (the resumable checkpoint, rewritten atomically every ``checkpoint_every``
steps) and, at the end, the model (``config.json`` + ``model.safetensors``) that ``predict`` loads and the
training pictures for the kNN read-out (``neighbours.safetensors``, :mod:`gtloc.retrieval.neighbours`).

This module is the loop; the data and its batches are :mod:`~gtloc.training.data`, the run's identity and what a
resume checks :mod:`~gtloc.training.resume`, the log :mod:`~gtloc.training.run_log` and the end of the run
:mod:`~gtloc.training.finish`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gtloc.backbones.blocks import block_weights
from gtloc.device import autocast, resolve_device
from gtloc.errors import Param, ParameterError
from gtloc.io import exclusive_lock, output_dir
from gtloc.labels import has_label
from gtloc.model.card import MODEL_CARD_FILE
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.training.checkpoint import LOG_FILE, TRAIN_CONFIG_FILE, TRAINING_STATE_FILE, Checkpoints
from gtloc.training.config import TrainConfig, load_train_config, save_train_config
from gtloc.training.data import Batches, TrainingData, pick_crops, split_validation
from gtloc.training.distributed import DistContext, process_group, wrap_loss
from gtloc.training.finish import finish_training
from gtloc.training.objective import Objective
from gtloc.training.refit import refit
from gtloc.training.resume import config_digest, finished, resolve_config, restore
from gtloc.training.run_log import RunLog
from gtloc.training.validation import Selection, validation_metrics


def lr_at(step: int, total_steps: int, config: TrainConfig) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine decay from ``lr`` to ``lr * min_lr_ratio``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(total_steps - config.warmup_steps, 1)
    progress = min((step - config.warmup_steps) / span, 1.0)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _param_groups(model: GTLoc, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (decay if param.dim() >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


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
    say = _silent if log is None else log
    with process_group(device) as ctx:
        here = ctx.device if ctx is not None else resolve_device(device)
        if ctx is not None and not ctx.is_main:
            return _train(*args, ctx, here, cache_galleries, say=_silent)
        with exclusive_lock(out_dir, "a training run"):
            model = _train(*args, ctx, here, cache_galleries, say=say)
            config = load_train_config(Path(out_dir) / TRAIN_CONFIG_FILE)
            if not config.refit or not (Path(out_dir) / MODEL_CARD_FILE).is_file():
                return model

            def train_all(folder: Path, settings: TrainConfig, again: bool) -> GTLoc:
                return _train(data, folder, settings, again, progress, None, None, here, False, say=say)

            return refit(Path(out_dir), config, len(data), train_all, log)


def _silent(message: str) -> None:
    """Hears nothing: where ``train`` is given no ``log``, and in every process but the first."""


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
    say: Callable[[str], None],
) -> GTLoc:
    main = ctx is None or ctx.is_main
    output_dir(out_dir)
    config = resolve_config(out_dir, config, resume, data)
    if not resume and main:
        save_train_config(config, out_dir / TRAIN_CONFIG_FILE)
    data, val = split_validation(data, config, ctx)
    model = _new_model(config, data, resume).to(device)
    loss_fn = GTLocLoss(config.tau, config.loss_weights, config.use_queues)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    batches = Batches.of(data, config)
    total_steps = config.epochs * batches.per_epoch
    digest, data_digests = config_digest(config), data.digests()
    start = restore(out_dir, model, optimizer, digest, data_digests, main) if resume else 0
    checkpoints = Checkpoints(out_dir / TRAINING_STATE_FILE, model, optimizer, digest, data_digests, main, start)
    if ctx is None:
        objective = Objective(model, loss_fn, config.queue_grad)
    else:
        objective = wrap_loss(model, loss_fn, config.queue_grad, ctx, batches.batch_size)
    selection = Selection.load(out_dir) if resume else Selection()
    stopped = val is not None and config.patience > 0 and selection.stale >= config.patience
    end = start if stopped else (total_steps if stop_after is None else min(total_steps, stop_after))
    every = config.val_every or batches.per_epoch
    if resume and (start >= total_steps or stopped) and finished(out_dir, digest):
        say(f"the run in {out_dir} finished at step {start}: loaded, not trained or calibrated again")
        return GTLoc.from_pretrained(out_dir).to(device)
    if resume:
        say(f"resuming the run in {out_dir} from its checkpoint of step {start} of {total_steps}")
    places = torch.unique(data.latlon[has_label(data.latlon)], dim=0)
    model.train()
    with RunLog(out_dir / LOG_FILE if main else None, resume, total_steps, start, progress and main) as log:
        for step in range(start, end):
            idx = batches.indices(step)
            lr = lr_at(step, total_steps, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            features = pick_crops(data.features[idx], step, config.seed)
            if ctx is not None:
                features = features[ctx.shard(len(idx))]
            latlon, times = data.latlon[idx], data.times[idx]
            with autocast(device, config.precision):
                terms = objective(_to(features, device), _to(latlon, device), _to(times, device))
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            log.window.watch(step + 1, terms["loss"], norm)
            optimizer.step()
            model.enqueue(latlon, times)  # CPU labels: the queues copy them without waiting for the device
            log.window.add(terms)
            validate = val is not None and ((step + 1) % every == 0 or step + 1 == end)
            checkpoint = (step + 1) % config.checkpoint_every == 0 or step + 1 == end or validate
            if log.window.steps == config.log_every or checkpoint:
                bad = log.steps_line(step + 1, step // batches.per_epoch + 1, lr)
                if bad is not None:
                    checkpoints.check_finite(*bad)
            log.bar.update(1)
            if checkpoint:
                checkpoints.save(step + 1)
            if validate:
                log.write(_validate(model, val, places, objective, config, selection, out_dir, step + 1))
                if config.patience and selection.stale >= config.patience:
                    stopped = True
                    break
            if checkpoint:
                log.window.reset(time.perf_counter())  # the seconds column times training steps
    model.eval()
    if (end == total_steps or stopped) and main:
        finish_training(model, out_dir, data, val, config, selection, cache_galleries, say)
    return model


def _new_model(config: TrainConfig, data: TrainingData, resume: bool) -> GTLoc:
    """The model of ``config``, seeded; a new run's image encoder standardises ``data``'s features (a resumed one
    restores its statistics from the checkpoint)."""
    torch.manual_seed(config.seed)
    model = GTLoc(config.model)
    if not resume:
        model.image_encoder.set_feature_stats(data.features, block_weights(data.backbone, data.features.shape[-1]))
    return model


def _validate(
    model: GTLoc,
    val: TrainingData,
    places: torch.Tensor,
    objective: torch.nn.Module,
    config: TrainConfig,
    selection: Selection,
    out_dir: Path,
    step: int,
) -> dict:
    """The validation metrics after ``step`` steps, as a log line; ``selection`` keeps the best model so far by
    ``config.select`` (``places`` ``(P, 2)``: the distinct training places)."""
    metrics = validation_metrics(model, val.features, val.latlon, val.times, places, objective)
    line = {"step": step, "validation": metrics}
    if config.select != "last":
        if math.isnan(metrics[config.select]):
            raise ParameterError(Param("select"), f" {config.select!r}: no held-out row has that label")
        selection.update(step, metrics[config.select], model, out_dir)
        line["best_step"] = selection.step
    return line


def _to(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch to the training device; from the CPU without waiting for the device (``non_blocking``)."""
    return tensor.to(device, non_blocking=True)
