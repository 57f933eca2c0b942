"""The clock check on photos whose EXIF clocks are rewritten on purpose: wrong clocks, good clocks, stale fixes.

Starts from the real camera photos in tests/fixtures/exif-photos (their own GPS position; the photos' pixels and
other tags untouched), writes copies whose camera time (DateTimeOriginal) and GPS stamp (GPSDateStamp +
GPSTimeStamp) say, for a chosen true capture instant:

* good clocks: the camera within 0-4 min of the true local time;
* wrong clocks: left on another time zone (UTC-10 ... UTC+12, UTC+5:30), or drifted by 10-53 min, ahead or behind;
* stale fixes: the camera right, the GPS stamp 1-24 h or 1-10 days older than the photo, with and without an
  OffsetTimeOriginal tag (phones write one).

Each copy goes through read_photo_exif + read_clock (what ingest does). Prints one table and writes JSON.

    python benchmarks/bench_clock.py [--out runs/bench-clock] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

from gtloc.data.clock import read_clock
from gtloc.data.exif import read_photo_exif
from gtloc.timecode import utc_to_local

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"
CAMERA_ZONES_H = (-10, -5, -3, 0, 3, 5.5, 8, 9, 10, 12)
"""Time zones a camera is left on (its owner's home zone): real UTC offsets."""
DRIFTS_MIN = (10, 12, 17, 25, 38, 53)


def write_copy(source: Path, out: Path, camera: datetime, gps_utc: datetime | None, offset: str | None) -> None:
    """``source`` with its camera time, GPS stamp (``None``: removed) and (optional) OffsetTimeOriginal rewritten."""
    with Image.open(source) as image:
        exif = image.getexif()
        pixels = image.copy()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = camera.strftime("%Y:%m:%d %H:%M:%S")
    sub.pop(ExifTags.Base.OffsetTimeOriginal, None)
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
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
    out += [("drift", sign * m * 60.0, 0.0, False) for m in DRIFTS_MIN for sign in (1, -1)]
    out += [
        ("stale hours", rng.uniform(-60, 60), rng.uniform(3600, 86400), tag) for tag in (False, True) for _ in range(10)
    ]
    out += [
        ("stale days", rng.uniform(-60, 60), rng.uniform(1, 10) * 86400, tag) for tag in (False, True) for _ in range(3)
    ]
    return out


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
    finally:
        shutil.rmtree(tmp)
    print(f"{len(sources)} fixture photos, {len(rows)} rewritten copies (seed {args.seed})\n")
    print("| case | copies | called wrong | offset within 2 min (of wrong) | called ok | unknown |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        group = [r for r in rows if r["kind"] == kind]
        wrong = [r for r in group if r["clock"] == "wrong"]
        close = sum(1 for r in wrong if r["error_s"] is not None and abs(r["error_s"] - r["true_error_s"]) <= 120)
        ok = sum(1 for r in group if r["clock"] == "ok")
        unknown = sum(1 for r in group if r["clock"] == "unknown")
        summary[kind] = {
            "copies": len(group),
            "wrong": len(wrong),
            "offset_within_2min": close,
            "ok": ok,
            "unknown": unknown,
        }
        print(f"| {kind} | {len(group)} | {len(wrong)} | {close} | {ok} | {unknown} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_clock.json").write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    print(f"\nJSON: {args.out / 'bench_clock.json'}")


if __name__ == "__main__":
    main()
