"""The sun check against the 20-line reference rule of issue 22, on the same pictures, without any model.

For each picture two claims: the true place and time, and the same place 12 h later. Reported per set and rule:
false alarms (true claims called inconsistent) over ALL pictures and over the eligible ones, and detections
(12-h-moved claims called inconsistent) among the *eligible* pictures, those where the sun is above +6 deg at one
of the two times and below -6 deg at the other.

Sets (the generated ones are synthetic: a proxy for real pictures, brighter at night than real ones):

* ``world``: the generated world's camera (random places and instants, partial auto-exposure), pixels only.
* ``webcam world``: fixed cameras (``n // 20``), each at many instants, pixels only.
* ``world, varied cameras``: per picture a different auto-exposure (strength 0.5-1, gain cap 30-3000: from a
  camera that gives up in the dark to one that brightens any night), a tilted view (horizon at 20-80 % of the
  height: from mostly sky to mostly ground), 30 % forced overcast, 0.6-1.5x rescaling and JPEG quality 35-95.
* ``world, varied cameras and colour``: the same scenes through the same cameras, and then through varied colour
  processing: a white balance (red and blue gains 0.82-1.22 and 0.78-1.28), a tone curve (sRGB to the power
  0.8-1.25) and, for half the pictures, a 3x3 median filter (denoising). A cool balance turns a city's orange glow
  gray, a warm one a dull day's sky orange. Side by side with the set above, it shows what the processing alone
  costs.
* ``world, varied webcams`` (and ``and colour``): fixed cameras of those varied kinds, 20 frames each, each camera
  keeping its exposure, view, size, JPEG quality (and colour processing) over its frames; also checked with each
  camera's frames read together (:mod:`gtloc.evidence.frames`, as ``verify --fixed-camera`` reads a webcam's folder),
  as is the ``webcam world``.
* ``... unrelated pictures read together``: the varied cameras' and colour pictures read together 20 at a time as
  if they were one camera's frames: the misuse of ``--fixed-camera`` on a folder of unrelated photos.
* ``world, night-mode phone + EXIF``: a camera that brightens any night (strength 1, gain cap 5000), with an EXIF
  exposure value from the scene's mean luminance (EV 15 for a clear equatorial noon; +-0.5 EV metering jitter),
  written as a phone's program writes it (:func:`phone_exposure`: f/1.8, ISO 50-3200 at 1/60-1/15 s, a night mode
  of 1/4-3 s at ISO 800-6400 below that). The generated nights are lit-street bright (EV 2-10, median 6), so few
  of them reach the night mode.
* ``real photos``: the camera photos in tests/fixtures/exif-photos with their EXIF.
* ``real photos, no exposure tags``: the same pixels with no EXIF (the pixel path alone, on real pixels).
* ``real photos, degraded``: each real photo (no exposure tags) as a webcam would send it (320 px, JPEG quality 40,
  sensor grain), 1 EV and 2 EV darker (a dull day, an underexposed camera).
* ``real photos, warm cast``: each real photo (no exposure tags) with a warm white balance (red x1.1, blue x0.85;
  and x1.2, x0.7), as taken, 1 EV and 2 EV darker: a dull day under a warm cast against the orange-glow night cue.

Reference rule (issue 22): EV100 from EXIF above 10 is day, below 3 night; otherwise day when the median brightness
of the whole picture and of its top third are both above ``hi``, night when both are below ``lo``; inconsistent when
a day picture is claimed with the sun below -6 deg or a night picture with the sun above +6 deg. Shown with
``lo, hi = 0.25, 0.40`` fixed beforehand, and with the pair that detects most at <= 1 % false alarms (over all true
claims) on these very pictures (tuned on the test data: an upper bound for it; only on sets with at least
``MIN_TUNE`` day and night pictures: the real photos are all by day, and tuned on them alone the rule calls
everything day).

    python benchmarks/bench_sun.py [--n 600] [--seed 10] [--out runs/bench-sun]
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from gtloc.data.exif import CameraSettings, PhotoExif, read_photo_exif
from gtloc.data.images import load_image
from gtloc.data.world import sample_scenes, scene_at
from gtloc.data.world.climate import OVERCAST
from gtloc.data.world.render import expose, mean_luminance, scene_radiance
from gtloc.evidence import INCONSISTENT
from gtloc.evidence.frames import read_frames_together
from gtloc.evidence.light import exposure_value, pixel_light
from gtloc.evidence.sun import LightReading, check_sun, read_light
from gtloc.sun import solar_position
from gtloc.timecode import local_to_utc

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"
MOVE = timedelta(hours=12)
SIZE = 224
SUNNY_EV = 15.0
MIN_TUNE = 20


@dataclass
class Picture:
    """One picture to check: its pixels, the EXIF to use, the true place and UTC instant."""

    name: str
    image: Image.Image
    exif: PhotoExif
    lat: float
    lon: float
    utc: datetime
    camera: int = -1
    """The fixed camera whose frames are read together (``-1``: none)."""


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(int(ts), timezone.utc)


def world_set(n: int, seed: int, cameras: int = 0) -> Iterator[Picture]:
    """The generated world's pictures as its own camera renders them (pixels only)."""
    scenes = sample_scenes(n, seed, cameras=cameras)
    for i in range(n):
        scene = scenes[i]
        rng = np.random.default_rng(int(scene.render_seed))
        pixels = expose(scene_radiance(scene, SIZE, rng), rng)
        camera = int(scenes.camera[i]) if cameras else -1
        image = Image.fromarray(pixels)
        yield Picture(f"{seed}-{i}", image, PhotoExif(), scene.lat, scene.lon, _when(scene.unix_ts), camera)


