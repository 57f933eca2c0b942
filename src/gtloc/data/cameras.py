"""Fixed cameras for ``gtloc ingest --cameras cameras.csv``: one row per camera folder, ``folder,lat,lon``.

Webcam archives keep one folder per camera, and a webcam's pictures carry no GPS: the CSV gives each folder its
place. ``folder`` is relative to the photo folder being ingested (POSIX ``/`` or the OS separator; ``.`` is the
photo folder itself); an optional ``camera`` column names the camera (default: the folder). A photo belongs to the
deepest listed folder that holds it. Every bad row is reported at once (file, row, field, value).
"""

from __future__ import annotations

import csv
import posixpath
from dataclasses import dataclass
from pathlib import Path

from gtloc.errors import GtlocError, InvalidValueError
from gtloc.geo import validate_coordinate

CAMERA_COLUMNS = ("folder", "lat", "lon")


@dataclass(frozen=True)
class Camera:
    """A fixed camera: its ``folder`` (POSIX, relative to the photo folder), its ``name`` and place in degrees."""

    folder: str
    name: str
    lat: float
    lon: float


class CamerasFileError(GtlocError):
    """A cameras CSV with bad rows; ``problems`` lists each as one line naming the row, field and value."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}:\n{listed}")


def _folder_key(folder: str) -> str:
    key = posixpath.normpath(folder.strip().replace("\\", "/"))
    return "" if key == "." else key


def read_cameras(path: str | Path, photo_dir: str | Path) -> list[Camera]:
    """The cameras of the CSV at ``path``; each folder must exist under ``photo_dir`` and be listed once."""
    file = Path(path)
    if not file.is_file():
        raise GtlocError(f"cameras file not found: {file}")
    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        names = reader.fieldnames or []
        missing = [c for c in CAMERA_COLUMNS if c not in names]
        if missing:
            raise GtlocError(
                f"{file}: missing column(s) {', '.join(missing)} (need folder,lat,lon; found {', '.join(names)})"
            )
        cameras: list[Camera] = []
        problems: list[str] = []
        seen: dict[str, int] = {}
        for row, cells in enumerate(reader, start=1):
            if None in cells or any(v is None for v in cells.values()):
                problems.append(f"row {row}: has a different number of fields than the header")
                continue
            raw = cells["folder"].strip()
            key = _folder_key(raw)
            where = f"row {row} (folder {raw!r})"
            if not raw or key.startswith("../") or key == ".." or posixpath.isabs(key):
                problems.append(f"{where}: the folder must be a folder inside {photo_dir}")
                continue
            if key in seen:
                problems.append(f"{where}: listed twice (first at row {seen[key]})")
                continue
            seen[key] = row
            try:
                validate_coordinate(cells["lat"].strip(), cells["lon"].strip(), where=where)
            except InvalidValueError as exc:
                problems.append(str(exc))
                continue
            if not (Path(photo_dir) / key).is_dir():
                problems.append(f"{where}: no such folder {Path(photo_dir) / key}")
                continue
            name = (cells.get("camera") or "").strip() or raw
            cameras.append(Camera(key, name, float(cells["lat"]), float(cells["lon"])))
    if problems:
        raise CamerasFileError(file, problems)
    if not cameras:
        raise GtlocError(f"{file}: no camera rows (need folder,lat,lon)")
    return cameras


def camera_of(rel_path: str, cameras: list[Camera]) -> Camera | None:
    """The camera whose folder holds ``rel_path`` (a POSIX path relative to the photo folder); the deepest wins."""
    best: Camera | None = None
    for camera in cameras:
        inside = not camera.folder or rel_path.startswith(camera.folder + "/")
        if inside and (best is None or len(camera.folder) > len(best.folder)):
            best = camera
    return best
