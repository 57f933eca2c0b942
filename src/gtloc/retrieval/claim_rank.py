"""A claim ranked among the alternatives of a posterior, and the rank below which a true claim is rare.

``verify`` (:mod:`gtloc.inference.verify`) ranks each part of a claim (a place among the GPS gallery, a month among
the 12 months, an hour among the 24 hours); training ranks the held-out pictures' true claims the same way to fit
the percentile below which the model check calls a part inconsistent (:func:`false_alarm_threshold`,
:mod:`gtloc.training.held_out`). One ranking rule serves both, so the fitted threshold means what ``verify`` reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gtloc.retrieval.posterior import sharpness

TIE_TOLERANCE = 1e-4
"""Scaled similarities closer than this count as ties (float noise of batched encoding)."""
MARGINAL_TIE = 1e-9
"""Probabilities of a month or hour marginal closer than this count as ties."""
ROWS = 64
"""Claims ranked at once against a large gallery."""


@dataclass
class ClaimScores:
    """One part of N claims: ``score`` ``(N,)`` (cosine similarity, or posterior probability for month/hour),
    ``rank`` ``(N,)`` long, ``percentile`` ``(N,)`` 0-100, ``credibility`` ``(N,)`` in [0, 1], ``sharpness``
    ``(N,)`` in [0, 1] of the posterior ranked in, and the number of ``alternatives`` each claim was ranked among.
    For the place, ``confidence`` ``(N,)`` (mass within 750 km of the best place) and ``distance_km`` ``(N,)`` (claim
    to best place)."""

    score: torch.Tensor
    rank: torch.Tensor
    percentile: torch.Tensor
    credibility: torch.Tensor
    alternatives: int
    sharpness: torch.Tensor
    confidence: torch.Tensor | None = None
    distance_km: torch.Tensor | None = None

    @staticmethod
    def cat(parts: list[ClaimScores]) -> ClaimScores:
        """The scores of consecutive chunks of claims (without ``confidence``/``distance_km``) as one."""
        tensors = ("score", "rank", "percentile", "credibility", "sharpness")
        joined = {name: torch.cat([getattr(p, name) for p in parts]) for name in tensors}
        return ClaimScores(alternatives=parts[0].alternatives, **joined)

    def cpu(self) -> ClaimScores:
        """The same scores with every tensor on the CPU."""
        moved = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in vars(self).items()}
        return ClaimScores(**moved)


def rank_claims(logits: torch.Tensor, claim_logits: torch.Tensor) -> ClaimScores:
    """Rank each claim among its alternatives: ``logits`` ``(N, G)`` scaled similarities of the alternatives,
    ``claim_logits`` ``(N,)``. The claim joins the softmax normaliser; differences below :data:`TIE_TOLERANCE`
    count as ties. ``score`` is left as the claim logit."""
    claim = claim_logits[:, None]
    above = logits > claim + TIE_TOLERANCE
    log_norm = torch.logsumexp(torch.cat([logits, claim], dim=1), dim=1, keepdim=True)
    mass_above = (torch.exp(logits - log_norm) * above).sum(dim=1)
    return ClaimScores(
        score=claim_logits,
        rank=above.sum(dim=1) + 1,
        percentile=100.0 * (logits < claim - TIE_TOLERANCE).float().mean(dim=1),
        credibility=(1.0 - mass_above).clamp(0.0, 1.0),
        alternatives=logits.shape[1],
        sharpness=sharpness(torch.softmax(logits, dim=1)),
    )


def rank_claims_in_rows(logits: torch.Tensor, claim_logits: torch.Tensor, rows: int = ROWS) -> ClaimScores:
    """:func:`rank_claims` of ``logits`` ``(N, G)`` and ``claim_logits`` ``(N,)``, ``rows`` claims at a time (the
    intermediates of 100k alternatives are large)."""
    parts = zip(logits.split(rows), claim_logits.split(rows), strict=True)
    return ClaimScores.cat([rank_claims(chunk, claims) for chunk, claims in parts])


def marginal_scores(posterior: torch.Tensor, index: torch.Tensor) -> ClaimScores:
    """Claims of one calendar month / clock hour ``index`` ``(N,)`` (0-based) against the marginal ``posterior``
    ``(N, K)``."""
    p = posterior.gather(1, index[:, None])
    above = posterior > p + MARGINAL_TIE
    return ClaimScores(
        score=p[:, 0],
        rank=above.sum(dim=1) + 1,
        percentile=100.0 * (posterior < p - MARGINAL_TIE).float().mean(dim=1),
        credibility=(1.0 - (posterior * above).sum(dim=1)).clamp(0.0, 1.0),
        alternatives=posterior.shape[1],
        sharpness=sharpness(posterior),
    )


def false_alarm_threshold(percentiles: torch.Tensor, share: float, cap: float) -> float:
    """The percentile below which a part of a claim is called inconsistent, fitted on true claims: the lowest
    percentile but ``k`` of the true claims' ``percentiles`` ``(R,)`` (0-100), at most ``cap``, with
    ``k = floor(share * (R + 1)) - 1`` (at least 0), so that a new true claim like them falls below with probability
    at most ``(k + 1) / (R + 1) <= share`` (split conformal). With fewer than ``1 / share - 1`` true claims no ``k``
    meets that bound: ``k`` is 0 (their lowest percentile), and the bound ``1 / (R + 1)`` is above ``share``. A
    true claim that ranked last (0) leaves no threshold (0: the part is never called inconsistent by its rank)."""
    if len(percentiles) == 0:
        raise ValueError("no true claims to fit a threshold on")
    ordered = torch.sort(percentiles.double()).values
    k = max(0, int(share * (len(ordered) + 1) + 1e-9) - 1)
    return min(float(ordered[k]), cap)
