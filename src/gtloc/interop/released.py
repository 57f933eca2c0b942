"""The GT-Loc release's ``gtloc.pt`` -> a gtloc run directory (CLIP ViT-L/14 backbone from a local copy).

The release is a plain state dict:

* ``image_encoder.backbone.*``: a transformers ``CLIPModel`` (ViT-L/14). Not stored in the run dir: every one of
  these tensors is compared with the CLIP at ``clip_path``, which the run dir then names as its backbone.
* ``image_encoder.mlp.{0,2}``, ``location_encoder.LocEnc{i}.*``, ``time_encoder.TimeEnc{i}.*`` and the six
  ``*_logit_scale`` scalars: the same names in :class:`~gtloc.model.gtloc.GTLoc`, loaded as they are.
* ``gps_queue`` ``(2, Q)`` and ``time_queue`` ``(5, Q)``: transposed into ``gps_queue.items`` ``(Q, 2)`` and
  ``time_queue.items`` ``(Q, 5)``; their pointers (any name of :data:`POINTER_NAMES`) into ``*.ptr``.

The release's time encoder reads the torus angles (``time_input="angles"``, decided from the RFF matrix's width).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from gtloc.errors import GtlocError
from gtloc.geo import InvalidCoordinateError, validate_coordinates
from gtloc.interop.common import (
    ImportReport,
    check_run_dir,
    encoder_shape,
    load_state_dict,
    require,
    save_run_dir,
)
from gtloc.io import atomic_path
from gtloc.model.config import LOGIT_SCALE_NAMES, GalleryConfig, GTLocConfig
from gtloc.model.encoders import TIME_INPUTS
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import load_time_gallery_npy
from gtloc.timecode import InvalidTimeError, validate_times

BACKBONE_PREFIX = "image_encoder.backbone."
MODEL_PREFIXES = ("image_encoder.mlp.", "location_encoder.", "time_encoder.")
QUEUE_WIDTH = {"gps_queue": 2, "time_queue": 5}
POINTER_NAMES = {
    "gps_queue": ("gps_queue_ptr", "gps_ptr", "gps_queue_pointer", "queue_ptr"),
    "time_queue": ("time_queue_ptr", "time_ptr", "time_queue_pointer"),
}
CLIP_BACKBONE = "clip-vit-l-14"
# CLIP's initial temperature 0.07. The released code's fixed image-time scale is unknown to us; it only changes
# probabilities and posteriors, never the top-1 retrieval. Override with ``img_time_scale``.
DEFAULT_FIXED_IMG_TIME_SCALE = 1 / 0.07
TIME_GALLERY_FILE = "time_gallery.npy"
SHOWN_NAMES = 20


def _names(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_NAMES])
    return shown + (f" (and {len(keys) - SHOWN_NAMES} more)" if len(keys) > SHOWN_NAMES else "")


def split_release_state(state: dict[str, torch.Tensor], source: str) -> dict[str, dict[str, torch.Tensor]]:
    """Sort every tensor into ``backbone`` / ``model`` / ``queues`` / ``pointers``; unknown names are an error."""
    groups: dict[str, dict[str, torch.Tensor]] = {"backbone": {}, "model": {}, "queues": {}, "pointers": {}}
    pointer_names = {name for names in POINTER_NAMES.values() for name in names}
    unknown = []
    for key, tensor in state.items():
        if key.startswith(BACKBONE_PREFIX):
            groups["backbone"][key[len(BACKBONE_PREFIX) :]] = tensor
        elif key.startswith(MODEL_PREFIXES) or key in LOGIT_SCALE_NAMES:
            groups["model"][key] = tensor
        elif key in QUEUE_WIDTH:
            groups["queues"][key] = tensor
        elif key in pointer_names:
            groups["pointers"][key] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise GtlocError(
            f"{source}: tensors gtloc does not know: {_names(sorted(unknown))}. Known: {BACKBONE_PREFIX}*, "
            f"{', '.join(p + '*' for p in MODEL_PREFIXES)}, {', '.join(LOGIT_SCALE_NAMES)}, gps_queue, time_queue "
            f"and queue pointers named {sorted(pointer_names)}"
        )
    return groups


def release_config(
    model_state: dict[str, torch.Tensor], queue_size: int, source: str, img_time_scale: float | None = None
) -> GTLocConfig:
    """The :class:`GTLocConfig` whose modules have the shapes of the release's tensors."""
    w0 = require(model_state, "image_encoder.mlp.0.weight", source, 2)
    w2 = require(model_state, "image_encoder.mlp.2.weight", source, 2)
    loc = encoder_shape(model_state, "location_encoder.LocEnc", "1", source)
    time = encoder_shape(model_state, "time_encoder.TimeEnc", "1", source)
    inputs = {width: name for name, width in TIME_INPUTS.items()}
    if time.in_dim not in inputs:
        raise GtlocError(
            f"{source}: time_encoder.TimeEnc0.capsule.0.b has {time.in_dim} input columns; expected 2 or 4"
        )
    if loc.in_dim != 2:
        raise GtlocError(f"{source}: location_encoder.LocEnc0.capsule.0.b has {loc.in_dim} input columns; expected 2")
    for what, a, b in (("RFF size", loc.rff_dim, time.rff_dim), ("hidden width", loc.hidden_dim, time.hidden_dim)):
        if a != b:
            raise GtlocError(f"{source}: location and time encoders differ in {what} ({a} vs {b})")
    embed = {"image_encoder.mlp.2": int(w2.shape[0]), "location_encoder": loc.out_dim, "time_encoder": time.out_dim}
    if len(set(embed.values())) != 1:
        raise GtlocError(f"{source}: the encoders' output sizes differ: {embed}")
    fixed = None
    if "img_time_logit_scale" in model_state:
        if img_time_scale is not None:
            raise GtlocError(
                f"{source} has its own img_time_logit_scale; img_time_scale applies only when it is absent"
            )
    else:
        fixed = float(img_time_scale if img_time_scale is not None else DEFAULT_FIXED_IMG_TIME_SCALE)
        if not (math.isfinite(fixed) and fixed > 0):
            raise GtlocError(f"img_time_scale must be a positive number, got {fixed}")
    scales = [float(model_state[n].float().exp().max()) for n in LOGIT_SCALE_NAMES if n in model_state]
    return GTLocConfig(
        backbone=CLIP_BACKBONE,
        feature_dim=int(w0.shape[1]),
        embed_dim=loc.out_dim,
        image_hidden_dim=int(w0.shape[0]),
        encoder_hidden_dim=loc.hidden_dim,
        rff_dim=loc.rff_dim,
        location_sigmas=loc.sigmas,
        time_sigmas=time.sigmas,
        time_input=inputs[time.in_dim],
        queue_size=queue_size,
        logit_scale_max=max([100.0, *scales]),
        fixed_img_time_scale=fixed,
    )


