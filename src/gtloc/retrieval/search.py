"""Gallery search: exact chunked top-k (in RAM or streamed from a memory-mapped file) and an optional FAISS index.

* :func:`search`: exact, chunked matmul + top-k with the softmax normaliser over the whole gallery.
* :func:`search_streaming`: the same answer over a gallery read block by block (bounded memory).
* :class:`FaissIndex`: FAISS exact (``flat``) or approximate (``ivf``, ``ivfpq``) search for large galleries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gtloc.errors import GtlocError
from gtloc.io import atomic_path


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
        logits = sims.mul_(scale)
        scores, idx = logits.topk(k, dim=1)
        out_idx.append(idx)
        out_scores.append(scores)
        # log-sum-exp with the top score as the shift, computed in place: one pass less over (chunk, G).
        top = scores[:, :1]
        out_norm.append(top[:, 0] + logits.sub_(top).exp_().sum(dim=1).log())
    return SearchResult(torch.cat(out_idx), torch.cat(out_scores), torch.cat(out_norm))


@torch.inference_mode()
def full_posterior(queries: torch.Tensor, gallery: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Softmax over the whole gallery, ``(N, G)``; for small galleries (e.g. the time gallery's marginals)."""
    sims = queries @ gallery.T
    if sims.dim() == 3:
        sims = sims.mean(dim=1)
    return torch.softmax(scale * sims, dim=1)


def _mean_query(queries: torch.Tensor) -> torch.Tensor:
    """Ten-crop queries ``(N, C, E)`` -> ``(N, E)`` crop means (averaging similarities = scoring the mean query)."""
    return queries.mean(dim=1) if queries.dim() == 3 else queries


