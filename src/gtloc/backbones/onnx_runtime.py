"""The fast CPU path: export a torch image encoder to ONNX once, cache it on disk, run it with ONNX Runtime.

On 2 CPU cores ONNX Runtime runs EfficientNet-Lite0 several times faster than eager torch (see
``benchmarks/bench_features.py``). The exported file is keyed by the weights digest and opset, written
atomically, and reused by every later process.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gtloc.io import atomic_path, user_cache_dir

OPSET = 17
INPUT_NAME = "pixels"
OUTPUT_NAME = "features"


def export_onnx(module: nn.Module, path: Path, image_size: int, opset: int = OPSET) -> None:
    """Export ``module`` (``(B, 3, S, S) -> (B, D)``, dynamic B) to ``path`` atomically."""
    example = torch.zeros(2, 3, image_size, image_size)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )


class OnnxEncoder:
    """An ONNX Runtime session over an exported encoder: ``(B, 3, S, S)`` tensor -> ``(B, D)`` float32 tensor."""

    def __init__(self, path: Path, num_threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads or torch.get_num_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE":
            # The same waiting policy as torch's threads (gtloc.device.quiet_cpu_threads): no spinning.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        (features,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: pixels})
        return torch.from_numpy(features)


def onnx_fast_path(module: nn.Module, key: str, image_size: int) -> OnnxEncoder | None:
    """The cached ONNX export of ``module`` named by ``key`` (made on first use), or None with a warning.

    Returns None (caller falls back to eager torch) when onnxruntime is missing or export/loading fails.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        warnings.warn("onnxruntime is not installed: running the backbone in eager torch (slower)", stacklevel=3)
        return None
    path = user_cache_dir() / "onnx" / f"{key}-opset{OPSET}.onnx"
    try:
        if not path.exists():
            export_onnx(module, path, image_size)
        return OnnxEncoder(path)
    except Exception as exc:
        warnings.warn(
            f"ONNX fast path unavailable ({type(exc).__name__}: {exc}); running the backbone in eager torch",
            stacklevel=3,
        )
        return None
