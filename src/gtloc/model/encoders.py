"""The three encoders into the shared space: random Fourier features, TimeEncoder, LocationEncoder, ImageHead.

Module layout follows GeoCLIP's location encoder (``LocEnc{i}.capsule.{0,1,3,5}``, ``LocEnc{i}.head.0``) so that
GeoCLIP's pretrained weights and the GT-Loc release load into it unchanged. The time encoder has the released
model's dropout slots after every ReLU (Linear layers at ``capsule.{1,4,7}``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from gtloc.geo import equal_earth
from gtloc.timecode import periodic_time_features, torus_angles

DEFAULT_SIGMAS = (2.0**0, 2.0**4, 2.0**8)
TIME_INPUTS = {"angles": 2, "periodic": 4}


class GaussianEncoding(nn.Module):
    """Random Fourier features ``[cos 2*pi*Bv, sin 2*pi*Bv]``, ``B ~ N(0, sigma^2)`` of shape ``(rff_dim, in_dim)``.

    ``B`` is fixed (``requires_grad=False``) and stored in the state dict as ``b``, so a saved model carries it;
    it is drawn from ``generator`` so that a seed reproduces it. Input ``(N, in_dim)`` -> ``(N, 2*rff_dim)``.
    """

    def __init__(self, sigma: float, in_dim: int, rff_dim: int = 256, generator: torch.Generator | None = None):
        super().__init__()
        self.sigma = float(sigma)
        self.b = nn.Parameter(torch.randn(rff_dim, in_dim, generator=generator) * sigma, requires_grad=False)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        vp = 2 * math.pi * v @ self.b.T
        return torch.cat((torch.cos(vp), torch.sin(vp)), dim=-1)


class RFFBranch(nn.Module):
    """One scale of the encoder: RFF -> ``512 -> 1024 -> 1024 -> 1024`` with ReLU -> ``1024 -> out_dim``.

    With ``dropout`` set, a Dropout follows every ReLU (the GT-Loc time encoder layout); without it the
    layout is GeoCLIP's location capsule.
    """

    def __init__(
        self,
        sigma: float,
        in_dim: int,
        rff_dim: int = 256,
        hidden_dim: int = 1024,
        out_dim: int = 512,
        dropout: float | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        layers: list[nn.Module] = [GaussianEncoding(sigma, in_dim, rff_dim, generator)]
        width = 2 * rff_dim
        for _ in range(3):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
            if dropout is not None:
                layers.append(nn.Dropout(dropout))
            width = hidden_dim
        self.capsule = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.capsule(x))


class _MultiScaleEncoder(nn.Module):
    """Sum of one :class:`RFFBranch` per sigma, registered as ``{prefix}{i}`` (``LocEnc0``, ``TimeEnc1``...)."""

    prefix = ""

    def __init__(
        self,
        in_dim: int,
        sigmas: Sequence[float],
        rff_dim: int,
        hidden_dim: int,
        out_dim: int,
        dropout: float | None,
        seed: int,
    ):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.sigmas = tuple(float(s) for s in sigmas)
        self.out_dim = out_dim
        for i, sigma in enumerate(self.sigmas):
            branch = RFFBranch(sigma, in_dim, rff_dim, hidden_dim, out_dim, dropout, generator)
            self.add_module(f"{self.prefix}{i}", branch)

    def branches(self) -> list[RFFBranch]:
        return [getattr(self, f"{self.prefix}{i}") for i in range(len(self.sigmas))]

    def encode_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Run the branches on already-prepared inputs ``(N, in_dim)`` -> ``(N, out_dim)`` (not normalised)."""
        out = self.branches()[0](x)
        for branch in self.branches()[1:]:
            out = out + branch(x)
        return out


class LocationEncoder(_MultiScaleEncoder):
    """GPS ``(N, 2)`` ``[lat, lon]`` degrees -> ``(N, out_dim)`` (unnormalised), via the Equal Earth projection.

    Same modules and state-dict keys as GeoCLIP's ``LocationEncoder`` (``LocEnc{i}.capsule.0.b`` ...).
    """

    prefix = "LocEnc"

    def __init__(
        self,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        rff_dim: int = 256,
        hidden_dim: int = 1024,
        out_dim: int = 512,
        seed: int = 0,
    ):
        super().__init__(2, sigmas, rff_dim, hidden_dim, out_dim, None, seed)

    def forward(self, latlon: torch.Tensor) -> torch.Tensor:
        return self.encode_inputs(equal_earth(latlon.to(self.branches()[0].capsule[0].b.dtype)))


class TimeEncoder(_MultiScaleEncoder):
    """Timestamps ``(N, 5)`` ``[month, day, hour, minute, second]`` -> ``(N, out_dim)`` (unnormalised).

    ``time_input="angles"`` feeds the torus angles ``(theta, phi)`` as the released GT-Loc model does;
    ``"periodic"`` feeds ``(cos theta, sin theta, cos phi, sin phi)``, continuous across Dec/Jan and midnight.
    """

    prefix = "TimeEnc"

    def __init__(
        self,
        sigmas: Sequence[float] = DEFAULT_SIGMAS,
        rff_dim: int = 256,
        hidden_dim: int = 1024,
        out_dim: int = 512,
        time_input: str = "periodic",
        dropout: float = 0.0,
        seed: int = 1,
    ):
        if time_input not in TIME_INPUTS:
            raise ValueError(f"time_input must be one of {sorted(TIME_INPUTS)}, got {time_input!r}")
        super().__init__(TIME_INPUTS[time_input], sigmas, rff_dim, hidden_dim, out_dim, dropout, seed)
        self.time_input = time_input

    def time_inputs(self, times: torch.Tensor) -> torch.Tensor:
        """``(N, 5)`` timestamps -> ``(N, 2 or 4)`` encoder inputs."""
        times = times.to(self.branches()[0].capsule[0].b.dtype)
        return torus_angles(times) if self.time_input == "angles" else periodic_time_features(times)

    def forward(self, times: torch.Tensor) -> torch.Tensor:
        return self.encode_inputs(self.time_inputs(times))


class ImageHead(nn.Module):
    """Trainable MLP over frozen backbone features: ``(N, feature_dim) -> (N, out_dim)`` (unnormalised).

    Features are first standardised with the stored ``feature_mean``/``feature_std`` buffers (identity until
    :meth:`set_feature_stats` is called), then ``input_dropout``, then ``mlp`` = Linear, ReLU, Linear
    (state-dict keys ``mlp.0``, ``mlp.2`` as in the GT-Loc release).
    """

    def __init__(self, feature_dim: int, hidden_dim: int = 768, out_dim: int = 512, input_dropout: float = 0.0):
        super().__init__()
        self.feature_dim = feature_dim
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))
        self.input_dropout = nn.Dropout(input_dropout)
        self.mlp = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))

    @torch.no_grad()
    def set_feature_stats(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Standardise with the mean and (population) std of ``(N, feature_dim)`` features (std floored at 1e-6);
        ``weights`` ``(feature_dim,)`` then scale the standardised features (stored as ``std / weights``, e.g. the
        feature blocks' weights of :func:`gtloc.backbones.blocks.block_weights`)."""
        flat = features.reshape(-1, self.feature_dim).float()
        std = flat.std(0, correction=0).clamp_min(1e-6)
        self.feature_mean.copy_(flat.mean(0))
        self.feature_std.copy_(std if weights is None else std / weights.to(std))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"ImageHead expects features of dim {self.feature_dim}, got {tuple(features.shape)}")
        x = (features.to(self.feature_mean.dtype) - self.feature_mean) / self.feature_std
        return self.mlp(self.input_dropout(x))
