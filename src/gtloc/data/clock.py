"""Is the camera's clock right? Its EXIF time against the photo's own GPS time (the receiver's UTC clock).

A photo with GPS carries two clocks: the camera's (``DateTimeOriginal``, local time as the owner set it, maybe
with ``OffsetTimeOriginal``) and the GPS receiver's (``GPSDateStamp`` + ``GPSTimeStamp``, UTC, right to the second
*when the fix was taken*). With the place's UTC offset ``L`` (its IANA zone and DST, from the GPS position), the
camera should read ``gps_utc + L``. Let ``d`` = camera time minus GPS time (``clock_offset_s``) and
``r = d - L``, the camera's lead over the true local time *if the fix is fresh*.

Two things make ``r`` non-zero, and they look different:

* **A wrong clock.** Set to another time zone (the owner's home zone while travelling, DST not applied): then ``d``
  is, to within a minute or two, a UTC offset that exists (whole hours, or :30/:45 in India, Nepal, Iran,
  Newfoundland, parts of Australia...). Or the clock drifted (or was set by hand, badly): minutes, rarely an hour.
  Either can be ahead or behind.
* **A stale fix.** Phones and cameras with a GPS stamp the last fix they had, which can be minutes, hours or days
  old (indoors, in a plane, after a reboot). A stale fix is always *older* than the photo: it makes the camera look
  *ahead* (``d - L > 0``), never behind, by any amount, a UTC offset no more than by chance.

A clock some minutes fast and a fix some minutes old give the very same photo: one photo cannot tell them apart, and
the rule says so (``unknown``) rather than call an old fix a wrong clock. The rule, in order (``OK`` = 5 min,
``ZONE`` = 2 min; a time-only stamp without ``GPSDateStamp`` takes the camera's date, the day before or the day
after, whichever is nearest):

1. ``|r| <= OK``: ``ok``.
2. The camera declares its zone (``OffsetTimeOriginal`` = ``O``) and it is not the place's (``|O - L| > 1 min``),
   and the clock agrees with ``O`` or is ahead of it (``d - O >= -OK``): ``wrong``, "camera set to UTC+O, N h
   ahead of local time" (set to the wrong zone; a stale fix on top cannot make its local time right).
3. The camera declares the place's own zone (``O = L``) and is ahead (``r > OK``): the camera knows UTC (phones set
   their clock and zone from the network), so the gap is the fix's age: a **stale fix**, clock ``unknown``.
4. ``r < -OK``: ``wrong`` (a fix is never from after the photo): "camera set to UTC+1, 1 h behind local time"
   when ``d`` is within ``ZONE`` of an existing UTC offset, else "clock 12 min slow".
5. ``r > 26 h`` (with a GPS date): a **stale fix** (no zone is more than 26 h from another).
6. ``d`` within ``ZONE`` of an existing UTC offset: ``wrong``, "camera set to UTC+2, 10 h ahead of local time"
   (a camera left on its owner's home zone, or DST not applied).
7. Otherwise ``unknown``, fix ``unknown``: "camera 20 min ahead of the GPS time: a GPS fix that old ... or a clock
   20 min fast; one photo cannot tell which". This is every lead of 5 min to 26 h that is not a zone: a clock
   drifted fast by minutes and a fix minutes old alike (the other photos of the camera can tell, below).

What it cannot tell: a stale fix whose age happens to fall within 2 min of a whole number of hours (about one in
fifteen, a few more near the :30/:45 zones, on a camera without ``OffsetTimeOriginal``) reads as a zone error
(rule 6); a lone photo of a camera whose clock drifted *fast* is ``unknown`` (rule 7; drifted slow is ``wrong``,
rule 4); a camera that writes ``OffsetTimeOriginal`` but whose clock drifted reads as a stale fix (rule 3). A
camera whose clock runs on UTC and a receiver that writes local time instead of UTC look alike (rule 4 or 6 with
``d`` near 0); the note says so. ``benchmarks/bench_clock.py`` measures the rule on rewritten photos.

**Many photos of one camera** (:func:`clocks_by_camera`: ``ingest``, ``verify`` on many photos) tell what one photo
cannot. A wrong clock is wrong on every photo the camera takes until someone sets it, with the same ``d`` (a zone
setting keeps ``d`` even while the owner travels; drift changes it by seconds a day); stale fixes give ``d`` that
disagree from photo to photo, always *above* the clock's own (a fix only adds its age). Photos are of one camera
when their ``Make``, ``Model`` and ``BodySerialNumber`` agree (:attr:`~gtloc.data.exif.PhotoExif.camera_id`;
photos without a make or model are judged alone). A photo whose camera is *ahead* of its GPS time (rules 3 and 5-7:
what a stale fix could explain) is then judged again:

* **confirmed**: its gap looks like a clock setting (``d`` a UTC offset, without ``OffsetTimeOriginal``; or
  ``r <= 1 h``, drift), another photo of the camera, with another GPS fix (a different stamp: photos stamped with
  the very same fix are one piece of evidence) and a GPS date, shows the same ``d`` within ``CAMERA_AGREE_S``
  (2 min), and no photo belies it: the clock is ``wrong``, and the note says on how many photos ("clock 53 min fast
  (the same on 4 photos of this camera)"; this also catches the drift of a camera that writes
  ``OffsetTimeOriginal``, which rule 3 reads as a stale fix). A zone is belied by a photo taken between the agreeing
  ones on which the clock read ``ok`` (a zone is set and set back: right before and after a trip is no
  contradiction); a drift (``r <= 1 h``, not a zone) by any photo within ``CAMERA_WINDOW`` (7 days) on which the
  clock read ``ok`` or less ahead (below), since a clock does not drift back and forth. Belied, the agreeing gaps
  are old fixes of about the same age: ``unknown`` (fixes minutes old often agree to 2 min). A gap like no clock
  setting (a clock 21 h fast) is not confirmed: two old fixes of one age are likelier;
* **a stale fix** (``unknown``, fix ``stale``): not confirmed, not an old fix already (rules 3, 5), and another photo
  of the camera within ``CAMERA_WINDOW`` (7 days) reads ``ok``, or (both with a GPS date) shows a ``d`` smaller by
  more than ``CAMERA_AGREE_S``. The clock cannot be further ahead than the least ``d`` its photos show, so this
  photo's larger gap is its fix's age, whether alone it read as a zone (rule 6) or was not judged (rule 7);
* otherwise as judged alone. Photos behind their GPS time (rule 4) or declaring another zone (rule 2) stay ``wrong``.

What it cannot tell: a lone photo taken just after the owner set the clock ahead, within 7 days of photos on which
it was right, reads as a stale fix; two stale fixes of the same age (to 2 min) without a right reading between them
read as a wrong clock; the photo with the least gap of a camera whose fixes are all old, and a wrong clock's only
photo with a fresh fix, stay as judged alone; different cameras of one make and model that write no serial number
count as one camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from gtloc.data.exif import PhotoExif
from gtloc.timecode import utc_offset_hours, utc_to_local

OK_S = 300.0
"""A clock within 5 min of the GPS-derived local time is ``ok``."""
ZONE_S = 120.0
"""A camera offset from UTC within 2 min of a real UTC offset is read as a clock set to that zone."""
DRIFT_S = 3600.0
"""Clocks drift (or are set badly) by minutes, rarely by more than an hour: a lead this small, the same on two photos
of one camera, is a clock setting."""
MAX_ZONE_GAP_S = 26 * 3600.0
"""No two time zones are further apart (UTC-12 to UTC+14): a larger lead is a stale fix."""
GPS_WEEK_ROLLOVER = timedelta(weeks=1024)
"""Receivers with a 10-bit week number date their fixes 1024 weeks early after a rollover (1999, 2019)."""
CAMERA_AGREE_S = 120.0
"""Two photos of one camera whose camera-minus-GPS offsets agree this closely show the same clock setting."""
CAMERA_WINDOW = timedelta(days=7)
"""A clock read ``ok`` on a photo of the same camera this close in time says the clock was right then."""
_HALF_HOUR_OFFSETS_MIN = (-570, -210, -150, 210, 270, 330, 345, 390, 525, 570, 630, 765, 825)
REAL_OFFSETS_S = tuple(sorted({h * 3600.0 for h in range(-12, 15)} | {m * 60.0 for m in _HALF_HOUR_OFFSETS_MIN}))
"""Every UTC offset in use, in seconds (whole hours -12..+14, and the :30 and :45 zones)."""


@dataclass(frozen=True)
class ClockReading:
    """What a photo's two clocks say.

    ``status``: ``ok``, ``wrong`` or ``unknown``; ``note``: why, in plain words. ``gps_utc``: the GPS time (aware
    UTC), ``None`` without a usable stamp. ``offset_s``: camera time minus GPS time, seconds. ``error_s``: how far
    the camera's clock is ahead of the true local time (negative: behind), ``None`` when not judged.
    ``zone_offset_s``: the place's UTC offset at that instant. ``fix``: ``fresh`` (the GPS time is the capture
    time), ``stale`` (older than the photo), ``unknown`` or ``""`` (no GPS time). ``gps_date_known``: the stamp
    had a date (else the camera's date was assumed).
    """

    status: str
    note: str
    gps_utc: datetime | None = None
    offset_s: float | None = None
    error_s: float | None = None
    zone_offset_s: float | None = None
    fix: str = ""
    gps_date_known: bool = False

    @property
    def gps_utc_text(self) -> str:
        """``gps_utc`` as ISO 8601 with ``Z`` (``""`` when absent), as the records store it."""
        return self.gps_utc.strftime("%Y-%m-%dT%H:%M:%SZ") if self.gps_utc else ""


def read_clock(exif: PhotoExif, lat: float | None = None, lon: float | None = None) -> ClockReading:
    """Compare the camera's clock with the GPS clock of one photo (the rule in the module docstring).

    ``lat``/``lon``: where the photo was taken, for the local time zone (default: the photo's own GPS position).
    """
    if lat is None or lon is None:
        lat, lon = exif.lat, exif.lon
    if exif.local_time is None:
        return ClockReading("unknown", exif.time_problem or "no camera time")
    if exif.gps_clock is None:
        why = exif.gps_time_problem or "no GPS time in EXIF"
        return ClockReading("unknown", why)
    if lat is None or lon is None:
        return ClockReading("unknown", "no GPS position, so the local time zone is unknown")
    camera = exif.local_time
    gps_utc, date_known = _gps_instant(exif, camera, lat, lon)
    note_prefix = ""
    if (
        date_known
        and camera - _naive(gps_utc) - GPS_WEEK_ROLLOVER > -timedelta(days=2)
        and (camera - _naive(gps_utc) - GPS_WEEK_ROLLOVER < timedelta(days=2))
    ):
        gps_utc += GPS_WEEK_ROLLOVER
        note_prefix = "GPS date 1024 weeks early (a receiver's week-number rollover), corrected; "
    offset = (camera - _naive(gps_utc)).total_seconds()
    zone = utc_offset_hours(gps_utc, lat, lon) * 3600.0
    status, note, error, fix = _judge(offset, zone, _seconds(exif.utc_offset), date_known)
    if not date_known:
        note = f"{note} (GPS stamp without a date: the camera's date assumed)" if note else note
    return ClockReading(status, note_prefix + note, gps_utc, offset, error, zone, fix, date_known)


def _naive(when: datetime) -> datetime:
    return when.astimezone(timezone.utc).replace(tzinfo=None)


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _gps_instant(exif: PhotoExif, camera: datetime, lat: float, lon: float) -> tuple[datetime, bool]:
    """The GPS UTC instant, and whether its date came from the stamp (else: the camera's date +-1, nearest)."""
    assert exif.gps_clock is not None
    if exif.gps_date is not None:
        return datetime.combine(exif.gps_date, exif.gps_clock, timezone.utc), True
    zone = utc_offset_hours(datetime.combine(camera.date(), exif.gps_clock, timezone.utc), lat, lon) * 3600.0
    candidates = [datetime.combine(camera.date() + timedelta(days=k), exif.gps_clock, timezone.utc) for k in (-1, 0, 1)]
    best = min(candidates, key=lambda c: abs((camera - _naive(c)).total_seconds() - zone))
    return best, False


def _judge(offset: float, zone: float, declared: float | None, date_known: bool) -> tuple[str, str, float | None, str]:
    """``(status, note, error_s, fix)`` for camera-minus-GPS ``offset``, the place's ``zone`` offset and the
    camera's ``declared`` offset (seconds): the numbered rule of the module docstring."""
    lead = offset - zone
    if abs(lead) <= OK_S:
        note = (
            ""
            if abs(lead) < 60
            else f"clock {duration_text(abs(lead))} {'fast' if lead > 0 else 'slow'} (within 5 min)"
        )
        if declared is not None and abs(declared - zone) > 60:
            note = _join(note, f"its OffsetTimeOriginal {_utc(declared)} is not the local {_utc(zone)}")
        return "ok", note, lead, "fresh"
    if declared is not None and abs(declared - zone) > 60 and offset - declared >= -OK_S:
        stale = offset - declared
        note = _zone_note(declared, zone)
        if stale > OK_S:
            note += f"; its GPS fix is also {duration_text(stale)} older than the photo"
        return "wrong", note, declared - zone + min(stale, OK_S), "stale" if stale > OK_S else "fresh"
    if declared is not None and lead > OK_S:
        note = _stale_note(lead, "the camera keeps the local zone, so the clock is not checked")
        return "unknown", note, None, "stale"
    if lead < -OK_S:
        return "wrong", _offset_note(offset, zone, lead), lead, "fresh"
    if date_known and lead > MAX_ZONE_GAP_S:
        return "unknown", _stale_note(lead, "the clock is not checked"), None, "stale"
    if _real_offset(offset) is not None:
        return "wrong", _offset_note(offset, zone, lead), lead, "fresh"
    return "unknown", _ahead_note(lead), None, "unknown"


def _ahead_note(lead: float) -> str:
    """The note of a photo whose camera is ``lead`` seconds ahead of its GPS time, like no UTC offset (rule 7)."""
    age = duration_text(lead)
    return (
        f"camera {age} ahead of the GPS time: a GPS fix that old (phones stamp their last fix) or a clock {age} "
        "fast; one photo cannot tell which (other photos of the same camera can)"
    )


def _real_offset(offset: float) -> float | None:
    """The real UTC offset within ``ZONE_S`` of ``offset`` (seconds), or ``None``."""
    nearest = min(REAL_OFFSETS_S, key=lambda o: abs(o - offset))
    return nearest if abs(nearest - offset) <= ZONE_S else None


def _offset_note(offset: float, zone: float, lead: float) -> str:
    """The note for a wrong clock: a zone when ``offset`` is one, else drift."""
    camera_zone = _real_offset(offset)
    if camera_zone is None:
        return f"clock {duration_text(abs(lead))} {'fast' if lead > 0 else 'slow'}"
    note = _zone_note(camera_zone, zone)
    if camera_zone == 0:
        note += " (or its GPS receiver wrote local time instead of UTC)"
    return note


def _zone_note(camera_zone: float, zone: float) -> str:
    gap = camera_zone - zone
    return (
        f"camera set to {_utc(camera_zone)}, {duration_text(abs(gap))} {'ahead of' if gap > 0 else 'behind'} local time"
    )


def _stale_note(lead: float, what: str) -> str:
    return f"GPS fix {duration_text(lead)} older than the photo (phones stamp their last fix); {what}"


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _utc(offset_s: float) -> str:
    """``UTC+2``, ``UTC-3:30``, ``UTC`` for an offset in seconds."""
    minutes = round(offset_s / 60.0)
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def duration_text(seconds: float) -> str:
    """``45 s``, ``53 min``, ``10 h``, ``3 h 12 min``, ``2 days``, ``3.5 days`` (rounded as a person would)."""
    seconds = abs(seconds)
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60.0)
    if minutes < 60:
        return f"{minutes} min"
    if seconds < 48 * 3600:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h" + (f" {rest} min" if rest else "")
    days = seconds / 86400.0
    if days < 1000:
        return f"{days:.1f}".rstrip("0").rstrip(".") + " days"
    return f"{days / 365.25:.1f}".rstrip("0").rstrip(".") + " years"


Place = tuple[float, float] | None


def clocks_by_camera(exifs: Sequence[PhotoExif], places: Sequence[Place] | None = None) -> list[ClockReading]:
    """The clock reading of each photo, judged with the other photos of its camera (the per-camera rule of the module
    docstring): ``exifs`` the photos' EXIF (:func:`~gtloc.data.exif.read_photo_exif`), ``places`` each photo's
    ``(lat, lon)`` for its time zone (``None``, or a ``None`` entry: its own GPS position, as :func:`read_clock`).
    One photo alone, or photos of cameras without a name, are read as :func:`read_clock` reads them."""
    if places is not None and len(places) != len(exifs):
        raise ValueError(f"{len(places)} places for {len(exifs)} photos")
    readings = [read_clock(exif, *((places[i] if places else None) or (None, None))) for i, exif in enumerate(exifs)]
    cameras: dict[str, list[int]] = {}
    for i, exif in enumerate(exifs):
        if exif.camera_id and readings[i].offset_s is not None:
            cameras.setdefault(exif.camera_id, []).append(i)
    revised = list(readings)
    for photos in cameras.values():
        if len(photos) < 2:
            continue
        for i in photos:
            if _ahead(readings[i], exifs[i]):
                revised[i] = _by_camera(i, photos, readings, exifs)
    return revised


def _ahead(reading: ClockReading, exif: PhotoExif) -> bool:
    """Whether a stale fix could explain the reading: the camera ahead of its GPS time by more than ``OK_S``, and no
    declared zone other than the place's (rules 3 and 5-7)."""
    if reading.offset_s is None or reading.zone_offset_s is None:
        return False
    lead = reading.offset_s - reading.zone_offset_s
    declared = _seconds(exif.utc_offset)
    return lead > OK_S and (declared is None or abs(declared - reading.zone_offset_s) <= 60)


def _by_camera(i: int, photos: list[int], readings: list[ClockReading], exifs: Sequence[PhotoExif]) -> ClockReading:
    """Photo ``i``'s reading judged again with the other ``photos`` of its camera."""
    mine = readings[i]
    assert mine.offset_s is not None and mine.zone_offset_s is not None and mine.gps_utc is not None
    lead = mine.offset_s - mine.zone_offset_s
    zone_like = exifs[i].utc_offset is None and _real_offset(mine.offset_s) is not None
    partners = (
        [j for j in photos if j != i and _same_setting(mine, readings[j])] if zone_like or lead <= DRIFT_S else []
    )
    near = [j for j in photos if j != i and _near(exifs[i], exifs[j])]
    right = [j for j in near if readings[j].status == "ok"]
    less = [j for j in near if readings[j].status != "ok" and _less_ahead(readings[j], mine)]
    if partners:
        if zone_like:  # a zone is set and set back: only a right reading between the agreeing photos belies it
            span = sorted(readings[j].gps_utc for j in (i, *partners))
            belie = [j for j in photos if readings[j].status == "ok" and span[0] < readings[j].gps_utc < span[-1]]
            how, where = "right", "taken between them"
        else:  # a clock does not drift back and forth: any photo within the window less ahead belies it
            belie = right + less
            how, where = "right or less ahead", f"within {CAMERA_WINDOW.days} days"
        if not belie:
            seen = f" (the same on {len(partners) + 1} photos of this camera)"
            note = _offset_note(mine.offset_s, mine.zone_offset_s, lead) + seen
            return replace(mine, status="wrong", note=note, error_s=lead, fix="fresh")
        why = (
            f"{len(partners) + 1} photos of this camera are off by as much, but its clock is {how} on "
            f"{_files(len(belie), 'photo')} {where}, so these are old fixes, not a wrong clock"
        )
        return replace(mine, status="unknown", note=_stale_note(lead, why), error_s=None, fix="stale")
    if mine.fix == "stale":  # an old fix already (rules 3 and 5)
        return mine
    if not right and not less:
        return mine
    if right:
        seen = f"right on {_files(len(right), 'other photo')}"
    else:
        gap = mine.offset_s - min(readings[j].offset_s or 0.0 for j in less)
        seen = f"less ahead of the GPS time on {_files(len(less), 'other photo')} (by up to {duration_text(gap)})"
    why = (
        f"this camera's clock is {seen} within {CAMERA_WINDOW.days} days and no other photo of it is off by as much "
        "(an old fix only adds to the lead), so its clock is not judged wrong"
    )
    return replace(mine, status="unknown", note=_stale_note(lead, why), error_s=None, fix="stale")


def _same_setting(a: ClockReading, b: ClockReading) -> bool:
    """Two readings (both with a GPS date) whose offsets agree within ``CAMERA_AGREE_S`` and whose GPS stamps differ
    (one fix stamped on two photos is one piece of evidence)."""
    return (
        a.gps_date_known
        and b.gps_date_known
        and b.offset_s is not None
        and a.offset_s is not None
        and a.gps_utc != b.gps_utc
        and abs(b.offset_s - a.offset_s) <= CAMERA_AGREE_S
    )


def _less_ahead(other: ClockReading, mine: ClockReading) -> bool:
    """Whether ``other`` (both with a GPS date) shows the camera's clock less ahead of GPS time than ``mine`` does, by
    more than ``CAMERA_AGREE_S``: the clock cannot be ahead by more than the least offset its photos show (an old fix
    only adds to it), so ``mine`` is an old fix, at least that much older than its photo."""
    return (
        mine.gps_date_known
        and other.gps_date_known
        and mine.offset_s is not None
        and other.offset_s is not None
        and other.offset_s < mine.offset_s - CAMERA_AGREE_S
    )


def _near(a: PhotoExif, b: PhotoExif) -> bool:
    """Two photos whose camera times are within ``CAMERA_WINDOW``."""
    return a.local_time is not None and b.local_time is not None and abs(a.local_time - b.local_time) <= CAMERA_WINDOW


def _files(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def gps_local_time(reading: ClockReading, lat: float, lon: float) -> datetime | None:
    """The capture time on the local clock from the GPS stamp, for ``ingest --utc-from gps``; ``None`` when there is
    no GPS time or the fix is older than the photo (then the camera's time is the better guess)."""
    if reading.gps_utc is None or reading.fix == "stale":
        return None
    return utc_to_local(reading.gps_utc, lat, lon)
