"""The web pages' results as plain dicts: one uploaded photo's analysis, and a gallery search.

The HTML templates and the JSON API both render these. This module only parses form fields and formats: the work
is :func:`gtloc.inference.verify.analyze_photo` and :func:`gtloc.inference.retrieve.search`.
"""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import numpy as np

from gtloc.errors import GtlocError
from gtloc.geo import distinct_places
from gtloc.inference.predictor import Predictor
from gtloc.model.domain import out_of_domain_warning
from gtloc.retrieval.image_gallery import ImageGallery
from gtloc.web.render import heat_color, png_data_uri, thumbnail_png, world_map_png

TOP_PLACES = 5
# Gallery entries read to find TOP_PLACES distinct places: entries closer than DISTINCT_KM are one place.
PLACE_CANDIDATES = 64
DISTINCT_KM = 10.0
SEARCH_RESULTS = 12
HEAT_SCALE_STEPS = 6


def _number(fields: dict[str, str], name: str, kind: type = float) -> Any:
    value = fields.get(name)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        raise GtlocError(f"{name} must be a number, got {value!r}") from None


def _heatmap(grid: np.ndarray, marks: dict[tuple[int, int], list[str]]) -> list[dict[str, Any]]:
    """Rows of the month x hour table; ``marks`` names the cells of the claim and of the best guess."""
    top = float(grid.max())
    return [
        {
            "month": calendar.month_abbr[m + 1],
            "cells": [
                {
                    "hour": h,
                    "p": float(grid[m, h]),
                    "color": heat_color(float(grid[m, h]), top),
                    "marks": marks.get((m, h), []),
                }
                for h in range(24)
            ],
        }
        for m in range(12)
    ]


def _heat_scale(top: float) -> list[dict[str, Any]]:
    """The heatmap's colour scale: ``HEAT_SCALE_STEPS`` swatches from 0 to the largest cell's probability."""
    return [
        {"p": top * i / (HEAT_SCALE_STEPS - 1), "color": heat_color(top * i / (HEAT_SCALE_STEPS - 1), top)}
        for i in range(HEAT_SCALE_STEPS)
    ]


def analysis_result(predictor: Predictor, path: Path, filename: str, fields: dict[str, str]) -> dict[str, Any]:
    """The analysis page of the photo at ``path`` (:func:`~gtloc.inference.verify.analyze_photo`): top places with
    names and a map, the best time of the run's read-out, the joint month x hour posterior it was read from (its row
    and column sums are the month and hour probabilities shown beside the best time), whether the photo is in the
    model's domain (with a warning in words when not), the model card, and the check of the claim (EXIF
    unless ``fields`` give ``lat``/``lon``/``time``)."""
    from gtloc.inference.verify import analyze_photo, claim_from_exif, parse_claim_time, verification_dict
    from gtloc.places import place_names

    time = parse_claim_time(fields["time"]) if fields.get("time") else None
    claim = claim_from_exif(path, _number(fields, "lat"), _number(fields, "lon"), time)
    analysis = analyze_photo(predictor, path, claim, top_k=PLACE_CANDIDATES)
    pred = analysis.prediction
    places, probs = distinct_places(pred.place_topk[0].numpy(), pred.place_probs[0].numpy(), DISTINCT_KM, TOP_PLACES)
    names = place_names(places)
    in_domain = None if pred.in_domain is None else bool(pred.in_domain[0])
    domain_score = None if pred.domain_score is None else float(pred.domain_score[0])
    card = predictor.card
    result: dict[str, Any] = {
        "filename": filename,
        "in_domain": in_domain,
        "domain_score": domain_score,
        "domain_warning": None if in_domain is None else out_of_domain_warning([in_domain], [domain_score]),
        "model": {"summary": card.summary(), "lines": card.lines()} if card is not None else None,
        "readout": pred.readout,
        "size": list(analysis.image.size),
        "distinct_km": DISTINCT_KM,
        "places": [
            {"rank": i + 1, "lat": round(lat, 4), "lon": round(lon, 4), "near": names[i], "prob": float(probs[i])}
            for i, (lat, lon) in enumerate(places)
        ],
        "claim_problems": claim.problems,
        "verification": verification_dict(analysis.verification) if analysis.verification else None,
    }
    if pred.month_hour_posterior is not None:
        grid = pred.month_hour_posterior[0].numpy()
        month, day, hour, minute = (int(v) for v in pred.best_time[0, :4])
        marks: dict[tuple[int, int], list[str]] = {(month - 1, hour): ["best"]}
        if claim.has_time:
            marks.setdefault((claim.time.month - 1, claim.time.hour), []).insert(0, "claim")
        result["heatmap"] = _heatmap(grid, marks)
        result["heat_scale"] = _heat_scale(float(grid.max()))
        result["best_time"] = f"{day} {calendar.month_name[month]}, {hour:02d}:{minute:02d}"
        result["best_time_probs"] = {
            "month": float(pred.month_posterior[0, month - 1]),
            "hour": float(pred.hour_posterior[0, hour]),
        }
    claim_place = (claim.lat, claim.lon) if claim.has_place else None
    result["map_png"] = png_data_uri(world_map_png(places, probs, claim_place))
    result["thumbnail_png"] = png_data_uri(thumbnail_png(analysis.image))
    return result


def search_result(predictor: Predictor, gallery: ImageGallery, params: dict[str, str]) -> dict[str, Any]:
    """The search page (:func:`~gtloc.inference.retrieve.search`) for a text query (``text``) or a composed one
    (``place`` or ``lat``/``lon``, ``month``, ``hour``); ``k`` results."""
    from gtloc.inference.retrieve import Retriever, search

    found = search(
        Retriever(predictor.model, gallery, predictor),
        text=params.get("text") or None,
        place=params.get("place") or None,
        lat=_number(params, "lat"),
        lon=_number(params, "lon"),
        month=_number(params, "month", int),
        hour=_number(params, "hour"),
        k=_number(params, "k", int) or SEARCH_RESULTS,
    )
    return {"answered_by": found.describe(), "notes": found.notes, "results": found.rows}
