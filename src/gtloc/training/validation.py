"""Validation during training: held-out rows, protocol metrics at a fixed step interval, the selected checkpoint.

``TrainConfig.val_split`` holds out a random fraction of the rows; ``val_group`` holds out whole groups of a
records column (e.g. ``camera``: the metrics then say how the model does on cameras it never saw). Every
``val_every`` steps (default: once per epoch) the model is scored on them:

* ``hour`` / ``month``: mean cyclic errors of the least-expected-error answer under the model's posterior over its time
  gallery (the ``bayes`` read-out of :class:`~gtloc.retrieval.time_posterior.TimePosterior`, the answer ``predict``
  gives from that posterior); ``hour_argmax`` / ``month_argmax``: those of its ``argmax`` read-out (the paper's), logged
  only. Selecting by the argmax picked step 30 of 200 on the demo (test hour 3.33 h, month 2.48 against 3.19 h, 2.14 for
  the last step): on a few hundred rows the argmax's error is flat and noisy while the posterior still improves;
* ``geo``: median km of the top-1 place among the distinct training places (a cheap stand-in for the GPS gallery);
* ``loss``: the training objective on the held-out rows (eval mode, the queues untouched).

The step with the best ``select`` metric is kept (``best/`` in the run directory, so that a resumed run keeps it)
and becomes the run's ``model.safetensors``; ``patience`` validations without improvement stop the run early.
``select: last`` keeps the last step (the held-out rows are then only scored, and used at the end of training to
fit the temperatures and the domain check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gtloc.data.features import picture_features
from gtloc.errors import Param, ParameterError
from gtloc.geo import haversine_km
from gtloc.io import write_json
from gtloc.labels import has_label
from gtloc.model.gtloc import GTLoc
from gtloc.retrieval.galleries import build_time_gallery
from gtloc.retrieval.search import gallery_logits, search
from gtloc.retrieval.time_posterior import TimeGallery, TimePosterior
from gtloc.timecode import hour_error, month_error

BEST_DIR = "best"
SELECTION_FILE = "selection.json"


def validation_rows(n: int, seed: int, split: float, groups: list[str] | None) -> np.ndarray:
    """A boolean mask ``(n,)`` of held-out rows: whole groups (``groups`` given, one value per row) holding about
    ``split`` of the rows (at least one group, never all), or a random ``split`` fraction of the rows."""
    rng = np.random.default_rng(seed + 7717)
    if groups is None:
        count = max(1, round(split * n))
        if count >= n:
            raise ParameterError(Param("val_split"), f" {split} leaves no training rows out of {n}")
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, count, replace=False)] = True
        return mask
    values = np.array(groups)
    names = sorted(set(values.tolist()))
    if len(names) < 2:
        raise ParameterError(Param("val_group"), f" has {len(names)} group(s): validation needs at least 2")
    order = rng.permutation(len(names))
    target, held = max(split, 0.0) * n, []
    for i in order:
        held.append(names[i])
        if len(held) == len(names) - 1 or np.isin(values, held).sum() >= target:
            break
    return np.isin(values, held)


@dataclass
class Selection:
    """The best validation so far: ``step``, ``value`` of the ``select`` metric, validations since it improved."""

    step: int = 0
    value: float = float("inf")
    stale: int = 0

    @classmethod
    def load(cls, run_dir: Path) -> Selection:
        path = run_dir / BEST_DIR / SELECTION_FILE
        if not path.is_file():
            return cls()
        return cls(**json.loads(path.read_text()))

    def update(self, step: int, value: float, model: GTLoc, run_dir: Path) -> bool:
        """Record a validation; keep the model in ``run_dir/best`` when it improves. True when it improved."""
        if value < self.value:
            self.step, self.value, self.stale = step, value, 0
            model.save_pretrained(run_dir / BEST_DIR)
            write_json(run_dir / BEST_DIR / SELECTION_FILE, vars(self))
            return True
        self.stale += 1
        write_json(run_dir / BEST_DIR / SELECTION_FILE, vars(self))
        return False


@torch.no_grad()
def validation_metrics(
    model: GTLoc, features: torch.Tensor, latlon: torch.Tensor, times: torch.Tensor, places: torch.Tensor, loss_fn
) -> dict[str, float]:
    """Metrics of the held-out rows (module docstring): ``features`` ``(V, D)`` or ``(V, C, D)``, ``latlon``
    ``(V, 2)``, ``times`` ``(V, 5)``; ``places`` ``(P, 2)`` the distinct training places; ``loss_fn(features,
    latlon, times)`` the objective. NaN where no held-out row has that label. The inputs may be on the CPU; the
    model runs on its own device."""
    was_training = model.training
    model.eval()
    device = model.device
    img = model.embed_images(features.to(device, torch.float32))
    out = {"hour": float("nan"), "month": float("nan"), "geo": float("nan")}
    has_time = has_label(times)
    if has_time.any() and model.time_encoder is not None:
        gallery = build_time_gallery(model.config.gallery)
        time_emb = model.encode_time(gallery.to(device))
        logits = gallery_logits(img[has_time.to(device)], time_emb, float(model.scale("img_time_logit_scale")))
        truth = times[has_time].numpy().astype(float)
        posterior = TimePosterior.build(TimeGallery(gallery), logits.float().cpu())
        answers = {"": posterior.best("bayes"), "_argmax": posterior.best("argmax")}
        for suffix, guess in answers.items():
            out["hour" + suffix] = float(np.mean(hour_error(guess.numpy().astype(float), truth)))
            out["month" + suffix] = float(np.mean(month_error(guess.numpy().astype(float), truth)))
    has_gps = has_label(latlon)
    if has_gps.any() and len(places):
        best = search(img[has_gps.to(device)], model.encode_location(places.to(device)), k=1).indices[:, 0].cpu()
        out["geo"] = float(np.median(haversine_km(places[best].numpy(), latlon[has_gps].numpy())))
    flat = picture_features(features)
    out["loss"] = float(loss_fn(flat.to(device), latlon.to(device), times.to(device))["loss"])
    model.train(was_training)
    return out
