"""FAISS indexes over encoded galleries, and how a Predictor searches its GPS gallery with one (or without).

* :class:`FaissIndex`: a FAISS inner-product index, exact (``flat``) or approximate (``ivf``, ``ivfpq``), for
  galleries of 1M+ entries; it answers with the exact search's :class:`~gtloc.retrieval.search.SearchResult`.
* :class:`GallerySearch`: the GPS-gallery search a Predictor uses: ``exact`` is
  :func:`gtloc.retrieval.search.search` (top-k and the softmax over the whole gallery); ``faiss-flat`` is FAISS's
  exact inner-product search; ``faiss-ivf`` / ``faiss-ivfpq`` are approximate.

With a FAISS index the probabilities are a softmax over a shortlist of the best ``max(k, 64)`` candidates, not
over the whole gallery. An index is built once per model and gallery and, with a ``cache_dir``, saved under the
encoded gallery's name (the weights' fingerprint and the labels' digest) plus its build settings.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from gtloc.errors import GtlocError
from gtloc.io import atomic_path
from gtloc.retrieval.search import SearchResult, check_queries, search

if TYPE_CHECKING:
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.galleries import EncodedGallery

logger = logging.getLogger(__name__)
GPS_INDEXES = ("exact", "faiss-flat", "faiss-ivf", "faiss-ivfpq")
SHORTLIST = 64
FAISS_KINDS = ("flat", "ivf", "ivfpq")


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
        if kind not in FAISS_KINDS:
            raise GtlocError(f"index kind must be one of {FAISS_KINDS}, got {kind!r}")
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
        """Top-``k`` of ``queries`` ``(N, E)`` from a shortlist of ``max(k, rerank)`` candidates.

        ``ivfpq`` re-scores the shortlist exactly. Where fewer than ``k`` candidates were found (IVF lists too
        small for ``nprobe``), the missing entries have index -1 and score ``-inf``.
        """
        check_queries(queries, self.index.d)
        q = np.ascontiguousarray(queries.detach().float().numpy())
        shortlist = max(k, rerank)
        sims, idx = self.index.search(q, min(shortlist, self.index.ntotal))
        sims, idx = torch.from_numpy(sims), torch.from_numpy(idx).long()
        valid = idx >= 0
        if self.kind == "ivfpq" and self.embeddings is not None:
            rows = torch.as_tensor(np.asarray(self.embeddings)[idx.clamp_min(0).numpy()]).float()
            sims = torch.einsum("ne,nke->nk", torch.from_numpy(q), rows)
        logits = torch.where(valid, scale * sims, torch.tensor(-math.inf))
        order = logits.argsort(dim=1, descending=True)[:, :k]
        return SearchResult(idx.gather(1, order), logits.gather(1, order), torch.logsumexp(logits, dim=1), scale)

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


def faiss_file_name(stem: str, kind: str, nlist: int | None, pq_m: int) -> str:
    """``<gallery stem>-<kind>[-nlist<n>][-pq<m>].faiss``: one file per gallery, model and build settings."""
    parts = [stem, kind]
    if kind != "flat":
        parts.append(f"nlist{nlist or 'auto'}")
    if kind == "ivfpq":
        parts.append(f"pq{pq_m}")
    return "-".join(parts) + ".faiss"


class GallerySearch:
    """Top-k over an encoded gallery's embeddings ``(G, E)``, exactly or through a FAISS index."""

    def __init__(self, embeddings: torch.Tensor, kind: str = "exact", index: FaissIndex | None = None):
        self.embeddings, self.kind, self.index = embeddings, kind, index

    @classmethod
    def open(
        cls,
        model: GTLoc,
        gallery: EncodedGallery,
        kind: str = "exact",
        cache_dir: str | Path | None = None,
        nlist: int | None = None,
        nprobe: int = 8,
        pq_m: int = 64,
    ) -> GallerySearch:
        """The search of ``kind`` (one of :data:`GPS_INDEXES`) over ``gallery`` encoded by ``model``.

        A FAISS index is loaded from ``cache_dir`` when one was saved for these weights, labels and settings,
        else built (and saved there). ``nprobe`` is a search setting, not part of the cache key.
        """
        if kind not in GPS_INDEXES:
            raise GtlocError(f"unknown GPS index {kind!r}; choose one of {', '.join(GPS_INDEXES)}")
        if kind == "exact":
            return cls(gallery.embeddings)
        faiss_kind = kind.removeprefix("faiss-")
        embeddings = gallery.embeddings.cpu()  # FAISS (faiss-cpu) searches host memory
        from gtloc.retrieval.galleries import gallery_cache_stem

        path = None
        if cache_dir is not None:
            stem = gallery_cache_stem(model, gallery.kind, gallery.labels)
            path = Path(cache_dir) / faiss_file_name(stem, faiss_kind, nlist, pq_m)
        index = _load(path, faiss_kind, embeddings)
        if index is None:
            index = FaissIndex.build(embeddings, kind=faiss_kind, nlist=nlist, nprobe=nprobe, pq_m=pq_m)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                index.save(path)
        index.nprobe = nprobe
        return cls(embeddings, kind, index)

    def search(self, queries: torch.Tensor, k: int, scale: float = 1.0) -> SearchResult:
        """Top-``k`` of ``scale * queries @ embeddings.T`` for ``queries`` ``(N, E)``; the result is on the queries'
        device (a FAISS index searches on the CPU)."""
        if self.index is None:
            return search(queries, self.embeddings, k, scale)
        found = self.index.search(queries.cpu(), k, scale, rerank=max(k, SHORTLIST))
        return found.to(queries.device)


def _load(path: Path | None, kind: str, embeddings: torch.Tensor) -> FaissIndex | None:
    """The cached index at ``path`` if it is there, readable and over ``embeddings``' shape; else None (rebuild)."""
    if path is None or not path.is_file():
        return None
    try:
        index = FaissIndex.load(path, kind, embeddings)
    except GtlocError as exc:
        logger.warning("cache %s is damaged (%s): rebuilding it", path, exc)
        return None
    if (index.index.ntotal, index.index.d) != tuple(embeddings.shape):
        logger.warning("cache %s does not fit the gallery: rebuilding it", path)
        return None
    return index
