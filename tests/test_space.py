"""The composed query of two embeddings: their normalised sum, which ranks like the sum of their similarities."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gtloc.model.space import compose


def _unit(*shape: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_the_composed_query_is_a_unit_vector_halfway_between_its_parts():
    image, place = _unit(5, 16, seed=0), _unit(5, 16, seed=1)
    query = compose(image, place)
    torch.testing.assert_close(query.norm(dim=-1), torch.ones(5))
    torch.testing.assert_close((query * image).sum(dim=-1), (query * place).sum(dim=-1))
    torch.testing.assert_close(query, compose(place, image))


def test_it_ranks_a_gallery_as_the_sum_of_the_two_similarities():
    image, place, gallery = _unit(4, 16, seed=2), _unit(4, 16, seed=3), _unit(50, 16, seed=4)
    fused = compose(image, place) @ gallery.T
    summed = image @ gallery.T + place @ gallery.T
    torch.testing.assert_close(fused * (image + place).norm(dim=1, keepdim=True), summed)
    assert torch.equal(fused.argmax(dim=1), summed.argmax(dim=1))


def test_one_embedding_composes_with_many():
    place = _unit(16, seed=5)
    times = _unit(3, 16, seed=6)
    torch.testing.assert_close(compose(place, times), torch.stack([compose(place, t) for t in times]))
