"""Feature blocks: the parts of a feature vector that come from different sources, and the weight of each.

``efficientnet-lite0+photometric`` features are 1,280 network features followed by the 46 photometric statistics
(:mod:`gtloc.backbones.photometric`). Standardised one by one, every number counts the same, so the network's
block outweighs the statistics 28 to 1 in a cosine similarity or an image head's input, although on a few hundred
pictures of unseen cameras the statistics alone were the better guide to the time (docs/small-data.md). After
standardisation each block is multiplied by ``sqrt(smallest block / its size)``: every block then adds the same
expected squared norm (the smallest block's), whatever its length. Features of one block are left as they are.
"""

from __future__ import annotations

import torch

from gtloc.backbones.photometric import FEATURE_DIM as PHOTOMETRIC_DIM
from gtloc.backbones.photometric import SUFFIX


def feature_blocks(backbone: str, feature_dim: int) -> tuple[int, ...]:
    """The block sizes of ``backbone``'s ``feature_dim``-d features: ``(network, photometric)`` for a
    ``NAME+photometric`` backbone, one block otherwise."""
    if backbone.endswith(SUFFIX) and feature_dim > PHOTOMETRIC_DIM:
        return (feature_dim - PHOTOMETRIC_DIM, PHOTOMETRIC_DIM)
    return (feature_dim,)


def block_weights(backbone: str, feature_dim: int) -> torch.Tensor:
    """``(feature_dim,)`` weights of the standardised features (module docstring): all ones for one block."""
    blocks = feature_blocks(backbone, feature_dim)
    smallest = min(blocks)
    return torch.cat([torch.full((size,), (smallest / size) ** 0.5) for size in blocks])
