"""Scenes of the synthetic world: where and when each picture is taken, and everything physics says about it.

A scene is a place (from the GPS gallery), a UTC instant (uniform over years, the year and the 24-h day), the
local clock time there, the sun's position, the climate state (temperature, vegetation, snow, clouds), the
regional appearance and a camera. :func:`sample_scenes` draws them vectorised; :func:`scene_at` builds one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

from gtloc.data.world.appearance import APPEARANCE_FIELDS, appearance_fields
from gtloc.data.world.climate import (
    OVERCAST,
    aridity,
    climate_zone,
    sample_cloud_cover,
    season_phase,
    snow_cover,
    temperature_c,
    vegetation_state,
)
from gtloc.errors import GtlocError, Param, ParameterError
from gtloc.geo import validate_coordinates
from gtloc.places import mp16_coordinates
from gtloc.sun import solar_position
from gtloc.timecode import timezone_at

FIRST_TS = int(datetime(2015, 1, 1, tzinfo=timezone.utc).timestamp())
LAST_TS = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp())
PLACE_JITTER_DEG = 0.02
WEATHER_SD_C = 2.5


@dataclass
class Scenes:
    """``N`` scenes as columns. Angles in degrees, temperatures in C, fractions in ``[0, 1]``.

    ``times``: ``(N, 5)`` local ``[month, day, hour, minute, second]``; ``appearance``: ``(N, F)`` regional
    fields (:data:`APPEARANCE_FIELDS`); ``camera``: fixed-camera id or -1; ``layout_seed`` fixes the objects
    in view (shared by a fixed camera's pictures), ``render_seed`` the rest of a picture's randomness.
    """

    lat: np.ndarray
    lon: np.ndarray
    unix_ts: np.ndarray
    year: np.ndarray
    times: np.ndarray
    timezone: np.ndarray
    sun_elevation: np.ndarray
    sun_azimuth: np.ndarray
    climate: np.ndarray
    aridity: np.ndarray
    temperature: np.ndarray
    snow: np.ndarray
    leaf_off: np.ndarray
    autumn: np.ndarray
    spring: np.ndarray
    dormant: np.ndarray
    cloud: np.ndarray
    sun_hidden: np.ndarray
    camera_heading: np.ndarray
    fov: np.ndarray
    horizon: np.ndarray
    camera_height: np.ndarray
    appearance: np.ndarray
    camera: np.ndarray
    layout_seed: np.ndarray
    render_seed: np.ndarray

    def __len__(self) -> int:
        return len(self.lat)

    def __getitem__(self, i: int) -> Scene:
        return Scene(**{f.name: getattr(self, f.name)[i] for f in fields(self)})


@dataclass
class Scene:
    """One scene: the fields of :class:`Scenes` for a single picture (scalars; ``times`` ``(5,)``,
    ``appearance`` ``(F,)``)."""

    lat: float
    lon: float
    unix_ts: int
    year: int
    times: np.ndarray
    timezone: str
    sun_elevation: float
    sun_azimuth: float
    climate: int
    aridity: float
    temperature: float
    snow: float
    leaf_off: float
    autumn: float
    spring: float
    dormant: float
    cloud: float
    sun_hidden: bool
    camera_heading: float
    fov: float
    horizon: float
    camera_height: float
    appearance: np.ndarray
    camera: int
    layout_seed: int
    render_seed: int

    @property
    def local_hour(self) -> float:
        return float(self.times[2] + self.times[3] / 60 + self.times[4] / 3600)

    def field(self, name: str) -> float:
        """One regional appearance value in ``(0, 1)`` by name."""
        return float(self.appearance[APPEARANCE_FIELDS.index(name)])


def _local_times(unix_ts: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC seconds + zone names -> local ``(N, 5)`` time rows, local years, local day of the year (1-366)."""
    rows = np.empty((len(unix_ts), 5))
    years = np.empty(len(unix_ts), np.int64)
    doy = np.empty(len(unix_ts))
    cache: dict[str, ZoneInfo] = {}
    for i, (ts, name) in enumerate(zip(unix_ts.tolist(), zones.tolist(), strict=True)):
        tz = cache.get(name) or cache.setdefault(name, ZoneInfo(name))
        local = datetime.fromtimestamp(ts, tz)
        rows[i] = (local.month, local.day, local.hour, local.minute, local.second)
        years[i] = local.year
        doy[i] = local.timetuple().tm_yday + (local.hour + local.minute / 60) / 24
    return rows, years, doy


def describe_scenes(
    lat: np.ndarray,
    lon: np.ndarray,
    unix_ts: np.ndarray,
    rng: np.random.Generator,
    *,
    zones: np.ndarray | None = None,
    cloud: np.ndarray | None = None,
    weather_c: np.ndarray | None = None,
    camera: dict[str, np.ndarray] | None = None,
) -> Scenes:
    """Everything physics says about pictures at ``(lat, lon)`` (degrees, ``(N,)``) and UTC ``unix_ts`` (s).

    Random parts (weather anomaly, clouds, camera, seeds) come from ``rng`` unless given: ``cloud`` ``(N,)``
    cover, ``weather_c`` ``(N,)`` temperature anomaly, ``camera`` a dict of ``camera_heading, fov, horizon,
    camera_height, layout_seed, camera`` arrays. ``zones``: IANA time zone names (looked up if omitted).
    """
    lat, lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
    unix_ts = np.asarray(unix_ts, np.int64)
    n = len(lat)
    if zones is None:
        zones = np.array([timezone_at(a, b) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)])
    times, years, doy = _local_times(unix_ts, zones)
    elev, azim = solar_position(lat, lon, unix_ts)
    zone = climate_zone(lat, lon)
    anomaly = rng.normal(0.0, WEATHER_SD_C, n) if weather_c is None else np.asarray(weather_c, np.float64)
    seasonal = temperature_c(lat, lon, doy)
    veg = vegetation_state(lat, seasonal + 0.5 * anomaly, doy)
    cover = sample_cloud_cover(zone, np.cos(season_phase(lat, doy)), rng) if cloud is None else np.asarray(cloud)
    hidden = (cover >= OVERCAST) | ((cover > 0.2) & (rng.random(n) < 0.7 * cover))
    cam = camera or {
        "camera_heading": rng.uniform(0.0, 360.0, n),
        "fov": rng.uniform(50.0, 80.0, n),
        "horizon": rng.uniform(0.36, 0.62, n),
        "camera_height": rng.uniform(1.5, 6.0, n),
        "layout_seed": rng.integers(0, 2**62, n),
        "camera": np.full(n, -1),
    }
    return Scenes(
        lat=lat,
        lon=lon,
        unix_ts=unix_ts,
        year=years,
        times=times,
        timezone=np.asarray(zones),
        sun_elevation=elev,
        sun_azimuth=azim,
        climate=zone,
        aridity=aridity(lat, lon),
        temperature=seasonal + anomaly,
        snow=snow_cover(seasonal + anomaly),
        leaf_off=veg["leaf_off"],
        autumn=veg["autumn"],
        spring=veg["spring"],
        dormant=veg["dormant"],
        cloud=cover,
        sun_hidden=hidden,
        appearance=appearance_fields(lat, lon),
        render_seed=rng.integers(0, 2**62, n),
        **{k: np.asarray(v) for k, v in cam.items()},
    )


