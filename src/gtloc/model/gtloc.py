"""The GT-Loc model: three encoders into one 512-d space, six logit scales, and the GPS/time label queues."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gtloc.errors import GtlocError
from gtloc.io import atomic_path, existing_folder, write_json
from gtloc.labels import has_label
from gtloc.model.config import LOGIT_SCALE_NAMES, GTLocConfig
from gtloc.model.encoders import ImageHead, LocationEncoder, TimeEncoder
from gtloc.model.queues import LabelQueue

# The files of save_pretrained (a run directory adds the training files: gtloc.training.checkpoint).
MODEL_CONFIG_FILE = "config.json"
MODEL_WEIGHTS_FILE = "model.safetensors"


class GTLoc(nn.Module):
    """Image head + ``TimeEncoder`` + ``LocationEncoder``; every ``encode_*`` returns L2-normalised embeddings.

    Parameters named as in the GT-Loc release: ``image_encoder`` (the head over frozen backbone features),
    ``location_encoder``, ``time_encoder``, the six ``*_logit_scale`` scalars (log of the scale), and the
    label queues ``gps_queue`` (``(Q, 2)`` lat/lon degrees) and ``time_queue`` (``(Q, 5)`` timestamps).
    """

    def __init__(self, config: GTLocConfig | None = None):
        super().__init__()
        self.config = config = config or GTLocConfig()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.image_encoder = ImageHead(
                config.feature_dim, config.image_hidden_dim, config.embed_dim, config.image_input_dropout
            )
            self.location_encoder = LocationEncoder(
                config.location_sigmas, config.rff_dim, config.encoder_hidden_dim, config.embed_dim, seed=config.seed
            )
            self.time_encoder: TimeEncoder | None = None
            if config.has_time_encoder:
                self.time_encoder = TimeEncoder(
                    config.time_sigmas,
                    config.rff_dim,
                    config.encoder_hidden_dim,
                    config.embed_dim,
                    time_input=config.time_input,
                    dropout=config.time_dropout,
                    seed=config.seed + 1,
                )
        for name in LOGIT_SCALE_NAMES:
            setattr(self, name, nn.Parameter(torch.tensor(float(config.logit_scale_init))))
        if config.fixed_img_time_scale is not None:
            self.img_time_logit_scale.data.fill_(math.log(config.fixed_img_time_scale))
            self.img_time_logit_scale.requires_grad_(False)
        self.gps_queue = LabelQueue(config.queue_size, 2)
        self.time_queue = LabelQueue(config.queue_size, 5)

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (``model.to(device)`` moves them)."""
        return self.img_gps_logit_scale.device

    def scale(self, name: str) -> torch.Tensor:
        """The multiplicative logit scale ``exp(param)``, clamped to ``config.logit_scale_max``."""
        return getattr(self, name).exp().clamp(max=self.config.logit_scale_max)

    def logit_scales(self) -> dict[str, torch.Tensor]:
        """The six multiplicative scales by term name (``"img_gps"``, ..., ``"gt2i"``): what ``GTLocLoss`` takes."""
        return {name.removesuffix("_logit_scale"): self.scale(name) for name in LOGIT_SCALE_NAMES}

    def encode_image(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(..., feature_dim)`` (e.g. ``(N, D)`` or ten-crop ``(N, 10, D)``) -> ``(..., 512)``,
        one embedding per crop. A picture's one query embedding is :meth:`embed_images`."""
        return F.normalize(self.image_encoder(features), dim=-1)

    def embed_images(self, features: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """One embedding per picture, ``(N, 512)`` L2-normalised, from backbone ``features`` ``(N, D)`` or ten-crop
        ``(N, C, D)``: the ten-crop rule (the only one in gtloc).

        With crops, each crop is embedded and L2-normalised, the C crop embeddings are averaged and the mean is
        L2-normalised again. Ranking a gallery by it is the same as averaging the crops' similarities (the paper's
        test-time augmentation); renormalising makes it a unit vector like every other embedding of the shared
        space, so the learned logit scales, fused ``(image + location)`` queries and cosine scores treat it as
        they treat a single crop. ``batch_size`` pictures are embedded at a time.
        """
        if features.dim() not in (2, 3):
            raise GtlocError(
                f"image features must be (N, feature_dim) or ten-crop (N, C, feature_dim), got {tuple(features.shape)}"
            )
        parts = []
        for chunk in features.split(batch_size):
            emb = self.encode_image(chunk)
            parts.append(F.normalize(emb.mean(dim=1), dim=-1) if emb.dim() == 3 else emb)
        return torch.cat(parts) if parts else features.new_empty(0, self.config.embed_dim)

    def encode_location(self, latlon: torch.Tensor) -> torch.Tensor:
        """``(N, 2)`` ``[lat, lon]`` degrees -> ``(N, 512)``."""
        return F.normalize(self.location_encoder(latlon), dim=-1)

    def encode_time(self, times: torch.Tensor) -> torch.Tensor:
        """``(N, 5)`` ``[month, day, hour, minute, second]`` local time -> ``(N, 512)``."""
        if self.time_encoder is None:
            raise GtlocError("this model has no time encoder (config has_time_encoder=false): it predicts places only")
        return F.normalize(self.time_encoder(times), dim=-1)

    @torch.no_grad()
    def enqueue(self, latlon: torch.Tensor, times: torch.Tensor) -> None:
        """Push a batch's labels into the queues; rows with a missing (NaN) label are left out of that queue."""
        self.gps_queue.push(latlon[has_label(latlon)])
        self.time_queue.push(times[has_label(times)])

    def fingerprint(self) -> str:
        """A short hash of the weights that galleries are encoded with (changes whenever any weight changes)."""
        import hashlib

        h = hashlib.sha256()
        for name, tensor in sorted(self.state_dict().items()):
            if name.endswith(("items", "ptr", "count")):
                continue
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (each atomically)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(directory / MODEL_WEIGHTS_FILE) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "gtloc", "backbone": self.config.backbone})
        write_json(directory / MODEL_CONFIG_FILE, self.config.to_dict())

    @classmethod
    def from_pretrained(cls, directory: str | Path, map_location: str = "cpu") -> GTLoc:
        """Load a model written by :meth:`save_pretrained`; a checkpoint of another shape gives a clear error."""
        directory = existing_folder(directory, "run folder")
        config_path, weights_path = directory / MODEL_CONFIG_FILE, directory / MODEL_WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise GtlocError(f"{directory} is not a gtloc checkpoint: {path.name} is missing")
        try:
            config = GTLocConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        except (ValueError, OSError) as exc:
            raise GtlocError(f"{config_path}: unreadable model config ({exc})") from None
        except GtlocError as exc:
            raise GtlocError(f"{config_path}: {exc}") from None
        try:
            state = load_file(str(weights_path), device=map_location)
        except (SafetensorError, OSError, ValueError) as exc:
            raise GtlocError(f"{weights_path}: unreadable safetensors file ({exc})") from None
        model = cls(config)
        model.load_weights(state, source=str(weights_path))
        return model.eval()

    def load_weights(self, state: dict[str, torch.Tensor], source: str = "state dict") -> None:
        """Load ``state`` strictly; missing, unexpected and mis-shaped tensors are all reported by name."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        mismatched = [
            f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
            for k in sorted(set(own) & set(state))
            if tuple(state[k].shape) != tuple(own[k].shape)
        ]
        problems = []
        if mismatched:
            problems.append("shape mismatches: " + "; ".join(mismatched))
        if missing:
            problems.append(f"missing tensors: {missing}")
        if unexpected:
            problems.append(f"unexpected tensors: {unexpected}")
        if problems:
            raise GtlocError(f"{source} does not fit this model config: " + " | ".join(problems))
        self.load_state_dict(state, strict=True)
