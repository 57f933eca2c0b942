"""The model check: what a trained GT-Loc model says about a claim, as one more kind of evidence.

The model ranks each part of the claim among the alternatives it could prefer (:mod:`gtloc.inference.verify`: the
place among the GPS gallery, the month and hour among the other months and hours). This module holds the rule that
turns those numbers into verdicts, in one place.

1. Each part (place, month, hour; the joint month-and-hour ``time`` rank is shown but has no verdict of its own):

   * ``cannot judge`` when the picture is outside the model's domain (:mod:`gtloc.model.domain`), or when the
     part's posterior is too flat to tell the alternatives apart (``sharpness`` below the run's ``flat_below``
     for that part, fitted on held-out pictures at the end of training: :mod:`gtloc.model.calibration`);
   * the place, when the model is **sure of a region**: its calibrated posterior puts at least
     :data:`SURE_MASS` (90 %) within :data:`REGION_KM` (750 km, the radius its place temperature is calibrated
     for) of its best place. A claimed place more than :data:`FAR_KM` (2,500 km: another continent) from that
     best place is then ``inconsistent``; one outside the region but nearer is ``doubtful``. (Ranks alone cannot
     see this: the gallery's 100,000 places are scored by a smooth encoder, and a place 17,000 km away can still
     beat a quarter of them.)
   * otherwise the part's percentile decides: ``consistent`` when the claim beats at least :data:`CONSISTENT_AT`
     (25 %) of the alternatives, ``inconsistent`` below the run's ``inconsistent_below`` for that part, ``doubtful``
     in between. ``inconsistent_below`` is fitted on held-out pictures at the end of training so that a true claim
     like theirs falls below with probability at most 0.5 %, and is never above 10 % (:mod:`gtloc.model.calibration`;
     a run without it uses :data:`~gtloc.model.calibration.DEFAULT_INCONSISTENT_BELOW`). A fixed 10 % called 2 % of
     true claims inconsistent on a webcam world (``benchmarks/bench_verify.py``), 9.7 % on the demo's test world: a
     true month is now and then the model's last choice, or the last but one.

2. The model check's verdict from its parts: ``cannot judge`` out of domain; else ``inconsistent`` when any part is;
   else ``consistent`` when every part is; else (a part doubtful or cannot judge) ``cannot judge``.

Percentiles, not credibilities, decide within a region because the learned logit scales are not calibrated for
100k alternatives: on a held-out world half of the true places had credibility < 0.05, but only 5 % had a
percentile below 19 (``benchmarks/bench_retrieval_quality.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gtloc.evidence.check import CANNOT_JUDGE, CONSISTENT, INCONSISTENT, Check
from gtloc.inference.prediction import time_window
from gtloc.inference.readable import latlon_text, percent, radius_text
from gtloc.inference.verify import ClaimRank, Verification
from gtloc.model.calibration import DEFAULT_FLAT_BELOW, DEFAULT_INCONSISTENT_BELOW
from gtloc.model.domain import out_of_domain_warning
from gtloc.retrieval.claim_rank import ClaimScores
from gtloc.retrieval.posterior import PLACE_RADIUS_KM

CONSISTENT_AT = 25.0
DOUBTFUL = "doubtful"
SURE_MASS = 0.9
"""The model is sure of a region when its calibrated posterior puts at least this much within REGION_KM of its best
place."""
REGION_KM = PLACE_RADIUS_KM
FAR_KM = 2500.0
"""A claimed place this far from the best place of a sure model is on another continent: inconsistent."""
JUDGED_PARTS = ("place", "month", "hour")
PART_VERDICTS = (CONSISTENT, DOUBTFUL, INCONSISTENT, CANNOT_JUDGE)


def part_verdict(
    kind: str,
    percentile: float,
    sharpness: float,
    in_domain: bool | None = True,
    flat_below: float | None = None,
    confidence: float | None = None,
    distance_km: float | None = None,
    inconsistent_below: float | None = None,
) -> str | None:
    """One part's verdict (rule 1 of the module docstring); ``None`` for the joint ``time`` rank. ``in_domain=None``
    (the run has no domain check) judges as in domain. ``flat_below``: the run's sharpness threshold for this part
    (``Predictor.temperatures.flat_below``; ``None``: :data:`~gtloc.model.calibration.DEFAULT_FLAT_BELOW`).
    ``confidence``/``distance_km``: the place's region (:class:`~gtloc.inference.verify.ClaimRank`).
    ``inconsistent_below``: the run's percentile threshold for this part (``Predictor.temperatures``; ``None``:
    :data:`~gtloc.model.calibration.DEFAULT_INCONSISTENT_BELOW`)."""
    if kind not in JUDGED_PARTS:
        return None
    if in_domain is False or sharpness < (DEFAULT_FLAT_BELOW[kind] if flat_below is None else flat_below):
        return CANNOT_JUDGE
    if kind == "place" and _outside_sure_region(confidence, distance_km):
        return INCONSISTENT if distance_km > FAR_KM else DOUBTFUL
    if percentile >= CONSISTENT_AT:
        return CONSISTENT
    return INCONSISTENT if percentile < _inconsistent_below(kind, inconsistent_below) else DOUBTFUL


def _inconsistent_below(kind: str, fitted: float | None) -> float:
    return DEFAULT_INCONSISTENT_BELOW[kind] if fitted is None else fitted


def _outside_sure_region(confidence: float | None, distance_km: float | None) -> bool:
    return confidence is not None and distance_km is not None and confidence >= SURE_MASS and distance_km > REGION_KM


def rank_verdict(rank: ClaimRank) -> str | None:
    """:func:`part_verdict` of one :class:`~gtloc.inference.verify.ClaimRank`."""
    return part_verdict(
        rank.kind,
        rank.percentile,
        rank.sharpness,
        rank.in_domain,
        rank.flat_below,
        rank.confidence,
        rank.distance_km,
        rank.inconsistent_below,
    )


def model_verdict(verdicts: Sequence[str], in_domain: bool | None = True) -> str:
    """The model check's verdict from its parts' ``verdicts`` (rule 2 of the module docstring)."""
    if in_domain is False or not verdicts:
        return CANNOT_JUDGE
    if INCONSISTENT in verdicts:
        return INCONSISTENT
    return CONSISTENT if all(v == CONSISTENT for v in verdicts) else CANNOT_JUDGE


def model_verdicts(
    scores: dict[str, ClaimScores],
    in_domain: Sequence[bool] | None = None,
    flat_below: dict[str, float] | None = None,
    inconsistent_below: dict[str, float] | None = None,
) -> list[str]:
    """The model check's verdict for each of N claims scored by :func:`~gtloc.inference.verify.score_claims`;
    ``in_domain`` ``(N,)``, ``None`` when the run has no domain check; ``flat_below``, ``inconsistent_below``: the
    run's thresholds (``Predictor.temperatures``; ``None``: the defaults)."""
    flat_below = flat_below or DEFAULT_FLAT_BELOW
    inconsistent_below = inconsistent_below or DEFAULT_INCONSISTENT_BELOW
    n = len(next(iter(scores.values())).percentile)
    out = []
    for i in range(n):
        inside = None if in_domain is None else bool(in_domain[i])
        verdicts = []
        for kind in JUDGED_PARTS:
            if kind not in scores:
                continue
            s = scores[kind]
            region = (None, None) if s.confidence is None else (float(s.confidence[i]), float(s.distance_km[i]))
            verdicts.append(
                part_verdict(
                    kind,
                    float(s.percentile[i]),
                    float(s.sharpness[i]),
                    inside,
                    flat_below[kind],
                    *region,
                    inconsistent_below[kind],
                )
            )
        out.append(model_verdict(verdicts, inside))
    return out


