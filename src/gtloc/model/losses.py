"""The six training terms of GT-Loc (method.md section 3), with per-sample masks for missing labels.

Every term is a cross-entropy between a target distribution over candidates and ``softmax(scale * sim)``:

=============  ==========================  ==========================  ==============================
term           query (rows)                candidates (columns)        targets
=============  ==========================  ==========================  ==============================
``img_gps``    image                       batch GPS + GPS queue       the image's own place (InfoNCE)
``img_time``   image                       batch times + time queue    toroidal soft targets
``gps_time``   location / time             times / batch locations     soft targets / own place
``ig2t``       normalise(image + location) batch times + time queue    toroidal soft targets
``it2g``       normalise(image + time)     batch GPS + GPS queue       own place
``gt2i``       normalise(location + time)  batch images                own image
=============  ==========================  ==========================  ==============================

A sample without GPS (or time) takes part in no term that needs it, neither as a query nor as a candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gtloc.model.gtloc import GTLoc
from gtloc.timecode import torus_distance

TERMS = ("img_gps", "img_time", "gps_time", "ig2t", "it2g", "gt2i")


def toroidal_soft_targets(
    query_times: torch.Tensor, candidate_times: torch.Tensor, tau: float, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """Soft targets ``q_ij = softmax_j(-d_ij / tau)`` from torus distances ``d`` in ``[0, sqrt(2)]``.

    ``query_times`` ``(N, 5)``, ``candidate_times`` ``(M, 5)`` -> ``(N, M)``, rows summing to 1. ``tau = 0`` gives
    one-hot targets on ``positives`` (``(N,)`` column indices, default ``0..N-1``): exact InfoNCE, the
    hard-target ablation.
    """
    n, m = query_times.shape[0], candidate_times.shape[0]
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    if tau == 0:
        cols = torch.arange(n, device=query_times.device) if positives is None else positives
        return F.one_hot(cols, m).to(query_times.dtype)
    d = torus_distance(query_times[:, None, :], candidate_times[None, :, :])
    return torch.softmax(-d / tau, dim=1)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``H(q, softmax(logits))``; ``logits`` and ``targets`` ``(N, M)``."""
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def toroidal_cross_entropy(
    logits: torch.Tensor, query_times: torch.Tensor, candidate_times: torch.Tensor, tau: float, positives: torch.Tensor
) -> torch.Tensor:
    """``H(q, softmax(logits))`` with toroidal soft targets ``q`` (``(N, M)`` logits, ``(N,)`` positive columns).

    ``tau = 0`` is computed as ``F.cross_entropy(logits, positives)``, so the hard-target ablation is InfoNCE
    bit for bit (a one-hot ``q`` is the same number only up to rounding).
    """
    if tau == 0:
        return F.cross_entropy(logits, positives)
    return soft_cross_entropy(logits, toroidal_soft_targets(query_times, candidate_times, tau))


@dataclass
class LossWeights:
    """Weight of each term in the total (0 switches a term off; the time-only ablation zeroes the GPS terms)."""

    img_gps: float = 1.0
    img_time: float = 1.0
    gps_time: float = 1.0
    ig2t: float = 1.0
    it2g: float = 1.0
    gt2i: float = 1.0