def _queue_items(queues: dict[str, torch.Tensor], source: str) -> tuple[dict[str, torch.Tensor], int]:
    """``gps_queue (2, Q)`` / ``time_queue (5, Q)`` -> rows ``(Q, 2)`` / ``(Q, 5)`` float32, and Q."""
    items, sizes = {}, {}
    for name, width in QUEUE_WIDTH.items():
        queue = require(queues, name, source, 2)
        if queue.shape[0] != width:
            raise GtlocError(f"{source}: {name} has shape {tuple(queue.shape)}, expected ({width}, Q)")
        items[name] = queue.T.float().contiguous()
        sizes[name] = int(queue.shape[1])
    if len(set(sizes.values())) != 1:
        raise GtlocError(f"{source}: gps_queue and time_queue have different lengths {sizes}")
    return items, sizes["gps_queue"]


def _pointer(pointers: dict[str, torch.Tensor], queue: str, source: str, report: ImportReport) -> torch.Tensor:
    present = [name for name in POINTER_NAMES[queue] if name in pointers]
    if len(present) > 1:
        raise GtlocError(f"{source}: several pointers for {queue}: {present}")
    if not present:
        report.filled[f"{queue}.ptr"] = f"0 (no pointer in the checkpoint; looked for {list(POINTER_NAMES[queue])})"
        return torch.zeros((), dtype=torch.long)
    ptr = pointers[present[0]]
    if ptr.numel() != 1:
        raise GtlocError(f"{source}: {present[0]} has shape {tuple(ptr.shape)}, expected one number")
    report.loaded[f"{queue}.ptr"] = present[0]
    return ptr.reshape(()).long()