def _place_name(lat: float, lon: float) -> str:
    from gtloc.places import place_names

    return place_names([[lat, lon]])[0]


def best_guess(view: Verification) -> dict[str, Any]:
    """The model's own answer for the picture, as ``predict`` gives it: the best place (with the nearest town, its
    probability and, where the run fitted one, the radius that holds the truth with the stated probability) and the
    read-out's time with the model's precision (``"July, 14:00-16:00"``: a month and clock hours, never the time
    grid's day or minute)."""
    guess = view.guess
    lat, lon = (float(v) for v in guess.latlon[0])
    out: dict[str, Any] = {"lat": lat, "lon": lon, "near": _place_name(lat, lon)}
    out["place_prob"] = float(guess.place_prob[0])
    if guess.place_radius_km is not None and guess.place_coverage is not None:
        out["radius_km"] = round(float(guess.place_radius_km[0]), 1)
        out["radius_coverage"] = guess.place_coverage
        out["radius_text"] = radius_text(out["radius_km"], guess.place_coverage)
    if guess.time_topk is not None:
        month, hour = int(guess.best_time[0, 0]), int(guess.best_time[0, 2])
        out["time"] = time_window(guess, 0)
        out["readout"] = guess.readout
        out["month_prob"] = float(guess.month_posterior[0, month - 1])
        out["hour_prob"] = float(guess.hour_posterior[0, hour])
    return out


