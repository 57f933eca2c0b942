"""What every backbone offers: a name, a feature dimension, its preprocessing and ``encode_images``."""

from __future__ import annotations

import abc
from contextlib import AbstractContextManager
from typing import Any

import torch
from PIL import Image

from gtloc.backbones.preprocess import Preprocess
from gtloc.device import autocast


class Backbone(abc.ABC):
    """A frozen pretrained image encoder.

    ``feature_dim``: D, the size of one image feature. ``preprocessing``: the pipeline that turns a PIL
    image into network input. ``weights_id``: a short digest of the weights, so caches know what made them.
    ``runtime``: what runs the network (``"torch"`` or ``"onnxruntime"``); outputs agree to ~1e-4.
    ``device``: where the network runs; ``precision``: ``"fp32"``, or ``"bf16"`` / ``"fp16"`` autocast
    (:func:`gtloc.device.autocast`); a reduced precision is part of the :meth:`fingerprint` (cached features say
    how they were made).
    """

    name: str
    feature_dim: int
    preprocessing: Preprocess
    weights_id: str
    runtime: str = "torch"
    device: torch.device = torch.device("cpu")
    precision: str = "fp32"

    def preprocess(self, image: Image.Image, *, tencrop: bool = False) -> torch.Tensor:
        """RGB image -> ``(3, S, S)`` network input, or ``(10, 3, S, S)`` with ``tencrop``."""
        return self.preprocessing.tencrop(image) if tencrop else self.preprocessing(image)

    @abc.abstractmethod
    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` preprocessed images (on any device) -> ``(B, D)`` float32 features on the CPU."""

    def autocast(self) -> AbstractContextManager:
        """The autocast block of this backbone's :attr:`precision` on its :attr:`device`."""
        return autocast(self.device, self.precision)

    def fingerprint(self) -> dict[str, Any]:
        """What identifies features made by this backbone: name, dimension, weights, preprocessing, and the
        precision when it is not fp32 (features of every device in fp32 agree to float tolerance)."""
        out = {
            "backbone": self.name,
            "feature_dim": self.feature_dim,
            "weights": self.weights_id,
            "preprocess": self.preprocessing.fingerprint(),
        }
        if self.precision != "fp32":
            out["precision"] = self.precision
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, feature_dim={self.feature_dim}, runtime={self.runtime!r})"
