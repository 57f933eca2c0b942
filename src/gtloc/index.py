"""Exact gallery search: chunked matmul + top-k with the softmax normaliser over the whole gallery."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SearchResult:
    """Top-k over a gallery. ``indices`` ``(N, k)`` long; ``scores`` ``(N, k)`` scaled similarities;
    ``log_norm`` ``(N,)`` the log-sum-exp of the scaled similarities over the whole gallery, so that
    ``exp(scores - log_norm[:, None])`` are softmax probabilities over the gallery."""

    indices: torch.Tensor
    scores: torch.Tensor
    log_norm: torch.Tensor

    @property
    def probs(self) -> torch.Tensor:
        return torch.exp(self.scores - self.log_norm[:, None])


@torch.inference_mode()
def search(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    k: int,
    scale: float = 1.0,
    chunk_size: int = 256,
) -> SearchResult:
    """Exact top-``k`` of ``scale * queries @ gallery.T``.

    ``queries`` ``(N, E)`` or ten-crop ``(N, C, E)`` (similarities averaged over the C crops first);
    ``gallery`` ``(G, E)``. Memory stays at ``chunk_size x G`` similarities at a time.
    """
    k = min(k, gallery.shape[0])
    out_idx, out_scores, out_norm = [], [], []
    for chunk in queries.split(chunk_size):
        sims = chunk @ gallery.T
        if sims.dim() == 3:
            sims = sims.mean(dim=1)
        logits = scale * sims
        scores, idx = logits.topk(k, dim=1)
        out_idx.append(idx)
        out_scores.append(scores)
        out_norm.append(torch.logsumexp(logits, dim=1))
    return SearchResult(torch.cat(out_idx), torch.cat(out_scores), torch.cat(out_norm))


@torch.inference_mode()
def full_posterior(queries: torch.Tensor, gallery: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Softmax over the whole gallery, ``(N, G)``; for small galleries (e.g. the time gallery's marginals)."""
    sims = queries @ gallery.T
    if sims.dim() == 3:
        sims = sims.mean(dim=1)
    return torch.softmax(scale * sims, dim=1)
