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
from gtloc.inference.prediction import Prediction, place_line, time_note, time_window
from gtloc.inference.predictor import Predictor
from gtloc.inference.readable import percent
from gtloc.labels import has_label
from gtloc.model.domain import out_of_domain_warning
from gtloc.model.readouts import READOUT_WORDS
from gtloc.retrieval.image_gallery import ImageGallery
from gtloc.retrieval.place_answer import DISTINCT_KM
from gtloc.web.render import heat_color, heat_legend, map_data, png_data_uri, thumbnail_png

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


def _heatmap(grid: np.ndarray, marks: dict[tuple[int, int], list[str]]) -> list[dict[str, Any]]:
    """Rows of the month x hour table; ``marks`` names the cells of the claim and of the best guess."""
    return [
        {
            "month": calendar.month_abbr[m + 1],
            "cells": [
                {
                    "hour": h,
                    "p": float(grid[m, h]),
                    "color": heat_color(float(grid[m, h])),
                    "marks": marks.get((m, h), []),
                }
                for h in range(24)
            ],
        }
        for m in range(12)
    ]


def _places(pred: Prediction) -> list[dict[str, Any]]:
    """The table's rows of the prediction's distinct places, best first."""
    from gtloc.places import place_names

    places, probs = pred.place_topk[0].numpy(), pred.place_probs[0].numpy()
    found = has_label(places)
    places, probs = places[found].astype(np.float64), probs[found].astype(np.float64)
    names = place_names(places)
    rows = [
        {
            "rank": i + 1,
            "lat": round(lat, 4),
            "lon": round(lon, 4),
            "near": names[i],
            "prob": float(probs[i]),
            "prob_text": percent(probs[i]),
        }
        for i, (lat, lon) in enumerate(places.tolist())
    ]
    return rows


def analysis_result(predictor: Predictor, path: Path, filename: str, fields: dict[str, str]) -> dict[str, Any]:
    """The analysis page of the photo at ``path`` (:func:`~gtloc.inference.verify.analyze_photo`): the best place
    (the prediction's one answer, :attr:`~gtloc.inference.prediction.Prediction.latlon`: its town, probability and
    radius) and the top distinct places with names and a map, the best time of the run's read-out as a month and an
    hour window, the joint month x hour posterior it was read from (its row
    and column sums are the month and hour probabilities shown beside the best time), whether the photo is in the
    model's domain (with a warning in words when not), the model card, and the check of the claim (EXIF
    unless ``fields`` give ``lat``/``lon``/``time``)."""
    from gtloc.data.claims import make_claim, read_claim_time
    from gtloc.data.exif import read_photo_exif
    from gtloc.inference.verify import analyze_photo

    time = read_claim_time(fields["time"]) if fields.get("time") else None
    exif = read_photo_exif(path, check_pixels=False)
    claim = make_claim(exif, _number(fields, "lat"), _number(fields, "lon"), time)
    analysis = analyze_photo(predictor, path, claim, top_k=TOP_PLACES)
    pred = analysis.prediction
    rows = _places(pred)
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
        "readout_words": READOUT_WORDS[pred.readout],
        "size": list(analysis.image.size),
        "distinct_km": DISTINCT_KM,
        "best_place": {
            **rows[0],
            "radius_km": None if pred.place_radius_km is None else float(pred.place_radius_km[0]),
            "radius_coverage": pred.place_coverage,
            "text": place_line(pred, 0, rows[0]["near"]),
        },
        "places": rows,
        "claim_problems": claim.problems,
        "verification": _checks(analysis, exif) if analysis.verification else None,
    }
    if pred.month_hour_posterior is not None:
        grid = pred.month_hour_posterior[0].numpy()
        month, hour = int(pred.best_time[0, 0]), int(pred.best_time[0, 2])
        marks: dict[tuple[int, int], list[str]] = {(month - 1, hour): ["best"]}
        if claim.has_time:
            marks.setdefault((claim.time.month - 1, claim.time.hour), []).insert(0, "claim")
        result["heatmap"] = _heatmap(grid, marks)
        result["heat_scale"] = heat_legend()
        first, hours, mass = pred.hour_window()
        result["best_time"] = time_window(pred, 0)
        result["best_time_note"] = time_note(pred, 0)
        result["best_time_probs"] = {
            "month": float(pred.month_posterior[0, month - 1]),
            "hour": float(pred.hour_posterior[0, hour]),
            "hour_window": {"from": int(first[0]), "hours": int(hours[0]), "prob": float(mass[0])},
        }
    claim_place = (claim.lat, claim.lon) if claim.has_place else None
    result["map"] = map_data(result["places"], claim_place)
    result["thumbnail_png"] = png_data_uri(thumbnail_png(analysis.image))
    return result


CHECK_LEGEND = {
    "clock": "the camera's clock against the time of the photo's own GPS receiver",
    "sun": "the light in the picture against the sun's height at the claimed place and time",
    "model": "the trained model: where and when it thinks the picture was taken",
}


def _checks(analysis: Any, exif: Any) -> dict[str, Any]:
    """The claim section: each check (clock, sun, model) with its verdict and reason, the verdict combining them
    (:func:`gtloc.evidence.verify.verify_image`), the sun at the claimed place and time, and the model's view of
    each part of the claim."""
    from gtloc.evidence.model import part_reason, rank_dict, rank_verdict
    from gtloc.evidence.report import check_dict, claim_dict
    from gtloc.evidence.verify import verify_image
    from gtloc.inference.verify import ModelView

    view = ModelView(analysis.embedding, analysis.prediction, analysis.verification)
    verdict = verify_image(analysis.image, analysis.claim, exif, view)
    model = verdict.check("model")
    guess = model.figures["best_guess"]
    sun = verdict.check("sun").figures
    return {
        "claim": claim_dict(analysis.claim),
        "verdict": verdict.word,
        "reason": verdict.verdict.reason,
        "checks": [{**check_dict(c), "compares": CHECK_LEGEND[c.name]} for c in verdict.checks],
        "sun": {k: sun[k] for k in ("sun_elevation_deg", "sun_azimuth_deg", "light") if k in sun} or None,
        "parts": [
            {**rank_dict(r), "reason": part_reason(r, rank_verdict(r), guess["near"])}
            for r in analysis.verification.ranks
        ],
        "in_domain": model.figures["in_domain"],
        "best_guess": guess,
    }


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
