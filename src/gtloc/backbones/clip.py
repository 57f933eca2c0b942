"""CLIP ViT-L/14, the paper's frozen backbone: 768-d projected image (and text) embeddings via ``transformers``.

Loaded offline only (``local_files_only=True``) from a directory the user gives or from the Hugging Face
cache; nothing is downloaded. Preprocessing is CLIP's own (bicubic resize, center crop, CLIP mean/std),
implemented here without torchvision.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess
from gtloc.errors import GtlocError, Param, ParameterError

NAME = "clip-vit-l-14"
HF_REPO = "openai/clip-vit-large-patch14"
FEATURE_DIM = 768
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HOW_TO_PROVIDE = (
    f"clip-vit-l-14 loads offline from a local copy of {HF_REPO}: pass ",
    Param("model_path", "DIR"),
    f" with a folder written by CLIPModel.from_pretrained('{HF_REPO}').save_pretrained(DIR) "
    "(save its CLIPTokenizer there too for text features), or set HF_HUB_CACHE to a Hugging Face cache "
    "that holds it",
)


def clip_preprocess(size: int = 224) -> Preprocess:
    """CLIP's pipeline for ``size`` px: shorter side to ``size`` (bicubic), center crop, CLIP mean/std."""
    return Preprocess(
        size=size,
        resize=size,
        interpolation="bicubic",
        mean=CLIP_MEAN,
        std=CLIP_STD,
        tencrop_resize=round(size * 256 / 224),
    )


def _embedding(output: Any) -> torch.Tensor:
    """transformers 4.x returns the projected embedding; 5.x an output object holding it as ``pooler_output``."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _config_digest(config: Any, parameters: list[torch.Tensor]) -> str:
    """16 hex digits identifying a model by its config and a checksum of its weights."""
    settings = {k: v for k, v in config.to_dict().items() if not k.startswith("_") and k != "transformers_version"}
    checksum = sum(float(p.detach().double().abs().sum()) for p in parameters)
    text = json.dumps(settings, sort_keys=True, default=str) + f"|{checksum:.6e}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ClipBackbone(Backbone):
    """CLIP image and text encoders: ``encode_images`` -> ``(B, D)``, ``encode_text`` -> ``(B, D)`` (D from config)."""

    name = NAME

    def __init__(
        self, model_path: str | Path | None = None, device: str | torch.device = "cpu", precision: str = "fp32"
    ) -> None:
        try:
            from transformers import CLIPModel
        except ImportError:
            raise GtlocError("clip-vit-l-14 needs the transformers package: pip install 'gtloc[clip]'") from None
        if model_path is not None and not Path(model_path).is_dir():
            raise ParameterError(f"CLIP model directory not found: {model_path}. ", *HOW_TO_PROVIDE)
        self.source = str(model_path) if model_path is not None else HF_REPO
        # Read HF_HUB_CACHE now: transformers only reads it once, when first imported.
        self.cache_dir = os.environ.get("HF_HUB_CACHE") if model_path is None else None
        try:
            model = CLIPModel.from_pretrained(self.source, local_files_only=True, cache_dir=self.cache_dir)
        except OSError as exc:
            where = (
                f"in {model_path}"
                if model_path is not None
                else f"in the Hugging Face cache ({os.environ.get('HF_HUB_CACHE', 'default location')})"
            )
            reason = str(exc).splitlines()[0]
            raise ParameterError(f"no CLIP model {where} ({reason}). ", *HOW_TO_PROVIDE) from None
        self.device, self.precision = torch.device(device), precision
        self.model = model.eval().to(self.device)
        self.feature_dim = int(model.config.projection_dim)
        self.preprocessing = clip_preprocess(int(model.config.vision_config.image_size))
        self.weights_id = _config_digest(model.config, list(model.parameters()))
        self._tokenizer: Any = None

    @torch.inference_mode()
    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        with self.autocast():
            output = self.model.get_image_features(pixel_values=batch.to(self.device, non_blocking=True))
        return _embedding(output).float().cpu()

    def tokenizer(self) -> Any:
        """The CLIP tokenizer saved beside the model (loaded on first use, offline)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                tokenizer = AutoTokenizer.from_pretrained(self.source, local_files_only=True, cache_dir=self.cache_dir)
            except (OSError, ValueError) as exc:
                reason = str(exc).splitlines()[0]
                raise ParameterError(f"no CLIP tokenizer in {self.source} ({reason}). ", *HOW_TO_PROVIDE) from None
            # transformers 5 builds an empty tokenizer when the vocabulary files are missing: refuse it.
            expected = int(self.model.config.text_config.vocab_size)
            if len(tokenizer) < 0.9 * expected:
                raise ParameterError(
                    f"no CLIP tokenizer in {self.source} (it has {len(tokenizer)} tokens, the text model expects "
                    f"{expected}). ",
                    *HOW_TO_PROVIDE,
                )
            self._tokenizer = tokenizer
        return self._tokenizer

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """B strings -> ``(B, D)`` float32 projected text embeddings."""
        tokens = self.tokenizer()(list(texts), padding=True, truncation=True, return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items()}
        with self.autocast():
            return _embedding(self.model.get_text_features(**tokens)).float().cpu()