def part_reason(rank: ClaimRank, verdict: str | None, near: str = "") -> str:
    """Why a part got its verdict, in plain words; ``near``: the town nearest the model's best place."""
    what = {"place": "place", "time": "time of year and day", "month": "month", "hour": "hour"}[rank.kind]
    choice = (
        f"the claimed {what} is the model's {_ordinal(rank.rank)} choice of {rank.alternatives:,} "
        f"(likelier than {rank.percentile:.0f} % of them)"
    )
    if verdict is None:
        return f"{choice}; shown only: the month and the hour are judged one by one"
    if rank.in_domain is False:
        return "the picture is unlike the model's training pictures"
    flat = DEFAULT_FLAT_BELOW[rank.kind] if rank.flat_below is None else rank.flat_below
    if rank.sharpness < flat:
        return (
            f"the model cannot tell one {what} from another for this picture (certainty {rank.sharpness:.3f} of 1, "
            f"below the {flat:.3f} it needs)"
        )
    if rank.kind == "place" and _outside_sure_region(rank.confidence, rank.distance_km):
        place = f"its best place{f' (near {near})' if near else ''}"
        return (
            f"the model is {rank.confidence * 100:.0f} % sure the photo was taken within {REGION_KM:,.0f} km of "
            f"{place}, and the claimed place is {rank.distance_km:,.0f} km from there"
        )
    if verdict == INCONSISTENT:
        below = _inconsistent_below(rank.kind, rank.inconsistent_below)
        return f"{choice}: below {below:g} %, where true claims practically never rank"
    return choice


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n:,}{suffix}"


def check_model(view: Verification | None, nothing: str = "") -> Check:
    """The model check of a claim, from the model's :class:`~gtloc.inference.verify.Verification` of it (``None``
    when nothing is claimed: ``nothing`` says why). Its figures: each part's verdict and percentile, the place's
    region, the domain score, and the model's best guess."""
    if view is None:
        return Check("model", CANNOT_JUDGE, nothing or "nothing claimed to check")
    verdicts = {r.kind: rank_verdict(r) for r in view.ranks}
    verdict = model_verdict([v for v in verdicts.values() if v is not None], view.in_domain)
    figures: dict[str, Any] = {"in_domain": view.in_domain, "domain_score": view.domain_score}
    for r in view.ranks:
        figures[f"{r.kind}_percentile"] = round(r.percentile, 2)
        if verdicts[r.kind] is not None:
            figures[f"{r.kind}_verdict"] = verdicts[r.kind]
        if r.confidence is not None:
            figures["place_confidence"] = round(r.confidence, 4)
            figures["place_distance_km"] = round(r.distance_km, 1)
    guess = best_guess(view)
    figures["best_guess"] = guess
    if view.in_domain is False:
        warning = out_of_domain_warning([False], [view.domain_score])
        return Check("model", CANNOT_JUDGE, warning, figures)
    judged = [r for r in view.ranks if verdicts[r.kind] is not None]
    if verdict == INCONSISTENT:
        deciding = [r for r in judged if verdicts[r.kind] == INCONSISTENT]
    elif verdict == CONSISTENT:
        deciding = judged
    else:
        deciding = [r for r in judged if verdicts[r.kind] != CONSISTENT]
    reason = "; ".join(part_reason(r, verdicts[r.kind], guess["near"]) for r in deciding)
    if verdict != INCONSISTENT and any(r.kind == "place" for r in judged):
        reason += f" (the model's best guess: near {guess['near']})"
    return Check("model", verdict, reason, figures)


def model_lines(view: Verification) -> list[str]:
    """Readable lines for the model's parts of a claim, one each with its verdict and why."""
    guess = best_guess(view)
    lines = []
    for r in view.ranks:
        verdict = rank_verdict(r)
        reason = part_reason(r, verdict, guess["near"])
        lines.append(f"  {r.kind:<6} {r.claimed:<22} {verdict or 'shown only':<13} {reason}")
    text = f"  model's best guess: near {guess['near']} ({latlon_text(guess['lat'], guess['lon'])})"
    if "radius_text" in guess:
        text += f", {guess['radius_text']}"
    if "time" in guess:
        text += (
            f"; {guess['time']} local time (read-out {guess['readout']}; its month p {percent(guess['month_prob'])}, "
            f"its hour p {percent(guess['hour_prob'])})"
        )
    lines.append(text)
    return lines


def rank_dict(rank: ClaimRank) -> dict[str, Any]:
    """A part's numbers and verdict, for JSON."""
    return {**vars(rank), "verdict": rank_verdict(rank)}
