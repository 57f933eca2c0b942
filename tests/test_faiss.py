"""FAISS indexes agree with the exact chunked search (tolerances stated per test)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gtloc.errors import GtlocError
from gtloc.retrieval.faiss import FaissIndex
from gtloc.retrieval.search import search


def _clustered(n: int, dim: int = 32, centres: int = 50, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(centres, dim, generator=gen)
    return F.normalize(c[torch.randint(centres, (n,), generator=gen)] + 0.3 * torch.randn(n, dim, generator=gen), dim=1)


def _queries(gallery: torch.Tensor, n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = gallery[torch.randint(len(gallery), (n,), generator=gen)]
    return F.normalize(rows + 0.1 * torch.randn(rows.shape, generator=gen), dim=1)


def test_faiss_flat_is_exact():
    gallery = _clustered(3000)
    queries = _queries(gallery, 64)
    exact = search(queries, gallery, k=3, scale=10.0)
    found = FaissIndex.build(gallery, kind="flat").search(queries, k=3, scale=10.0)
    assert torch.equal(found.indices, exact.indices)
    torch.testing.assert_close(found.scores, exact.scores, rtol=1e-5, atol=1e-4)


def test_faiss_ivf_scanning_every_list_is_exact_and_few_lists_keep_recall(tmp_path):
    gallery = _clustered(4000)
    queries = _queries(gallery, 200)
    exact = search(queries, gallery, k=1)
    index = FaissIndex.build(gallery, kind="ivf", nlist=32, nprobe=32)
    assert torch.equal(index.search(queries, k=1).indices, exact.indices)
    index.nprobe = 4
    agreement = (index.search(queries, k=1).indices == exact.indices).float().mean()
    assert agreement >= 0.95
    index.save(tmp_path / "ivf.faiss")
    loaded = FaissIndex.load(tmp_path / "ivf.faiss", "ivf")
    assert torch.equal(loaded.search(queries, k=1).indices, index.search(queries, k=1).indices)


def test_faiss_ivfpq_with_exact_rerank_recovers_top1():
    gallery = _clustered(4000)
    queries = _queries(gallery, 200)
    exact = search(queries, gallery, k=1, scale=5.0)
    index = FaissIndex.build(gallery, kind="ivfpq", nlist=16, nprobe=16, pq_m=8)
    found = index.search(queries, k=1, scale=5.0, rerank=100)
    assert (found.indices == exact.indices).float().mean() >= 0.99
    hit = found.indices == exact.indices
    torch.testing.assert_close(found.scores[hit], exact.scores[hit], rtol=1e-5, atol=1e-4)  # re-scored exactly


def test_faiss_errors_name_the_problem(tmp_path):
    with pytest.raises(GtlocError, match="index kind"):
        FaissIndex.build(torch.zeros(10, 8), kind="hnsw")
    with pytest.raises(GtlocError, match="pq_m=5"):
        FaissIndex.build(_clustered(2000), kind="ivfpq", nlist=4, pq_m=5)
    with pytest.raises(GtlocError, match="no such FAISS index"):
        FaissIndex.load(tmp_path / "missing.faiss", "ivf")
    with pytest.raises(GtlocError, match=r"queries must be embeddings \(N, 32\), got shape \(4, 10, 32\)"):
        FaissIndex.build(_clustered(100), kind="flat").search(torch.zeros(4, 10, 32), k=1)
