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

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gtloc.labels import has_label
from gtloc.model.space import compose
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


@dataclass(frozen=True)
class CandidateLabels:
    """The labels one kind of term contrasts against: ``batch`` ``(n, L)`` rows that have the label (in batch
    order), then ``queue`` ``(Q, L)`` past labels (``(0, L)`` without queues)."""

    batch: torch.Tensor
    queue: torch.Tensor

    @property
    def all(self) -> torch.Tensor:
        """``(n + Q, L)``: the batch rows, then the queue."""
        return torch.cat([self.batch, self.queue]) if len(self.queue) else self.batch


@dataclass(frozen=True)
class Candidates:
    """The candidate rule's answer for one batch of ``B`` rows (see :meth:`GTLocLoss.candidates`).

    ``has_gps`` / ``has_time`` ``(B,)`` bool: rows whose label is complete (NaN anywhere = missing).
    ``gps`` ``(G + Qg, 2)`` / ``times`` ``(T + Qt, 5)``: the candidates to encode, ``None`` where no term with a
    non-zero weight has rows (the time-only ablation never encodes a GPS label).
    """

    has_gps: torch.Tensor
    has_time: torch.Tensor
    gps: CandidateLabels | None
    times: CandidateLabels | None


class GTLocLoss(nn.Module):
    """The weighted sum of the six terms over embeddings (as open_clip's ``ClipLoss``: features in, terms out).

    ``tau``: temperature of the toroidal soft targets (0 = hard). ``use_queues``: the label queues' contents are
    extra candidates. The caller (``gtloc.training.objective``) asks :meth:`candidates` which labels to encode,
    encodes them (on one process or sharded over many) and passes the embeddings to :meth:`forward`.
    """

    def __init__(self, tau: float = 0.3, weights: LossWeights | None = None, use_queues: bool = True):
        super().__init__()
        self.tau = tau
        self.weights = weights or LossWeights()
        self.use_queues = use_queues

    def candidates(
        self, latlon: torch.Tensor, times: torch.Tensor, gps_queue: torch.Tensor, time_queue: torch.Tensor
    ) -> Candidates:
        """The one candidate rule: which batch rows and queue entries each kind of term contrasts.

        ``latlon`` ``(B, 2)`` degrees and ``times`` ``(B, 5)`` local time, NaN where missing; ``gps_queue``
        ``(Qg, 2)`` and ``time_queue`` ``(Qt, 5)`` the queues' contents. A row without GPS (time) is no GPS (time)
        candidate; a kind of label that no weighted term with rows needs is not a candidate at all.
        """
        w = asdict(self.weights)
        has_gps = has_label(latlon)
        has_time = has_label(times)
        joint = bool((has_gps & has_time).any()) and any(w[k] for k in ("gps_time", "ig2t", "it2g", "gt2i"))
        need_gps = bool(w["img_gps"] and has_gps.any()) or joint
        need_time = bool(w["img_time"] and has_time.any()) or joint
        gps = CandidateLabels(latlon[has_gps], gps_queue if self.use_queues else gps_queue[:0]) if need_gps else None
        time = (
            CandidateLabels(times[has_time], time_queue if self.use_queues else time_queue[:0]) if need_time else None
        )
        return Candidates(has_gps, has_time, gps, time)

    def forward(
        self,
        img: torch.Tensor,
        loc_emb: torch.Tensor | None,
        time_emb: torch.Tensor | None,
        logit_scales: dict[str, torch.Tensor],
        candidates: Candidates,
    ) -> dict[str, torch.Tensor]:
        """Loss terms for one batch of ``B`` rows. Returns ``{"loss": total, <term>: value, ...}`` for the terms
        that had rows.

        ``img`` ``(B, E)`` image embeddings; ``loc_emb`` ``(G + Qg, E)`` / ``time_emb`` ``(T + Qt, E)`` the
        embeddings of ``candidates.gps.all`` / ``candidates.times.all`` (``None`` where those are ``None``);
        ``logit_scales``: the multiplicative scale of each term by name (``GTLoc.logit_scales()``).
        """
        w = asdict(self.weights)
        has_gps, has_time = candidates.has_gps, candidates.has_time
        both = has_gps & has_time
        time_cand = candidates.times.all if candidates.times is not None else None
        query_times = candidates.times.batch if candidates.times is not None else None
        # Position of each batch row among the batch candidates of its kind.
        gps_pos = torch.cumsum(has_gps.long(), 0) - 1
        time_pos = torch.cumsum(has_time.long(), 0) - 1

        terms: dict[str, torch.Tensor] = {}
        if w["img_gps"] and has_gps.any():
            logits = logit_scales["img_gps"] * img[has_gps] @ loc_emb.T
            terms["img_gps"] = F.cross_entropy(logits, gps_pos[has_gps])
        if w["img_time"] and has_time.any():
            logits = logit_scales["img_time"] * img[has_time] @ time_emb.T
            terms["img_time"] = toroidal_cross_entropy(logits, query_times, time_cand, self.tau, time_pos[has_time])
        if both.any():
            g_idx, t_idx = gps_pos[both], time_pos[both]
            loc_b = loc_emb[g_idx] if loc_emb is not None else None
            time_b = time_emb[t_idx] if time_emb is not None else None
            both_times = query_times[t_idx] if query_times is not None else None
            if w["gps_time"]:
                s = logit_scales["gps_time"]
                loc_to_time = toroidal_cross_entropy(s * loc_b @ time_emb.T, both_times, time_cand, self.tau, t_idx)
                own_place = torch.arange(len(g_idx), device=g_idx.device)
                time_to_loc = F.cross_entropy(s * time_b @ loc_emb[g_idx].T, own_place)
                terms["gps_time"] = (loc_to_time + time_to_loc) / 2
            if w["ig2t"]:
                fused = compose(img[both], loc_b)
                logits = logit_scales["ig2t"] * fused @ time_emb.T
                terms["ig2t"] = toroidal_cross_entropy(logits, both_times, time_cand, self.tau, t_idx)
            if w["it2g"]:
                fused = compose(img[both], time_b)
                terms["it2g"] = F.cross_entropy(logit_scales["it2g"] * fused @ loc_emb.T, g_idx)
            if w["gt2i"]:
                fused = compose(loc_b, time_b)
                own = torch.nonzero(both).squeeze(1)
                terms["gt2i"] = F.cross_entropy(logit_scales["gt2i"] * fused @ img.T, own)
        total = sum((w[k] * v for k, v in terms.items()), torch.zeros((), device=img.device))
        return {"loss": total, **terms}
