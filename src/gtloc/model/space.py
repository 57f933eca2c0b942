"""The shared embedding space's rule for a query of two modalities: :func:`compose`.

Images, locations and times are embedded as unit vectors of one space (:class:`~gtloc.model.gtloc.GTLoc`'s
``encode_*``). A query that knows two of them (the paper's ``(image + location) -> time``,
``(image + time) -> location`` and ``(location + time) -> image``) is their normalised sum, written here once and
used by the training terms (:mod:`gtloc.model.losses`), the held-out fit, the predictor and image retrieval.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The composed query of two embeddings ``a`` and ``b`` ``(..., E)`` (broadcast against each other, e.g.
    ``(N, E)`` images + ``(N, E)`` locations): ``normalize(a + b)``, a unit vector ``(..., E)``. Its similarity
    to an embedding ``t`` is ``<a, t> + <b, t>`` up to the norm of ``a + b``: a product of the two experts."""
    return F.normalize(a + b, dim=-1)
