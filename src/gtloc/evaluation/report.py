"""Reports: a markdown metrics table, a world map of predicted vs true places, month x hour posterior heatmaps
(the joint posterior, :attr:`gtloc.inference.prediction.Prediction.month_hour_posterior`).

Plots use matplotlib's Agg renderer (offline, no pyplot state) and are written atomically as PNG. The map's
land comes from the time-zone polygons that ``timezonefinder`` ships (land zones vs the ``Etc/GMT`` ocean
zones, so coasts include ~22 km of territorial water), sampled on a coarse grid: no download, no extra package.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patheffects import withStroke
from PIL import Image

from gtloc.data.images import load_image
from gtloc.errors import GtlocError
from gtloc.geo import ACCURACY_THRESHOLDS_KM
from gtloc.io import atomic_path
from gtloc.labels import has_label
from gtloc.timecode import hour_fraction, protocol_month_value, timezone_at

# (key, header, format): time errors in months / hours, median in km, accuracies shown in percent.
TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("month_error", "month err (months)", "{:.2f}"),
    ("hour_error", "hour err (h)", "{:.2f}"),
    ("median_km", "median km", "{:.1f}"),
    *((f"acc_{t:g}km", f"acc@{t:g}km %", "{:.1%}") for t in ACCURACY_THRESHOLDS_KM),
)
LAND_RGB = np.array([0.86, 0.84, 0.78])
OCEAN_RGB = np.array([0.87, 0.92, 0.97])
# (longitude, latitude of the coast) of Antarctica, ice shelves included, west to east.
ANTARCTIC_COAST = (
    (-180, -78),
    (-150, -77),
    (-120, -74),
    (-100, -73),
    (-75, -72),
    (-66, -66),
    (-58, -63),
    (-55, -70),
    (-45, -77),
    (-30, -76),
    (-15, -72),
    (0, -70),
    (30, -69),
    (60, -67),
    (90, -66),
    (120, -66),
    (150, -68),
    (165, -72),
    (170, -77),
    (180, -78),
)


def _metric(metrics: Mapping[str, Any], key: str) -> float | None:
    """``key`` from an evaluate result (``{"geo": {...}, "time": {...}}``) or a flat ``{key: value}`` dict."""
    if key in metrics:
        return metrics[key]
    for half in ("geo", "time"):
        if isinstance(metrics.get(half), Mapping) and key in metrics[half]:
            return metrics[half][key]
    return None


def _count(metrics: Mapping[str, Any]) -> str:
    n = metrics.get("n")
    if isinstance(n, Mapping):
        n = n.get("matched")
    return "" if n is None else str(n)


def metrics_table(metrics_by_name: Mapping[str, Mapping[str, Any]], label: str = "method") -> str:
    """Markdown table, one row per method (or group): ``n``, month and hour errors, median km, accuracies in %.

    Each value is an evaluate result (``{"n", "geo", "time"}``) or a flat dict of metric keys; missing metrics
    show as ``-``. ``label`` heads the first column.
    """
    header = [label, "n", *(title for _, title, _ in TABLE_COLUMNS)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    for name, metrics in metrics_by_name.items():
        cells = [str(name), _count(metrics)]
        for key, _, fmt in TABLE_COLUMNS:
            value = _metric(metrics, key)
            cells.append("-" if value is None else fmt.format(value).rstrip("%"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def evaluation_table(result: Mapping[str, Any]) -> str:
    """The table for one :func:`~gtloc.evaluation.protocol.evaluate_predictions` result: pooled row, then per group."""
    rows: dict[str, Mapping[str, Any]] = {"all": result}
    for value, metrics in result.get("groups", {}).items():
        rows[f"{result['group_by']}={value}"] = metrics
    return metrics_table(rows, label="rows")


def _save(fig: Figure, path: str | Path, dpi: int) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")


@lru_cache(maxsize=2)
def land_mask(step_deg: float = 0.5) -> np.ndarray:
    """``(180/step, 360/step)`` bool, True on land; row 0 is the northernmost band, column 0 starts at -180.

    North of 60°S: land time zones. South of it the Antarctic zones are wedges reaching far into the sea, so
    Antarctica is drawn from a coarse hand-traced coast instead (``ANTARCTIC_COAST``, ~2° accurate).
    """
    lats = np.arange(90 - step_deg / 2, -90, -step_deg)
    lons = np.arange(-180 + step_deg / 2, 180, step_deg)
    coast = np.interp(lons, *zip(*ANTARCTIC_COAST, strict=True))
    return np.array(
        [
            [
                lat <= c if lat < -60 else not timezone_at(lat, lon).startswith("Etc/")
                for lon, c in zip(lons, coast, strict=True)
            ]
            for lat in lats
        ]
    )


def _latlon_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise GtlocError(f"{name} must have shape (N, 2) [lat, lon] degrees, got {arr.shape}")
    return arr


def map_segments(true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The lines from each true place to its prediction on an equirectangular map, ``(M, 2, 2)`` of
    ``[[lon, lat], [lon, lat]]``, each the short way round: at most 180 degrees of longitude long. A line that
    crosses the date line is drawn twice, leaving the map at one edge and entering at the other (the map clips
    both at +-180). ``true``, ``pred``: ``(N, 2)`` ``[lat, lon]`` degrees."""
    shift = 360 * np.round((pred[:, 1] - true[:, 1]) / 360)
    wraps = shift != 0
    starts = np.concatenate([true, true[wraps] + np.c_[0 * shift, shift][wraps]])
    ends = np.concatenate([pred - np.c_[0 * shift, shift], pred[wraps]])
    return np.stack([starts[:, ::-1], ends[:, ::-1]], axis=1)


