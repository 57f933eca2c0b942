"""A backbone's input pipeline as data: resize, crop size, interpolation and normalisation.

Being a plain frozen dataclass, it also serves as the preprocessing fingerprint stored with cached
features, so a cache made with one pipeline is never mixed with another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image

from gtloc.data.images import center_crop, resize_shorter, ten_crop, to_tensor


@dataclass(frozen=True)
class Preprocess:
    """Evaluation preprocessing: shorter side to ``resize``, center crop ``size``, then ``(x - mean) / std``.

    ``x`` is RGB in ``[0, 1]``. Ten-crop resizes the shorter side to ``tencrop_resize`` and takes ten ``size``
    crops (GT-Loc's test-time augmentation: 256 -> 224).
    """

    size: int
    resize: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    tencrop_resize: int

    def fingerprint(self) -> dict[str, Any]:
        """A JSON-able description that identifies this pipeline exactly."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def decode_side(self, tencrop: bool = False) -> int:
        """The shorter side (pixels) this pipeline resizes a picture to: what a decoder needs to keep
        (:func:`~gtloc.data.images.load_image`'s ``min_side``)."""
        return self.tencrop_resize if tencrop else self.resize

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(..., 3, H, W)`` in ``[0, 1]`` -> normalised, same shape."""
        mean = torch.tensor(self.mean, dtype=pixels.dtype).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=pixels.dtype).view(3, 1, 1)
        return (pixels - mean) / std

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> ``(3, size, size)`` float32 network input."""
        resized = resize_shorter(image, self.resize, self.interpolation)
        return self.normalize(to_tensor(center_crop(resized, self.size)))

    def tencrop(self, image: Image.Image) -> torch.Tensor:
        """RGB image -> ``(10, 3, size, size)`` float32 network inputs (4 corners + center, then flipped)."""
        crops = ten_crop(image, self.size, self.tencrop_resize, self.interpolation)
        return self.normalize(torch.stack([to_tensor(c) for c in crops]))
