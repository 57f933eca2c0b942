"""SYNTHETIC photo libraries, rendered by the world generator, for tests and benchmarks (not real photographs).

A household over a few years, and the photos of unrelated people that reach its library (friends, relatives: a
shared album). Everyone has a home with recurring views (a garden, a street, the view from an office, the parents'
house) taken again and again, and trips (a few days far away, or a day out 50-250 km from home) with one-off views
along a GPS track; the household's one-off views in town are one-off too. The household's cameras
(:data:`CAMERAS`):

* ``phone``: GPS on (off for about one photo in ten), ``OffsetTimeOriginal``, GPS date/time stamps;
* ``dslr``: no GPS receiver, clock on local time;
* ``travel``: GPS with date/time stamps, but its clock stays on the home time zone on trips (a wrong clock);
* ``partner``: a second phone with location off on most days; it joins half the trips and stays at home for the
  others (taking the home views while the household's phone is away), and photographs a recurring place of its
  own (``studio``, the partner's work) on days when the household's phone is at the office.

Each unrelated photographer (:attr:`SyntheticSettings.photographers` - 1 of them, homes anywhere in the world at
least :data:`FRIEND_MIN_KM` away) has a phone with GPS and a camera without (:func:`friend_cameras`), recurring
views and trips of their own, on the same calendar: their photos interleave in time with the household's.

Several cameras photograph the same stop of a trip (near-identical views). Files are named as those cameras name
them, numbered in time order, under one folder per camera, and carry EXIF (:mod:`gtloc.data.exif_write`); with
:attr:`SyntheticSettings.heic` the phones write HEIC, as iPhones do. ``truth.csv`` beside the photos holds what
really happened: the true place and local time of every photo, whose it is, whether its view is recurring, and
what its EXIF says.
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

from gtloc.data.exif_write import CameraExif, write_photo
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
    "photographer", "view",
)  # fmt: skip
FIRST_DAY = datetime(2019, 1, 1)
HOUSEHOLD = "household"
# The places of everyday life: km from home (an unrelated photographer's office: a random distance in OFFICE_KM).
# "town": one-off views within TOWN_KM of home. One day of everyday life holds 1-3 photos by one camera.
PLACES_KM = {"garden": 0.0, "street": 1.5, "office": 35.0, "parents": 220.0, "studio": 25.0}
OFFICE_KM = (8.0, 40.0)
TOWN_KM = 15.0
ONE_OFF_KINDS = ("town",)  # and every trip
# Which views each camera photographs on everyday days, and how often (shares).
EVERYDAY_VIEWS = {
    "phone": {"garden": 0.35, "street": 0.2, "office": 0.2, "parents": 0.1, "town": 0.15},
    "partner": {"garden": 0.35, "street": 0.2, "studio": 0.2, "parents": 0.1, "town": 0.15},
    "friend": {"garden": 0.4, "street": 0.25, "office": 0.2, "town": 0.15},
}
STOP_KM = 20.0
FRIEND_SHARE = 0.15  # of the library's photos, per unrelated photographer
MAX_PHOTOGRAPHERS = 5
FRIEND_MIN_KM = 300.0
PARTNER_JOINS = 0.5  # share of the household's trips the partner comes along
CHUNK = 32


@dataclass(frozen=True)
class CameraSpec:
    """A camera: EXIF identity, whether it records GPS (``location_off``: share of photos without; of days without
    when ``off_by_day``), writes ``OffsetTimeOriginal``, whether its clock stays on the home time zone
    (``home_clock``), and whether it is a phone (which writes HEIC in a HEIC library)."""

    make: str
    model: str
    serial: str
    names: str
    gps: bool
    offset_tag: bool
    home_clock: bool = False
    location_off: float = 0.0
    off_by_day: bool = False
    phone: bool = False


CAMERAS = {
    "phone": CameraSpec("Apple", "iPhone 12", "F2LXK0Q1", "IMG_{:04d}.JPG", True, True, location_off=0.1, phone=True),
    "dslr": CameraSpec("Canon", "Canon EOS 80D", "083021004521", "DSC_{:04d}.JPG", False, False),
    "travel": CameraSpec("SONY", "DSC-HX90V", "3312870", "DSC{:05d}.JPG", True, False, home_clock=True),
    "partner": CameraSpec("samsung", "SM-G960F", "R58K31ZQ", "{}.jpg", True, True, location_off=0.7, off_by_day=True,
                          phone=True),
}  # fmt: skip
HOUSEHOLD_TRIP_CAMERAS = {"phone": 0.5, "dslr": 0.35, "travel": 0.15}
PARTNER_ON_TRIPS = 0.25  # the partner's share of a trip's photos when it comes along


def friend_cameras(k: int) -> dict[str, CameraSpec]:
    """The cameras of unrelated photographer ``k`` (1, 2, ...): a phone with GPS and a camera without."""
    return {
        f"friend{k}-phone": CameraSpec("Google", "Pixel 6", f"2A{k:02d}1F7731", "PXL_{}.jpg", True, True,
                                       location_off=0.15, phone=True),
        f"friend{k}-camera": CameraSpec("FUJIFILM", "X100V", f"5{k:02d}41207", "DSCF{:04d}.JPG", False, False),
    }  # fmt: skip


def all_cameras(photographers: int) -> dict[str, CameraSpec]:
    """Every camera of a library with ``photographers`` photographers (the household's first)."""
    out = dict(CAMERAS)
    for k in range(1, photographers):
        out.update(friend_cameras(k))
    return out


@dataclass(frozen=True)
class SyntheticSettings:
    """``photos`` in all; ``photographers``: the household and ``photographers - 1`` unrelated people (each
    :data:`FRIEND_SHARE` of the photos); ``share_home`` of each one's photos of everyday life; one trip per
    ``photos_per_trip`` of the others (a third of them day trips); over ``years`` years (default: 3, and one more per
    2,000 photos beyond 6,000, so that trips fit); pictures ``size`` px square; ``heic``: the phones write HEIC."""

    def span_years(self) -> int:
        return self.years if self.years is not None else max(3, -(-self.photos // 2000))

    photos: int = 400
    seed: int = 0
    size: int = 256
    years: int | None = None
    share_home: float = 0.5
    photos_per_trip: int = 40
    photographers: int = 3
    heic: bool = False


@dataclass
class _Shot:
    camera: str
    lat: float
    lon: float
    utc: datetime
    kind: str
    view: dict
    photographer: str = HOUSEHOLD


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


@dataclass
class _Person:
    """One photographer: ``name``, ``home`` (lat, lon), the recurring views (name -> place, view), the cameras on
    trips (name -> share of the photos) and on everyday days (name -> share, the views' shares)."""

    name: str
    home: np.ndarray
    views: dict[str, tuple[np.ndarray, dict]]
    trip_cameras: dict[str, float]
    everyday: dict[str, tuple[float, dict[str, float]]]


def _person(name: str, home: np.ndarray, rng: np.random.Generator) -> _Person:
    if name == HOUSEHOLD:
        trip = HOUSEHOLD_TRIP_CAMERAS
        everyday = {"phone": (0.7, EVERYDAY_VIEWS["phone"]), "partner": (0.3, EVERYDAY_VIEWS["partner"])}
    else:
        phone, camera = friend_cameras(int(name.removeprefix("friend")))
        trip = {phone: 0.6, camera: 0.4}
        everyday = {phone: (0.7, EVERYDAY_VIEWS["friend"]), camera: (0.3, EVERYDAY_VIEWS["friend"])}
    wanted = {v for _, views in everyday.values() for v in views if v != "town"}
    views = {}
    for view in sorted(wanted):
        km = PLACES_KM[view] if name == HOUSEHOLD or view != "office" else rng.uniform(*OFFICE_KM)
        views[view] = (_offset(home, km, rng) if km else home, _view(rng))
    return _Person(name, home, views, trip, everyday)


def _pick(rng: np.random.Generator, shares: dict[str, float]) -> str:
    names = list(shares)
    weights = np.array([shares[n] for n in names], float)
    return str(rng.choice(names, p=weights / weights.sum()))


def _trip_shots(
    person: _Person,
    start: datetime,
    days: int,
    count: int,
    day_trip: bool,
    k: int,
    cameras: dict[str, float],
    rng: np.random.Generator,
) -> list[_Shot]:
    gallery = mp16_coordinates()
    place = _offset(person.home, rng.uniform(50, 250), rng)
    while not day_trip and float(haversine_km(place, person.home)) < 500:
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
                camera = _pick(rng, cameras)
                spot = _offset(position, abs(rng.normal(0, 0.02)), rng)
                when = _at_local(start + timedelta(days=d), hour + rng.uniform(0, 0.15), *spot)
                shots.append(_Shot(camera, *spot, when, f"trip{k}", _jittered(view, rng, 6), person.name))
                left -= 1
            hour = min(hour + rng.uniform(0.3, 2.5), 20.5)
    return shots


def _everyday_shots(
    person: _Person, count: int, total_days: int, away: set[int], alone: set[int], rng: np.random.Generator
) -> list[_Shot]:
    """Everyday photos: days of 1-3 photos, each by one of the person's everyday cameras, of one of that camera's
    views (the recurring ones, or a one-off view in town). No photos on ``away`` days (everyone on a trip); on
    ``alone`` days (the household's phone on a trip without the partner) only the partner's phone takes them."""
    cameras = {name: share for name, (share, _) in person.everyday.items()}
    shots: list[_Shot] = []
    while len(shots) < count:
        day = int(rng.integers(0, total_days))
        if day in away:
            continue
        hours = np.sort(rng.uniform(7, 21, min(int(rng.integers(1, 4)), count - len(shots))))
        for hour in hours:
            camera = "partner" if day in alone else _pick(rng, cameras)
            name = _pick(rng, person.everyday[camera][1])
            if name == "town":
                place, view = _offset(person.home, rng.uniform(1, TOWN_KM), rng), _view(rng)
            else:
                place, view = person.views[name]
            spot = _offset(place, abs(rng.normal(0, 0.01)), rng)
            when = _at_local(FIRST_DAY + timedelta(days=day), float(hour), *spot)
            shots.append(_Shot(camera, *spot, when, name, _jittered(view, rng, 4), person.name))
    return shots


def _person_shots(
    person: _Person, count: int, settings: SyntheticSettings, first_trip: int, rng: np.random.Generator
) -> list[_Shot]:
    """A person's trips and everyday photos, ``count`` in all; trips numbered from ``first_trip``."""
    total_days = 365 * settings.span_years()
    n_home = round(count * settings.share_home)
    n_trips_photos = count - n_home
    n_trips = max(1, n_trips_photos // settings.photos_per_trip) if n_trips_photos else 0
    trips, busy = [], set()
    for _ in range(n_trips):
        day_trip = len(trips) % 3 == 2
        days = 1 if day_trip else int(rng.integers(2, 6))
        for _ in range(1000):
            start = int(rng.integers(0, total_days - days))
            if not any(d in busy for d in range(start - 1, start + days + 1)):
                break
        else:
            fit = f"{n_trips} trips do not fit in {settings.span_years()} years: give more "
            raise ParameterError(fit, Param("years"))
        busy.update(range(start, start + days))
        joins = person.name == HOUSEHOLD and rng.random() < PARTNER_JOINS
        trips.append((start, days, day_trip, joins))
    counts = np.full(n_trips, n_trips_photos // max(n_trips, 1))
    counts[: n_trips_photos - counts.sum()] += 1
    shots: list[_Shot] = []
    away, alone = set(), set()
    for k, ((start, days, day_trip, joins), n) in enumerate(zip(trips, counts, strict=True)):
        cameras = dict(person.trip_cameras)
        if joins:
            cameras["partner"] = PARTNER_ON_TRIPS * sum(cameras.values()) / (1 - PARTNER_ON_TRIPS)
        span = set(range(start, start + days))
        if person.name != HOUSEHOLD or joins:
            away |= span
        else:
            alone |= span
        when = FIRST_DAY + timedelta(days=start)
        shots += _trip_shots(person, when, days, int(n), day_trip, first_trip + k, cameras, rng)
    return shots + _everyday_shots(person, n_home, total_days, away, alone, rng)


def plan_library(settings: SyntheticSettings) -> tuple[np.ndarray, list[_Shot]]:
    """The household's home and every photo's camera, true place, UTC time, view and photographer (nothing
    rendered)."""
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 0x4C4942]))
    gallery = mp16_coordinates()
    home = gallery[rng.integers(0, len(gallery))].astype(float)
    people = [_person(HOUSEHOLD, home, rng)]
    for k in range(1, settings.photographers):
        place = gallery[rng.integers(0, len(gallery))].astype(float)
        while float(haversine_km(place, home)) < FRIEND_MIN_KM:
            place = gallery[rng.integers(0, len(gallery))].astype(float)
        people.append(_person(f"friend{k}", place, rng))
    friends = min(round(settings.photos * FRIEND_SHARE), (settings.photos - 1) // max(len(people) - 1, 1))
    counts = [settings.photos - friends * (len(people) - 1)] + [friends] * (len(people) - 1)
    shots: list[_Shot] = []
    for person, count in zip(people, counts, strict=True):
        first_trip = len({s.kind for s in shots if s.kind.startswith("trip")})
        shots += _person_shots(person, count, settings, first_trip, rng)
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
        write_photo(Path(root) / path, pixels, info)


def _file_name(spec: CameraSpec, number: int, clock: datetime, heic: bool) -> str:
    stem = clock.strftime("%Y%m%d_%H%M%S") if "{}" in spec.names else number
    name = spec.names.format(stem)
    if heic and spec.phone:
        base, suffix = name.rsplit(".", 1)
        name = f"{base}.{'HEIC' if suffix.isupper() else 'heic'}"
    return name


def make_synthetic_library(
    out_dir: str | Path, settings: SyntheticSettings | None = None, *, workers: int = 1, progress: bool = False
) -> Path:
    """Render the library of ``settings`` into ``out_dir`` (photos in one folder per camera, ``truth.csv``); returns
    the path of ``truth.csv``."""
    settings = settings or SyntheticSettings()
    if settings.photos < 1 or settings.size < 32 or settings.span_years() < 1:
        raise ParameterError(Param("settings"), ": need photos >= 1, size >= 32 px and years >= 1")
    if not 1 <= settings.photographers <= MAX_PHOTOGRAPHERS:
        raise ParameterError(Param("photographers"), f" must be 1 to {MAX_PHOTOGRAPHERS}, got {settings.photographers}")
    out = output_dir(out_dir)
    home, shots = plan_library(settings)
    cameras = all_cameras(settings.photographers)
    rng = np.random.default_rng(np.random.SeedSequence([settings.seed, 0x455849]))
    numbers = dict.fromkeys(cameras, 0)
    off_days: dict[tuple[str, str], bool] = {}
    jobs, truth, used = [], [], set()
    for shot in shots:
        spec = cameras[shot.camera]
        numbers[shot.camera] += 1
        local = shot.utc.astimezone(ZoneInfo(timezone_at(shot.lat, shot.lon))).replace(tzinfo=None)
        if spec.off_by_day:
            no_gps = off_days.setdefault((shot.camera, local.date().isoformat()), rng.random() < spec.location_off)
        else:
            no_gps = rng.random() < spec.location_off
        info, clock = _camera_exif(shot, spec, home, no_gps)
        path = f"{shot.camera}/{_file_name(spec, numbers[shot.camera], clock, settings.heic)}"
        while path in used:
            path = path.replace(".", "_1.", 1)
        used.add(path)
        zone = timezone_at(shot.lat, shot.lon)
        jobs.append((path, shot.view, info, shot.lat, shot.lon, int(shot.utc.timestamp()), zone))
        one_off = shot.kind in ONE_OFF_KINDS or shot.kind.startswith("trip")
        truth.append([
            path, shot.camera, f"{shot.lat:.6f}", f"{shot.lon:.6f}", local.isoformat(), shot.utc.isoformat(),
            shot.kind, "yes" if info.lat is not None else "no", clock.isoformat(),
            info.gps_utc.isoformat() if info.gps_utc else "", f"{(clock - local).total_seconds():.0f}",
            shot.photographer, "one-off" if one_off else "recurring",
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