class GTLocLoss(nn.Module):
    """The weighted sum of the six terms. ``tau``: temperature of the toroidal soft targets (0 = hard)."""

    def __init__(
        self, tau: float = 0.3, weights: LossWeights | None = None, use_queues: bool = True, queue_grad: bool = True
    ):
        super().__init__()
        self.tau = tau
        self.weights = weights or LossWeights()
        self.use_queues = use_queues
        self.queue_grad = queue_grad

    def encode_candidates(
        self, encode: Callable[[torch.Tensor], torch.Tensor], batch_labels: torch.Tensor, queue_labels: torch.Tensor
    ) -> torch.Tensor:
        """Embeddings of the candidates ``[batch_labels; queue_labels]`` (the queue part only with ``use_queues``).

        ``queue_grad=True`` encodes both parts in one pass, with gradient (the exact objective).
        ``queue_grad=False`` encodes the queue without an autograd graph: the same forward values (up to float
        rounding from the split pass), but no gradient flows into the encoder through queue entries, which are
        treated as constants as in MoCo. It skips the backward pass through the queue (see docs/scale.md).
        """
        if not self.use_queues:
            return encode(batch_labels)
        if self.queue_grad:
            return encode(torch.cat([batch_labels, queue_labels]))
        with torch.no_grad():
            queue_emb = encode(queue_labels)
        return torch.cat([encode(batch_labels), queue_emb])

    def forward(
        self, model: GTLoc, features: torch.Tensor, latlon: torch.Tensor, times: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Loss terms for one batch.

        ``features`` ``(B, D)`` backbone features; ``latlon`` ``(B, 2)`` degrees; ``times`` ``(B, 5)`` local time;
        NaN marks a missing label. Returns ``{"loss": total, <term>: value, ...}`` for the terms that had rows.
        """
        w = asdict(self.weights)
        has_gps = torch.isfinite(latlon).all(dim=1)
        has_time = torch.isfinite(times).all(dim=1)
        joint = bool((has_gps & has_time).any()) and any(w[k] for k in ("gps_time", "ig2t", "it2g", "gt2i"))
        need_gps = bool(w["img_gps"] and has_gps.any()) or joint
        need_time = bool(w["img_time"] and has_time.any()) or joint

        img = model.encode_image(features)
        gps_queue, time_queue = model.gps_queue.contents(), model.time_queue.contents()
        loc_emb = self.encode_candidates(model.encode_location, latlon[has_gps], gps_queue) if need_gps else None
        time_emb = self.encode_candidates(model.encode_time, times[has_time], time_queue) if need_time else None
        return self.loss_from_embeddings(model, img, loc_emb, time_emb, latlon, times)

    def loss_from_embeddings(
        self,
        model: GTLoc,
        img: torch.Tensor,
        loc_emb: torch.Tensor | None,
        time_emb: torch.Tensor | None,
        latlon: torch.Tensor,
        times: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The terms from embeddings already computed (e.g. gathered across processes in ``training.distributed``).

        ``img`` ``(B, E)``; ``loc_emb`` ``(G + Qg, E)`` for the batch rows with GPS then the GPS queue;
        ``time_emb`` ``(T + Qt, E)`` likewise for times (without queues when ``use_queues`` is off). ``None``
        where no term needs them.
        """
        w = asdict(self.weights)
        has_gps = torch.isfinite(latlon).all(dim=1)
        has_time = torch.isfinite(times).all(dim=1)
        both = has_gps & has_time
        time_cand = torch.cat([times[has_time], model.time_queue.contents()]) if self.use_queues else times[has_time]
        # Position of each batch row among the batch candidates of its kind.
        gps_pos = torch.cumsum(has_gps.long(), 0) - 1
        time_pos = torch.cumsum(has_time.long(), 0) - 1

        terms: dict[str, torch.Tensor] = {}
        if w["img_gps"] and has_gps.any():
            logits = model.scale("img_gps_logit_scale") * img[has_gps] @ loc_emb.T
            terms["img_gps"] = F.cross_entropy(logits, gps_pos[has_gps])
        if w["img_time"] and has_time.any():
            logits = model.scale("img_time_logit_scale") * img[has_time] @ time_emb.T
            terms["img_time"] = toroidal_cross_entropy(logits, times[has_time], time_cand, self.tau, time_pos[has_time])
        if both.any():
            g_idx, t_idx = gps_pos[both], time_pos[both]
            loc_b = loc_emb[g_idx] if loc_emb is not None else None
            time_b = time_emb[t_idx] if time_emb is not None else None
            if w["gps_time"]:
                s = model.scale("gps_time_logit_scale")
                loc_to_time = toroidal_cross_entropy(s * loc_b @ time_emb.T, times[both], time_cand, self.tau, t_idx)
                own_place = torch.arange(len(g_idx), device=g_idx.device)
                time_to_loc = F.cross_entropy(s * time_b @ loc_emb[g_idx].T, own_place)
                terms["gps_time"] = (loc_to_time + time_to_loc) / 2
            if w["ig2t"]:
                fused = F.normalize(img[both] + loc_b, dim=-1)
                logits = model.scale("ig2t_logit_scale") * fused @ time_emb.T
                terms["ig2t"] = toroidal_cross_entropy(logits, times[both], time_cand, self.tau, t_idx)
            if w["it2g"]:
                fused = F.normalize(img[both] + time_b, dim=-1)
                terms["it2g"] = F.cross_entropy(model.scale("it2g_logit_scale") * fused @ loc_emb.T, g_idx)
            if w["gt2i"]:
                fused = F.normalize(loc_b + time_b, dim=-1)
                own = torch.nonzero(both).squeeze(1)
                terms["gt2i"] = F.cross_entropy(model.scale("gt2i_logit_scale") * fused @ img.T, own)
        total = sum((w[k] * v for k, v in terms.items()), torch.zeros((), device=img.device))
        return {"loss": total, **terms}
