"""How verdicts read: readable lines for one photo, one line per photo for many, and the verdicts file.

The verdicts file (``gtloc verify ... --out verdicts.csv``, or ``.json``) has one row per photo with
:data:`COLUMNS`: the verdict, each check's verdict (``not run`` for the model without a checkpoint), the sun's
elevation and the sky's light at the claimed place and time, every check's reason, the claim, and the figures
behind the checks. A photo that could not be verified has the verdict ``error`` and the reason. The JSON form holds
the same per photo, with every figure of every check. Both are written atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gtloc.data.claims import Claim
from gtloc.evidence.check import Check
from gtloc.evidence.verify import PhotoVerdict
from gtloc.io import atomic_write_text, write_json

CHECKS = ("clock", "sun", "model")
NOT_RUN = "not run"
COLUMNS = (
    "path",
    "verdict",
    "clock",
    "sun",
    "model",
    "sun_elevation_deg",
    "light",
    "reasons",
    "lat",
    "lon",
    "time",
    "utc",
    "claim_source",
    "picture_light",
    "ev100",
    "clock_note",
    "clock_offset_s",
    "gps_utc",
    "domain_score",
    "model_place",
    "model_month",
    "model_hour",
    "place_distance_km",
    "best_lat",
    "best_lon",
    "best_near",
    "best_time",
)


def claim_dict(claim: Claim) -> dict[str, Any]:
    """The claim as JSON: place, local time, UTC instant, where each came from, and what EXIF could not give."""
    return {
        "lat": claim.lat,
        "lon": claim.lon,
        "time": claim.time.isoformat(sep=" ") if claim.time else None,
        "utc": claim.utc.strftime("%Y-%m-%dT%H:%M:%SZ") if claim.utc else None,
        "year_known": claim.year_known,
        "source": claim.source,
        "problems": claim.problems,
    }


def check_dict(check: Check) -> dict[str, Any]:
    return {"name": check.name, "verdict": check.verdict, "reason": check.reason, "figures": check.figures}


def verdict_dict(v: PhotoVerdict) -> dict[str, Any]:
    """One photo's verdict as JSON: ``path``, ``verdict``, ``reason`` (the deciding checks'), ``error``, ``claim``,
    ``checks`` (each with its figures) and, with a model, ``in_domain``, ``domain_score``, ``best_guess`` and the
    model's ranks of each part of the claim (``model_parts``)."""
    out: dict[str, Any] = {"path": v.path, "verdict": v.word, "reason": v.error or v.verdict.reason, "error": v.error}
    out["claim"] = None if v.claim is None else claim_dict(v.claim)
    out["checks"] = [check_dict(c) for c in v.checks]
    model = v.check("model")
    if model is not None and "best_guess" in model.figures:
        out.update({k: model.figures[k] for k in ("in_domain", "domain_score", "best_guess")})
    if v.model is not None and v.model.verification is not None:
        from gtloc.evidence.model import rank_dict

        out["model_parts"] = [rank_dict(r) for r in v.model.verification.ranks]
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def verdict_row(v: PhotoVerdict) -> dict[str, str]:
    """One photo's row of the verdicts CSV (:data:`COLUMNS`)."""
    row = dict.fromkeys(COLUMNS, "")
    row.update(path=v.path, verdict=v.word)
    if v.error:
        row["reasons"] = v.error
        return row
    for name in CHECKS:
        check = v.check(name)
        row[name] = check.verdict if check is not None else NOT_RUN
    reasons = [f"{c.name}: {c.reason}" for c in v.checks]
    if v.claim.problems:
        reasons.insert(0, "claim: " + "; ".join(v.claim.problems))
    row["reasons"] = " | ".join(reasons)
    claim = claim_dict(v.claim)
    row.update(
        lat=_text(claim["lat"]),
        lon=_text(claim["lon"]),
        time=_text(claim["time"]),
        utc=_text(claim["utc"]),
        claim_source="; ".join(f"{k}: {s}" for k, s in claim["source"].items()),
    )
    figures = {k: val for c in v.checks for k, val in c.figures.items()}
    for name in ("sun_elevation_deg", "light", "picture_light", "ev100", "clock_note", "clock_offset_s", "gps_utc"):
        row[name] = _text(figures.get(name))
    model = v.check("model")
    if model is not None:
        row["domain_score"] = _text(figures.get("domain_score"))
        row["place_distance_km"] = _text(figures.get("place_distance_km"))
        for part in ("place", "month", "hour"):
            row[f"model_{part}"] = _text(figures.get(f"{part}_verdict"))
        guess = figures.get("best_guess") or {}
        row.update(
            best_lat=_text(guess.get("lat")),
            best_lon=_text(guess.get("lon")),
            best_near=_text(guess.get("near")),
            best_time=_text(guess.get("time")),
        )
    return row


def write_verdicts(verdicts: Sequence[PhotoVerdict], path: str | Path) -> None:
    """Write the verdicts file at ``path`` atomically: JSON when its suffix is ``.json``, else CSV."""
    if Path(path).suffix.lower() == ".json":
        write_json(path, [verdict_dict(v) for v in verdicts])
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(verdict_row(v) for v in verdicts)
    atomic_write_text(path, out.getvalue())


def claim_lines(claim: Claim) -> list[str]:
    """The claim in words: place, time (local and UTC), where each came from, and what was not claimed."""
    source = {"place": "claimed", "time": "claimed", **claim.source}
    lines = []
    if claim.has_place:
        lines.append(f"claimed place: {claim.lat:.4f}, {claim.lon:.4f} ({source['place']})")
    if claim.has_time:
        utc = f" = {claim.utc:%Y-%m-%d %H:%M:%S} UTC" if claim.utc is not None else ""
        year = "" if claim.year_known else ", no year given"
        lines.append(f"claimed time:  {claim.time.isoformat(sep=' ')} local time{utc} ({source['time']}{year})")
    lines += [f"not claimed:   {problem}" for problem in claim.problems]
    return lines


def verdict_text(v: PhotoVerdict) -> str:
    """Readable lines for one photo: the claim, each check on its own line with its verdict and reason (the
    model's parts of the claim below the model's line), and the verdict with the deciding reasons."""
    if v.error:
        return f"{v.path}: error: {v.error}"
    lines = claim_lines(v.claim)
    for check in v.checks:
        lines.append(f"{check.name:<6} {check.verdict:<13} {check.reason}")
        if check.name == "model" and v.model is not None and v.model.verification is not None:
            from gtloc.evidence.model import model_lines

            lines += model_lines(v.model.verification)
    lines.append(f"verdict: {v.word} ({v.verdict.reason})")
    return "\n".join(lines)


def verdict_line(v: PhotoVerdict) -> str:
    """One line for one of many photos: its verdict and each check's."""
    if v.error:
        return f"{v.path}  error  {v.error}"
    checks = ", ".join(f"{c.name} {c.verdict}" for c in v.checks)
    return f"{v.path}  {v.word}  ({checks})"
