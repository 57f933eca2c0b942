"""Exact gallery search: chunked ``queries @ gallery.T``, top-k, and the softmax normaliser over the whole gallery;
the scaled similarities to a whole gallery (:func:`gallery_logits`) and its softmax (:func:`full_posterior`).

The one search of every gallery (GPS and time galleries for predictions, image galleries for retrieval) and its
one result type, :class:`SearchResult` (the optional FAISS index, :mod:`gtloc.retrieval.faiss`, returns it too).
Queries are embeddings ``(N, E)``, one per picture or request: ten crops become one query through
:meth:`gtloc.model.gtloc.GTLoc.embed_images` first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gtloc.errors import GtlocError


@dataclass
class SearchResult:
    """Top-k over a gallery. ``indices`` ``(N, k)`` long; ``scores`` ``(N, k)`` scaled similarities
    ``scale * q . g``; ``log_norm`` ``(N,)`` the log-sum-exp of the scaled similarities over the whole gallery, so
    that ``exp(scores - log_norm[:, None])`` are softmax probabilities over the gallery; ``scale`` the logit scale."""

    indices: torch.Tensor
    scores: torch.Tensor
    log_norm: torch.Tensor
    scale: float = 1.0

    @property
    def probs(self) -> torch.Tensor:
        """``(N, k)`` softmax probabilities over the whole gallery."""
        return torch.exp(self.scores - self.log_norm[:, None])

    def to(self, device: torch.device | str) -> SearchResult:
        """The same result with its tensors on ``device``."""
        return SearchResult(self.indices.to(device), self.scores.to(device), self.log_norm.to(device), self.scale)

    @property
    def similarities(self) -> torch.Tensor:
        """``(N, k)`` unscaled similarities ``q . g`` (cosine similarities for unit embeddings)."""
        return self.scores / self.scale


def check_queries(queries: torch.Tensor, dim: int) -> None:
    """Refuse anything but query embeddings ``(N, dim)`` with a message that says what to pass instead."""
    if queries.dim() != 2 or queries.shape[1] != dim:
        raise GtlocError(
            f"queries must be embeddings (N, {dim}), got shape {tuple(queries.shape)}; ten-crop features become one "
            "query per picture through GTLoc.embed_images"
        )


@torch.inference_mode()
def search(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    k: int,
    scale: float = 1.0,
    chunk_size: int | None = None,
    exclude: torch.Tensor | None = None,
) -> SearchResult:
    """Exact top-``k`` of ``scale * queries @ gallery.T``: ``queries`` ``(N, E)``, ``gallery`` ``(G, E)``, on their
    device (both on one).

    ``exclude`` ``(N,)`` long: one gallery index per query left out of its results and of its softmax (the query
    picture itself; -1 = none). Memory stays at ``chunk_size x G`` similarities at a time (default: 256 queries on
    the CPU, 2048 on a GPU, where fewer larger matrix products keep it busy).
    """
    check_queries(queries, gallery.shape[1])
    if chunk_size is None:
        chunk_size = 256 if queries.device.type == "cpu" else 2048
    excluding = exclude is not None and bool((exclude >= 0).any())
    k = max(0, min(k, gallery.shape[0] - int(excluding)))
    out_idx, out_scores, out_norm = [], [], []
    for start in range(0, queries.shape[0], chunk_size):
        logits = gallery_logits(queries[start : start + chunk_size], gallery, scale)
        if excluding:
            left_out = exclude[start : start + chunk_size]
            rows = torch.nonzero(left_out >= 0).flatten()
            logits[rows, left_out[rows]] = -torch.inf
        scores, idx = logits.topk(k, dim=1)
        out_idx.append(idx)
        out_scores.append(scores)
        if k == 0:
            out_norm.append(torch.logsumexp(logits, dim=1))
            continue
        # log-sum-exp with the top score as the shift, computed in place: one pass less over (chunk, G).
        top = scores[:, :1]
        out_norm.append(top[:, 0] + logits.sub_(top).exp_().sum(dim=1).log())
    if not out_idx:
        empty = queries.new_empty(0, k)
        return SearchResult(empty.long(), empty, queries.new_empty(0), scale)
    return SearchResult(torch.cat(out_idx), torch.cat(out_scores), torch.cat(out_norm), scale)


@torch.inference_mode()
def gallery_logits(queries: torch.Tensor, gallery: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The scaled similarities ``scale * queries @ gallery.T`` to every entry, ``(N, G)``, for queries ``(N, E)``
    and a ``gallery`` ``(G, E)`` on one device: what a posterior over a whole gallery is built from (the time
    gallery, held-out fits, the ranks of claims). Callers that keep only the best entries use :func:`search`;
    callers of large galleries pass a few queries at a time (the result holds ``N x G`` numbers)."""
    check_queries(queries, gallery.shape[1])
    return (queries @ gallery.T).mul_(scale)


@torch.inference_mode()
def full_posterior(queries: torch.Tensor, gallery: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Softmax over the whole gallery, ``(N, G)``, for queries ``(N, E)``: of :func:`gallery_logits`."""
    return torch.softmax(gallery_logits(queries, gallery, scale), dim=1)
