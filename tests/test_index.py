"""Gallery search fast paths agree with the exact chunked search (tolerances stated per test)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gtloc.errors import GtlocError
from gtloc.retrieval.search import FaissIndex, open_embeddings, search, search_streaming, write_embeddings_npy


def _clustered(n: int, dim: int = 32, centres: int = 50, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(centres, dim, generator=gen)
    return F.normalize(c[torch.randint(centres, (n,), generator=gen)] + 0.3 * torch.randn(n, dim, generator=gen), dim=1)


def _queries(gallery: torch.Tensor, n: int, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    rows = gallery[torch.randint(len(gallery), (n,), generator=gen)]
    return F.normalize(rows + 0.1 * torch.randn(rows.shape, generator=gen), dim=1)


def test_streaming_search_over_memmap_equals_exact_search(tmp_path):
    gen = torch.Generator().manual_seed(0)
    labels = torch.randn(1000, 4, generator=gen)
    proj = torch.randn(4, 16, generator=gen)
    path = tmp_path / "emb.npy"
    gallery = write_embeddings_npy(path, lambda x: F.normalize(x @ proj, dim=1), labels, batch_size=128)
    assert isinstance(gallery, np.memmap) and gallery.shape == (1000, 16)
    dense = torch.from_numpy(np.array(gallery))
    queries = torch.randn(37, 3, 16, generator=gen)  # ten-crop-like (N, C, E)
    exact = search(queries, dense, k=5, scale=14.0, chunk_size=8)
    streamed = search_streaming(queries, open_embeddings(path), k=5, scale=14.0, block_rows=97, chunk_size=10)
    # Same entries, except that near-ties (the embeddings have rank 4) may swap under another summation order:
    # every streamed entry must score what the exact search says the entry at that rank scores.
    true_scores = 14.0 * (queries @ dense.T).mean(dim=1).gather(1, streamed.indices)
    torch.testing.assert_close(true_scores, exact.scores, rtol=1e-5, atol=1e-5)
    assert (streamed.indices == exact.indices).float().mean() > 0.95
    torch.testing.assert_close(streamed.scores, exact.scores, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(streamed.log_norm, exact.log_norm, rtol=1e-5, atol=1e-5)


def test_float16_gallery_file_is_half_the_size_and_close(tmp_path):
    labels = torch.randn(200, 4)
    proj = torch.randn(4, 32)
    g32 = write_embeddings_npy(tmp_path / "a.npy", lambda x: F.normalize(x @ proj, dim=1), labels)
    g16 = write_embeddings_npy(tmp_path / "b.npy", lambda x: F.normalize(x @ proj, dim=1), labels, dtype="float16")
    assert g16.dtype == np.float16 and g16.nbytes * 2 == g32.nbytes
    assert np.abs(np.asarray(g16, dtype=np.float32) - g32).max() < 1e-3  # float16 rounding of unit vectors


def test_open_embeddings_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(GtlocError, match=r"bad\.npy"):
        open_embeddings(bad)
    np.save(tmp_path / "one_d.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(GtlocError, match=r"shape \(G, E\)"):
        open_embeddings(tmp_path / "one_d.npy")
    with pytest.raises(GtlocError, match="float32 or float16"):
        write_embeddings_npy(tmp_path / "x.npy", lambda x: x, torch.zeros(2, 2), dtype="int8")


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