def _merge_topk(
    best: tuple[torch.Tensor, torch.Tensor] | None, scores: torch.Tensor, idx: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if best is not None:
        scores, idx = torch.cat([best[0], scores], dim=1), torch.cat([best[1], idx], dim=1)
    top, pos = scores.topk(min(k, scores.shape[1]), dim=1)
    return top, idx.gather(1, pos)


@torch.inference_mode()
def search_streaming(
    queries: torch.Tensor,
    gallery: np.ndarray | torch.Tensor,
    k: int,
    scale: float = 1.0,
    block_rows: int = 65_536,
    chunk_size: int = 1024,
) -> SearchResult:
    """Exact top-``k`` over a gallery read block by block, e.g. a memory-mapped ``.npy`` bigger than RAM.

    ``gallery`` ``(G, E)`` (any float dtype; each block is converted to float32); ``queries`` ``(N, E)`` or
    ``(N, C, E)``. Peak memory besides the queries: one block (``block_rows x E``) plus ``chunk_size x block_rows``
    similarities; the running top-k and log-sum-exp are merged across blocks, so the result equals :func:`search`.
    """
    queries = _mean_query(queries.float())
    n, g = queries.shape[0], gallery.shape[0]
    k = min(k, g)
    best: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(range(0, n, chunk_size))
    norms = torch.full((n,), -math.inf)
    for start in range(0, g, block_rows):
        rows = gallery[start : start + block_rows]
        block = rows.float() if torch.is_tensor(rows) else torch.from_numpy(np.array(rows, dtype=np.float32))
        for c, q0 in enumerate(range(0, n, chunk_size)):
            logits = scale * (queries[q0 : q0 + chunk_size] @ block.T)
            scores, idx = logits.topk(min(k, logits.shape[1]), dim=1)
            best[c] = _merge_topk(best[c], scores, idx + start, k)
            norms[q0 : q0 + chunk_size] = torch.logaddexp(norms[q0 : q0 + chunk_size], torch.logsumexp(logits, dim=1))
    scores = torch.cat([b[0] for b in best]) if n else torch.empty(0, k)
    indices = torch.cat([b[1] for b in best]) if n else torch.empty(0, k, dtype=torch.long)
    return SearchResult(indices, scores, norms)


def write_embeddings_npy(
    path: str | Path,
    encode: Callable[[torch.Tensor], torch.Tensor],
    labels: torch.Tensor,
    batch_size: int = 4096,
    dtype: str = "float32",
) -> np.memmap:
    """Encode ``labels`` ``(G, L)`` batch by batch straight into a ``.npy`` on disk; returns it memory-mapped.

    For galleries too big for RAM: memory stays at one batch. ``dtype="float16"`` halves the file (search upcasts
    each block to float32; see docs/scale.md for its measured top-1 agreement). Written atomically.
    """
    if dtype not in ("float32", "float16"):
        raise GtlocError(f"embedding dtype must be float32 or float16, got {dtype!r}")
    with torch.inference_mode():
        first = encode(labels[:1])
    with atomic_path(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(labels.shape[0], first.shape[1]))
        with torch.inference_mode():
            for start in range(0, labels.shape[0], batch_size):
                out[start : start + batch_size] = encode(labels[start : start + batch_size]).numpy().astype(dtype)
        out.flush()
        del out
    return open_embeddings(path)


def open_embeddings(path: str | Path) -> np.memmap:
    """A gallery ``.npy`` ``(G, E)`` opened memory-mapped (read-only); a bad file raises :class:`GtlocError`."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise GtlocError(f"{path}: cannot open gallery embeddings ({exc})") from exc
    if arr.ndim != 2:
        raise GtlocError(f"{path}: gallery embeddings must have shape (G, E), got {arr.shape}")
    return arr


INDEX_KINDS = ("flat", "ivf", "ivfpq")


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        raise GtlocError("FAISS is not installed: pip install faiss-cpu (or pip install 'gtloc[faiss]')") from exc
    return faiss


class FaissIndex:
    """An optional FAISS inner-product index over gallery embeddings ``(G, E)``, for galleries of 1M+ entries.

    ``kind``: ``"flat"`` (exact), ``"ivf"`` (inverted lists over ``nlist`` k-means cells, ``nprobe`` of them
    scanned per query, exact scores inside them) or ``"ivfpq"`` (lists store ``pq_m``-byte product codes: about
    ``E*4/pq_m`` times less memory; the ``rerank`` best codes are re-scored exactly against ``embeddings`` when
    those are kept, e.g. memory-mapped). Returned scores are ``scale`` x inner products; ``log_norm`` is the
    log-sum-exp over the shortlist (the best ``max(k, rerank)`` candidates found), not over the whole gallery.
    """

    def __init__(self, index, kind: str, embeddings: np.ndarray | torch.Tensor | None = None):
        self.index, self.kind, self.embeddings = index, kind, embeddings

    @classmethod
    def build(
        cls,
        embeddings: np.ndarray | torch.Tensor,
        kind: str = "ivf",
        nlist: int | None = None,
        nprobe: int = 8,
        pq_m: int = 64,
        train_size: int = 100_000,
        seed: int = 0,
        keep_embeddings: bool = True,
    ) -> FaissIndex:
        """Build from ``(G, E)`` embeddings; ``nlist`` defaults to ``~4*sqrt(G)``; k-means sees ``train_size`` rows."""
        faiss = _faiss()
        if kind not in INDEX_KINDS:
            raise GtlocError(f"index kind must be one of {INDEX_KINDS}, got {kind!r}")
        data = np.ascontiguousarray(np.asarray(embeddings, dtype=np.float32))
        g, dim = data.shape
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        else:
            nlist = nlist or max(1, min(int(4 * math.sqrt(g)), g // 39))
            quantizer = faiss.IndexFlatIP(dim)
            if kind == "ivf":
                index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            else:
                if dim % pq_m:
                    raise GtlocError(f"pq_m={pq_m} must divide the embedding dim {dim}")
                index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, 8, faiss.METRIC_INNER_PRODUCT)
            sample = data
            if g > train_size:
                sample = data[np.sort(np.random.default_rng(seed).choice(g, train_size, replace=False))]
            index.cp.seed = seed
            index.train(sample)
            index.nprobe = nprobe
        index.add(data)
        return cls(index, kind, embeddings if keep_embeddings else None)

    @property
    def nprobe(self) -> int:
        return getattr(self.index, "nprobe", 0)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self.kind != "flat":
            self.index.nprobe = value

    def search(self, queries: torch.Tensor, k: int, scale: float = 1.0, rerank: int = 64) -> SearchResult:
        """Top-``k`` of ``queries`` ``(N, E)`` or ``(N, C, E)`` from a shortlist of ``max(k, rerank)`` candidates.

        ``ivfpq`` re-scores the shortlist exactly. Where fewer than ``k`` candidates were found (IVF lists too
        small for ``nprobe``), the missing entries have index -1 and score ``-inf``.
        """
        q = np.ascontiguousarray(_mean_query(queries.detach().float()).numpy())
        shortlist = max(k, rerank)
        sims, idx = self.index.search(q, min(shortlist, self.index.ntotal))
        sims, idx = torch.from_numpy(sims), torch.from_numpy(idx).long()
        valid = idx >= 0
        if self.kind == "ivfpq" and self.embeddings is not None:
            rows = torch.as_tensor(np.asarray(self.embeddings)[idx.clamp_min(0).numpy()]).float()
            sims = torch.einsum("ne,nke->nk", torch.from_numpy(q), rows)
        logits = torch.where(valid, scale * sims, torch.tensor(-math.inf))
        order = logits.argsort(dim=1, descending=True)[:, :k]
        return SearchResult(idx.gather(1, order), logits.gather(1, order), torch.logsumexp(logits, dim=1))

    def save(self, path: str | Path) -> None:
        """Write the index with ``faiss.write_index``, atomically."""
        faiss = _faiss()
        with atomic_path(path) as tmp:
            faiss.write_index(self.index, str(tmp))

    @classmethod
    def load(cls, path: str | Path, kind: str, embeddings: np.ndarray | torch.Tensor | None = None) -> FaissIndex:
        """Read an index written by :meth:`save` (``embeddings`` are needed again for ``ivfpq`` re-ranking)."""
        faiss = _faiss()
        if not Path(path).is_file():
            raise GtlocError(f"{path}: no such FAISS index file")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise GtlocError(f"{path}: unreadable FAISS index ({exc})") from exc
        return cls(index, kind, embeddings)
