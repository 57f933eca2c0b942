"""The model card (``model_card.json`` in every run directory): what a model was trained on and how far to trust it.

Written by training and by ``import-checkpoint``; shown by ``gtloc info RUN``, the web page, and summarised in one
line by ``predict`` and ``verify``. Fields:

* ``source``: ``"trained"`` (gtloc training) or ``"imported"`` (released weights; ``imported_from`` names the
  file and its SHA-256 digest);
* ``training_data``: the records file's name and SHA-256 digest, the number of pictures, and its ``domain``:
  ``"generated"`` (a synthetic world rendered by ``gtloc world``; ``world_seed``), ``"real photos"`` or
  ``"unknown"`` (imported weights: what the authors trained on is described in ``description``);
* ``backbone`` (and ``backbone_path``), ``config_digest`` (of the training config), ``created`` (UTC date);
* ``validation``: metrics on held-out pictures (empty when none were held out);
* ``calibration``: the posterior temperatures and the location weight (``calibration.json``);
* ``readout``: the run's time read-out (:mod:`gtloc.model.readouts`);
* ``domain_check``: how ``in_domain`` is decided (``domain.safetensors``), or ``None`` when the run has none.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gtloc.errors import GtlocError
from gtloc.io import existing_folder, write_json
from gtloc.model.readouts import DEFAULT_READOUT

MODEL_CARD_FILE = "model_card.json"
DOMAINS = ("generated", "real photos", "unknown")


@dataclass
class TrainingDataCard:
    """What the model was trained on: ``records`` file name, its ``records_sha256``, ``pictures`` used, ``domain``
    (one of :data:`DOMAINS`), ``world_seed`` for a generated world, and a free ``description``."""

    records: str | None = None
    records_sha256: str | None = None
    pictures: int | None = None
    domain: str = "unknown"
    world_seed: int | None = None
    description: str = ""

    def phrase(self) -> str:
        """``"2,700 generated pictures (synthetic world, seed 1)"`` and the like."""
        count = f"{self.pictures:,} " if self.pictures is not None else ""
        if self.domain == "generated":
            seed = f", seed {self.world_seed}" if self.world_seed is not None else ""
            return f"{count}generated pictures (synthetic world{seed}); it has never seen a real photo"
        if self.domain == "real photos":
            return f"{count}real photos"
        return self.description or "unknown training data"


@dataclass
class ModelCard:
    """See the module docstring for the fields."""

    source: str = "trained"
    training_data: TrainingDataCard = field(default_factory=TrainingDataCard)
    backbone: str = ""
    backbone_path: str | None = None
    config_digest: str | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d"))
    validation: dict[str, float] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    readout: str = DEFAULT_READOUT
    domain_check: dict[str, Any] | None = None
    imported_from: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "model card") -> ModelCard:
        try:
            values = dict(data)
            values["training_data"] = TrainingDataCard(**values.get("training_data", {}))
            return cls(**values)
        except TypeError as exc:
            raise GtlocError(f"{where}: unexpected fields ({exc})") from None

    def save(self, run_dir: str | Path) -> None:
        """Write ``run_dir/model_card.json`` atomically."""
        write_json(Path(run_dir) / MODEL_CARD_FILE, self.to_dict())

    @classmethod
    def load(cls, run_dir: str | Path) -> ModelCard | None:
        """The card in ``run_dir``, or ``None`` for a run directory written before cards existed."""
        path = Path(run_dir) / MODEL_CARD_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise GtlocError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, str(path))

    def summary(self) -> str:
        """One line for ``predict`` / ``verify``: source, data, backbone, read-out."""
        origin = "imported weights" if self.source == "imported" else f"trained {self.created}"
        return (
            f"model: {origin}, on {self.training_data.phrase()}; backbone {self.backbone}; time read-out {self.readout}"
        )

    def lines(self) -> list[str]:
        """Readable lines for ``gtloc info``: every field."""
        data = self.training_data
        out = [
            f"source:          {self.source}"
            + (
                f" ({self.imported_from.get('file')}, sha256 {self.imported_from.get('sha256')})"
                if self.imported_from
                else ""
            ),
            f"created:         {self.created}",
            f"training data:   {data.phrase()}",
        ]
        if data.records:
            out.append(f"records:         {data.records} (sha256 {data.records_sha256})")
        if data.description and data.domain != "unknown":
            out.append(f"description:     {data.description}")
        out.append(f"backbone:        {self.backbone}" + (f" ({self.backbone_path})" if self.backbone_path else ""))
        if self.config_digest:
            out.append(f"config digest:   {self.config_digest}")
        if self.validation:
            shown = ", ".join(
                f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in self.validation.items()
            )
            out.append(f"validation:      {shown}")
        else:
            out.append("validation:      none (no held-out pictures)")
        if self.calibration:
            out.append("calibration:     " + ", ".join(_calibration_item(k, v) for k, v in self.calibration.items()))
        else:
            out.append("calibration:     none (probabilities use the learned logit scales as they are)")
        out.append(f"time read-out:   {self.readout}")
        if self.domain_check:
            check = self.domain_check
            out.append(
                f"domain check:    {check['space']} of {check['reference']} training pictures; in domain when "
                f"domain_score >= {check['threshold']:g}"
            )
        else:
            out.append("domain check:    none (in_domain is not known for this model's answers)")
        return out


def run_card(run_dir: str | Path) -> ModelCard:
    """The model card of the run in ``run_dir``; for a run written before model cards, the little its
    ``config.json`` tells (backbone) and ``unknown`` for the rest. A folder without a model is an error."""
    from gtloc.model.gtloc import MODEL_CONFIG_FILE

    run_dir = existing_folder(run_dir, "run folder")
    config_path = run_dir / MODEL_CONFIG_FILE
    if not config_path.is_file():
        raise GtlocError(f"{run_dir} is not a gtloc run directory (no {MODEL_CONFIG_FILE})")
    card = ModelCard.load(run_dir)
    if card is not None:
        return card
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise GtlocError(f"{config_path}: not valid JSON ({exc})") from None
    return ModelCard(
        source="unknown",
        training_data=TrainingDataCard(description="unknown: the run has no model card (written by an older gtloc)"),
        backbone=str(config.get("backbone", "")),
        backbone_path=config.get("backbone_path"),
        created="unknown",
    )


def _calibration_item(name: str, value: float) -> str:
    """``place T=1.26`` for a temperature, ``location weight 0.25`` for the location-given time's weight."""
    return f"location weight {value:.3g}" if name == "location_weight" else f"{name} T={value:.3g}"
