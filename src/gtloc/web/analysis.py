"""The web pages' results as plain dicts: analyse one uploaded photo, and search the gallery.

The HTML templates and the JSON API both render these; all the work is done by the library
(:mod:`gtloc.inference.verify`, :mod:`gtloc.inference.retrieve`, :mod:`gtloc.inference.textquery`).
"""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gtloc.errors import GtlocError
from gtloc.inference.predictor import Predictor
from gtloc.retrieval.image_gallery import ImageGallery, image_features
from gtloc.web.render import heat_color, month_hour_grid, png_data_uri, thumbnail_png, world_map_png

TOP_PLACES = 5
SEARCH_RESULTS = 12


def _number(fields: dict[str, str], name: str, kind: type = float) -> Any:
    value = fields.get(name)
    if value in (None, ""):
        return None
    try:
        return kind(value)
    except ValueError:
        raise GtlocError(f"{name} must be a number, got {value!r}") from None


def _heatmap(grid: np.ndarray) -> list[dict[str, Any]]:
    top = float(grid.max())
    return [
        {
            "month": calendar.month_abbr[m + 1],
            "cells": [
                {"hour": h, "p": float(grid[m, h]), "color": heat_color(float(grid[m, h]), top)} for h in range(24)
            ],
        }
        for m in range(12)
    ]


def analyze_photo(
    predictor: Predictor, backbone: Any, path: Path, filename: str, fields: dict[str, str]
) -> dict[str, Any]:
    """Top places (with names and a map), the month x hour posterior, and the check of the claim (EXIF unless
    ``fields`` give ``lat``/``lon``/``time``) for the photo at ``path``."""
    from gtloc.data.images import load_image
    from gtloc.inference.prediction_files import place_names
    from gtloc.inference.verify import claim_from_exif, parse_claim_time, verification_dict, verify_features

    image = load_image(path)
    time = parse_claim_time(fields["time"]) if fields.get("time") else None
    claim = claim_from_exif(path, _number(fields, "lat"), _number(fields, "lon"), time)
    features = image_features(backbone, [image])
    embedding = predictor.encode_images(features)[0]
    guess = predictor.predict_embeddings(embedding[None], top_k=TOP_PLACES)
    places = guess.place_topk[0].numpy().astype(float)
    probs = guess.place_probs[0].numpy().astype(float)
    names = place_names(places)
    result: dict[str, Any] = {
        "filename": filename,
        "size": list(image.size),
        "places": [
            {"rank": i + 1, "lat": round(lat, 4), "lon": round(lon, 4), "near": names[i], "prob": float(probs[i])}
            for i, (lat, lon) in enumerate(places)
        ],
        "claim_problems": claim.problems,
        "verification": None,
    }
    if claim.has_place or claim.has_time:
        result["verification"] = verification_dict(verify_features(predictor, features[0], claim))
    if predictor.can_predict_time:
        grid = month_hour_grid(predictor, embedding)
        best = np.unravel_index(int(grid.argmax()), grid.shape)
        result["heatmap"] = _heatmap(grid)
        result["best_time"] = f"{calendar.month_name[best[0] + 1]}, {best[1]:02d}:00-{best[1] + 1:02d}:00"
    claim_place = (claim.lat, claim.lon) if claim.has_place else None
    result["map_png"] = png_data_uri(world_map_png(places, probs, claim_place))
    result["thumbnail_png"] = png_data_uri(thumbnail_png(image))
    return result


def search_gallery(
    predictor: Predictor, gallery: ImageGallery, backbone: Any, params: dict[str, str]
) -> dict[str, Any]:
    """Run a text query (``text``) or a composed one (``place`` or ``lat``/``lon``, ``month``, ``hour``)."""
    from gtloc.inference.retrieve import GeoTimeRequest, Retriever
    from gtloc.inference.textquery import CLIP_PATH, find_place, search_text

    retriever = Retriever(predictor.model, gallery, predictor)
    k = _number(params, "k", int) or SEARCH_RESULTS
    if params.get("text"):
        clip = backbone if predictor.model.config.backbone.startswith("clip") else None
        answer = search_text(retriever, params["text"], k, clip)
        if answer.path == CLIP_PATH:
            answered = "the CLIP text tower, through the image head"
        else:
            answered = f"the offline parser: {answer.parsed.describe()}"
        notes = answer.parsed.notes if answer.parsed else []
        hits = answer.hits
    else:
        lat, lon, label = _number(params, "lat"), _number(params, "lon"), ""
        if params.get("place"):
            place = find_place(params["place"])
            lat, lon, label = place.lat, place.lon, place.label
        request = GeoTimeRequest(lat, lon, _number(params, "month", int), _number(params, "hour"), label)
        answered = f"composed query: {label + ' | ' if label else ''}{request.describe()}"
        notes, hits = [], retriever.composed([request], k)[0]
    with torch.inference_mode():
        rows = retriever.rows(hits)
    return {"answered_by": answered, "notes": notes, "results": rows}
