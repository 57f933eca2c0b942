"""The sun check against the 20-line reference rule of issue 22, on the same pictures, without any model.

Pictures: a generated world (random places and instants), a fixed-webcam world (``--cameras``), and the real
camera photos in tests/fixtures/exif-photos. For each picture two claims: the true place and time, and the same
place 12 h later. Reported per set and rule: false alarms (true claims called inconsistent, over all pictures and
over the eligible ones) and detections (12-h-moved claims called inconsistent) among the *eligible* pictures, those
where the sun is above +6 deg at one of the two times and below -6 deg at the other.

Reference rule (issue 22): EV100 from EXIF above 10 is day, below 3 night; otherwise day when the median brightness
of the whole picture and of its top third are both above ``hi``, night when both are below ``lo``; inconsistent when
a day picture is claimed with the sun below -6 deg or a night picture with the sun above +6 deg. Shown twice: with
``lo, hi = 0.25, 0.40`` fixed beforehand, and with the pair that detects most at <= 1 % false alarms on these very
pictures (tuned on the test data: an upper bound for it).

World pictures carry no EXIF exposure, so on them both rules read pixels only; the EXIF path runs on the real
photos alone (two of which have a usable exposure value).

    python benchmarks/bench_sun.py [--n 600] [--out runs/bench-sun]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from gtloc.data.exif import read_photo_exif
from gtloc.data.images import load_image
from gtloc.data.world import generate_world
from gtloc.evidence import INCONSISTENT
from gtloc.evidence.light import exposure_value, pixel_light
from gtloc.evidence.sun import check_sun
from gtloc.sun import solar_position

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "exif-photos"
MOVE = timedelta(hours=12)


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


def reference_inconsistent(cls: int, elevation: float) -> bool:
    return (cls == 1 and elevation <= -6) or (cls == -1 and elevation >= 6)


def pictures(n: int, tmp: Path) -> dict[str, list[tuple[Path, float, float, datetime]]]:
    """``set name -> [(file, lat, lon, true UTC instant)]``."""
    sets = {}
    for name, seed, cameras in (("world", 11, 0), ("webcam world", 12, max(1, n // 50))):
        out = tmp / name.replace(" ", "-")
        generate_world(n, seed, out, workers=1, progress=False, cameras=cameras)
        with open(out / "records.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        sets[name] = [
            (
                out / "images" / r["path"],
                float(r["lat"]),
                float(r["lon"]),
                datetime.fromtimestamp(int(r["unix_ts"]), timezone.utc),
            )
            for r in rows
        ]
    real = []
    for path in sorted(FIXTURES.glob("*.jpg")):
        info = read_photo_exif(path)
        if info.has_gps and info.has_time:
            instant = (info.local_time - info.utc_offset) if info.utc_offset else None
            if instant is None:
                from gtloc.timecode import local_to_utc

                instant = local_to_utc(info.local_time, info.lat, info.lon)
            real.append((path, info.lat, info.lon, instant.replace(tzinfo=timezone.utc)))
    sets["real photos"] = real
    return sets


def measure(items: list[tuple[Path, float, float, datetime]]) -> list[dict]:
    rows = []
    for path, lat, lon, when in items:
        exif = read_photo_exif(path, check_pixels=False)
        pixels = pixel_light(load_image(path))
        elev = [float(solar_position(lat, lon, (when + k * MOVE).timestamp())[0]) for k in (0, 1)]
        verdicts = [check_sun(path, lat, lon, when + k * MOVE, exif=exif).verdict for k in (0, 1)]
        rows.append(
            {
                "path": path.name,
                "elevation": elev,
                "ours": [v == INCONSISTENT for v in verdicts],
                "ev": exposure_value(exif.camera),
                "median": pixels.median,
                "top": pixels.top_median,
            }
        )
    return rows


def rates(rows: list[dict], inconsistent) -> dict[str, float | int]:
    eligible = [r for r in rows if max(r["elevation"]) >= 6 and min(r["elevation"]) <= -6]
    false_all = sum(inconsistent(r, 0) for r in rows)
    return {
        "pictures": len(rows),
        "eligible": len(eligible),
        "false_alarm_all": false_all / max(1, len(rows)),
        "false_alarm_eligible": sum(inconsistent(r, 0) for r in eligible) / max(1, len(eligible)),
        "detection": sum(inconsistent(r, 1) for r in eligible) / max(1, len(eligible)),
    }


def reference(lo: float, hi: float):
    def decide(row: dict, k: int) -> bool:
        cls = reference_class(row["ev"], row["median"], row["top"], lo, hi)
        return reference_inconsistent(cls, row["elevation"][k])

    return decide


def tuned(rows: list[dict]) -> tuple[float, float]:
    """The reference's ``(lo, hi)`` with the most detections at <= 1 % false alarms on ``rows``."""
    best, pair = -1.0, (0.25, 0.40)
    for lo in np.arange(0.05, 0.50, 0.01):
        for hi in np.arange(lo, 0.80, 0.01):
            r = rates(rows, reference(lo, hi))
            if r["false_alarm_all"] <= 0.01 and r["detection"] > best:
                best, pair = r["detection"], (round(float(lo), 2), round(float(hi), 2))
    return pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=600, help="pictures per generated world")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-sun"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-sun-") as tmp:
        sets = pictures(args.n, Path(tmp))
        measured = {name: measure(items) for name, items in sets.items()}
    print(
        "| pictures | rule | pictures | eligible | false alarms (all) | false alarms (eligible) | detected (eligible) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rows in measured.items():
        lo, hi = tuned(rows)
        for rule, decide in (
            ("sun check", lambda r, k: r["ours"][k]),
            ("reference 0.25/0.40", reference(0.25, 0.40)),
            (f"reference tuned {lo:.2f}/{hi:.2f}", reference(lo, hi)),
        ):
            r = rates(rows, decide)
            results[f"{name} / {rule}"] = r
            print(
                f"| {name} | {rule} | {r['pictures']} | {r['eligible']} | {r['false_alarm_all']:.1%} | "
                f"{r['false_alarm_eligible']:.1%} | {r['detection']:.1%} |"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_sun.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nJSON: {args.out / 'bench_sun.json'}")


if __name__ == "__main__":
    main()