def _recolour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """``image`` through another camera's colour processing: a white balance (red and blue gains 0.82-1.22 and
    0.78-1.28 in linear light), a tone curve (sRGB values to the power 0.8-1.25: brighter or darker mid-tones) and,
    for half of the pictures, a 3x3 median filter (a camera's denoising, which smooths grain and points of light)."""
    linear = (np.asarray(image, np.float32) / 255.0) ** 2.2
    gains = np.exp([rng.uniform(-0.2, 0.2), 0.0, rng.uniform(-0.25, 0.25)]).astype(np.float32)
    tone = ((linear * gains).clip(0.0, 1.0) ** (1 / 2.2)) ** float(rng.uniform(0.8, 1.25))
    out = Image.fromarray(np.clip(tone * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.MedianFilter(3)) if rng.random() < 0.5 else out


def varied_set(n: int, seed: int, recolour: bool = False) -> Iterator[Picture]:
    """World scenes through varied cameras, views, weather, sizes and JPEG qualities (pixels only); with
    ``recolour``, also through varied colour processing (:func:`_recolour`)."""
    scenes = sample_scenes(n, seed)
    rng = np.random.default_rng(seed)
    scenes.horizon = rng.uniform(0.2, 0.8, n)
    overcast = rng.random(n) < 0.3
    scenes.cloud = np.where(overcast, rng.uniform(OVERCAST + 0.02, 1.0, n), scenes.cloud)
    scenes.sun_hidden = scenes.sun_hidden | overcast
    for i in range(n):
        scene = scenes[i]
        render = np.random.default_rng(int(scene.render_seed))
        strength, gain = rng.uniform(0.5, 1.0), float(np.exp(rng.uniform(np.log(30), np.log(3000))))
        image = Image.fromarray(expose(scene_radiance(scene, SIZE, render), render, strength, gain))
        if recolour:  # its own draws, so that the set's other draws are those of the same seed without it
            image = _recolour(image, np.random.default_rng([seed, i]))
        side = int(SIZE * rng.uniform(0.6, 1.5))
        image = _jpeg(image.resize((side, side), Image.Resampling.BILINEAR), int(rng.integers(35, 96)))
        yield Picture(f"{seed}-{i}", image, PhotoExif(), scene.lat, scene.lon, _when(scene.unix_ts))


def varied_webcams_set(n: int, seed: int, recolour: bool = False) -> Iterator[Picture]:
    """Fixed cameras (``n // 20``, 20 frames each) of the varied kinds of :func:`varied_set`, each keeping its own
    auto-exposure, view (horizon), size and JPEG quality (and with ``recolour`` its own colour processing) over all
    its frames, under changing weather (30 % forced overcast); pixels only."""
    scenes = sample_scenes(n, seed, cameras=max(1, n // 20))
    rng = np.random.default_rng(seed)
    overcast = rng.random(n) < 0.3
    scenes.cloud = np.where(overcast, rng.uniform(OVERCAST + 0.02, 1.0, n), scenes.cloud)
    scenes.sun_hidden = scenes.sun_hidden | overcast
    kinds: dict[int, dict] = {}
    for i in range(n):
        camera = int(scenes.camera[i])
        if camera not in kinds:
            kinds[camera] = {
                "strength": rng.uniform(0.5, 1.0),
                "gain": float(np.exp(rng.uniform(np.log(30), np.log(3000)))),
                "side": int(SIZE * rng.uniform(0.6, 1.5)),
                "quality": int(rng.integers(35, 96)),
                "horizon": rng.uniform(0.2, 0.8),
            }
        kind = kinds[camera]
        scenes.horizon[i] = kind["horizon"]
        scene = scenes[i]
        render = np.random.default_rng(int(scene.render_seed))
        image = Image.fromarray(expose(scene_radiance(scene, SIZE, render), render, kind["strength"], kind["gain"]))
        if recolour:  # one colour processing per camera, drawn apart from the set's other draws
            image = _recolour(image, np.random.default_rng([seed, camera]))
        side = kind["side"]
        image = _jpeg(image.resize((side, side), Image.Resampling.BILINEAR), kind["quality"])
        yield Picture(f"{seed}-{i}", image, PhotoExif(), scene.lat, scene.lon, _when(scene.unix_ts), camera)


def unrelated_as_cameras(pictures: Iterator[Picture], per_camera: int = 20) -> Iterator[Picture]:
    """``pictures`` of different scenes, taken ``per_camera`` at a time for one fixed camera's frames: what reading
    frames together does when it is misused (``verify --fixed-camera`` on a folder of unrelated photos)."""
    for k, picture in enumerate(pictures):
        yield replace(picture, camera=k // per_camera)


def phone_exposure(ev: float) -> CameraSettings:
    """The exposure tags a phone writes for a scene at ``ev`` (EV100), f/1.8: ISO 50 at shorter times; at 1/60 s
    ISO up to 1600; then up to 1/15 s at ISO 1600; ISO up to 3200 at 1/15 s; below that its night mode, 1/4-3 s at
    ISO 800-6400. Any program of the same EV gives the same :func:`exposure_value`; this one writes a phone's ISO."""
    f_number = 1.8
    need = f_number**2 / 2.0**ev * 100.0  # exposure time (s) x ISO
    if need <= 50 / 60:
        t = need / 50
    elif need <= 1600 / 60:
        t = 1 / 60
    elif need <= 1600 / 15:
        t = need / 1600
    elif need <= 3200 / 15:
        t = 1 / 15
    else:
        t = min(max(need / 3200, 1 / 4), 3.0)
        t = max(t, need / 6400)
    return CameraSettings(exposure_time=t, f_number=f_number, iso=need / t, flash_fired=False)


def night_mode_set(n: int, seed: int) -> Iterator[Picture]:
    """World scenes through a camera that brightens any night, with the scene's EV100 in (synthetic) EXIF."""
    noon = scene_at(0.0, 0.0, datetime(2021, 3, 20, 12, 7, tzinfo=timezone.utc), cloud=0.0, seed=1)
    sunny = mean_luminance(scene_radiance(noon, SIZE, np.random.default_rng(0)))
    scenes = sample_scenes(n, seed)
    jitter = np.random.default_rng(seed).normal(0.0, 0.5, n)
    for i in range(n):
        scene = scenes[i]
        rng = np.random.default_rng(int(scene.render_seed))
        radiance = scene_radiance(scene, SIZE, rng)
        ev = SUNNY_EV + np.log2(mean_luminance(radiance) / sunny) + jitter[i]
        camera = phone_exposure(float(ev))
        image = Image.fromarray(expose(radiance, rng, 1.0, 5000.0))
        yield Picture(f"{seed}-{i}", image, PhotoExif(camera=camera), scene.lat, scene.lon, _when(scene.unix_ts))


def real_set(keep_exif: bool) -> Iterator[Picture]:
    """The real fixture photos that carry GPS and time, with their EXIF or with none."""
    for path in sorted(FIXTURES.glob("*.jpg")):
        info = read_photo_exif(path)
        if not (info.has_gps and info.has_time):
            continue
        if info.utc_offset is not None:
            utc = (info.local_time - info.utc_offset).replace(tzinfo=timezone.utc)
        else:
            utc = local_to_utc(info.local_time, info.lat, info.lon)
        exif = info if keep_exif else PhotoExif()
        yield Picture(path.name, load_image(path), exif, info.lat, info.lon, utc)


def degraded_set() -> Iterator[Picture]:
    """Each real photo (no exposure tags) as a webcam sends it, and 1 EV and 2 EV darker."""
    rng = np.random.default_rng(0)
    for picture in real_set(keep_exif=False):
        small = picture.image.copy()
        small.thumbnail((320, 320), Image.Resampling.BILINEAR)
        grain = np.asarray(small, np.float32) + rng.normal(0.0, 2.0, (small.height, small.width, 1))
        webcam = _jpeg(Image.fromarray(np.clip(grain + 0.5, 0, 255).astype(np.uint8)), 40)
        linear = (np.asarray(picture.image, np.float32) / 255.0) ** 2.2
        variants = {"webcam": webcam}
        for stops in (1, 2):
            darker = (linear / 2**stops) ** (1 / 2.2) * 255.0
            variants[f"-{stops} EV"] = Image.fromarray(np.clip(darker + 0.5, 0, 255).astype(np.uint8))
        for label, image in variants.items():
            yield Picture(f"{picture.name} {label}", image, picture.exif, picture.lat, picture.lon, picture.utc)


def warm_set() -> Iterator[Picture]:
    """Each real photo (no exposure tags) with a warm colour cast (a camera's warm white balance: red x1.1 and blue
    x0.85, or x1.2 and x0.7), as taken and 1 EV and 2 EV darker: a dull day must not pass for an orange night."""
    for picture in real_set(keep_exif=False):
        linear = (np.asarray(picture.image, np.float32) / 255.0) ** 2.2
        for red, blue in ((1.1, 0.85), (1.2, 0.7)):
            for stops in (0, 1, 2):
                cast = (linear * np.array([red, 1.0, blue], np.float32) / 2**stops).clip(0.0, 1.0) ** (1 / 2.2)
                image = Image.fromarray(np.clip(cast * 255.0 + 0.5, 0, 255).astype(np.uint8))
                name = f"{picture.name} R x{red} B x{blue} -{stops} EV"
                yield Picture(name, image, picture.exif, picture.lat, picture.lon, picture.utc)


def _together(pictures: list[Picture]) -> dict[int, LightReading | None]:
    """Each picture's light (by index) with each camera's frames read together (pictures of camera ``-1``: none)."""
    cameras: dict[int, list[int]] = {}
    for k, p in enumerate(pictures):
        if p.camera >= 0:
            cameras.setdefault(p.camera, []).append(k)
    out: dict[int, LightReading | None] = {}
    for frames in cameras.values():
        alone = [read_light(pictures[k].image, pictures[k].exif) for k in frames]
        out.update(zip(frames, read_frames_together(alone), strict=True))
    return out


def measure(pictures: Iterator[Picture]) -> list[dict]:
    rows = []
    pictures = list(pictures)
    together = _together(pictures)
    for k, p in enumerate(pictures):
        times = [p.utc, p.utc + MOVE]
        pixels = pixel_light(p.image)
        checks = [check_sun(p.image, p.lat, p.lon, t, exif=p.exif) for t in times]
        if k in together:
            read = [check_sun(None, p.lat, p.lon, t, exif=p.exif, light=together[k]) for t in times]
            rows_together = {"together": [c.verdict == INCONSISTENT for c in read]}
        else:
            rows_together = {}
        rows.append(
            {
                "name": p.name,
                "elevation": [float(solar_position(p.lat, p.lon, t.timestamp())[0]) for t in times],
                "ours": [c.verdict == INCONSISTENT for c in checks],
                "reasons": [c.reason for c in checks],
                "ev": exposure_value(p.exif.camera),
                "median": pixels.median,
                "top": pixels.top_median,
                **rows_together,
            }
        )
    return rows


def reference_class(ev: float | None, median: float, top: float, lo: float, hi: float) -> int:
    """+1 day, -1 night, 0 neither: the issue's 20-line rule."""
    if ev is not None and ev > 10:
        return 1
    if ev is not None and ev < 3:
        return -1
    if min(median, top) > hi:
        return 1
    if max(median, top) < lo:
        return -1
    return 0


def reference(lo: float, hi: float) -> Callable[[dict, int], bool]:
    def decide(row: dict, k: int) -> bool:
        cls = reference_class(row["ev"], row["median"], row["top"], lo, hi)
        elevation = row["elevation"][k]
        return (cls == 1 and elevation <= -6) or (cls == -1 and elevation >= 6)

    return decide


def ours(row: dict, k: int) -> bool:
    return row["ours"][k]


def ours_together(row: dict, k: int) -> bool:
    return row["together"][k]


def rates(rows: list[dict], inconsistent: Callable[[dict, int], bool]) -> dict[str, float | int]:
    eligible = [r for r in rows if max(r["elevation"]) >= 6 and min(r["elevation"]) <= -6]
    return {
        "pictures": len(rows),
        "eligible": len(eligible),
        "false_alarms_all": sum(inconsistent(r, 0) for r in rows),
        "false_alarms_eligible": sum(inconsistent(r, 0) for r in eligible),
        "detected": sum(inconsistent(r, 1) for r in eligible),
    }


def tuned(rows: list[dict]) -> tuple[float, float]:
    """The reference's ``(lo, hi)`` with the most detections at <= 1 % false alarms (all true claims) on ``rows``."""
    best, pair = -1, (0.25, 0.40)
    for lo in np.arange(0.05, 0.50, 0.01):
        for hi in np.arange(lo, 0.80, 0.01):
            r = rates(rows, reference(lo, hi))
            if r["false_alarms_all"] <= 0.01 * r["pictures"] and r["detected"] > best:
                best, pair = r["detected"], (round(float(lo), 2), round(float(hi), 2))
    return pair


def _share(k: int, n: int) -> str:
    return f"{k / max(1, n):.1%} ({k}/{n})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=600, help="pictures per generated set")
    parser.add_argument(
        "--seed",
        type=int,
        default=10,
        help="the generated sets use seeds SEED+1 ... SEED+5 (default 10: seeds 11-15, the ones the README reports; "
        "the newer thresholds were chosen on --seed 110, --seed 200 and the real photos, never on these)",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/bench-sun"))
    args = parser.parse_args()
    sets = {
        "world": world_set(args.n, args.seed + 1),
        "webcam world": world_set(args.n, args.seed + 2, cameras=max(1, args.n // 20)),
        "world, varied cameras": varied_set(args.n, args.seed + 3),
        "world, night-mode phone + EXIF": night_mode_set(args.n, args.seed + 4),
        "world, varied cameras and colour": varied_set(args.n, args.seed + 3, recolour=True),  # the same scenes
        "world, varied webcams": varied_webcams_set(args.n, args.seed + 5),
        "world, varied webcams and colour": varied_webcams_set(args.n, args.seed + 5, recolour=True),
        "world, varied cameras and colour, unrelated pictures read together": unrelated_as_cameras(
            varied_set(args.n, args.seed + 3, recolour=True)
        ),
        "real photos": real_set(keep_exif=True),
        "real photos, no exposure tags": real_set(keep_exif=False),
        "real photos, degraded": degraded_set(),
        "real photos, warm cast": warm_set(),
    }
    results, details = {}, {}
    print("| pictures | rule | n | eligible | false alarms (all) | false alarms (eligible) | detected (eligible) |")
    print("|---|---|---|---|---|---|---|")
    for name, pictures in sets.items():
        rows = measure(pictures)
        details[name] = rows
        rules: list[tuple[str, Callable[[dict, int], bool]]] = [("sun check", ours)]
        if rows and "together" in rows[0]:
            rules.append(("sun check, frames read together", ours_together))
        rules.append(("reference 0.25/0.40", reference(0.25, 0.40)))
        nights = sum(r["elevation"][0] <= -6 for r in rows)
        if nights >= MIN_TUNE and len(rows) - nights >= MIN_TUNE:  # tuning on days alone calls everything day
            lo, hi = tuned(rows)
            rules.append((f"reference tuned {lo:.2f}/{hi:.2f}", reference(lo, hi)))
        for rule, decide in rules:
            r = rates(rows, decide)
            results[f"{name} / {rule}"] = r
            print(
                f"| {name} | {rule} | {r['pictures']} | {r['eligible']} | "
                f"{_share(r['false_alarms_all'], r['pictures'])} | "
                f"{_share(r['false_alarms_eligible'], r['eligible'])} | {_share(r['detected'], r['eligible'])} |",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_sun.json").write_text(json.dumps({"rates": results, "pictures": details}, indent=1) + "\n")
    print(f"\nJSON: {args.out / 'bench_sun.json'}")


if __name__ == "__main__":
    main()
