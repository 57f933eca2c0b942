"""Photometric statistics of a picture: how bright, how colourful and how contrasted it is, overall and by thirds.

Light transfers across scenes better than what an ImageNet network describes: the sky's colour and brightness,
the share of dark and bright pixels, the contrast of the ground, whatever the scene shows. On a few hundred frames
from a handful of webcams, a regression from such statistics beat the same regression on ImageNet features on
cameras it never saw (docs/small-data.md). They are also inputs of any check that reads the light of a picture.

:func:`photometric_statistics` maps RGB pixels in ``[0, 1]`` to :data:`NAMES` (``P = 50`` numbers, all in
``[0, 1]``), for any batch of pictures:

* the whole picture: mean and 10 / 50 / 90 % quantiles of R, G and B; the 10 / 50 / 90 % quantiles of the
  luminance; the dark (luminance < 0.1) and bright (> 0.9) fractions; the mean saturation; the contrast (the
  luminance's standard deviation); the chromaticities (mean of R / (R + G + B) and B / (R + G + B)); the mean
  gradient magnitude of the luminance (texture, sensor noise);
* each of the top, middle and bottom thirds (rows): mean R, G, B, mean luminance, saturation and contrast, and the
  dark and bright fractions.

The ``photometric`` backbone (:class:`PhotometricBackbone`) turns a picture into these statistics alone;
``NAME+photometric`` (e.g. ``efficientnet-lite0+photometric``, :class:`WithPhotometric`) appends them to a
network's features, computed on the same preprocessed crop (the network's input, un-normalised).
"""

from __future__ import annotations

import hashlib

import torch

from gtloc.backbones.base import Backbone
from gtloc.backbones.preprocess import Preprocess

NAME = "photometric"
SUFFIX = "+" + NAME
LUMA = (0.2126, 0.7152, 0.0722)
QUANTILES = (0.1, 0.5, 0.9)
DARK, BRIGHT = 0.1, 0.9
THIRDS = ("top", "middle", "bottom")
WHOLE_NAMES = (
    *(f"{c}_{s}" for c in "rgb" for s in ("mean", "q10", "q50", "q90")),
    "luma_q10",
    "luma_q50",
    "luma_q90",
    "dark_fraction",
    "bright_fraction",
    "saturation",
    "contrast",
    "chroma_r",
    "chroma_b",
    "gradient",
)
THIRD_NAMES = ("r_mean", "g_mean", "b_mean", "luma_mean", "saturation", "contrast", "dark_fraction", "bright_fraction")
NAMES: tuple[str, ...] = WHOLE_NAMES + tuple(f"{third}_{name}" for third in THIRDS for name in THIRD_NAMES)
FEATURE_DIM = len(NAMES)
# The photometric backbone's own input: the picture resized (shorter side 256) and centre-cropped, not normalised.
PREPROCESS = Preprocess(
    size=224, resize=256, interpolation="bilinear", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), tencrop_resize=256
)


def _luminance(pixels: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> ``(B, H, W)`` Rec. 709 luminance of the (gamma-encoded) values."""
    weights = torch.tensor(LUMA, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
    return (pixels * weights).sum(dim=1)


def _region(pixels: torch.Tensor, luma: torch.Tensor, saturation: torch.Tensor) -> list[torch.Tensor]:
    """The per-third statistics (:data:`THIRD_NAMES`) of one region: each ``(B,)``."""
    flat = luma.flatten(1)
    means = pixels.mean(dim=(2, 3))
    return [
        means[:, 0],
        means[:, 1],
        means[:, 2],
        flat.mean(dim=1),
        saturation.flatten(1).mean(dim=1),
        flat.std(dim=1, correction=0),
        (flat < DARK).float().mean(dim=1),
        (flat > BRIGHT).float().mean(dim=1),
    ]


@torch.inference_mode()
def photometric_statistics(pixels: torch.Tensor) -> torch.Tensor:
    """RGB pixels ``(B, 3, H, W)`` (or one picture ``(3, H, W)``) in ``[0, 1]`` -> ``(B, P)`` float32 statistics in
    :data:`NAMES` order (module docstring), each in ``[0, 1]``. ``H`` must be at least 3 (three thirds)."""
    single = pixels.dim() == 3
    x = (pixels[None] if single else pixels).float().clamp(0.0, 1.0)
    if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] < 3 or x.shape[3] < 2:
        raise ValueError(f"photometric statistics need RGB pixels (B, 3, H >= 3, W >= 2), got {tuple(pixels.shape)}")
    luma = _luminance(x)
    high, low = x.max(dim=1).values, x.min(dim=1).values
    saturation = torch.where(high > 1e-6, (high - low) / high.clamp_min(1e-6), torch.zeros_like(high))
    channels = x.flatten(2)
    q = torch.tensor(QUANTILES, dtype=x.dtype, device=x.device)
    channel_quantiles = torch.quantile(channels, q, dim=2).permute(1, 2, 0)  # (B, 3, 3): channel, quantile
    whole = []
    for c in range(3):
        whole += [channels[:, c].mean(dim=1), *channel_quantiles[:, c].unbind(dim=1)]
    flat = luma.flatten(1)
    total = channels.sum(dim=1).clamp_min(1e-6)
    dy, dx = luma[:, 1:, :-1] - luma[:, :-1, :-1], luma[:, :-1, 1:] - luma[:, :-1, :-1]
    whole += [
        *torch.quantile(flat, q, dim=1).unbind(dim=0),
        (flat < DARK).float().mean(dim=1),
        (flat > BRIGHT).float().mean(dim=1),
        saturation.flatten(1).mean(dim=1),
        flat.std(dim=1, correction=0),
        (channels[:, 0] / total).mean(dim=1),
        (channels[:, 2] / total).mean(dim=1),
        torch.sqrt(dx**2 + dy**2).flatten(1).mean(dim=1).clamp(max=1.0),
    ]
    parts = list(whole)
    for rows in torch.tensor_split(torch.arange(x.shape[2], device=x.device), 3):
        parts += _region(x[:, :, rows], luma[:, rows], saturation[:, rows])
    out = torch.stack(parts, dim=1)
    return out[0] if single else out


class PhotometricBackbone(Backbone):
    """The :data:`NAMES` statistics of the picture as its features (``P = 50``): no network, no weights."""

    name = NAME
    feature_dim = FEATURE_DIM
    preprocessing = PREPROCESS
    weights_id = "stats-" + hashlib.sha256(",".join(NAMES).encode()).hexdigest()[:12]

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        return photometric_statistics(batch.float().cpu())


class WithPhotometric(Backbone):
    """A network's features with the photometric statistics of its own input crop appended: ``(B, D + P)``.

    The statistics are computed on the network's preprocessed input mapped back to ``[0, 1]``
    (``x * std + mean``), so that one decode serves both and ten crops give ten sets of statistics."""

    def __init__(self, network: Backbone) -> None:
        self.network = network
        self.name = network.name + SUFFIX
        self.feature_dim = network.feature_dim + FEATURE_DIM
        self.preprocessing = network.preprocessing
        self.weights_id = f"{network.weights_id}+{PhotometricBackbone.weights_id}"
        self.runtime, self.device, self.precision = network.runtime, network.device, network.precision

    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.preprocessing.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(self.preprocessing.std, dtype=torch.float32).view(1, 3, 1, 1)
        pixels = batch.float().cpu() * std + mean
        return torch.cat([self.network.encode_images(batch).float().cpu(), photometric_statistics(pixels)], dim=1)
