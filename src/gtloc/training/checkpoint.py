"""The run directory's file names, and the resumable training state in one safetensors file: model, optimiser,
RNG, step (written atomically); :class:`Checkpoints` writes it during a run and stops a run gone non-finite."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from gtloc.errors import GtlocError
from gtloc.io import atomic_path
from gtloc.model.gtloc import MODEL_CONFIG_FILE as MODEL_CONFIG_FILE
from gtloc.model.gtloc import MODEL_WEIGHTS_FILE as MODEL_WEIGHTS_FILE
from gtloc.model.gtloc import GTLoc

# A run directory: the trained model (``MODEL_CONFIG_FILE`` + ``MODEL_WEIGHTS_FILE``, written by the model's
# save_pretrained at the end), every hyper-parameter used, the resumable checkpoint, and one log line per step.
TRAIN_CONFIG_FILE = "train_config.yaml"
TRAINING_STATE_FILE = "training_state.safetensors"
LOG_FILE = "log.jsonl"


@dataclass
class TrainingState:
    """Where a run stands: ``step`` optimiser steps done, counted from 0 over all epochs; the digests of its config
    and of the data it trains on (:meth:`TrainingData.digests`), so a resume with other data is refused."""

    step: int
    config_digest: str
    data_digests: dict[str, str]


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors = {}
    scalars: dict[str, Any] = {"param_groups": state["param_groups"], "state_keys": {}}
    for idx, entry in state["state"].items():
        scalars["state_keys"][str(idx)] = sorted(entry)
        for name, value in entry.items():
            tensors[f"optim.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors, scalars


def save_training_state(path: str | Path, model: GTLoc, optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
    """Write model + optimiser + torch RNG + step to ``path`` atomically (a kill never leaves half a file)."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, optim_meta = _optimizer_tensors(optimizer)
    tensors.update(optim_tensors)
    tensors["rng.torch"] = torch.get_rng_state()
    metadata = {
        "step": str(state.step),
        "config_digest": state.config_digest,
        "data_digests": json.dumps(state.data_digests),
        "optimizer": json.dumps(optim_meta),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def saved_step(path: str | Path) -> int | None:
    """The step a training state at ``path`` was saved after (its metadata only), or ``None`` if there is none."""
    if not Path(path).is_file():
        return None
    with safe_open(str(path), framework="pt") as f:
        return int(f.metadata()["step"])


def load_training_state(path: str | Path, model: GTLoc, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore what :func:`save_training_state` wrote into ``model`` and ``optimizer``; returns the step."""
    path = Path(path)
    if not path.is_file():
        raise GtlocError(f"cannot resume: {path} does not exist (the run never reached its first checkpoint)")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError) as exc:
        raise GtlocError(f"cannot resume: {path} is not a readable training state ({exc})") from None
    model.load_weights({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, source=str(path))
    try:
        optim_meta = json.loads(metadata["optimizer"])
        optim_state: dict[str, Any] = {"param_groups": optim_meta["param_groups"], "state": {}}
        for idx, names in optim_meta["state_keys"].items():
            optim_state["state"][int(idx)] = {name: tensors[f"optim.{idx}.{name}"] for name in names}
        optimizer.load_state_dict(optim_state)
        torch.set_rng_state(tensors["rng.torch"])
        state = TrainingState(int(metadata["step"]), metadata["config_digest"], json.loads(metadata["data_digests"]))
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise GtlocError(
            f"cannot resume: {path} is damaged or from another version ({type(exc).__name__}: {exc})"
        ) from None
    return state


class Checkpoints:
    """A run's checkpoints at ``path``, of the config and data of those digests: each written (by process 0 only:
    ``write``) once the weights are checked finite. A loss, gradient norm or weight that is not finite stops the run,
    naming the last good checkpoint (the one of step ``last_good``; 0: none yet), which is left as it is."""

    def __init__(
        self,
        path: Path,
        model: GTLoc,
        optimizer: torch.optim.Optimizer,
        config_digest: str,
        data_digests: dict[str, str],
        write: bool,
        last_good: int,
    ) -> None:
        self.path, self.model, self.optimizer, self.write = path, model, optimizer, write
        self.config_digest, self.data_digests, self.last_good = config_digest, data_digests, last_good

    def save(self, step: int) -> None:
        """Write the checkpoint of step ``step`` (1-based: steps done)."""
        weights = torch.cat([p.detach().flatten() for p in self.model.parameters()])
        self.check_finite(step, "model's weights", weights)
        if self.write:
            save_training_state(
                self.path, self.model, self.optimizer, TrainingState(step, self.config_digest, self.data_digests)
            )
        self.last_good = step

    def check_finite(self, step: int, what: str, value: torch.Tensor | float) -> None:
        """Stop the run at ``step`` (1-based) when ``value`` (``what``: the loss, ...) holds NaN or inf."""
        value = torch.as_tensor(value)
        if bool(torch.isfinite(value).all()):
            return
        shown = f" ({float(value)})" if value.numel() == 1 else ""
        kept = (
            f"the checkpoint of step {self.last_good} in {self.path} is kept" if self.last_good else "no checkpoint yet"
        )
        raise GtlocError(
            f"training stopped at step {step}: the {what} is not finite{shown}; {kept} (try a lower lr or grad_clip)"
        )
