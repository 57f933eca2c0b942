"""Calibration of shown probabilities: expected calibration error and reliability diagrams.

A probability is calibrated when, among answers shown with confidence c, a share c is right. For N answers with
confidence ``c_i`` and correctness ``y_i`` binned by confidence into equal-width bins b:
``ECE = sum_b |B_b| / N * |mean(y in b) - mean(c in b)|`` (0 = calibrated).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gtloc.io import atomic_path

RELIABILITY_BINS = 10


def reliability(confidence: np.ndarray, correct: np.ndarray, bins: int = RELIABILITY_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin over [0, 1]: ``count``, mean ``confidence`` and ``accuracy`` (NaN if empty)."""
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    count = np.bincount(which, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, minlength=bins) / count
        accuracy = np.bincount(which, correct, minlength=bins) / count
    return {"count": count, "confidence": mean_conf, "accuracy": accuracy}


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = RELIABILITY_BINS) -> float:
    """ECE (module docstring) of answers shown with ``confidence`` ``(N,)`` in [0, 1] and right where ``correct``."""
    table = reliability(confidence, correct, bins)
    filled = table["count"] > 0
    gaps = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float((table["count"][filled] * gaps).sum() / table["count"].sum())


def plot_reliability(
    curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]], path: str | Path, dpi: int = 110
) -> None:
    """Reliability diagrams, one panel per posterior: ``curves[posterior][label] = (confidence, correct)`` (e.g.
    labels ``before`` / ``after`` calibration), accuracy against mean confidence per bin, with the diagonal."""
    fig = Figure(figsize=(4.2 * len(curves), 4.2))
    for i, (name, by_label) in enumerate(curves.items()):
        ax = fig.add_subplot(1, len(curves), i + 1)
        ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="calibrated")
        for label, (confidence, correct) in by_label.items():
            table = reliability(confidence, correct)
            filled = table["count"] > 0
            ece = expected_calibration_error(confidence, correct)
            ax.plot(
                table["confidence"][filled], table["accuracy"][filled], marker="o", label=f"{label} (ECE {ece:.3f})"
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("shown probability (bin mean)")
        ax.set_ylabel("share right")
        ax.set_title(name)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
