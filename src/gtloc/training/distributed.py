"""Data-parallel training across processes (``torchrun``): DDP with gloo on CPU, NCCL on GPUs.

Under torchrun (any ``WORLD_SIZE``, 1 included) each process trains on ``cuda:LOCAL_RANK`` when CUDA is there (and
the device asked for is ``"auto"`` or ``"cuda"``), with NCCL; on the CPU with gloo.

Every process holds the same global batch of labels and encodes its own contiguous shard of the images and of
the label candidates (batch labels and queues); the embeddings are all-gathered *with gradient* so that each
process evaluates the six contrastive terms over the whole global batch and both queues, exactly as one process
would: the candidate rule and the loss are the single-process ones (``gtloc.training.objective``). Each
process computes the same loss ``L``; the gather's backward sums ``dL/dx`` over processes (``world_size * dL/dx``)
and DDP averages gradients, which gives ``dL/dtheta`` of the single-process run.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

import torch
import torch.distributed as dist
from torch import nn

from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.model.gtloc import GTLoc
from gtloc.model.losses import GTLocLoss
from gtloc.training.objective import Objective

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group: ``rank`` of ``world_size``, its ``device`` and the ``backend``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """The contiguous rows ``[rank * n / W, (rank + 1) * n / W)`` of ``n`` (``n`` divisible by ``world_size``)."""
        per = n // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)


def launched_by_torchrun() -> bool:
    """True when the torchrun environment variables are set (a group of one process or more)."""
    return all(v in os.environ for v in TORCHRUN_VARS)


def torchrun_device(device: str | torch.device | None = "auto") -> torch.device:
    """This torchrun process's device: ``cuda:LOCAL_RANK`` for ``"auto"`` (when CUDA is there) or ``"cuda"``,
    else the CPU. An explicit ``"cuda:N"`` is refused: torchrun gives each process its own GPU."""
    from gtloc.device import resolve_device

    name = "auto" if device is None else str(device).strip().lower()
    if name.startswith("cuda:"):
        raise ParameterError(
            f"under torchrun each process uses cuda:LOCAL_RANK, not {name}: pass ",
            Param("device", "cuda"),
            " or ",
            Param("device", "auto"),
        )
    resolved = resolve_device(name)
    if resolved.type != "cuda":
        return resolved
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    return resolve_device(f"cuda:{local_rank}")


def is_main_process() -> bool:
    """True unless this is a torchrun process of rank > 0 (so that only one process prints)."""
    return not launched_by_torchrun() or int(os.environ["RANK"]) == 0


@contextlib.contextmanager
def process_group(device: str | torch.device | None = "auto") -> Iterator[DistContext | None]:
    """Join the torchrun group for the duration of the block (``None`` when not under torchrun).

    The process runs on :func:`torchrun_device` of ``device``; the backend is NCCL on CUDA, gloo on the CPU. On
    exit every process waits at a barrier, then the group is destroyed. A group already initialised by the caller
    is used and left alone (its backend decides the device: NCCL -> ``cuda:LOCAL_RANK``): a process that trains
    several runs should hold one group around all of them (re-creating the group in the same torchrun process was
    seen to hang).
    """
    if not launched_by_torchrun():
        yield None
        return
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    owned = not dist.is_initialized()
    if owned:
        device = torchrun_device(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    backend = dist.get_backend()
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        yield DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device, backend)
    finally:
        dist.barrier()
        if owned:
            dist.destroy_process_group()


class _GatherWithGrad(torch.autograd.Function):
    """All-gather of equal-sized ``(n, ...)`` tensors; backward all-reduces (sums) the gradient, keeps own rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        ctx.rows = x.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """``(n, ...)`` on each of W processes -> ``(W * n, ...)`` in rank order, differentiable."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def encode_sharded(
    encode: Callable[[torch.Tensor], torch.Tensor], labels: torch.Tensor, ctx: DistContext
) -> torch.Tensor:
    """Embeddings of all ``labels`` ``(M, L)``, each process encoding one contiguous shard, gathered -> ``(M, E)``.

    ``M`` is padded to a multiple of the world size with copies of the first row, which are dropped again.
    Under ``torch.no_grad()`` (queues with ``queue_grad=False``) nothing is recorded for backward.
    """
    m = labels.shape[0]
    if m == 0:
        return encode(labels)
    pad = -m % ctx.world_size
    padded = torch.cat([labels, labels[:1].expand(pad, -1)]) if pad else labels
    rows = padded[ctx.shard(padded.shape[0])]
    return gather_with_grad(encode(rows))[:m]


def wrap_loss(model: GTLoc, loss_fn: GTLocLoss, queue_grad: bool, ctx: DistContext, global_batch: int) -> nn.Module:
    """The training :class:`Objective` over the global batch, in DDP (``global_batch`` divisible by the world size).

    Its ``forward(features, latlon, times)`` takes this process's ``(B / W, D)`` rows of the global batch's
    features and the labels of the whole global batch: it gathers the image embeddings, each process encodes a
    shard of the label candidates, and then it applies the same candidate rule and loss as a single process.
    """
    if global_batch % ctx.world_size:
        raise GtlocError(
            f"batch_size {global_batch} must be divisible by the number of processes ({ctx.world_size}) "
            "so that every process encodes the same number of images"
        )
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # Queues are updated identically on every process, so buffers need no broadcast (torch 2.13 warns that
    # broadcast_buffers is deprecated; its replacement still syncs at init); terms without rows (e.g. a batch
    # with no timestamps) leave some parameters unused.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning)
        return nn.parallel.DistributedDataParallel(
            Objective(model, loss_fn, queue_grad, gather=gather_with_grad, run=partial(encode_sharded, ctx=ctx)),
            device_ids=device_ids,
            broadcast_buffers=False,
            find_unused_parameters=True,
        )
