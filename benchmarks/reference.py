"""The straightforward implementations gtloc's fast paths are measured against (re-created, same model sizes).

* :func:`geoclip_predict`: GeoCLIP's ``predict`` shape: the 100k GPS gallery is encoded on every call.
* :func:`official_eval_top1`: the released evaluation loop's shape: gallery encoded once, then per batch of
  queries a full ``(batch, G)`` float32 matmul and an argmax.
* :func:`plain_train_step`: one step that re-encodes both full label queues with gradient (the exact objective).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.training.objective import Objective


@torch.no_grad()
def geoclip_predict(
    model: GTLoc, features: torch.Tensor, gps_labels: torch.Tensor, top_k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, D)`` features -> top-k ``(N, k, 2)`` places and ``(N, k)`` probabilities, encoding the gallery anew."""
    gallery = F.normalize(model.location_encoder(gps_labels), dim=1)
    image = F.normalize(model.image_encoder(features), dim=1)
    probs = (model.scale("img_gps_logit_scale") * image @ gallery.T).softmax(dim=1)
    top_probs, idx = probs.topk(top_k, dim=1)
    return gps_labels[idx], top_probs


@torch.no_grad()
def official_eval_top1(queries: torch.Tensor, gallery: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Top-1 gallery index ``(N,)`` for ``(N, E)`` queries: chunked float32 matmul + argmax."""
    return torch.cat([(chunk @ gallery.T).argmax(dim=1) for chunk in queries.split(batch_size)])


def plain_train_step(
    model: GTLoc,
    optimizer: torch.optim.Optimizer,
    features: torch.Tensor,
    latlon: torch.Tensor,
    times: torch.Tensor,
    tau: float = 0.3,
) -> float:
    """One AdamW step on the six terms, with both queues re-encoded with gradient; returns the loss value."""
    terms = Objective(model, GTLocLoss(tau, use_queues=True), queue_grad=True)(features, latlon, times)
    optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    optimizer.step()
    model.enqueue(latlon, times)
    return float(terms["loss"].detach())
