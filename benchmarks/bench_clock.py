"""The clock check on photos whose EXIF clocks are rewritten on purpose: wrong clocks, good clocks, stale fixes.

Starts from the real camera photos in tests/fixtures/exif-photos (their own GPS position; the photos' pixels and
other tags untouched), writes copies whose camera time (DateTimeOriginal) and GPS stamp (GPSDateStamp +
GPSTimeStamp) say, for a chosen true capture instant:

* good clocks: the camera within 0-4 min of the true local time;
* wrong clocks: left on another time zone (UTC-10 ... UTC+12, UTC+5:30), or drifted by 10-53 min, fast or slow;
* stale fixes: the camera right, the GPS stamp 5-60 min, 1-24 h or 1-10 days older than the photo, with and without
  an OffsetTimeOriginal tag (phones write one).

Each copy goes through read_photo_exif + read_clock, one photo alone. Prints one table.

Then **cameras**: batches of copies from one simulated camera each (its own BodySerialNumber), over 5 days, read
together by clocks_by_camera (what ingest and verify on many photos do), and each photo alone, side by side:

* a camera whose clock is right: 4 good photos among 10 fixes 5-60 min old, 10 fixes 1-24 h old and 3 fixes 1-10
  days old, without an OffsetTimeOriginal tag; the same for a phone that writes one (on every photo);
* a camera left on another time zone (each of CAMERA_ZONES_H), or drifted (each of DRIFTS_MIN, fast and slow,
  drifting on by 1 s a day): 4 photos each, fresh fixes; and each drifted camera again with 2 more photos whose
  fixes are 5 min-24 h old (the clock wrong and the fix old: its lead is neither);
* a camera whose clock was right on 4 photos and on another zone for one photo alone (the owner set it and set it
  back): when that zone is ahead of the local time, per-camera reading cannot tell it from an old fix; behind, it
  can (a fix is never from after the photo).

Prints a second table and writes JSON.

    python benchmarks/bench_clock.py [--out runs/bench-clock] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

from gtloc.data.clock import clocks_by_camera, read_clock
from gtloc.data.exif import PhotoExif, read_photo_exif
from gtloc.timecode import utc_to_local

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"
CAMERA_ZONES_H = (-10, -5, -3, 0, 3, 5.5, 8, 9, 10, 12)
"""Time zones a camera is left on (its owner's home zone): real UTC offsets."""
DRIFTS_MIN = (10, 12, 17, 25, 38, 53)
DRIFT_SIGNS = ((1, "fast"), (-1, "slow"))


def write_copy(
    source: Path, out: Path, camera: datetime, gps_utc: datetime | None, offset: str | None, serial: str = ""
) -> None:
    """``source`` with its camera time, GPS stamp (``None``: removed), (optional) OffsetTimeOriginal and (optional)
    BodySerialNumber rewritten."""
    with Image.open(source) as image:
        exif = image.getexif()
        pixels = image.copy()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = camera.strftime("%Y:%m:%d %H:%M:%S")
    sub.pop(ExifTags.Base.OffsetTimeOriginal, None)
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if serial:
        sub[ExifTags.Base.BodySerialNumber] = serial
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if gps_utc is None:
        gps.pop(ExifTags.GPS.GPSDateStamp, None)
        gps.pop(ExifTags.GPS.GPSTimeStamp, None)
    else:
        gps[ExifTags.GPS.GPSDateStamp] = gps_utc.strftime("%Y:%m:%d")
        gps[ExifTags.GPS.GPSTimeStamp] = (float(gps_utc.hour), float(gps_utc.minute), float(gps_utc.second))
    pixels.save(out, exif=exif, quality=90)


def offset_text(seconds: float) -> str:
    sign, minutes = ("+" if seconds >= 0 else "-"), round(abs(seconds) / 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def cases(rng: np.random.Generator, zone_s: float) -> list[tuple[str, float, float, bool]]:
    """``(kind, camera error s, fix age s, writes OffsetTimeOriginal)`` for one photo whose place is ``zone_s`` from
    UTC."""
    out = [("good", rng.uniform(-240, 240), 0.0, False) for _ in range(4)]
    out += [
        ("zone", h * 3600.0 - zone_s + rng.uniform(-30, 30), 0.0, False) for h in CAMERA_ZONES_H if h * 3600 != zone_s
    ]
    out += [(f"drift {name}", sign * m * 60.0, 0.0, False) for m in DRIFTS_MIN for sign, name in DRIFT_SIGNS]
    out += [
        ("stale minutes", rng.uniform(-60, 60), rng.uniform(300, 3600), tag) for tag in (False, True) for _ in range(10)
    ]
    out += [
        ("stale hours", rng.uniform(-60, 60), rng.uniform(3600, 86400), tag) for tag in (False, True) for _ in range(10)
    ]
    out += [
        ("stale days", rng.uniform(-60, 60), rng.uniform(1, 10) * 86400, tag) for tag in (False, True) for _ in range(3)
    ]
    return out


DAYS = 5
"""A simulated camera's photos are spread over this many days."""
DRIFT_PER_DAY_S = 1.0


@dataclass
class Shot:
    """One photo of a simulated camera: ``kind`` (the table's row), ``error_s`` its clock's lead over the true local
    time, ``fix_age_s`` its GPS fix's age, ``tag`` whether it writes OffsetTimeOriginal, ``shift_h`` hours after the
    camera's first day began."""

    kind: str
    error_s: float
    fix_age_s: float
    tag: bool
    shift_h: float


def camera_batches(rng: np.random.Generator, zone_s: float) -> dict[str, list[Shot]]:
    """``camera name -> shots`` for one source photo whose place is ``zone_s`` from UTC (module docstring)."""

    def when() -> float:
        return float(rng.uniform(0, 24 * DAYS))

    out: dict[str, list[Shot]] = {}
    for tag, name in ((False, "right clock"), (True, "right clock, offset tag")):
        suffix = " + offset tag" if tag else ""
        shots = [Shot("good" + suffix, rng.uniform(-240, 240), 0.0, tag, when()) for _ in range(4)]
        shots += [
            Shot("stale minutes" + suffix, rng.uniform(-60, 60), rng.uniform(300, 3600), tag, when()) for _ in range(10)
        ]
        shots += [
            Shot("stale hours" + suffix, rng.uniform(-60, 60), rng.uniform(3600, 86400), tag, when()) for _ in range(10)
        ]
        shots += [
            Shot("stale days" + suffix, rng.uniform(-60, 60), rng.uniform(1, 10) * 86400, tag, when()) for _ in range(3)
        ]
        out[name] = shots
    zones = [h for h in CAMERA_ZONES_H if h * 3600 != zone_s]
    for h in zones:
        out[f"zone {h:g}"] = [
            Shot("zone", h * 3600.0 - zone_s + rng.uniform(-30, 30), 0.0, False, when()) for _ in range(4)
        ]
    for m in DRIFTS_MIN:
        for sign, name in DRIFT_SIGNS:
            for old in (0, 2):
                times = [when() for _ in range(4 + old)]
                errors = [sign * m * 60.0 + DRIFT_PER_DAY_S * (t - times[0]) / 24 for t in times]
                ages = [0.0] * 4 + [float(rng.uniform(300, 86400)) for _ in range(old)]
                shots = [
                    Shot(f"drift {name}" + (", photo with an old fix" if age else ""), error, age, False, t)
                    for error, age, t in zip(errors, ages, times, strict=True)
                ]
                out[f"drift {sign * m}" + (" with old fixes" if old else "")] = shots
    lone = float(rng.choice(zones)) * 3600.0 - zone_s
    out["zone for one photo"] = [
        Shot("good, around the lone zone", rng.uniform(-240, 240), 0.0, False, when()) for _ in range(4)
    ]
    out["zone for one photo"].append(Shot("zone, one photo among right ones", lone, 0.0, False, when()))
    return out


def summary_row(rows: list[dict], key: str) -> dict[str, int]:
    """Counts of one case's copies by the clock status under ``key`` (``clock`` or ``camera_clock``)."""
    wrong = [r for r in rows if r[key] == "wrong"]
    error_key = "error_s" if key == "clock" else "camera_error_s"
    close = sum(1 for r in wrong if r[error_key] is not None and abs(r[error_key] - r["true_error_s"]) <= 120)
    return {
        "copies": len(rows),
        "wrong": len(wrong),
        "offset_within_2min": close,
        "ok": sum(1 for r in rows if r[key] == "ok"),
        "unknown": sum(1 for r in rows if r[key] == "unknown"),
    }


def run_cameras(sources: list[tuple[Path, PhotoExif]], rng: np.random.Generator, tmp: Path) -> list[dict]:
    """Each simulated camera's copies, read alone (``clock``) and with the camera's other photos
    (``camera_clock``)."""
    rows = []
    for path, info in sources:
        start = (info.local_time - timedelta(hours=1)).replace(tzinfo=timezone.utc)
        zone = (utc_to_local(start, info.lat, info.lon) - start.replace(tzinfo=None)).total_seconds()
        for name, shots in camera_batches(rng, zone).items():
            serial = f"{path.stem}/{name}"
            exifs = []
            for i, shot in enumerate(shots):
                truth = start + timedelta(hours=shot.shift_h)
                local = utc_to_local(truth, info.lat, info.lon)
                camera = (local + timedelta(seconds=shot.error_s)).replace(microsecond=0)
                gps = (truth - timedelta(seconds=shot.fix_age_s)).replace(microsecond=0)
                offset = offset_text((local - truth.replace(tzinfo=None)).total_seconds()) if shot.tag else None
                copy = tmp / f"{path.stem}-{name.replace(' ', '_')}-{i}.jpg"
                write_copy(path, copy, camera, gps, offset, serial)
                exifs.append(read_photo_exif(copy))
            for shot, alone, together in zip(shots, map(read_clock, exifs), clocks_by_camera(exifs), strict=True):
                rows.append(
                    {
                        "photo": path.name,
                        "camera": name,
                        "kind": shot.kind,
                        "true_error_s": round(shot.error_s),
                        "fix_age_s": round(shot.fix_age_s),
                        "clock": alone.status,
                        "error_s": alone.error_s,
                        "camera_clock": together.status,
                        "camera_error_s": together.error_s,
                        "camera_note": together.note,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-clock"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    sources = []
    for path in sorted(FIXTURES.glob("*.jpg")):
        info = read_photo_exif(path)
        if info.has_gps and info.has_time:
            sources.append((path, info))
    rows = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-clock-"))
    try:
        for path, info in sources:
            truth = (info.local_time - timedelta(hours=1)).replace(tzinfo=timezone.utc)  # any instant near the photo's
            local = utc_to_local(truth, info.lat, info.lon)
            zone = (local - truth.replace(tzinfo=None)).total_seconds()
            for i, (kind, error, age, tag) in enumerate(cases(rng, zone)):
                camera = local + timedelta(seconds=error)
                gps = truth - timedelta(seconds=age)
                copy = tmp / f"{path.stem}-{i}.jpg"
                write_copy(
                    path,
                    copy,
                    camera.replace(microsecond=0),
                    gps.replace(microsecond=0),
                    offset_text(zone) if tag else None,
                )
                reading = read_clock(read_photo_exif(copy))
                rows.append(
                    {
                        "photo": path.name,
                        "kind": kind + (" + offset tag" if tag else ""),
                        "true_error_s": round(error),
                        "fix_age_s": round(age),
                        "clock": reading.status,
                        "error_s": reading.error_s,
                        "note": reading.note,
                    }
                )
        camera_rows = run_cameras(sources, np.random.default_rng(args.seed + 1), tmp)
    finally:
        shutil.rmtree(tmp)
    print(f"One photo alone: {len(sources)} fixture photos, {len(rows)} rewritten copies (seed {args.seed})\n")
    print("| case | copies | called wrong | offset within 2 min (of wrong) | called ok | unknown |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        summary[kind] = counts = summary_row([r for r in rows if r["kind"] == kind], "clock")
        print(f"| {kind} | {' | '.join(str(v) for v in counts.values())} |")
    cameras = len({(r["photo"], r["camera"]) for r in camera_rows})
    print(f"\nCameras: {cameras} simulated cameras, {len(camera_rows)} copies over {DAYS} days (seed {args.seed + 1})")
    print("wrong / offset within 2 min / ok / unknown, each photo read alone and with its camera's other photos\n")
    print("| case | copies | one photo alone | with its camera |")
    print("|---|---:|---|---|")
    by_camera = {}
    for kind in dict.fromkeys(r["kind"] for r in camera_rows):
        group = [r for r in camera_rows if r["kind"] == kind]
        alone, together = summary_row(group, "clock"), summary_row(group, "camera_clock")
        by_camera[kind] = {"alone": alone, "with camera": together}
        cells = [
            " / ".join(str(c[k]) for k in ("wrong", "offset_within_2min", "ok", "unknown")) for c in (alone, together)
        ]
        print(f"| {kind} | {len(group)} | {cells[0]} | {cells[1]} |")
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"summary": summary, "rows": rows, "cameras": by_camera, "camera_rows": camera_rows}
    (args.out / "bench_clock.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {args.out / 'bench_clock.json'}")


if __name__ == "__main__":
    main()
