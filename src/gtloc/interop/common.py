"""What both importers share: safe loading, encoder shapes read off the tensors, the import report, the run dir.

An import accounts for every tensor of the source: each one is either loaded into the gtloc model (``loaded``),
checked against an outside copy (``verified``, e.g. the CLIP backbone), or the import fails naming it.
Tensors of the gtloc model that the source lacks by design are listed in ``filled`` with what they hold.
"""

from __future__ import annotations

import hashlib
import math
import pickle
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.io import write_json
from gtloc.model.card import ModelCard, TrainingDataCard
from gtloc.model.gtloc import GTLoc
from gtloc.training.checkpoint import MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE

REPORT_FILE = "import_report.json"
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


@dataclass
class ImportReport:
    """Where every tensor went. ``loaded``: gtloc name -> source name (and conversion); ``verified``: source
    tensors checked equal to an outside copy; ``filled``: gtloc tensors the source does not have -> what they hold.
    """

    source: str
    run_dir: str = ""
    loaded: dict[str, str] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)
    filled: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """A few readable lines for the CLI."""
        lines = [
            f"imported {self.source} -> {self.run_dir}",
            f"  {len(self.loaded)} tensors loaded into the model, {len(self.verified)} backbone tensors verified",
        ]
        by_reason: dict[str, list[str]] = {}
        for name, why in self.filled.items():
            by_reason.setdefault(why, []).append(name)
        lines += [f"  filled {', '.join(names)}: {why}" for why, names in by_reason.items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)``: tensors and plain containers only."""
    path = Path(path)
    if not path.is_file():
        raise GtlocError(f"checkpoint not found: {path}")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GtlocError(f"{path}: not a loadable PyTorch state dict of tensors ({reason})") from None


def load_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """A ``name -> tensor`` state dict from ``path`` and notes on how it was unwrapped.

    Accepts a plain state dict, one wrapped in a ``state_dict`` / ``model_state_dict`` / ``model`` entry (the other
    entries are named in the notes) and keys with a DistributedDataParallel ``module.`` prefix.
    """
    obj, notes = safe_torch_load(path), []
    if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                others = sorted(str(k) for k in obj if k != key)
                notes.append(f"state dict read from the checkpoint's {key!r} entry; other entries not used: {others}")
                obj = obj[key]
                break
    if not isinstance(obj, dict):
        raise GtlocError(f"{path}: expected a state dict (name -> tensor), found a {type(obj).__name__}")
    not_tensors = sorted(str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor))
    if not_tensors:
        raise GtlocError(f"{path}: entries that are not tensors: {not_tensors}")
    if obj and all(str(k).startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
        notes.append("removed the 'module.' prefix (a DistributedDataParallel checkpoint)")
    return obj, notes


def require(state: dict[str, torch.Tensor], key: str, source: str, ndim: int) -> torch.Tensor:
    """``state[key]``, which must exist and have ``ndim`` dimensions; GtlocError naming it otherwise."""
    if key not in state:
        raise GtlocError(f"{source}: missing tensor {key!r}")
    if state[key].dim() != ndim:
        raise GtlocError(f"{source}: {key} has shape {tuple(state[key].shape)}, expected {ndim} dimensions")
    return state[key]


@dataclass(frozen=True)
class EncoderShape:
    """Sizes of a multi-scale RFF encoder read off its tensors (``LocEnc{i}`` / ``TimeEnc{i}`` branches)."""

    in_dim: int
    rff_dim: int
    hidden_dim: int
    out_dim: int
    sigmas: tuple[float, ...]


def rff_sigma(b: torch.Tensor) -> float:
    """The scale an RFF matrix ``b`` was drawn with: its standard deviation rounded to a power of two.

    Only documents the model (``config.*_sigmas``): the stored ``b`` itself is what the encoder uses.
    """
    return float(2.0 ** round(math.log2(max(float(b.double().std()), 1e-12))))


def encoder_shape(state: dict[str, torch.Tensor], prefix: str, first_linear: str, source: str) -> EncoderShape:
    """Shapes of the encoder whose branches are ``{prefix}{i}.capsule.0.b`` ... ``{prefix}{i}.head.0``.

    ``first_linear`` is the capsule index of the first Linear (``"1"``); the branches must be numbered 0..n-1.
    """
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.")
    found = sorted({int(m.group(1)) for key in state if (m := pattern.match(key))})
    if not found:
        raise GtlocError(f"{source}: no {prefix}* tensors")
    if found != list(range(len(found))):
        raise GtlocError(f"{source}: {prefix} branches must be numbered 0..{len(found) - 1}, found {found}")
    b = require(state, f"{prefix}0.capsule.0.b", source, 2)
    first = require(state, f"{prefix}0.capsule.{first_linear}.weight", source, 2)
    head = require(state, f"{prefix}0.head.0.weight", source, 2)
    sigmas = tuple(rff_sigma(require(state, f"{prefix}{i}.capsule.0.b", source, 2)) for i in found)
    return EncoderShape(int(b.shape[1]), int(b.shape[0]), int(first.shape[0]), int(head.shape[0]), sigmas)


def check_run_dir(out_dir: str | Path, overwrite: bool) -> Path:
    """``out_dir`` as a Path; refuses to replace a model already there unless ``overwrite``."""
    out_dir = Path(out_dir)
    existing = [name for name in (MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE) if (out_dir / name).exists()]
    if existing and not overwrite:
        existing_names = ", ".join(existing)
        raise ParameterError(
            f"{out_dir} already holds a model ({existing_names}); pass ", Param("overwrite", True), " to replace it"
        )
    return out_dir


def files_digest(*paths: str | Path) -> str:
    """SHA-256 of the bytes of ``paths`` in order (the imported weights, for the model card)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def save_run_dir(model: GTLoc, out_dir: Path, report: ImportReport, weights: list[Path], trained_on: str) -> None:
    """Write the model (``config.json``, ``model.safetensors``), ``import_report.json`` and the model card into
    ``out_dir``. ``weights``: the imported files (named with their digest in the card); ``trained_on``: what the
    card says about the authors' training data (not shipped with the weights: no domain check, no calibration)."""
    report.run_dir = str(out_dir)
    model.save_pretrained(out_dir)
    write_json(out_dir / REPORT_FILE, report.to_dict())
    card = ModelCard(
        source="imported",
        training_data=TrainingDataCard(domain="unknown", description=trained_on),
        backbone=model.config.backbone,
        backbone_path=model.config.backbone_path,
        imported_from={"file": ", ".join(str(p) for p in weights), "sha256": files_digest(*weights)},
    )
    card.save(out_dir)
