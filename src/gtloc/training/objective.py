"""One training step's objective: the candidate rule, the encoders over images and candidates, the six terms.

Single-process and distributed training both run :class:`Objective`; ``gtloc.training.distributed`` only passes
the two functions that make the encodings global (an all-gather of image embeddings, a sharded encoding of the
label candidates), so both share one candidate rule (:meth:`GTLocLoss.candidates`) and one loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import CandidateLabels, GTLocLoss

Encoder = Callable[[torch.Tensor], torch.Tensor]
LabelEncoding = Callable[[Encoder, torch.Tensor], torch.Tensor]


def encode_here(encode: Encoder, labels: torch.Tensor) -> torch.Tensor:
    """``encode(labels)`` in this process (the single-process :data:`LabelEncoding`)."""
    return encode(labels)


def keep(embeddings: torch.Tensor) -> torch.Tensor:
    """The single-process image gather: this process's embeddings are the whole batch."""
    return embeddings


def encode_candidates(
    encode: Encoder, labels: CandidateLabels, queue_grad: bool, run: LabelEncoding = encode_here
) -> torch.Tensor:
    """Embeddings ``(n + Q, E)`` of ``labels.all``, each row encoded by ``run(encode, rows)``.

    ``queue_grad=True`` encodes batch and queue in one pass, with gradient (the exact objective).
    ``queue_grad=False`` encodes the queue without an autograd graph: the same forward values (up to float
    rounding from the split pass), but no gradient flows into the encoder through queue entries, which are
    treated as constants as in MoCo. It skips the backward pass through the queue (see docs/scale.md).
    """
    if queue_grad or not len(labels.queue):
        return run(encode, labels.all)
    with torch.no_grad():
        queue_emb = run(encode, labels.queue)
    return torch.cat([run(encode, labels.batch), queue_emb])


class Objective(nn.Module):
    """The loss terms of one batch, from backbone features and labels (holds ``model``, so DDP can wrap it).

    ``forward(features, latlon, times)``: ``features`` ``(b, D)`` the rows this process encodes, ``latlon``
    ``(B, 2)`` degrees and ``times`` ``(B, 5)`` local time for the whole batch (NaN = missing); returns
    ``{"loss": total, <term>: value, ...}``. ``gather`` turns this process's ``(b, E)`` image embeddings into the
    batch's ``(B, E)``; ``run`` encodes label candidates (both identities on one process, ``b == B``).
    """

    def __init__(
        self,
        model: GTLoc,
        loss_fn: GTLocLoss,
        queue_grad: bool = True,
        gather: Callable[[torch.Tensor], torch.Tensor] = keep,
        run: LabelEncoding = encode_here,
    ):
        super().__init__()
        self.model, self.loss_fn, self.queue_grad = model, loss_fn, queue_grad
        self.gather, self.run = gather, run

    def forward(self, features: torch.Tensor, latlon: torch.Tensor, times: torch.Tensor) -> dict[str, torch.Tensor]:
        model = self.model
        candidates = self.loss_fn.candidates(latlon, times, model.gps_queue.contents(), model.time_queue.contents())
        img = self.gather(model.encode_image(features))
        loc_emb = time_emb = None
        if candidates.gps is not None:
            loc_emb = encode_candidates(model.encode_location, candidates.gps, self.queue_grad, self.run)
        if candidates.times is not None:
            time_emb = encode_candidates(model.encode_time, candidates.times, self.queue_grad, self.run)
        return self.loss_fn(img, loc_emb, time_emb, model.logit_scales(), candidates)