def plot_world_map(
    pred_latlon: Any, true_latlon: Any, path: str | Path, title: str | None = None, dpi: int = 130
) -> None:
    """Equirectangular world map: true places (green), predictions (red), a line from each truth to its prediction.

    ``pred_latlon`` and ``true_latlon``: ``(N, 2)`` degrees, row i of one belongs to row i of the other; rows
    with a NaN are left out. Lines take the short way round across the date line.
    """
    pred, true = _latlon_array(pred_latlon, "pred_latlon"), _latlon_array(true_latlon, "true_latlon")
    if len(pred) != len(true):
        raise GtlocError(f"pred_latlon has {len(pred)} rows but true_latlon has {len(true)}")
    keep = has_label(pred) & has_label(true)
    pred, true = pred[keep], true[keep]
    fig = Figure(figsize=(12, 6.4))
    ax = fig.add_subplot()
    background = np.where(land_mask()[..., None], LAND_RGB, OCEAN_RGB)
    ax.imshow(background, extent=(-180, 180, -90, 90), interpolation="bilinear", zorder=0)
    segments = map_segments(true, pred)
    ax.add_collection(LineCollection(segments, colors="#444444", linewidths=0.6, alpha=0.45, zorder=2))
    marker = float(np.clip(120.0 / np.sqrt(max(len(true), 1)), 3.0, 40.0))
    ax.scatter(true[:, 1], true[:, 0], s=marker, c="#1b9e3e", label="true place", zorder=3, edgecolors="none")
    ax.scatter(pred[:, 1], pred[:, 0], s=marker, c="#d62728", marker="x", label="prediction", zorder=4, linewidths=0.8)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xticks(range(-180, 181, 60))
    ax.set_yticks(range(-90, 91, 30))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title or f"Predicted vs true places ({len(true)} images)")
    ax.legend(loc="lower left", framealpha=0.9)
    _save(fig, path, dpi)


def _picture(image: Image.Image | str | Path) -> Image.Image:
    return image if isinstance(image, Image.Image) else load_image(image)


def _mark_time(heat: Any, time: np.ndarray, **style: Any) -> None:
    """Mark a ``(5,)`` local time on a month x hour heatmap (nothing for a NaN row)."""
    if has_label(time):
        heat.scatter(
            hour_fraction(time),
            protocol_month_value(time) - 1,
            linewidths=2,
            clip_on=False,
            path_effects=[withStroke(linewidth=3.5, foreground="black")],
            **style,
        )


def plot_time_posteriors(
    images: Sequence[Image.Image | str | Path],
    month_hour_posteriors: Any,
    truths: Any,
    path: str | Path,
    predictions: Any | None = None,
    titles: Sequence[str] | None = None,
    dpi: int = 110,
) -> None:
    """One row per picture: the picture, then its joint month x hour posterior.

    ``month_hour_posteriors`` ``(N, 12, 24)``: months Jan..Dec by hours 0..23 (as
    :attr:`~gtloc.inference.prediction.Prediction.month_hour_posterior` holds them); ``truths`` ``(N, 5)`` local
    times (NaN row: unknown) marked with a white circle; ``predictions`` ``(N, 5)`` optional, marked with a cyan
    cross. ``images``: PIL images or file paths.
    """
    grids = np.asarray(month_hour_posteriors, dtype=np.float64)
    n = len(images)
    if grids.shape != (n, 12, 24):
        raise GtlocError(f"for {n} images expected month_hour_posteriors (N, 12, 24), got {grids.shape}")
    truth = np.asarray(truths, dtype=np.float64).reshape(n, 5)
    guess = None if predictions is None else np.asarray(predictions, dtype=np.float64).reshape(n, 5)
    fig = Figure(figsize=(9, 2.4 * n + 0.4), layout="constrained")
    axes = fig.subplots(n, 2, squeeze=False, gridspec_kw={"width_ratios": [1, 1.9]})
    for i in range(n):
        pic, heat = axes[i]
        pic.imshow(_picture(images[i]))
        pic.set_axis_off()
        if titles is not None:
            pic.set_title(titles[i], fontsize=8)
        shown = heat.imshow(grids[i], extent=(0, 24, 12, 0), aspect="auto", cmap="magma", interpolation="nearest")
        fig.colorbar(shown, ax=heat, fraction=0.04, pad=0.02, label="probability")
        heat.set_yticks(np.arange(12) + 0.5, list(calendar.month_abbr)[1:], fontsize=7)
        heat.set_xticks(range(0, 25, 3))
        heat.set_xlabel("local hour", fontsize=8)
        heat.tick_params(axis="x", labelsize=7)
        _mark_time(heat, truth[i], s=70, facecolors="none", edgecolors="white", label="truth")
        if guess is not None:
            _mark_time(heat, guess[i], s=60, marker="x", c="cyan", label="prediction")
        if i == 0 and heat.get_legend_handles_labels()[0]:
            heat.legend(loc="upper right", fontsize=7, framealpha=0.7)
    fig.suptitle("Month x hour posteriors", fontsize=10)
    _save(fig, path, dpi)