def camera_frame_counts(cameras: int, frames_min: int, frames_max: int, seed: int) -> np.ndarray:
    """Pictures per camera of a fixed-webcam world: ``(cameras,)`` ints, uniform in ``[frames_min, frames_max]``."""
    if cameras < 1:
        raise ParameterError("frames per camera need ", Param("cameras"), f" >= 1, got {cameras}")
    if not 1 <= frames_min <= frames_max:
        raise ParameterError(Param("frames"), f" per camera need 1 <= min <= max, got {frames_min} and {frames_max}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4652414D45]))
    return rng.integers(frames_min, frames_max + 1, cameras)


def sample_scenes(n: int, seed: int, *, cameras: int = 0, frames_per_camera: np.ndarray | None = None) -> Scenes:
    """Draw ``n`` scenes: places from the MP-16 GPS gallery, UTC instants uniform over 2015-2024.

    ``cameras > 0`` gives a fixed-webcam world: ``cameras`` places, each with one fixed camera (heading,
    field of view, objects in view) photographed at many instants; ``Scenes.camera`` holds the camera id.
    ``frames_per_camera`` ``(cameras,)`` sets how many of the ``n`` pictures each camera takes (summing to ``n``);
    ``None`` shares them evenly.
    """
    if n < 1:
        raise GtlocError(f"world size n must be at least 1, got {n}")
    if cameras < 0:
        raise GtlocError(f"number of cameras must be >= 0, got {cameras}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x574F524C44]))
    gallery = mp16_coordinates().astype(np.float64)
    k = cameras or n
    places = gallery[rng.integers(0, len(gallery), k)] + rng.normal(0.0, PLACE_JITTER_DEG, (k, 2))
    places[:, 0] = np.clip(places[:, 0], -89.9, 89.9)
    places[:, 1] = (places[:, 1] + 180.0) % 360.0 - 180.0
    validate_coordinates(places)
    zones = np.array([timezone_at(a, b) for a, b in places.tolist()])
    unix_ts = rng.integers(FIRST_TS, LAST_TS, n)
    camera = None
    if cameras:
        if frames_per_camera is None:
            which = rng.permutation(np.arange(n) % cameras)
        else:
            counts = np.asarray(frames_per_camera, np.int64)
            if counts.shape != (cameras,) or counts.sum() != n or (counts < 1).any():
                raise GtlocError(f"frames_per_camera must be {cameras} counts >= 1 summing to n={n}, got {counts}")
            which = rng.permutation(np.repeat(np.arange(cameras), counts))
        per_camera = {
            "camera_heading": rng.uniform(0.0, 360.0, cameras),
            "fov": rng.uniform(50.0, 80.0, cameras),
            "horizon": rng.uniform(0.36, 0.62, cameras),
            "camera_height": rng.uniform(3.0, 12.0, cameras),
            "layout_seed": rng.integers(0, 2**62, cameras),
            "camera": np.arange(cameras),
        }
        camera = {key: value[which] for key, value in per_camera.items()}
        places, zones = places[which], zones[which]
    return describe_scenes(places[:, 0], places[:, 1], unix_ts, rng, zones=zones, camera=camera)


def scene_at(
    lat: float,
    lon: float,
    when: datetime | float,
    *,
    seed: int = 0,
    cloud: float | None = None,
    weather_c: float = 0.0,
    heading: float | None = None,
    fov: float = 65.0,
    horizon: float = 0.5,
    camera_height: float = 2.0,
) -> Scene:
    """One scene at ``(lat, lon)`` and ``when`` (an aware/naive-UTC datetime, or UTC seconds).

    ``cloud`` fixes the cover (``None``: drawn from the climate), ``weather_c`` the temperature anomaly,
    ``heading`` the camera azimuth (``None``: random); the objects in view come from ``seed``.
    """
    validate_coordinates(np.array([[lat, lon]]))
    if isinstance(when, datetime):
        when = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    rng = np.random.default_rng(seed)
    camera = {
        "camera_heading": np.array([rng.uniform(0.0, 360.0) if heading is None else heading]),
        "fov": np.array([fov]),
        "horizon": np.array([horizon]),
        "camera_height": np.array([camera_height]),
        "layout_seed": np.array([seed]),
        "camera": np.array([-1]),
    }
    scenes = describe_scenes(
        np.array([lat]),
        np.array([lon]),
        np.array([int(when)]),
        rng,
        cloud=None if cloud is None else np.array([cloud]),
        weather_c=np.array([weather_c]),
        camera=camera,
    )
    return scenes[0]
