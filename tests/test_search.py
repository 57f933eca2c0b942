"""The one exact search: top-k, whole-gallery probabilities, left-out entries, and (N, E) queries only."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gtloc.errors import GtlocError
from gtloc.retrieval.search import full_posterior, gallery_logits, search


def test_probabilities_and_similarities_of_the_top_k():
    gen = torch.Generator().manual_seed(0)
    gallery = F.normalize(torch.randn(50, 8, generator=gen), dim=1)
    queries = F.normalize(torch.randn(6, 8, generator=gen), dim=1)
    found = search(queries, gallery, k=3, scale=12.0, chunk_size=4)
    sims = queries @ gallery.T
    top, idx = sims.topk(3, dim=1)
    assert torch.equal(found.indices, idx)
    torch.testing.assert_close(found.similarities, top)
    torch.testing.assert_close(found.probs, full_posterior(queries, gallery, 12.0).gather(1, idx))


def test_exclude_leaves_one_entry_per_query_out_of_results_and_softmax():
    emb = torch.eye(4)
    found = search(emb, emb, k=4, scale=3.0, exclude=torch.tensor([0, -1, 2, 3]))
    assert found.indices.shape == (4, 3)
    assert 0 not in found.indices[0].tolist() and found.indices[1, 0] == 1
    # Query 0 is left with three equal entries (similarity 0): a third each.
    torch.testing.assert_close(found.probs[0], torch.full((3,), 1 / 3))
    assert found.probs[1].sum() < 1  # query 1 keeps all four entries in its softmax, only three in its top-3


def test_ten_crop_queries_are_refused_with_the_way_out():
    with pytest.raises(GtlocError, match=r"queries must be embeddings \(N, 8\), got shape \(2, 10, 8\).*embed_images"):
        search(torch.zeros(2, 10, 8), torch.zeros(5, 8), k=1)
    with pytest.raises(GtlocError, match=r"queries must be embeddings \(N, 8\)"):
        full_posterior(torch.zeros(2, 10, 8), torch.zeros(5, 8))
    with pytest.raises(GtlocError, match=r"queries must be embeddings \(N, 8\)"):
        gallery_logits(torch.zeros(2, 10, 8), torch.zeros(5, 8))


def test_whole_gallery_logits_are_what_search_and_the_posterior_read():
    gen = torch.Generator().manual_seed(1)
    gallery = F.normalize(torch.randn(40, 8, generator=gen), dim=1)
    queries = F.normalize(torch.randn(7, 8, generator=gen), dim=1)
    logits = gallery_logits(queries, gallery, 9.0)
    assert logits.shape == (7, 40)
    torch.testing.assert_close(logits, 9.0 * torch.einsum("ne,ge->ng", queries, gallery))
    found = search(queries, gallery, k=5, scale=9.0, chunk_size=3)
    torch.testing.assert_close(found.scores, logits.topk(5, dim=1).values)
    torch.testing.assert_close(found.log_norm, torch.logsumexp(logits, dim=1))
    torch.testing.assert_close(full_posterior(queries, gallery, 9.0), torch.softmax(logits, dim=1))
