"""SYNTHETIC photo libraries, rendered by the world generator, for tests and benchmarks (not real photographs).

A household over a few years: a home with recurring views (a garden, a street, the view from an office) taken
again and again, and trips (a few days far away, or a day out 50-250 km from home) with one-off views along a GPS
track. Four cameras (:data:`CAMERAS`):

* ``phone``: GPS on (off for about one photo in ten), ``OffsetTimeOriginal``, GPS date/time stamps;
* ``dslr``: no GPS receiver, clock on local time;
* ``travel``: GPS with date/time stamps, but its clock stays on the home time zone on trips (a wrong clock);
* ``partner``: a second phone with location off, which stays at home (it keeps taking the home views during trips).

Several cameras photograph the same stop of a trip (near-identical views). Files are named as those cameras name
them, numbered in time order, under one folder per camera, and carry EXIF (:mod:`gtloc.data.exif_write`).
``truth.csv`` beside the photos holds what really happened: the true place and local time of every photo and what
its EXIF says.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from gtloc.data.exif_write import CameraExif, write_jpeg
from gtloc.data.world.render import render_scene
from gtloc.data.world.scenes import describe_scenes
from gtloc.errors import Param, ParameterError
from gtloc.geo import haversine_km
from gtloc.io import atomic_write_text, output_dir
from gtloc.places import mp16_coordinates
from gtloc.timecode import timezone_at

TRUTH_CSV = "truth.csv"
TRUTH_COLUMNS = (
    "path", "camera", "lat", "lon", "local_time", "utc", "kind", "exif_gps", "exif_time", "gps_utc", "clock_error_s",
)  # fmt: skip
FIRST_DAY = datetime(2019, 1, 1)
# The recurring views of everyday life: km from home, share of the everyday photos. "town": one-off views within
# TOWN_KM of home. One day of everyday life holds 1-3 photos, each of any of these views.
HOME_VIEWS = {"garden": (0.0, 0.35), "street": (1.5, 0.2), "office": (35.0, 0.2), "parents": (220.0, 0.1)}
TOWN_SHARE = 0.15
TOWN_KM = 15.0
STOP_KM = 20.0
CHUNK = 32


@dataclass(frozen=True)
class CameraSpec:
    """A camera of the household: EXIF identity, whether it records GPS (``location_off``: share of photos without),
    writes ``OffsetTimeOriginal``, and whether its clock stays on the home time zone (``home_clock``)."""

    make: str
    model: str
    serial: str
    names: str
    gps: bool
    offset_tag: bool
    home_clock: bool = False
    location_off: float = 0.0


CAMERAS = {
    "phone": CameraSpec("Apple", "iPhone 12", "F2LXK0Q1", "IMG_{:04d}.JPG", True, True, location_off=0.1),
    "dslr": CameraSpec("Canon", "Canon EOS 80D", "083021004521", "DSC_{:04d}.JPG", False, False),
    "travel": CameraSpec("SONY", "DSC-HX90V", "3312870", "DSC{:05d}.JPG", True, False, home_clock=True),
    "partner": CameraSpec("samsung", "SM-G960F", "R58K31ZQ", "{}.jpg", False, True),
}
TRIP_CAMERAS = (("phone", 0.5), ("dslr", 0.35), ("travel", 0.15))


@dataclass(frozen=True)
class SyntheticSettings:
    """``photos`` in all; ``share_home`` of them of the recurring home views; one trip per ``photos_per_trip`` of the
    others (a third of them day trips); over ``years`` years (default: 3, and one more per 2,000 photos beyond
    6,000, so that trips fit); pictures ``size`` px square."""

    def span_years(self) -> int:
        return self.years if self.years is not None else max(3, -(-self.photos // 2000))

    photos: int = 400
    seed: int = 0
    size: int = 256
    years: int | None = None
    share_home: float = 0.5
    photos_per_trip: int = 40


@dataclass
class _Shot:
    camera: str
    lat: float
    lon: float
    utc: datetime
    kind: str
    view: dict


def _offset(base: np.ndarray, km: float, rng: np.random.Generator) -> np.ndarray:
    """A point about ``km`` from ``base`` (lat, lon degrees) in a random direction."""
    angle = rng.uniform(0, 2 * np.pi)
    dlat = km / 111.2 * np.cos(angle)
    dlon = km / (111.2 * max(np.cos(np.deg2rad(base[0])), 0.05)) * np.sin(angle)
    return np.array([np.clip(base[0] + dlat, -89.9, 89.9), (base[1] + dlon + 180) % 360 - 180])


def _view(rng: np.random.Generator) -> dict:
    return {
        "camera_heading": float(rng.uniform(0, 360)),
        "fov": float(rng.uniform(50, 80)),
        "horizon": float(rng.uniform(0.38, 0.6)),
        "camera_height": float(rng.uniform(1.5, 6.0)),
        "layout_seed": int(rng.integers(0, 2**62)),
    }


def _jittered(view: dict, rng: np.random.Generator, degrees: float) -> dict:
    """The same view taken again, by hand: heading and framing a little off."""
    return {
        **view,
        "camera_heading": (view["camera_heading"] + rng.normal(0, degrees)) % 360,
        "fov": float(np.clip(view["fov"] + rng.normal(0, 2), 40, 85)),
        "horizon": float(np.clip(view["horizon"] + rng.normal(0, 0.02), 0.3, 0.7)),
    }


def _at_local(day: datetime, hour: float, lat: float, lon: float) -> datetime:
    """The UTC instant of local clock time ``day + hour`` at ``(lat, lon)``."""
    local = (day + timedelta(hours=hour)).replace(microsecond=0)
    return local.replace(tzinfo=ZoneInfo(timezone_at(lat, lon))).astimezone(timezone.utc)


def _trip_shots(
    home: np.ndarray, start: datetime, days: int, count: int, day_trip: bool, k: int, rng: np.random.Generator
) -> list[_Shot]:
    gallery = mp16_coordinates()
    place = _offset(home, rng.uniform(50, 250), rng)
    while not day_trip and float(haversine_km(place, home)) < 500:
        place = gallery[rng.integers(0, len(gallery))].astype(float)
    shots: list[_Shot] = []
    per_day = np.full(days, count // days)
    per_day[: count % days] += 1
    for d in range(days):
        position = place.copy()
        hour = rng.uniform(8, 10)
        left = int(per_day[d])
        while left > 0:
            position = _offset(position, rng.uniform(0.5, STOP_KM / 2), rng)
            view = _view(rng)
            for _ in range(min(left, int(rng.integers(1, 5)))):
                camera = str(rng.choice([c for c, _ in TRIP_CAMERAS], p=[w for _, w in TRIP_CAMERAS]))
                spot = _offset(position, abs(rng.normal(0, 0.02)), rng)
                when = _at_local(start + timedelta(days=d), hour + rng.uniform(0, 0.15), *spot)
                shots.append(_Shot(camera, *spot, when, f"trip{k}", _jittered(view, rng, 6)))
                left -= 1
            hour = min(hour + rng.uniform(0.3, 2.5), 20.5)
    return shots


def _everyday_shots(
    home: np.ndarray, count: int, total_days: int, away: set[int], rng: np.random.Generator
) -> list[_Shot]:
    """Everyday photos: days of 1-3 photos of the recurring views (or one-off views in town), by the phone, or by
    the partner's phone (always while the household's phone is away on a trip)."""
    views = {name: (_offset(home, km, rng) if km else home, _view(rng)) for name, (km, _) in HOME_VIEWS.items()}
    names = [*HOME_VIEWS, "town"]
    shares = np.array([share for _, share in HOME_VIEWS.values()] + [TOWN_SHARE])
    shots: list[_Shot] = []
    while len(shots) < count:
        day = int(rng.integers(0, total_days))
        hours = np.sort(rng.uniform(7, 21, min(int(rng.integers(1, 4)), count - len(shots))))
        for hour in hours:
            name = str(rng.choice(names, p=shares / shares.sum()))
            if name == "town":
                place, view = _offset(home, rng.uniform(1, TOWN_KM), rng), _view(rng)
            else:
                place, view = views[name]
            camera = "partner" if day in away or rng.random() < 0.3 else "phone"
            spot = _offset(place, abs(rng.normal(0, 0.01)), rng)
            when = _at_local(FIRST_DAY + timedelta(days=day), float(hour), *spot)
            shots.append(_Shot(camera, *spot, when, name, _jittered(view, rng, 4)))
    return shots


def plan_library(settings: SyntheticSettings) -> tuple[np.ndarray, list[_Shot]]:
    """The home place and every photo's camera, true place, UTC time and view (nothing rendered)."""
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 0x4C4942]))
    gallery = mp16_coordinates()
    home = gallery[rng.integers(0, len(gallery))].astype(float)
    total_days = 365 * settings.span_years()
    n_home = round(settings.photos * settings.share_home)
    n_trips_photos = settings.photos - n_home
    n_trips = max(1, n_trips_photos // settings.photos_per_trip) if n_trips_photos else 0
    trips, busy = [], set()
    for k in range(n_trips):
        day_trip = k % 3 == 2
        days = 1 if day_trip else int(rng.integers(2, 6))
        for _ in range(1000):
            start = int(rng.integers(0, total_days - days))
            if not any(d in busy for d in range(start - 1, start + days + 1)):
                break
        else:
            fit = f"{n_trips} trips do not fit in {settings.span_years()} years: give more "
            raise ParameterError(fit, Param("years"))
        busy.update(range(start, start + days))
        trips.append((start, days, day_trip))
    counts = np.full(n_trips, n_trips_photos // max(n_trips, 1))
    counts[: n_trips_photos - counts.sum()] += 1
    shots: list[_Shot] = []
    for k, ((start, days, day_trip), count) in enumerate(zip(trips, counts, strict=True)):
        shots += _trip_shots(home, FIRST_DAY + timedelta(days=start), days, int(count), day_trip, k, rng)
    shots += _everyday_shots(home, n_home, total_days, busy, rng)
    shots.sort(key=lambda s: s.utc)
    return home, shots


def _camera_exif(shot: _Shot, spec: CameraSpec, home: np.ndarray, no_gps: bool) -> tuple[CameraExif, datetime]:
    """What the camera writes, and its clock's reading."""
    zone = ZoneInfo(timezone_at(*home)) if spec.home_clock else ZoneInfo(timezone_at(shot.lat, shot.lon))
    clock = shot.utc.astimezone(zone)
    with_gps = spec.gps and not no_gps
    return (
        CameraExif(
            lat=shot.lat if with_gps else None,
            lon=shot.lon if with_gps else None,
            local_time=clock.replace(tzinfo=None),
            utc_offset=clock.utcoffset() if spec.offset_tag else None,
            gps_utc=shot.utc if with_gps else None,
            make=spec.make,
            model=spec.model,
            serial=spec.serial,
        ),
        clock.replace(tzinfo=None),
    )


def _render_chunk(jobs: list[tuple[str, dict, CameraExif, float, float, int, str]], size: int, root: str) -> None:
    lat = np.array([j[3] for j in jobs])
    lon = np.array([j[4] for j in jobs])
    ts = np.array([j[5] for j in jobs])
    zones = np.array([j[6] for j in jobs])
    rng = np.random.default_rng(int(ts[0]))
    camera = {key: np.array([j[1][key] for j in jobs]) for key in jobs[0][1]}
    camera["camera"] = np.full(len(jobs), -1)
    scenes = describe_scenes(lat, lon, ts, rng, zones=zones, camera=camera)
    for i, (path, _, info, *_rest) in enumerate(jobs):
        pixels = render_scene(scenes[i], size, np.random.default_rng(int(scenes.render_seed[i])))
        write_jpeg(Path(root) / path, pixels, info)


def make_synthetic_library(
    out_dir: str | Path, settings: SyntheticSettings | None = None, *, workers: int = 1, progress: bool = False
) -> Path:
    """Render the library of ``settings`` into ``out_dir`` (photos in one folder per camera, ``truth.csv``); returns
    the path of ``truth.csv``."""
    settings = settings or SyntheticSettings()
    if settings.photos < 1 or settings.size < 32 or settings.span_years() < 1:
        raise ParameterError(Param("settings"), ": need photos >= 1, size >= 32 px and years >= 1")
    out = output_dir(out_dir)
    home, shots = plan_library(settings)
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 0x455849]))
    numbers = dict.fromkeys(CAMERAS, 0)
    jobs, truth, used = [], [], set()
    for shot in shots:
        spec = CAMERAS[shot.camera]
        numbers[shot.camera] += 1
        info, clock = _camera_exif(shot, spec, home, rng.random() < spec.location_off)
        stem = clock.strftime("%Y%m%d_%H%M%S") if "{}" in spec.names else numbers[shot.camera]
        path = f"{shot.camera}/{spec.names.format(stem)}"
        while path in used:
            path = path.replace(".", "_1.", 1)
        used.add(path)
        local = shot.utc.astimezone(ZoneInfo(timezone_at(shot.lat, shot.lon))).replace(tzinfo=None)
        zone = timezone_at(shot.lat, shot.lon)
        jobs.append((path, shot.view, info, shot.lat, shot.lon, int(shot.utc.timestamp()), zone))
        truth.append([
            path, shot.camera, f"{shot.lat:.6f}", f"{shot.lon:.6f}", local.isoformat(), shot.utc.isoformat(),
            shot.kind, "yes" if info.lat is not None else "no", clock.isoformat(),
            info.gps_utc.isoformat() if info.gps_utc else "", f"{(clock - local).total_seconds():.0f}",
        ])  # fmt: skip
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    from tqdm.auto import tqdm

    with tqdm(total=len(jobs), desc="rendering library", unit="photo", disable=not progress) as bar:
        if workers <= 1:
            for chunk in chunks:
                _render_chunk(chunk, settings.size, str(out))
                bar.update(len(chunk))
        else:
            context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                for chunk, _ in zip(chunks, pool.map(_render_chunk, chunks, [settings.size] * len(chunks),
                                                     [str(out)] * len(chunks)), strict=True):  # fmt: skip
                    bar.update(len(chunk))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(TRUTH_COLUMNS)
    writer.writerows(truth)
    atomic_write_text(out / TRUTH_CSV, text.getvalue())
    return out / TRUTH_CSV