def _valid_labels(queue: str, rows: torch.Tensor) -> bool:
    try:
        (validate_coordinates if queue == "gps_queue" else validate_times)(rows.double().numpy())
    except (InvalidCoordinateError, InvalidTimeError):
        return False
    return True


def release_to_gtloc(
    state: dict[str, torch.Tensor], source: str = "checkpoint", img_time_scale: float | None = None
) -> tuple[GTLoc, dict[str, torch.Tensor], ImportReport]:
    """Build a :class:`GTLoc` from a release state dict.

    Returns the model (``backbone``/``backbone_path`` not yet set), the backbone tensors (names without the
    ``image_encoder.backbone.`` prefix) for the caller to verify, and the report. Missing, unexpected and
    mis-shaped tensors are reported by name (GtlocError).
    """
    report = ImportReport(source=source)
    groups = split_release_state(state, source)
    items, queue_size = _queue_items(groups["queues"], source)
    model = GTLoc(release_config(groups["model"], queue_size, source, img_time_scale))
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in groups["model"].items():
        if key in LOGIT_SCALE_NAMES and tensor.numel() == 1 and tensor.dim() > 0:
            converted[key] = tensor.reshape(())
            report.loaded[key] = f"{key} (reshaped from {tuple(tensor.shape)})"
        else:
            converted[key] = tensor
            report.loaded[key] = key
    own = model.state_dict()
    for key in ("image_encoder.feature_mean", "image_encoder.feature_std"):
        converted[key] = own[key]
        report.filled[key] = "identity standardisation (the release feeds CLIP features to the MLP as they are)"
    if "img_time_logit_scale" not in converted:
        converted["img_time_logit_scale"] = own["img_time_logit_scale"]
        report.filled["img_time_logit_scale"] = (
            f"log({model.config.fixed_img_time_scale:.6g}), fixed (absent from the checkpoint; config "
            "fixed_img_time_scale). It sets probabilities only, not the top-1 time"
        )
    for queue, rows in items.items():
        converted[f"{queue}.items"] = rows
        report.loaded[f"{queue}.items"] = f"{queue} (transposed to ({queue_size}, {rows.shape[1]}))"
        converted[f"{queue}.ptr"] = _pointer(groups["pointers"], queue, source, report)
        full = _valid_labels(queue, rows)
        converted[f"{queue}.count"] = torch.tensor(queue_size if full else 0, dtype=torch.long)
        report.filled[f"{queue}.count"] = (
            f"{queue_size} (a trained model's queue is full)"
            if full
            else "0: the queue holds values that are not valid labels (e.g. its random initialisation)"
        )
    model.load_weights(converted, source=source)
    return model.eval(), groups["backbone"], report


