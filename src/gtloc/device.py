"""Where tensors run: device names, numeric precision and CPU threads (foundation; torch is imported lazily).

* :func:`resolve_device`: ``"auto"`` (CUDA when there, else CPU), ``"cpu"``, ``"cuda"`` (the current CUDA device)
  or ``"cuda:N"`` -> a ``torch.device``; a CUDA name without CUDA, or an index past the last GPU, is a
  :class:`~gtloc.errors.ParameterError` naming ``device``.
* :func:`check_precision` / :func:`autocast`: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"`` as autocast. On the CPU
  ``bf16`` is allowed (CPU autocast) and ``fp16`` is refused: CPU autocast does not support it well and is slower
  than fp32 there, so gtloc says so instead of silently running fp32.
* :func:`quiet_cpu_threads` / :func:`cpu_threads`: how many intra-op threads torch uses, and how they wait.
  On a loaded machine OpenMP threads that spin at barriers make a 2-thread run ~70x slower beside two busy
  processes (issue 10); passive waiting keeps the slowdown near the machine's share (``benchmarks/bench_load.py``).

Nothing here imports torch at module import time, so the command line can name these options without it.
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from gtloc.errors import Param, ParameterError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
PRECISIONS = ("fp32", "bf16", "fp16")
_CUDA = re.compile(r"cuda(?::(\d+))?")


def device_name(device: str | None) -> str:
    """``device`` (``None`` = ``"auto"``) as a normalised name, once it is one of :data:`DEVICES`' forms; else a
    :class:`ParameterError` naming ``device``. Imports no torch: a command that may not need a model checks its
    ``--device`` with this before any work, and :func:`resolve_device` only when it loads one."""
    name = "auto" if device is None else str(device).strip().lower()
    if name not in ("auto", "cpu") and _CUDA.fullmatch(name) is None:
        raise ParameterError("unknown ", Param("device"), f" {device!r}; choose auto, cpu, cuda or cuda:N")
    return name


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` | ``"cpu"`` | ``"cuda"`` | ``"cuda:N"`` (or a ``torch.device``; ``None`` = ``"auto"``) -> device.

    ``"auto"`` is ``cuda`` (the current CUDA device) when ``torch.cuda.is_available()``, else ``cpu``.
    """
    import torch

    name = device_name(str(device) if isinstance(device, torch.device) else device)
    if name == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = _CUDA.fullmatch(name)
    if not torch.cuda.is_available():
        raise ParameterError(
            f"{name} was asked for but CUDA is not available (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}); use ",
            Param("device", "cpu"),
            " or ",
            Param("device", "auto"),
        )
    count = torch.cuda.device_count()
    index = int(match.group(1)) if match.group(1) is not None else torch.cuda.current_device()
    if index >= count:
        raise ParameterError(
            f"{name}: this machine has {count} CUDA device{'s' if count != 1 else ''} (cuda:0 .. cuda:{count - 1}); "
            "choose another ",
            Param("device"),
        )
    return torch.device("cuda", index)


def check_precision(precision: str, device: torch.device) -> str:
    """``precision`` if it can run on ``device``, else a :class:`ParameterError` naming ``precision``."""
    if precision not in PRECISIONS:
        raise ParameterError("unknown ", Param("precision"), f" {precision!r}; choose {', '.join(PRECISIONS)}")
    if precision == "fp16" and device.type == "cpu":
        raise ParameterError(
            "fp16 runs on CUDA only (CPU autocast in fp16 is unsupported for many ops and slower than fp32); use ",
            Param("precision", "bf16"),
            " or ",
            Param("precision", "fp32"),
            " on the CPU",
        )
    return precision


def autocast(device: torch.device, precision: str = "fp32") -> AbstractContextManager:
    """A ``torch.autocast`` block for ``precision`` on ``device`` (nothing for ``fp32``)."""
    import torch

    check_precision(precision, device)
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def cpu_threads(cores: int | None = None) -> int:
    """Intra-op threads for this process: the cores it may run on (its CPU affinity), at most 8.

    The cap is a choice, not a measurement: gtloc's networks are small (MLP heads of a few MB, EfficientNet-Lite0),
    so a wide machine is better used by more processes (``torchrun``, feature shards) than by wider barriers.
    Only 2 cores were available to measure (``benchmarks/bench_load.py``).
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 8))


def quiet_cpu_threads() -> None:
    """Before torch is imported: OpenMP threads sleep instead of spinning when they wait
    (``OMP_WAIT_POLICY=PASSIVE``) and torch runs :func:`cpu_threads` intra-op threads (``OMP_NUM_THREADS``).

    OpenMP reads both once, when torch is first imported, so this is the command line's first step; values the
    user set are kept. A Python program can call it before ``import torch``, or set the variables itself.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", str(cpu_threads()))
