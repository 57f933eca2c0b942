"""The training neighbours: the run's training pictures, kept for the kNN time posterior and the time prior.

Both live on the same time gallery ``(T, 5)`` as the model's posterior ``softmax(scale * <image, time>)``:

* **time kernel**: a training time ``t`` spreads over the gallery as ``softmax_g(-d(t, g) / bandwidth)``, ``d`` the
  torus distance in ``[0, sqrt(2)]`` (:func:`gtloc.timecode.torus_distance`); ``bandwidth`` 0.1 is about 1.3
  months or 2.6 hours at half weight.
* **time prior** ``(T,)``: the kernel averaged over the training times (daylight-heavy photo sets put little mass on
  the small hours); used as gallery weights, ``log prior`` is added to the model's logits.
* **kNN posterior** ``(Q, T)``: the ``k`` training pictures nearest to the query (cosine similarity of standardised
  backbone features), weighted ``softmax(similarity / temperature)``, their kernels summed. With few training
  pictures it tends to the prior, so it never does much worse than the best constant guess.

How these join the model's posterior (the ``mix`` read-out) is :mod:`gtloc.retrieval.time_posterior`. The training
run stores what the kNN posterior needs in ``neighbours.safetensors`` (:class:`NeighbourStore`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from gtloc.data.features import picture_features
from gtloc.errors import GtlocError
from gtloc.io import atomic_path
from gtloc.labels import has_label
from gtloc.timecode import torus_distance

NEIGHBOURS_FILE = "neighbours.safetensors"
KNN_K = 50
KNN_TEMPERATURE = 1.0
KERNEL_BANDWIDTH = 0.1
MAX_STORED = 20_000


def time_kernel(times: torch.Tensor, gallery: torch.Tensor, bandwidth: float = KERNEL_BANDWIDTH) -> torch.Tensor:
    """Each time ``(N, 5)`` spread over the gallery ``(T, 5)``: ``(N, T)``, rows summing to 1."""
    if bandwidth <= 0:
        raise GtlocError(f"kernel bandwidth must be > 0, got {bandwidth}")
    d = torus_distance(times[:, None, :].float(), gallery[None, :, :].float())
    return torch.softmax(-d / bandwidth, dim=1)


def time_prior(times: torch.Tensor, gallery: torch.Tensor, bandwidth: float = KERNEL_BANDWIDTH) -> torch.Tensor:
    """The training times' density on the gallery, ``(T,)`` summing to 1 (times ``(N, 5)``, NaN rows ignored)."""
    rows = has_label(times)
    if not rows.any():
        raise GtlocError("cannot estimate a time prior: no training record has a complete local time")
    return torch.cat([time_kernel(chunk, gallery, bandwidth) for chunk in times[rows].split(1024)]).mean(dim=0)


@dataclass
class NeighbourStore:
    """The training pictures for the kNN time posterior.

    ``features`` ``(N, D)``: backbone features standardised with ``mean``/``std`` ``(D,)`` and L2-normalised
    (float16 on disk); ``times`` ``(N, 5)`` local time and ``latlon`` ``(N, 2)`` degrees, NaN where missing;
    ``n_train``: pictures in the training set (``N`` is at most :data:`MAX_STORED` of them, a random subset).
    """

    features: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    times: torch.Tensor
    latlon: torch.Tensor
    n_train: int

    @classmethod
    def from_training(
        cls,
        features: torch.Tensor,
        times: torch.Tensor,
        latlon: torch.Tensor,
        seed: int = 0,
        weights: torch.Tensor | None = None,
    ) -> NeighbourStore:
        """From training ``features`` ``(N, D)`` or ten-crop ``(N, C, D)`` (crops averaged) and their labels;
        ``weights`` ``(D,)`` scale the standardised features (stored as ``std / weights``: the feature blocks'
        weights, :func:`gtloc.backbones.blocks.block_weights`)."""
        n = features.shape[0]
        x = picture_features(features)
        keep = torch.arange(n)
        if n > MAX_STORED:
            keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:MAX_STORED].sort().values
        mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
        if weights is not None:
            std = std / weights.to(std)
        return cls(
            features=cls._normalise(x[keep], mean, std).half(),
            mean=mean,
            std=std,
            times=times[keep].float(),
            latlon=latlon[keep].float(),
            n_train=n,
        )

    @staticmethod
    def _normalise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return F.normalize((x - mean) / std, dim=-1)

    def query(self, features: torch.Tensor) -> torch.Tensor:
        """Query features ``(Q, D)`` or ten-crop ``(Q, C, D)`` -> standardised, normalised ``(Q, D)``."""
        x = picture_features(features)
        if x.shape[1] != self.mean.shape[0]:
            raise GtlocError(f"features have dimension {x.shape[1]}, the stored training pictures {self.mean.shape[0]}")
        return self._normalise(x, self.mean, self.std)

    def time_posterior(
        self,
        features: torch.Tensor,
        gallery: torch.Tensor,
        k: int = KNN_K,
        temperature: float = KNN_TEMPERATURE,
        bandwidth: float = KERNEL_BANDWIDTH,
    ) -> torch.Tensor:
        """kNN posterior ``(Q, T)`` over ``gallery`` ``(T, 5)`` for query ``features`` (module docstring)."""
        rows = has_label(self.times)
        if not rows.any():
            raise GtlocError("the stored training pictures have no times: the kNN read-out cannot predict time")
        if k < 1 or temperature <= 0:
            raise GtlocError(f"kNN read-out needs k >= 1 and temperature > 0, got k={k}, temperature={temperature}")
        sim = self.query(features) @ self.features[rows].float().T
        top, idx = sim.topk(min(k, sim.shape[1]), dim=1)
        weights = torch.softmax(top / temperature, dim=1)
        kernels = time_kernel(self.times[rows], gallery, bandwidth)
        return torch.einsum("qk,qkt->qt", weights, kernels[idx])

    def save(self, path: str | Path) -> None:
        """Write the store as safetensors, atomically."""
        tensors = {
            "features": self.features.half().contiguous(),
            "mean": self.mean.contiguous(),
            "std": self.std.contiguous(),
            "times": self.times.contiguous(),
            "latlon": self.latlon.contiguous(),
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"format": "gtloc-neighbours", "n_train": str(self.n_train)})

    @classmethod
    def load(cls, path: str | Path) -> NeighbourStore:
        """Read a store written by :meth:`save`; a foreign or broken file is a clear error."""
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), "pt") as f:
                metadata = f.metadata() or {}
        except (SafetensorError, OSError) as exc:
            raise GtlocError(f"{path}: unreadable neighbours file ({exc})") from exc
        missing = {"features", "mean", "std", "times", "latlon"} - set(tensors)
        if missing or "n_train" not in metadata:
            raise GtlocError(f"{path}: not a gtloc neighbours file (missing {sorted(missing) or 'n_train'})")
        fields = ("features", "mean", "std", "times", "latlon")
        return cls(n_train=int(metadata["n_train"]), **{k: tensors[k] for k in fields})
