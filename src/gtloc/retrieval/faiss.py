"""How a Predictor searches its GPS gallery: exact (the default) or a FAISS index cached beside the encoded gallery.

``exact`` is :func:`gtloc.retrieval.search.search` (top-k and the softmax over the whole gallery).
``faiss-flat`` is FAISS's exact inner-product search; ``faiss-ivf`` / ``faiss-ivfpq`` are approximate
(see :class:`FaissIndex`).
With a FAISS index the probabilities are a softmax over a shortlist of the best ``max(k, 64)`` candidates, not
over the whole gallery. An index is built once per model and gallery and, with a ``cache_dir``, saved under the
encoded gallery's name (the weights' fingerprint and the labels' digest) plus its build settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gtloc.errors import GtlocError
from gtloc.retrieval.search import FaissIndex, SearchResult, search

if TYPE_CHECKING:
    from gtloc.model.gtloc import GTLoc
    from gtloc.retrieval.galleries import EncodedGallery

GPS_INDEXES = ("exact", "faiss-flat", "faiss-ivf", "faiss-ivfpq")
SHORTLIST = 64


def index_file_name(stem: str, kind: str, nlist: int | None, pq_m: int) -> str:
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
        from gtloc.retrieval.galleries import gallery_cache_stem

        path = None
        if cache_dir is not None:
            stem = gallery_cache_stem(model, gallery.kind, gallery.labels)
            path = Path(cache_dir) / index_file_name(stem, faiss_kind, nlist, pq_m)
        index = _load(path, faiss_kind, gallery.embeddings)
        if index is None:
            index = FaissIndex.build(gallery.embeddings, kind=faiss_kind, nlist=nlist, nprobe=nprobe, pq_m=pq_m)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                index.save(path)
        index.nprobe = nprobe
        return cls(gallery.embeddings, kind, index)

    def search(self, queries: torch.Tensor, k: int, scale: float = 1.0) -> SearchResult:
        """Top-``k`` of ``scale * queries @ embeddings.T`` for ``queries`` ``(N, E)`` or ten-crop ``(N, C, E)``."""
        if self.index is None:
            return search(queries, self.embeddings, k, scale)
        return self.index.search(queries, k, scale, rerank=max(k, SHORTLIST))


def _load(path: Path | None, kind: str, embeddings: torch.Tensor) -> FaissIndex | None:
    """The cached index at ``path`` if it is there, readable and over ``embeddings``' shape; else None (rebuild)."""
    if path is None or not path.is_file():
        return None
    try:
        index = FaissIndex.load(path, kind, embeddings)
    except GtlocError:
        return None
    if (index.index.ntotal, index.index.d) != tuple(embeddings.shape):
        return None
    return index
