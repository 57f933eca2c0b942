"""The upload form's fields checked all at once: every problem is reported together, and the page shows the form
again with what the user typed (``static/form.js`` asks :func:`form_errors` before it uploads the photo, so a typo
in a field never costs the chosen photo)."""

from __future__ import annotations

from gtloc.errors import GtlocError
from gtloc.geo import validate_coordinate

FIELDS = ("lat", "lon", "time")
LABELS = {"lat": "latitude", "lon": "longitude"}


def form_errors(fields: dict[str, str]) -> list[str]:
    """Every problem of the claim fields (``lat``, ``lon``, ``time``; blank ones are left out), in form order."""
    from gtloc.data.claims import read_claim_time

    errors = []
    given = {name: fields.get(name, "").strip() for name in FIELDS}
    numbers_ok = True
    for name in ("lat", "lon"):
        if not given[name]:
            continue
        try:
            validate_coordinate(given[name], 0.0) if name == "lat" else validate_coordinate(0.0, given[name])
        except GtlocError as exc:
            numbers_ok = False
            errors.append(f"{LABELS[name]} {given[name]!r}: {getattr(exc, 'reason', exc)}")
    if numbers_ok and bool(given["lat"]) != bool(given["lon"]):
        missing = "longitude" if given["lat"] else "latitude"
        errors.append(f"{missing} is missing: give both latitude and longitude (or neither, to check the EXIF place)")
    if given["time"]:
        try:
            read_claim_time(given["time"])
        except GtlocError as exc:
            errors.append(str(exc))
    return errors


def kept_fields(fields: dict[str, str]) -> dict[str, str]:
    """The claim fields as typed, to fill the form in again."""
    return {name: fields.get(name, "") for name in FIELDS}
