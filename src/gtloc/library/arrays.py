"""A library as arrays the sources compute on, and the same arrays with some labels hidden (hide-and-recover).

Times are seconds: ``local_s`` is the camera's clock read as if it were UTC (so differences are clock
differences), ``utc_offset_s`` the photo's own ``OffsetTimeOriginal``, ``zone_offset_s`` the offset of the time
zone at the photo's GPS place at that clock time, ``clock_offset_s`` camera time minus GPS time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np

from gtloc.labels import has_label
from gtloc.library.catalog import LibraryPhoto
from gtloc.timecode import local_to_utc

EPOCH = datetime(1970, 1, 1)


def clock_seconds(when: datetime) -> float:
    """A naive clock time as seconds since 1970-01-01 00:00 on that clock."""
    return (when - EPOCH).total_seconds()


def clock_time(seconds: float) -> datetime:
    """The inverse of :func:`clock_seconds` (whole seconds)."""
    return datetime.fromtimestamp(round(seconds), timezone.utc).replace(tzinfo=None)


def zone_offset_s(photo: LibraryPhoto) -> float:
    """Local minus UTC (seconds) of the time zone at the photo's GPS place at its clock time; NaN without both."""
    if not (photo.has_place and photo.has_time):
        return float("nan")
    utc = local_to_utc(photo.local_time, photo.lat, photo.lon).replace(tzinfo=None)
    return (photo.local_time - utc).total_seconds()


@dataclass
class LibraryArrays:
    """The N photos of a library as arrays (NaN where unknown or hidden).

    ``latlon`` ``(N, 2)`` degrees; ``local_s``, ``utc_offset_s``, ``zone_offset_s``, ``clock_offset_s`` ``(N,)``
    seconds (see the module docstring); ``clock`` ``(N,)`` the clock check's verdict (``ok``, ``wrong``,
    ``unknown``, ``""``); ``camera`` ``(N,)`` int (-1: EXIF names no camera) with ``camera_names``; ``group``
    ``(N,)`` int, equal for files with the same bytes; ``session`` ``(N,)`` int, equal for one camera's photos of one
    day by its clock (a photo without camera: its folder's; files with the same bytes: the first's).
    ``hidden_place``/``hidden_time`` mark labels hidden for
    hide-and-recover (their values are NaN here; the truth is kept by the caller).
    """

    paths: list[str]
    latlon: np.ndarray
    local_s: np.ndarray
    utc_offset_s: np.ndarray
    zone_offset_s: np.ndarray
    clock_offset_s: np.ndarray
    clock: np.ndarray
    camera: np.ndarray
    camera_names: list[str]
    group: np.ndarray
    session: np.ndarray
    hidden_place: np.ndarray
    hidden_time: np.ndarray

    @classmethod
    def of(cls, photos: list[LibraryPhoto]) -> LibraryArrays:
        n = len(photos)
        cameras: dict[str, int] = {}
        groups: dict[str, int] = {}
        sessions: dict[tuple[str, str], int] = {}
        first_session: dict[str, int] = {}
        for i, p in enumerate(photos):
            day = p.local_time.date().isoformat() if p.has_time else f"#{i}"
            key = (p.camera or "folder:" + p.path.rpartition("/")[0], day)
            first_session.setdefault(p.sha, sessions.setdefault(key, len(sessions)))
        nan = float("nan")
        return cls(
            paths=[p.path for p in photos],
            latlon=np.array([(p.lat, p.lon) if p.has_place else (nan, nan) for p in photos], float).reshape(n, 2),
            local_s=np.array([clock_seconds(p.local_time) if p.has_time else nan for p in photos], float),
            utc_offset_s=np.array([nan if p.utc_offset_s is None else p.utc_offset_s for p in photos], float),
            zone_offset_s=np.array([zone_offset_s(p) for p in photos], float),
            clock_offset_s=np.array([nan if p.clock_offset_s is None else p.clock_offset_s for p in photos], float),
            clock=np.array([p.clock for p in photos], dtype=object),
            camera=np.array([cameras.setdefault(p.camera, len(cameras)) if p.camera else -1 for p in photos], int),
            camera_names=[],
            group=np.array([groups.setdefault(p.sha, len(groups)) for p in photos], int),
            session=np.array([first_session[p.sha] for p in photos], int),
            hidden_place=np.zeros(n, bool),
            hidden_time=np.zeros(n, bool),
        )._named(cameras)

    def _named(self, cameras: dict[str, int]) -> LibraryArrays:
        self.camera_names = sorted(cameras, key=cameras.__getitem__)
        return self

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def has_place(self) -> np.ndarray:
        return has_label(self.latlon)

    @property
    def has_time(self) -> np.ndarray:
        return np.isfinite(self.local_s)

    @property
    def day(self) -> np.ndarray:
        """``(N,)`` each photo's day by its camera's clock (days since 1970); a distinct negative id without a time."""
        days = np.floor(self.local_s / 86400.0)
        return np.where(np.isfinite(days), days, -1.0 - np.arange(len(self))).astype(np.int64)

    @property
    def judged_clock(self) -> np.ndarray:
        """``(N,)`` bool: the clock check compared this photo's camera time with its GPS time (``ok`` or ``wrong``)."""
        return np.isin(self.clock, ["ok", "wrong"]) & np.isfinite(self.clock_offset_s) & self.has_time

    @property
    def true_local_s(self) -> np.ndarray:
        """``(N,)`` the local time each photo was taken, as far as the library knows it: the camera's clock, minus
        the clock's error where the clock check judged it (camera time minus GPS time, minus the time zone's
        offset at the GPS place)."""
        judged = self.judged_clock & np.isfinite(self.zone_offset_s)
        error = np.where(judged, self.clock_offset_s - self.zone_offset_s, 0.0)
        return self.local_s - error

    def hide(self, mask: np.ndarray, what: str) -> LibraryArrays:
        """A copy with the place (``what="place"``), the time (``"time"``) or only the clock check (``"clock"``:
        the camera time stays, what its GPS time said goes) of the photos in ``mask`` hidden.

        Hiding a place also hides what the place told about the time zone; hiding a time hides the clock check.
        """
        mask = np.asarray(mask, bool)
        if what == "clock":
            clock_offset, clock = self.clock_offset_s.copy(), self.clock.copy()
            clock_offset[mask], clock[mask] = np.nan, ""
            return replace(self, clock_offset_s=clock_offset, clock=clock)
        if what == "place":
            latlon, zone = self.latlon.copy(), self.zone_offset_s.copy()
            latlon[mask], zone[mask] = np.nan, np.nan
            return replace(self, latlon=latlon, zone_offset_s=zone, hidden_place=self.hidden_place | mask)
        local, clock_offset, clock = self.local_s.copy(), self.clock_offset_s.copy(), self.clock.copy()
        local[mask], clock_offset[mask], clock[mask] = np.nan, np.nan, ""
        zone = self.zone_offset_s.copy()
        zone[mask] = np.nan
        return replace(
            self,
            local_s=local,
            clock_offset_s=clock_offset,
            clock=clock,
            zone_offset_s=zone,
            hidden_time=self.hidden_time | mask,
        )