def _equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Exactly equal, compared in the lower precision of two floating tensors (an fp16 copy matches its fp32)."""
    if a.is_floating_point() and b.is_floating_point():
        low = a.dtype if torch.finfo(a.dtype).bits <= torch.finfo(b.dtype).bits else b.dtype
        return torch.equal(a.to(low), b.to(low))
    return torch.equal(a, b)


def verify_backbone(backbone_state: dict[str, torch.Tensor], clip_path: str | Path, report: ImportReport) -> int:
    """Compare every release backbone tensor with the CLIP at ``clip_path``; returns CLIP's feature dim.

    Tensors must be equal (in the lower precision of the two). Missing, extra and differing names are an error.
    ``*.embeddings.position_ids`` (saved by older transformers, not by newer ones) must equal ``arange``.
    """
    from gtloc.backbones import load_backbone

    clip = load_backbone(CLIP_BACKBONE, model_path=clip_path, fast=False)
    reference = clip.model.state_dict()
    if not backbone_state:
        report.notes.append(f"the checkpoint holds no {BACKBONE_PREFIX}* tensors: the CLIP at {clip_path} is used")
        return clip.feature_dim
    differ, extra = [], []
    for key, tensor in sorted(backbone_state.items()):
        ref = reference.get(key)
        if ref is None:
            ids = torch.arange(tensor.shape[-1]).expand_as(tensor) if tensor.dim() else None
            if key.endswith("embeddings.position_ids") and ids is not None and torch.equal(tensor.long(), ids):
                report.verified.append(BACKBONE_PREFIX + key)
                continue
            extra.append(key)
        elif ref.shape != tensor.shape:
            differ.append(f"{key} {tuple(tensor.shape)} vs {tuple(ref.shape)}")
        elif _equal(tensor, ref):
            report.verified.append(BACKBONE_PREFIX + key)
        else:
            differ.append(key)
    missing = sorted(set(reference) - set(backbone_state))
    problems = [
        f"{label}: {_names(keys)}"
        for label, keys in (("differ", differ), ("not in the CLIP", extra), ("missing from the checkpoint", missing))
        if keys
    ]
    if problems:
        raise GtlocError(
            f"the checkpoint's CLIP backbone does not match the CLIP at {clip_path} "
            f"({len(backbone_state)} tensors compared) — " + " | ".join(problems)
        )
    return clip.feature_dim


def import_released_checkpoint(
    checkpoint: str | Path,
    clip_path: str | Path,
    out_dir: str | Path,
    *,
    time_gallery: str | Path | None = None,
    img_time_scale: float | None = None,
    overwrite: bool = False,
) -> ImportReport:
    """Write a gtloc run dir for the release's ``gtloc.pt``, with the CLIP at ``clip_path`` as its backbone.

    ``time_gallery``: the release's ``.npy`` of ``[month, day, hour, minute, second]`` rows, copied into the run
    dir as its time gallery (default: gtloc's grid). ``img_time_scale``: the fixed image-time scale used when the
    checkpoint has no ``img_time_logit_scale`` (default ``1/0.07``). Nothing is written if any check fails.
    """
    out_dir = check_run_dir(out_dir, overwrite)
    state, notes = load_state_dict(checkpoint)
    model, backbone_state, report = release_to_gtloc(state, str(checkpoint), img_time_scale)
    report.notes += notes
    feature_dim = verify_backbone(backbone_state, clip_path, report)
    if feature_dim != model.config.feature_dim:
        raise GtlocError(
            f"the CLIP at {clip_path} gives {feature_dim}-d features but {checkpoint}'s image_encoder.mlp.0 "
            f"expects {model.config.feature_dim}"
        )
    gallery_rows = load_time_gallery_npy(time_gallery).numpy() if time_gallery is not None else None
    model.config.backbone_path = str(Path(clip_path).resolve())
    if gallery_rows is not None:
        target = (out_dir / TIME_GALLERY_FILE).resolve()
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, gallery_rows)
        model.config.gallery = GalleryConfig(time=str(target))
        report.notes.append(f"time gallery: {len(gallery_rows)} timestamps from {time_gallery}, copied to {target}")
    else:
        report.notes.append("time gallery: gtloc's day-of-year x time-of-day grid (the paper used its own .npy)")
    save_run_dir(
        model,
        out_dir,
        report,
        [Path(checkpoint)],
        "the GT-Loc authors' training photos (real photos, not shipped with gtloc.pt): unknown to gtloc",
    )
    return report
